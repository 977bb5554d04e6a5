"""`generate`: a synthetic Kinetics-TPS folder (videos, frame JSONs, lists, ground truth)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.synth.annotations import frame_labels, shown_truth
from kgtoolkit.synth.plan import DEFAULT_QUIRKS, PAREN_QUALIFIER, QUIRK_LEVELS, VideoPlan, plan_video
from kgtoolkit.synth.render import pick_codec, render_frames, write_mp4
from kgtoolkit.synth.scene import Geometry, geometry
from kgtoolkit.synth.worlds import WORLDS, world_vocabulary
from kgtoolkit.synth.vocabulary import (
    PARTS,
    Vocabulary,
    composition_vocabulary,
    default_vocabulary,
    unique_in_order,
)
from kgtoolkit.vocab import action_name, parse_movement_name


_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def video_names(seed: int, count: int, quirks: int = DEFAULT_QUIRKS) -> list[str]:
    """`count` distinct Kinetics-like names: 11 YouTube-id characters, then _start_end seconds. At quirk
    level 2 the first id starts with `-` and the second holds `_` (as YouTube ids can)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1D]))
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        youtube_id = "".join(_ID_ALPHABET[int(k)] for k in rng.integers(0, 64, 11))
        start = int(rng.integers(0, 900))
        name = f"{youtube_id}_{start:06d}_{start + int(rng.integers(3, 11)):06d}"
        if quirks >= 2 and len(names) < 2:
            name = "-" + name[1:] if not names else name[:5] + "_" + name[6:]
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


@dataclass(frozen=True)
class SynthSummary:
    """What `generate` wrote and how fast."""

    out_dir: Path
    classes: list[str]
    train_videos: int
    test_videos: int
    frame_jsons: int
    seconds: float
    videos_per_second: float
    rendered_videos: int = 0
    codec: str = ""
    truth: Path | None = None

    @property
    def frame_jsons_per_second(self) -> float:
        return self.frame_jsons / self.seconds if self.seconds > 0 else float("inf")


def _validate(out_dir: Path, classes: int, train_per_class: int, test_per_class: int, frames: int,
              size: int, fps: int, seed: int, composition: Path | None, nuisance: float = 1.0,
              quirks: int = DEFAULT_QUIRKS, world: str = "default") -> None:
    checks = [
        (type(quirks) is int and quirks in QUIRK_LEVELS,
         f"quirks must be one of {', '.join(map(str, QUIRK_LEVELS))} (got {quirks!r})"),
        (isinstance(nuisance, (int, float)) and 0.0 <= nuisance <= 1.0,
         f"nuisance must be a number from 0 to 1 (got {nuisance!r})"),
        (isinstance(classes, int) and classes >= 2, f"classes must be an integer >= 2 (got {classes!r})"),
        (isinstance(train_per_class, int) and train_per_class >= 1,
         f"train_per_class must be an integer >= 1 (got {train_per_class!r})"),
        (isinstance(test_per_class, int) and test_per_class >= 0,
         f"test_per_class must be an integer >= 0 (got {test_per_class!r})"),
        (isinstance(frames, int) and frames >= 1, f"frames must be an integer >= 1 (got {frames!r})"),
        (isinstance(size, int) and 32 <= size <= 1024 and size % 2 == 0,
         f"size must be an even integer from 32 to 1024 (yuv420p needs even sides; got {size!r})"),
        (isinstance(fps, int) and 1 <= fps <= 120, f"fps must be an integer from 1 to 120 (got {fps!r})"),
        (isinstance(seed, int) and seed >= 0, f"seed must be an integer >= 0 (got {seed!r})"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigurationError(message)
    if world not in WORLDS:
        raise ConfigurationError(f"world must be one of {', '.join(WORLDS)} (got {world!r})")
    if world != "default" and composition is not None:
        raise ConfigurationError("give either a world or a composition folder, not both")
    if composition is not None and not Path(composition).is_dir():
        raise ConfigurationError(f"composition {composition} is not a folder; give a KG-CLIP release folder "
                                 "holding kg_idx.json and a-b.pkl")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigurationError(f"output folder {out_dir} exists and is not empty; give a new or empty folder")


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write_jsons(folder: Path, documents: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    base = str(folder)
    for number, document in enumerate(documents, start=1):
        with open(f"{base}/img_{number:05d}.json", "w", encoding="utf-8") as handle:
            handle.write(document)


def _write_video(out_dir: Path, plan: VideoPlan, codec: str, *, link_to: Path | None) -> Path:
    """Write one video's mp4 (rendered, or linked to `link_to`) and, for training, its frame JSONs."""
    path = out_dir / f"{plan.split}_videos" / plan.folder / f"{plan.video}.mp4"
    geo: Geometry | None = None
    if link_to is not None:
        _link_or_copy(link_to, path)
    else:
        geo = geometry(plan)
        write_mp4(path, render_frames(plan, geo), size=plan.size, fps=plan.fps, codec=codec, expected=plan.frames)
    if plan.split == "train":
        folder = out_dir / "train_annotations" / plan.folder / plan.video / plan.video
        _write_jsons(folder, frame_labels(plan, geo or geometry(plan)))
    return path


def generate(out_dir: Path, *, classes: int = 6, train_per_class: int = 4, test_per_class: int = 1,
             frames: int = 16, size: int = 112, fps: int = 8, seed: int = 0,
             composition: Path | None = None, share_videos: bool = False, nuisance: float = 1.0,
             quirks: int = DEFAULT_QUIRKS, world: str = "default",
             progress: Callable[[int, int], None] | None = None) -> SynthSummary:
    """Write a synthetic Kinetics-TPS folder into `out_dir` (new or empty); see the module docstring."""
    out_dir = Path(out_dir)
    _validate(out_dir, classes, train_per_class, test_per_class, frames, size, fps, seed, composition, nuisance,
              quirks, world)
    began = time.perf_counter()
    if composition is not None:
        vocabulary = composition_vocabulary(Path(composition), classes)
    elif world != "default":
        vocabulary = world_vocabulary(world, classes)
    else:
        vocabulary = default_vocabulary(classes)
    if quirks >= 2 and composition is None:  # a class folder with parentheses, as Kinetics' hurling_(sport)
        last = vocabulary.actions[-1]
        vocabulary = replace(vocabulary, actions=(*vocabulary.actions[:-1], replace(
            last, folder=last.folder + PAREN_QUALIFIER, name=action_name(last.folder + PAREN_QUALIFIER))))
    codec = pick_codec()
    lists = out_dir / "list"
    lists.mkdir(parents=True, exist_ok=True)
    counts = {"train": train_per_class, "test": test_per_class}
    total = classes * (train_per_class + test_per_class)
    names = iter(video_names(seed, total, quirks))
    flists: dict[str, list[str]] = {"train": ["video,frames"], "test": ["video,frames"]}
    truth_videos: dict[str, dict[str, dict[str, object]]] = {"train": {}, "test": {}}
    done = frame_jsons = rendered = 0
    for class_index, action in enumerate(vocabulary.actions):
        for split, count in counts.items():
            video_dir = out_dir / f"{split}_videos" / action.folder
            (video_dir if count else video_dir.parent).mkdir(parents=True, exist_ok=True)
            first: Path | None = None  # the class's rendered video, when share_videos links the others to it
            for video_index in range(count):
                plan = plan_video(seed, split, class_index, video_index, action, vocabulary.subset,
                                  video=next(names), frames=frames, size=size, fps=fps, nuisance=nuisance,
                                  quirks=quirks)
                path = _write_video(out_dir, plan, codec, link_to=first)
                rendered += first is None
                if share_videos and first is None:
                    first = path
                frame_jsons += frames if split == "train" else 0
                key = f"{action.folder}/{plan.video}"
                flists[split].append(f"{key},{frames}")
                truth_videos[split][key] = {
                    "action": action.folder,
                    "pixels_from": f"{action.folder}/{first.stem}" if first not in (None, path) else None,
                    "movements": shown_truth(plan, annotated=split == "train"),
                }
                done += 1
                if progress is not None:
                    progress(done, total)
    _write_lines(lists / "body_part.txt", PARTS)
    _write_lines(lists / "part_stat.txt", vocabulary.states)
    _write_lines(lists / "object.txt", vocabulary.objects)
    _write_lines(lists / "video_train_flist.csv", flists["train"])
    _write_lines(lists / "video_test_flist.csv", flists["test"])
    truth_path = lists / "synth_truth.json"
    truth = _truth(vocabulary, truth_videos, seed=seed, codec=codec, options={
        "classes": classes, "train_per_class": train_per_class, "test_per_class": test_per_class,
        "frames": frames, "size": size, "fps": fps, "share_videos": share_videos, "nuisance": nuisance,
        "quirks": quirks, **({"world": world} if world != "default" else {}),
        "composition": str(composition) if composition is not None else None})
    truth_path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - began
    return SynthSummary(
        out_dir=out_dir, classes=[a.folder for a in vocabulary.actions],
        train_videos=classes * train_per_class, test_videos=classes * test_per_class, frame_jsons=frame_jsons,
        seconds=seconds, videos_per_second=total / seconds if seconds > 0 else float("inf"),
        rendered_videos=rendered, codec=codec, truth=truth_path)


def _truth(vocabulary: Vocabulary, videos: dict[str, dict[str, dict[str, object]]], *, seed: int, codec: str,
           options: dict[str, object]) -> dict[str, object]:
    used = unique_in_order([m.name for a in vocabulary.actions for m in a.movements])
    movements = {name: {**vars(m), "id": m.id} for name in used for m in [parse_movement_name(name)]}
    return {
        "generator": "kgtoolkit.synth",
        "seed": seed,
        "options": options,
        "codec": codec,
        "vocabulary": vocabulary.source,
        "movements_per_video": list(vocabulary.subset) if vocabulary.subset else "all",
        "actions": [{"folder": a.folder, "name": a.name, "class_index": i, "movements": [m.name for m in a.movements]}
                    for i, a in enumerate(vocabulary.actions)],
        "movements": movements,
        "videos": videos,
    }
