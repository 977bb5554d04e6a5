"""Synthetic Kinetics-TPS: stick-figure videos whose body parts perform the annotated movements.

`generate(out_dir, ...)` writes a folder laid out exactly like Kinetics-TPS (DESIGN.md, "Kinetics-TPS
on disk"): mp4 videos per split and class, one annotation JSON per frame for the training videos,
the `list/` vocabulary files and flists, plus `list/synth_truth.json`, the ground truth that a test
of the ingest can be checked against.

Vocabulary
    A body movement is (part, state, object or None), named "<part with a space> <state>[ <object>]"
    ("right hand hold barbell"). An action is a set of movements over different parts. The default
    vocabulary is this module's own (`DEFAULT_STATES`, `DEFAULT_OBJECTS`, `DEFAULT_ACTIONS`); with
    `composition=` it is the KG-CLIP release's (kg_idx.json + a-b.pkl), whose actions have 12-104
    movements, of which each video shows a seeded subset of 3-6 over different parts; with
    `world="target"` or `"source"` it is a benchmark world of `synth.worlds` (6 movements per action,
    2-4 shown per video; the target's actions in confusable pairs that differ in one body part's state).

Parse rule (`kgtoolkit.vocab.parse_movement_name`, shared with the readers)
    The name starts with one of the 10 parts ("left hand", ..., "head", "hip"). The state follows: two
    words when the second is a particle ("step on", "put down", "look up"), else one word. Whatever
    follows is the object ("baseball bat"), or None. The object list of the real dataset is not
    published with the graph, so this is best effort; it is exact for every name of the release and
    round-trips (`parse_movement_name(n).name == n`). The generator writes the parsed part, state and
    object into the frame JSONs, so the ingest sees the same movement the release reader does.

Pixels
    Each state is a motion primitive: terms that drive degrees of freedom of a 2-D skeleton (shoulder
    and elbow angles, knee, foot angle, head tilt/turn, torso lean/twist, ...) with a waveform, an
    offset, an amplitude and a frequency. The default states have hand-made primitives ("bend" bends
    the elbow back and forth, "raise" lifts the arm, "kick" snaps the leg out); any other state is
    mapped by a stable hash (blake2b, never Python's salted `hash`) of "<part kind>:<state>" to
    terms, so unknown states still move, differently from each other. Hand and foot states also
    drive their arm or leg a little so that they are visible at low resolution. A held object is drawn
    at the part and moves with it. Parts without a movement stay at rest with a small jitter.
    Nuisances per video (seeded): position, scale, speed and phase, background colour and texture,
    figure colour, a moving distractor shape, pixel noise; none of them depends on the class.

Annotation quirks (seeded, as in the real data; `quirks=` sets how many, QUIRK_LEVELS)
    A movement covers a seeded interval of the clip (>= 60%), outside it its part is 'none'. Test
    videos get no annotations. Level 0 stops there. Level 1 (the generator's output before levels
    existed, byte for byte): ~3% of frames have no human (`{"humans": []}`); ~5% of parts are omitted
    (not visible) in a frame; an idle part is 'others' (undefined, no object) instead of 'none' in ~4%
    of frames. Level 2 (the default) adds what the real annotations also hold: a second human (number 1)
    in ~6% of frames, idle ('none' / 'others'), half of the time with `"parts": []`; every box in float
    coordinates (still inside the frame); a part that holds an object is annotated without it
    (`obj_class` null) in ~10% of its frames, so one video shows the same part and state with and
    without an object; the first video id starts with `-` and the second holds `_` inside its
    11-character YouTube id; and, with the default vocabulary, the last class folder holds parentheses
    (`deadlifting_(sport)`, as Kinetics' `hurling_(sport)`). None of them is a defect: an ingest of any
    level reports nothing.

Determinism
    Every random draw comes from numpy SeedSequences built from `seed` and the video's position, so
    the same call gives byte-identical JSON and list files and identical decoded frames. With
    `share_videos=True` one mp4 per (class, split) is rendered and hard-linked (or copied) for the
    others; every video still gets its own annotations (the same as without sharing), and the
    truth file names the video whose pixels it carries (`pixels_from`).

Modules (each imports only those above it)
    vocabulary (parts, states, objects, actions), motion (primitives), plan (per-video draws),
    skeleton (joints and part boxes), objects (held objects), scene (a video's geometry), render
    (frames and mp4), annotations (frame JSONs and truth), generator (`generate`). This package
    re-exports their public names.
"""

from kgtoolkit.synth.annotations import frame_labels, shown_truth
from kgtoolkit.synth.generator import SynthSummary, generate, video_names
from kgtoolkit.synth.motion import MOTIONS, REST, WAVES, Term, motion_terms, stable_unit_values
from kgtoolkit.synth.objects import ObjectTrack, object_shape, object_tracks
from kgtoolkit.synth.plan import (
    CALM_BACKGROUND,
    DEFAULT_QUIRKS,
    PAREN_QUALIFIER,
    QUIRK_LEVELS,
    Nuisance,
    ShownMovement,
    VideoPlan,
    plan_video,
)
from kgtoolkit.synth.render import pick_codec, render_clip, render_frames, write_mp4
from kgtoolkit.synth.scene import Geometry, geometry
from kgtoolkit.synth.skeleton import part_boxes, pixel_boxes, skeleton, trajectories
from kgtoolkit.synth.worlds import WORLDS, source_vocabulary, target_vocabulary, world_pool, world_vocabulary
from kgtoolkit.synth.vocabulary import (
    DEFAULT_ACTIONS,
    DEFAULT_OBJECTS,
    DEFAULT_STATES,
    PARTS,
    ActionSpec,
    Vocabulary,
    composition_vocabulary,
    default_movement_pool,
    default_vocabulary,
    part_kind,
    part_side,
)

__all__ = [
    "CALM_BACKGROUND", "DEFAULT_ACTIONS", "DEFAULT_OBJECTS", "DEFAULT_QUIRKS", "DEFAULT_STATES", "MOTIONS",
    "PAREN_QUALIFIER", "PARTS", "QUIRK_LEVELS", "REST", "WAVES", "ActionSpec", "Geometry", "Nuisance", "ObjectTrack",
    "ShownMovement", "SynthSummary", "Term", "VideoPlan", "Vocabulary", "composition_vocabulary",
    "default_movement_pool", "default_vocabulary", "frame_labels", "generate", "geometry", "motion_terms",
    "object_shape", "object_tracks", "part_boxes", "part_kind", "part_side", "pick_codec", "pixel_boxes",
    "plan_video", "render_clip", "render_frames", "shown_truth", "skeleton", "stable_unit_values",
    "trajectories", "video_names", "write_mp4", "WORLDS", "source_vocabulary", "target_vocabulary", "world_pool",
    "world_vocabulary",
]
