"""The synthetic Kinetics-TPS generator: layout, videos, annotations, quirks, determinism, pixels."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import decord
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kgtoolkit import synth
from kgtoolkit.errors import ConfigurationError
from kgtoolkit.safe_pickle import load_int_triples
from kgtoolkit.vocab import Movement, parse_movement_name

RELEASE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kg_clip_release"
VIDEO_NAME = re.compile(r"^[A-Za-z0-9_-]{11}_\d{6}_\d{6}$")
SMALL = {"classes": 3, "train_per_class": 2, "test_per_class": 1, "frames": 8, "size": 64, "fps": 8}


def _frames(path: Path) -> np.ndarray:
    reader = decord.VideoReader(str(path))
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def _flist(path: Path) -> dict[str, int]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["video", "frames"]
    return {video: int(count) for video, count in rows[1:]}


def _annotation_folder(root: Path, key: str) -> Path:
    folder, video = key.split("/")
    return root / "train_annotations" / folder / video / video


def _load_frames_json(root: Path, key: str) -> list[dict]:
    folder = _annotation_folder(root, key)
    return [json.loads(p.read_text()) for p in sorted(folder.glob("img_*.json"))]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.SynthSummary]:
    out = tmp_path_factory.mktemp("small") / "ktps"
    return out, synth.generate(out, seed=0, **SMALL)


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.SynthSummary]:
    out = tmp_path_factory.mktemp("medium") / "ktps"
    return out, synth.generate(out, classes=4, train_per_class=6, test_per_class=1, frames=24, size=64, seed=5)


def test_layout_naming_and_lists(small: tuple[Path, synth.SynthSummary]) -> None:
    out, summary = small
    assert summary.classes == ["push_up", "squat", "deadlifting_(sport)"]  # quirk: parentheses in a folder
    assert (summary.train_videos, summary.test_videos, summary.frame_jsons) == (6, 3, 6 * 8)
    assert summary.videos_per_second > 0 and summary.seconds > 0
    assert sorted(p.name for p in out.iterdir()) == ["list", "test_videos", "train_annotations", "train_videos"]
    for split, per_class in (("train", 2), ("test", 1)):
        assert sorted(p.name for p in (out / f"{split}_videos").iterdir()) == sorted(summary.classes)
        for folder in summary.classes:
            videos = sorted((out / f"{split}_videos" / folder).iterdir())
            assert len(videos) == per_class
            assert all(v.suffix == ".mp4" and VIDEO_NAME.match(v.stem) for v in videos)
    names = [key.split("/")[1] for key in json.loads((out / "list" / "synth_truth.json").read_text())["videos"]["train"]]
    assert names[0].startswith("-") and "_" in names[1][:11]  # quirks: odd YouTube ids
    lists = out / "list"
    assert (lists / "body_part.txt").read_text().split("\n")[:-1] == [
        "head", "hip", "left_arm", "right_arm", "left_hand", "right_hand", "left_leg", "right_leg",
        "left_foot", "right_foot"]
    states = (lists / "part_stat.txt").read_text().splitlines()
    assert {"none", "others", "bend", "step on", "hold"} <= set(states) and len(states) == len(set(states))
    assert (lists / "object.txt").read_text().splitlines() == list(synth.DEFAULT_OBJECTS)


def test_flists_match_files_and_decord_reads_them(small: tuple[Path, synth.SynthSummary]) -> None:
    out, _ = small
    for split in ("train", "test"):
        rows = _flist(out / "list" / f"video_{split}_flist.csv")
        on_disk = {f"{p.parent.name}/{p.stem}" for p in (out / f"{split}_videos").rglob("*.mp4")}
        assert set(rows) == on_disk and len(rows) == len(on_disk)
        assert set(rows.values()) == {8}
        for key in rows:
            reader = decord.VideoReader(str(out / f"{split}_videos" / f"{key}.mp4"))
            assert len(reader) == 8
            assert reader[0].shape == (64, 64, 3) and reader[7].shape == (64, 64, 3)
            assert reader.get_avg_fps() == pytest.approx(8)


def test_train_videos_have_one_json_per_frame_and_test_videos_none(small: tuple[Path, synth.SynthSummary]) -> None:
    out, _ = small
    for key in _flist(out / "list" / "video_train_flist.csv"):
        names = sorted(p.name for p in _annotation_folder(out, key).iterdir())
        assert names == [f"img_{i:05d}.json" for i in range(1, 9)]
    test_keys = _flist(out / "list" / "video_test_flist.csv")
    annotated = {f"{p.parent.name}/{p.name}" for p in (out / "train_annotations").glob("*/*")}
    assert annotated == set(_flist(out / "list" / "video_train_flist.csv"))
    assert not annotated & set(test_keys)


def test_frame_json_schema_and_boxes_inside_the_frame(medium: tuple[Path, synth.SynthSummary]) -> None:
    out, _ = medium
    states = set((out / "list" / "part_stat.txt").read_text().splitlines())
    objects = set((out / "list" / "object.txt").read_text().splitlines())
    size = 64

    def inside(box: list[float]) -> bool:
        x1, y1, x2, y2 = box
        return all(isinstance(v, (int, float)) for v in box) and 0 <= x1 < x2 <= size and 0 <= y1 < y2 <= size

    checked = floats = 0
    for key in _flist(out / "list" / "video_train_flist.csv"):
        for document in _load_frames_json(out, key):
            assert set(document) == {"humans"}
            for number, human in enumerate(document["humans"]):
                assert human["number"] == number and inside(human["box"])
                floats += any(isinstance(v, float) for v in human["box"])
                names = [p["name"] for p in human["parts"]]
                assert len(names) == len(set(names)) and set(names) <= set(synth.PARTS)
                for part in human["parts"]:
                    assert set(part) == {"name", "box", "verb", "obj_class", "obj_bbox"}
                    assert inside(part["box"]) and part["verb"] in states
                    assert (part["obj_class"] is None) == (part["obj_bbox"] is None)
                    if part["obj_class"] is not None:
                        assert part["obj_class"] in objects and inside(part["obj_bbox"])
                    checked += 1
    assert checked > 1000 and floats > 100


def test_quirks_appear_in_a_medium_run(medium: tuple[Path, synth.SynthSummary]) -> None:
    out, summary = medium
    empty = missing = second = no_parts = 0
    verbs: Counter[str] = Counter()
    with_object = 0
    objects_of: dict[str, set] = {}  # (video, part, verb) -> objects seen, None included
    for key in _flist(out / "list" / "video_train_flist.csv"):
        for document in _load_frames_json(out, key):
            if not document["humans"]:
                empty += 1
                continue
            parts = document["humans"][0]["parts"]
            missing += len(synth.PARTS) - len(parts)
            verbs.update(p["verb"] for p in parts)
            with_object += sum(p["obj_class"] is not None for p in parts)
            for p in parts:
                objects_of.setdefault(f"{key} {p['name']} {p['verb']}", set()).add(p["obj_class"])
            second += len(document["humans"]) == 2
            no_parts += any(h["parts"] == [] for h in document["humans"][1:])
    frames = summary.frame_jsons
    assert frames == 4 * 6 * 24
    assert 0 < empty < 0.1 * frames
    assert 0 < missing < 0.15 * frames * len(synth.PARTS)
    assert verbs["none"] > 0 and verbs["others"] > 0
    assert verbs["bend"] > 0 and verbs["hold"] > 0 and with_object > 0
    assert 0 < no_parts < second < 0.1 * frames  # level 2: a second human, sometimes with "parts": []
    assert any(None in objects and len(objects) > 1 for objects in objects_of.values())  # with and without


def test_quirk_levels(tmp_path: Path) -> None:
    options = dict(classes=2, train_per_class=3, test_per_class=0, frames=40, size=32, seed=2)
    summaries = {level: synth.generate(tmp_path / str(level), quirks=level, **options) for level in (0, 1)}
    for level, summary in summaries.items():
        assert summary.classes == ["push_up", "squat"]
        documents = [json.loads(p.read_text()) for p in (tmp_path / str(level)).rglob("img_*.json")]
        humans = [h for d in documents for h in d["humans"]]
        assert all(len(d["humans"]) == 1 for d in documents) or level == 1
        assert all(isinstance(v, int) for h in humans for v in h["box"])
        verbs = {p["verb"] for h in humans for p in h["parts"]}
        full = all(len(h["parts"]) == 10 for h in humans) and len(humans) == len(documents)
        assert (full and "others" not in verbs) == (level == 0)
    with pytest.raises(ConfigurationError, match="quirks must be one of 0, 1, 2"):
        synth.generate(tmp_path / "bad", quirks=3, **options)


def test_truth_matches_the_frame_annotations(medium: tuple[Path, synth.SynthSummary]) -> None:
    out, summary = medium
    truth = json.loads((out / "list" / "synth_truth.json").read_text())
    assert truth["seed"] == 5 and truth["options"]["frames"] == 24
    actions = {a["folder"]: a["movements"] for a in truth["actions"]}
    assert list(actions) == summary.classes
    assert actions["push_up"] == ["left arm bend", "right arm bend", "hip thrust", "head nod"]
    assert set(truth["videos"]["train"]) == set(_flist(out / "list" / "video_train_flist.csv"))
    assert set(truth["videos"]["test"]) == set(_flist(out / "list" / "video_test_flist.csv"))
    for name, fields in truth["movements"].items():
        movement = parse_movement_name(name)
        assert fields == {"part": movement.part, "state": movement.state, "object": movement.object,
                          "id": movement.id}
    for key, video in truth["videos"]["train"].items():
        assert {m["name"] for m in video["movements"]} == set(actions[video["action"]])
        documents = _load_frames_json(out, key)
        for shown in video["movements"]:
            movement = parse_movement_name(shown["name"])
            labelled = [
                number for number, document in enumerate(documents, start=1) for human in document["humans"]
                for part in human["parts"]
                if part["name"] == movement.part and part["verb"] == movement.state
                and part["obj_class"] == movement.object
            ]
            assert len(labelled) == shown["frames"] >= 0.4 * 24  # objects dropped in some frames (quirks)
            assert (labelled[0], labelled[-1]) == (shown["first_frame"], shown["last_frame"])
            assert shown["start"] <= shown["first_frame"] <= shown["last_frame"] <= shown["end"]


def test_same_seed_is_identical_and_another_seed_differs(tmp_path: Path) -> None:
    options = {**SMALL, "classes": 2, "train_per_class": 1, "test_per_class": 1}
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    synth.generate(first, seed=11, **options)
    synth.generate(second, seed=11, **options)
    synth.generate(other, seed=12, **options)
    texts = sorted(p.relative_to(first) for p in first.rglob("*") if p.suffix in (".json", ".txt", ".csv"))
    assert len(texts) > 10
    assert texts == sorted(p.relative_to(second) for p in second.rglob("*") if p.suffix in (".json", ".txt", ".csv"))
    for relative in texts:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative
    videos = sorted(p.relative_to(first) for p in first.rglob("*.mp4"))
    for relative in videos:
        assert np.array_equal(_frames(first / relative), _frames(second / relative))
    assert (first / "list/video_train_flist.csv").read_text() != (other / "list/video_train_flist.csv").read_text()
    other_videos = sorted(other.rglob("*.mp4"))
    assert not np.array_equal(_frames(first / videos[0]), _frames(other_videos[0]))


def test_share_videos_links_pixels_and_keeps_each_videos_annotations(tmp_path: Path) -> None:
    options = {**SMALL, "classes": 2, "train_per_class": 3, "test_per_class": 2}
    shared = synth.generate(tmp_path / "shared", seed=3, share_videos=True, **options)
    plain = synth.generate(tmp_path / "plain", seed=3, **options)
    assert shared.rendered_videos == 4 and plain.rendered_videos == 10
    for folder in shared.classes:
        videos = sorted((tmp_path / "shared" / "train_videos" / folder).iterdir())
        assert len({v.read_bytes() for v in videos}) == 1
        assert len(decord.VideoReader(str(videos[-1]))) == 8
    for path in (tmp_path / "plain").rglob("*.json"):
        if path.name != "synth_truth.json":
            assert path.read_bytes() == (tmp_path / "shared" / path.relative_to(tmp_path / "plain")).read_bytes()
    truth = json.loads((tmp_path / "shared" / "list" / "synth_truth.json").read_text())
    sources = [v["pixels_from"] for v in truth["videos"]["train"].values()]
    assert sources.count(None) == 2 and all(s is None or s in truth["videos"]["train"] for s in sources)


def test_composition_uses_the_release_actions_and_movements(tmp_path: Path) -> None:
    names = {int(k): v for k, v in json.loads((RELEASE / "kg_idx.json").read_text()).items()}
    edges: dict[int, set[str]] = {}
    for head, _, tail in load_int_triples(RELEASE / "a-b.pkl"):
        edges.setdefault(head, set()).add(names[tail])
    summary = synth.generate(tmp_path / "k", classes=3, train_per_class=3, test_per_class=1, frames=8, size=64,
                             composition=RELEASE)
    assert summary.classes == ["salsa_dancing", "capoeira", "skipping_rope"]
    truth = json.loads((tmp_path / "k" / "list" / "synth_truth.json").read_text())
    for action_id, action in zip((3, 4, 5), truth["actions"]):
        assert action["name"] == names[action_id] and set(action["movements"]) == edges[action_id]
    for key, video in truth["videos"]["train"].items():
        shown = [parse_movement_name(m["name"]) for m in video["movements"]]
        assert 3 <= len(shown) <= 6 and len({m.part for m in shown}) == len(shown)
        assert {m.name for m in shown} <= set(next(a["movements"] for a in truth["actions"]
                                                   if a["folder"] == video["action"]))
        seen = {(p["name"], p["verb"], p["obj_class"]) for d in _load_frames_json(tmp_path / "k", key)
                for h in d["humans"] for p in h["parts"]}
        assert {(m.part, m.state, m.object) for m in shown} <= seen
    states = set((tmp_path / "k" / "list" / "part_stat.txt").read_text().splitlines())
    assert {"grab", "step on", "others", "none"} <= states
    vocabulary = synth.composition_vocabulary(RELEASE, 24)
    assert "hurling_(sport)" in [a.folder for a in vocabulary.actions]
    assert all(12 <= len(a.movements) <= 104 for a in vocabulary.actions)


def test_a_composition_action_name_cannot_leave_the_output_folder(tmp_path: Path) -> None:
    import shutil

    release = tmp_path / "release"
    release.mkdir()
    shutil.copy(RELEASE / "a-b.pkl", release / "a-b.pkl")
    names = json.loads((RELEASE / "kg_idx.json").read_text())
    names["3"] = "../../escaped"
    (release / "kg_idx.json").write_text(json.dumps(names))
    with pytest.raises(ConfigurationError, match=r"kg_idx.json: action name '\.\./\.\./escaped'"):
        synth.generate(tmp_path / "out" / "k", classes=2, train_per_class=1, test_per_class=0, frames=4, size=64,
                       composition=release)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "out" / "escaped").exists()


def test_nuisance_zero_is_a_calm_scene_and_the_movements_do_not_change(tmp_path: Path) -> None:
    full = synth.generate(tmp_path / "full", classes=2, train_per_class=2, test_per_class=0, frames=6, size=64)
    calm = synth.generate(tmp_path / "calm", classes=2, train_per_class=2, test_per_class=0, frames=6, size=64,
                          nuisance=0.0)
    truth_full, truth_calm = (json.loads(t.truth.read_text()) for t in (full, calm))
    assert truth_calm["options"]["nuisance"] == 0.0
    assert truth_full["videos"] == truth_calm["videos"]  # same movements, intervals and annotations
    for summary in (full, calm):
        frames = decord.VideoReader(str(next((summary.out_dir / "train_videos").rglob("*.mp4")))).get_batch([0]).asnumpy()[0]
        corner = frames[:8, :8].reshape(-1, 3).astype(int)
        if summary is calm:  # flat grey background, no texture, no noise (up to the codec)
            assert np.abs(corner - np.array(synth.CALM_BACKGROUND)).max() <= 6
    with pytest.raises(ConfigurationError, match="nuisance must be a number from 0 to 1"):
        synth.generate(tmp_path / "bad", classes=2, nuisance=1.5)


def test_every_release_movement_name_parses_and_round_trips() -> None:
    names = json.loads((RELEASE / "kg_idx.json").read_text())
    movements = [names[str(i)] for i in range(27, 418)]
    parsed = [parse_movement_name(n) for n in movements]
    assert [m.name for m in parsed] == movements
    assert parse_movement_name("left foot step on ski") == Movement("left_foot", "step on", "ski")
    assert parse_movement_name("left leg step body") == Movement("left_leg", "step", "body")
    assert parse_movement_name("right hand hold baseball bat") == Movement("right_hand", "hold", "baseball bat")
    assert parse_movement_name("head nod") == Movement("head", "nod", None)


@given(
    part=st.sampled_from(synth.PARTS),
    data=st.data(),
    obj=st.one_of(st.none(), st.sampled_from(synth.DEFAULT_OBJECTS)),
)
def test_default_movement_names_round_trip(part: str, data: st.DataObject, obj: str | None) -> None:
    state = data.draw(st.sampled_from(synth.DEFAULT_STATES[synth.part_kind(part)]))
    movement = Movement(part, state, obj)
    assert parse_movement_name(movement.name) == movement


def test_default_actions_share_movements_but_are_distinct() -> None:
    vocabulary = synth.default_vocabulary(26)
    assert [a.folder for a in vocabulary.actions][-2:] == ["action_25", "action_26"]
    assert len({frozenset(a.movements) for a in vocabulary.actions}) == 26
    default = vocabulary.actions[:24]
    counts = Counter(m for a in default for m in a.movements)
    assert min(counts.values()) >= 2  # no single movement identifies an action
    for action in vocabulary.actions:
        assert 3 <= len(action.movements) <= 6
        assert len({m.part for m in action.movements}) == len(action.movements)


def _smooth(crop: np.ndarray) -> np.ndarray:
    """Grey levels averaged over 3x3 blocks: pixel noise mostly cancels, moving limbs do not."""
    grey = crop.astype(np.float32).mean(axis=-1)
    h, w = (grey.shape[-2] // 3) * 3, (grey.shape[-1] // 3) * 3
    grey = grey[..., :h, :w]
    return grey.reshape(*grey.shape[:-2], h // 3, 3, w // 3, 3).mean(axis=(-3, -1))


def _union(*boxes: np.ndarray) -> tuple[int, int, int, int]:
    stacked = np.concatenate(boxes)
    x1, y1 = stacked[:, :2].min(axis=0)
    x2, y2 = stacked[:, 2:].max(axis=0)
    return int(x1), int(y1), int(x2), int(y2)


def _movement_energy(clip: np.ndarray, rest: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """How much `clip` changes over time inside `box`, beyond `rest` (a clip with the same nuisances:
    same background, distractor and noise, which therefore cancel)."""
    x1, y1, x2, y2 = box
    difference = clip[:, y1:y2, x1:x2].astype(np.float32) - rest[:, y1:y2, x1:x2]
    return float(np.abs(np.diff(difference, axis=0)).mean())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_states_render_different_motions(seed: int) -> None:
    rest, rest_boxes = synth.render_clip([], seed=seed)
    bend, bend_boxes = synth.render_clip(["left arm bend"], seed=seed)
    raised, raised_boxes = synth.render_clip(["left arm raise"], seed=seed)
    kick, kick_boxes = synth.render_clip(["right leg kick"], seed=seed)
    kneel, _ = synth.render_clip(["right leg kneel"], seed=seed)
    assert bend.shape == (16, 112, 112, 3) and bend.dtype == np.uint8
    arm = _union(bend_boxes["left_arm"], raised_boxes["left_arm"], rest_boxes["left_arm"])
    # a bending or raised arm moves over time; a kneeling figure's arm stays at rest
    assert _movement_energy(bend, rest, arm) > 3.0
    assert _movement_energy(raised, rest, arm) > 3.0
    assert _movement_energy(kneel, rest, arm) < 1.0
    assert _movement_energy(kick, rest, _union(kick_boxes["right_leg"], rest_boxes["right_leg"])) > 3.0
    # different states look different
    x1, y1, x2, y2 = arm
    assert np.abs(bend[:, y1:y2, x1:x2].astype(np.int16) - raised[:, y1:y2, x1:x2]).mean() > 3.0
    assert np.abs(bend.astype(np.int16) - kick.astype(np.int16)).mean() > 0.5
    # a state the default vocabulary does not know still moves, deterministically
    fiddle, fiddle_boxes = synth.render_clip(["right hand fiddle ukulele"], seed=seed)
    hand = _union(fiddle_boxes["right_hand"], rest_boxes["right_hand"])
    assert _movement_energy(fiddle, rest, hand) > 3.0


def test_unknown_states_map_to_stable_distinct_motions() -> None:
    assert synth.motion_terms("hand", "fiddle") == synth.motion_terms("hand", "fiddle")
    assert synth.motion_terms("hand", "fiddle") != synth.motion_terms("hand", "twiddle")
    assert synth.motion_terms("arm", "bend") == synth.MOTIONS[("arm", "bend")]
    assert synth.motion_terms("leg", "none") == ()
    # blake2b, not the salted hash(): the same values on every run and machine
    digest = hashlib.blake2b(b"hand:fiddle", digest_size=4).digest()
    expected = [int.from_bytes(digest[i:i + 2], "big") / 65536 for i in (0, 2)]
    assert synth.stable_unit_values("hand:fiddle", 2) == expected


def test_a_bending_arm_moves_in_the_written_video(medium: tuple[Path, synth.SynthSummary]) -> None:
    out, _ = medium
    key = next(k for k in _flist(out / "list" / "video_train_flist.csv") if k.startswith("push_up/"))
    frames = _frames(out / "train_videos" / f"{key}.mp4")
    documents = _load_frames_json(out, key)

    def motion_of(part_name: str, verb: str) -> float:
        changes = []
        for i in range(len(documents) - 1):
            boxes = [p["box"] for d in (documents[i], documents[i + 1]) for h in d["humans"] for p in h["parts"]
                     if p["name"] == part_name and p["verb"] == verb]
            if len(boxes) == 2:
                x1, y1 = int(min(b[0] for b in boxes)), int(min(b[1] for b in boxes))  # float boxes (quirks)
                x2, y2 = int(np.ceil(max(b[2] for b in boxes))), int(np.ceil(max(b[3] for b in boxes)))
                pair = _smooth(frames[i: i + 2, y1:y2, x1:x2])
                changes.append(float(np.abs(pair[1] - pair[0]).mean()))
        assert changes, f"no consecutive frames of {part_name} {verb} in {key}"
        return float(np.mean(changes))

    assert motion_of("left_arm", "bend") > 1.5 * motion_of("left_leg", "none")


def test_refuses_a_non_empty_out_dir_and_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigurationError, match=re.escape(str(tmp_path / "busy"))):
        synth.generate(tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"
    for bad, message in [({"classes": 1}, "classes"), ({"frames": 0}, "frames"), ({"size": 31}, "size"),
                         ({"size": 33}, "even"), ({"train_per_class": 0}, "train_per_class"),
                         ({"fps": 0}, "fps"), ({"seed": -1}, "seed"),
                         ({"composition": tmp_path / "nowhere"}, "composition"),
                         ({"composition": RELEASE, "classes": 25}, "at most 24")]:
        with pytest.raises(ConfigurationError, match=message):
            synth.generate(tmp_path / "fresh", **bad)
    assert not (tmp_path / "fresh").exists() or not any((tmp_path / "fresh").iterdir())


def test_progress_is_reported_after_each_video(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    synth.generate(tmp_path / "p", classes=2, train_per_class=2, test_per_class=1, frames=2, size=32,
                   progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 6) for i in range(1, 7)]


def test_more_classes_than_the_default_list_get_generated_names(tmp_path: Path) -> None:
    summary = synth.generate(tmp_path / "many", classes=26, train_per_class=1, test_per_class=0, frames=1, size=32)
    assert summary.classes[:2] == ["push_up", "squat"] and summary.classes[-2:] == ["action_25", "action_26_(sport)"]
    assert all(len(decord.VideoReader(str(p))) == 1 for p in (tmp_path / "many" / "train_videos").rglob("*.mp4"))


@pytest.mark.parametrize("codec", ["libx264", "mpeg4"])
def test_both_encoders_keep_every_frame(tmp_path: Path, codec: str) -> None:
    frames = [np.full((32, 32, 3), 20 * i, dtype=np.uint8) for i in range(5)]
    path = tmp_path / f"{codec}.mp4"
    synth.write_mp4(path, iter(frames), size=32, fps=8, codec=codec, expected=5)
    decoded = _frames(path)
    assert decoded.shape == (5, 32, 32, 3)
    assert np.abs(decoded.astype(np.int16).mean(axis=(1, 2, 3)) - [20 * i for i in range(5)]).max() < 4
