"""Ingesting a Kinetics-TPS root (DESIGN.md, "Kinetics-TPS on disk") into the graph model.

Scan the layout (checking every name), parse each video's frame JSONs and probe its file in
worker processes, then write Video / Action / BodyPart / Object / BodyMovement nodes and SHOWS /
EXHIBITS / OF_PART / USES edges in batches, and INVOLVES edges from training videos only.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kgtoolkit.ingest.flist import FlistError, FlistRow, read_flist
from kgtoolkit.ingest.frames import VideoFrames, read_video_frames
from kgtoolkit.ingest.report import IngestReport
from kgtoolkit.ingest.splits import carve_validation
from kgtoolkit.media import VideoError, VideoInfo, probe_video
from kgtoolkit.ingest.writer import GraphWriter
from kgtoolkit.vocab import (
    BODY_PARTS,
    VIDEO_SUFFIXES,
    Movement,
    action_id,
    action_name,
    check_path_component,
    object_id,
    part_id,
    video_id,
)

SPLIT_DIRS = {"train": "train_videos", "test": "test_videos"}


def is_ktps_root(root: Path) -> bool:
    return any((root / name).is_dir() for name in ("train_videos", "test_videos", "train_annotations"))


@dataclass(frozen=True)
class IngestOptions:
    val_fraction: float = 0.1  # share of each class's training videos carved out as validation
    seed: int = 0
    min_support: float = 0.1  # INVOLVES needs this share of the action's training videos ...
    min_videos: int = 1  # ... and at least this many of them
    workers: int = 2
    batch_size: int = 5000


@dataclass(frozen=True)
class VideoTask:
    label: str  # class folder
    name: str  # video name (file stem)
    split_dir: str  # "train" or "test"
    video_path: Path | None
    annotation_dir: Path | None
    parts: frozenset[str]


@dataclass
class VideoResult:
    task: VideoTask
    info: VideoInfo | None = None
    video_error: str | None = None
    frames: VideoFrames | None = None


@dataclass
class Layout:
    root: Path
    parts: frozenset[str]
    states: set[str] | None
    objects: set[str] | None
    flists: dict[str, str] = field(default_factory=dict)  # split -> its flist file, when it was read
    listed: dict[tuple[str, str, str], FlistRow] = field(default_factory=dict)  # (split, class, video) -> row
    tasks: list[VideoTask] = field(default_factory=list)


def process_video(task: VideoTask) -> VideoResult:
    """Worker: probe the video file and aggregate its frame JSONs."""
    result = VideoResult(task)
    if task.video_path is not None:
        try:
            result.info = probe_video(task.video_path)
        except VideoError as error:
            result.video_error = str(error)
    if task.annotation_dir is not None and result.video_error is None:
        rel = f"train_annotations/{task.label}/{task.name}/{task.name}"
        size = (result.info.width, result.info.height) if result.info else None
        result.frames = read_video_frames(task.annotation_dir, rel, task.parts, size)
    return result


def _quiet_worker() -> None:
    """decord/ffmpeg print to fd 2 on bad files; the report says it better, so keep the display clean."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


# --- scanning -------------------------------------------------------------------------------------
def _read_list(path: Path, report: IngestReport, root: Path) -> list[str] | None:
    if not path.is_file():
        report.reject(path.relative_to(root), "missing: names are not checked against it", "warning")
        return None
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        report.reject(path.relative_to(root), f"unreadable ({error}): names are not checked against it", "warning")
        return None


def _read_flist(root: Path, split: str, report: IngestReport) -> list[FlistRow] | None:
    """The rows of one split's flist, or None when it is missing or cannot be read (then frame counts
    are not cross-checked); bad rows are reported and the others kept."""
    rel = f"list/video_{split}_flist.csv"
    path = root / rel
    if not path.is_file():
        report.reject(rel, "missing: frame counts are not cross-checked", "warning")
        return None
    try:
        rows, problems = read_flist(path, rel)
    except FlistError as error:
        report.reject(rel, f"{error}; frame counts are not cross-checked")
        return None
    for where, reason in problems:
        report.reject(where, reason)
    return rows


def _match_flist(split: str, rows: list[FlistRow], on_disk: dict[str, list[str]], layout: Layout,
                 report: IngestReport) -> None:
    """Match one split's flist rows to its video files by video id (`on_disk`: id -> class folders
    holding it); a row without a class whose id is in two classes is ambiguous."""
    folder = SPLIT_DIRS[split]
    for row in rows:
        classes = on_disk.get(row.video, [])
        if row.label is not None:
            matched = [row.label] if row.label in classes else []
            if not matched:
                elsewhere = f" (a video of that id is in {', '.join(classes)})" if classes else ""
                report.reject(row.where, f"lists {row.label}/{row.video}, but its video file "
                              f"{folder}/{row.label}/{row.video}.mp4 is missing{elsewhere}")
        elif len(classes) == 1:
            matched = classes
        elif not classes:
            matched = []
            report.reject(row.where, f"lists video {row.video}, but its video file {folder}/<class>/{row.video}.mp4 "
                          "is missing (no class folder holds it)")
        else:
            matched = []
            report.reject(row.where, f"video id {row.video} names no class and matches {len(classes)} videos: "
                          + ", ".join(f"{folder}/{c}/{row.video}" for c in classes)
                          + "; ambiguous, so their frame counts are not checked against this row")
            for label in classes:  # not "unlisted" either: the row may be theirs
                layout.listed.setdefault((split, label, row.video), FlistRow(row.video, label, -1, row.where))
        for label in matched:
            key = (split, label, row.video)
            if key in layout.listed and layout.listed[key].frames >= 0:  # not the placeholder of an ambiguous row
                first = layout.listed[key]
                report.reject(row.where, f"lists {label}/{row.video} again ({first.where} did, with "
                              f"{first.frames} frames); the first row is used", "warning")
            else:
                layout.listed[key] = row


def _safe_children(folder: Path, root: Path, report: IngestReport, dirs: bool) -> Iterator[Path]:
    """Entries of `folder` whose names are plain and that stay inside `root` (links are refused)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as error:
        report.reject(folder.relative_to(root), f"cannot list: {error.strerror}")
        return
    for entry in entries:
        path = Path(entry.path)
        rel = path.relative_to(root)
        problem = check_path_component(entry.name)
        if problem:
            report.reject(rel.parent / repr(entry.name), f"name {problem}; skipped")
            continue
        if entry.is_symlink():
            report.reject(rel, "is a symbolic link; links are not followed, so the dataset cannot reach outside its root")
            continue
        if dirs != entry.is_dir():
            if dirs:
                report.reject(rel, "expected a folder, found a file; skipped", "warning")
            continue
        if not dirs and not entry.is_file():  # a FIFO or device would block or never end when read
            report.reject(rel, "not a regular file (a FIFO, socket or device); skipped")
            continue
        yield path


def scan_layout(root: Path, report: IngestReport) -> Layout:
    parts_list = _read_list(root / "list" / "body_part.txt", report, root)
    states = _read_list(root / "list" / "part_stat.txt", report, root)
    objects = _read_list(root / "list" / "object.txt", report, root)
    layout = Layout(
        root=root,
        parts=frozenset(parts_list) if parts_list else frozenset(BODY_PARTS),
        states=set(states) if states else None,
        objects=set(objects) if objects else None,
    )
    flist_rows = {split: _read_flist(root, split, report) for split in SPLIT_DIRS}
    videos: dict[tuple[str, str, str], Path] = {}
    for split, folder in SPLIT_DIRS.items():
        if not (root / folder).is_dir():
            report.reject(folder, "missing folder", "warning")
            continue
        for class_dir in _safe_children(root / folder, root, report, dirs=True):
            for path in _safe_children(class_dir, root, report, dirs=False):
                if path.suffix.lower() not in VIDEO_SUFFIXES:
                    report.reject(path.relative_to(root), f"not a video file name ({', '.join(VIDEO_SUFFIXES)}); skipped", "warning")
                    continue
                videos[(split, class_dir.name, path.stem)] = path

    annotations: dict[tuple[str, str], Path] = {}
    ann_root = root / "train_annotations"
    if ann_root.is_dir():
        for class_dir in _safe_children(ann_root, root, report, dirs=True):
            for video_dir in _safe_children(class_dir, root, report, dirs=True):
                inner = video_dir / video_dir.name
                if inner.is_dir() and not inner.is_symlink():
                    annotations[(class_dir.name, video_dir.name)] = inner
                else:
                    report.reject(video_dir.relative_to(root), f"expected the frame JSONs in {video_dir.name}/{video_dir.name}/")
    for (label, name), folder in sorted(annotations.items()):
        if ("train", label, name) not in videos:
            if ("test", label, name) in videos:
                reason = f"annotations for video {label}/{name}, which is in test_videos (test videos have no annotations)"
            else:
                reason = f"annotations for video {label}/{name}, whose video file train_videos/{label}/{name}.mp4 is missing"
            report.reject(folder.relative_to(root), reason + "; not ingested")
    for (split, label, name), path in sorted(videos.items()):
        annotation = annotations.get((label, name)) if split == "train" else None
        layout.tasks.append(VideoTask(label, name, split, path, annotation, layout.parts))
    for split, rows in flist_rows.items():
        if rows is not None:
            layout.flists[split] = f"list/video_{split}_flist.csv"
            on_disk: dict[str, list[str]] = defaultdict(list)
            for (video_split, label, name) in sorted(videos):
                if video_split == split:
                    on_disk[name].append(label)
            _match_flist(split, rows, on_disk, layout, report)
    return layout


# --- writing --------------------------------------------------------------------------------------
def ingest_ktps(
    root: Path,
    writer: GraphWriter,
    report: IngestReport,
    options: IngestOptions,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    layout = scan_layout(root, report)
    if not layout.tasks:
        report.reject(".", "no video files found under train_videos/<class>/ or test_videos/<class>/")
        return
    classes = sorted({t.label for t in layout.tasks})
    for index, label in enumerate(classes):
        writer.node("Action", action_id(label), name=action_name(label), classIndex=index)
    for part in sorted(layout.parts):
        writer.node("BodyPart", part_id(part), name=part)
    val = carve_validation(((t.name, t.label) for t in layout.tasks if t.split_dir == "train"),
                           options.val_fraction, options.seed)

    train_videos: Counter[str] = Counter()  # action -> annotated training videos
    shows: dict[str, Counter[Movement]] = defaultdict(Counter)  # action -> movement -> videos
    done = 0
    for result in _run(layout.tasks, options.workers):
        done += 1
        if progress:
            progress(done, len(layout.tasks))
        split = "test" if result.task.split_dir == "test" else ("val" if result.task.name in val else "train")
        counted = _write_video(result, split, layout, writer, report)
        if counted is not None and split == "train":
            train_videos[result.task.label] += 1
            for movement in counted:
                shows[result.task.label][movement] += 1
        report.splits[split] = report.splits.get(split, 0) + (1 if result.info else 0)

    for label, movements in sorted(shows.items()):
        total = train_videos[label]
        for movement, n in sorted(movements.items(), key=lambda item: item[0].id):
            support = n / total
            if n >= options.min_videos and support >= options.min_support:
                writer.rel("INVOLVES", action_id(label), movement.id, support=round(support, 4), videos=n)


def _run(tasks: list[VideoTask], workers: int) -> Iterator[VideoResult]:
    if workers <= 1:
        yield from map(process_video, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_quiet_worker) as pool:
        yield from pool.map(process_video, tasks, chunksize=4)


def _write_video(result: VideoResult, split: str, layout: Layout, writer: GraphWriter,
                 report: IngestReport) -> set[Movement] | None:
    """Write one video; return the movements it shows if it was annotated, else None."""
    task, root = result.task, layout.root
    rel_video = task.video_path.relative_to(root) if task.video_path else None
    if result.video_error:
        extra = " (its frame annotations are not ingested either)" if task.annotation_dir else ""
        report.reject(rel_video, result.video_error + extra)
        return None
    info = result.info
    assert info is not None and task.video_path is not None
    report.videos += 1
    vid = video_id(task.label, task.name)
    frames = result.frames
    writer.node(
        "Video", vid, name=task.name, split=split, action=task.label, path=str(task.video_path.resolve()),
        numFrames=info.frames, fps=info.fps, width=info.width, height=info.height,
        annotatedFrames=frames.frame_files if frames else 0,
    )
    writer.rel("SHOWS", vid, action_id(task.label))
    if frames is not None:
        for path, reason in frames.problems:
            report.reject(path, reason)
        for path, reason in frames.warnings:
            report.reject(path, reason, "warning")
        report.frame_files += frames.frame_files
    _check_frame_counts(task, rel_video, info, frames, layout, report)
    if frames is None:
        if task.split_dir == "train":
            report.reject(rel_video, "training video without frame annotations: no EXHIBITS edges", "warning")
        return None
    for movement, stats in sorted(frames.movements.items(), key=lambda item: item[0].id):
        _write_movement(movement, layout, writer, report)
        writer.rel("EXHIBITS", vid, movement.id, frames=stats.frames, firstFrame=stats.first, lastFrame=stats.last,
                   coverage=round(stats.frames / max(frames.frame_files, 1), 4))
    return set(frames.movements)


def _check_frame_counts(task: VideoTask, rel_video: Path, info: VideoInfo, frames: VideoFrames | None,
                        layout: Layout, report: IngestReport) -> None:
    """One warning per video whose decoded frames, flist row and annotation files disagree, with every
    number and what was trusted: numFrames is the decoded count; the annotations are ingested as they are."""
    flist = layout.flists.get(task.split_dir)
    row = layout.listed.get((task.split_dir, task.label, task.name))
    if flist is not None and row is None:
        report.reject(rel_video, f"not listed in {flist}", "warning")
    claims = []
    if row is not None and row.frames >= 0 and row.frames != info.frames:
        claims.append(f"{row.where} says {row.frames}")
    if frames is not None and frames.frame_files and frames.last_frame != info.frames:
        claims.append(f"the annotations train_annotations/{task.label}/{task.name}/{task.name}/ run to "
                      f"img_{frames.last_frame:05d} ({frames.frame_files} files)")
    if claims:
        annotations = "; the annotations are ingested as they are" if frames is not None and frames.frame_files else ""
        report.reject(rel_video, f"frame counts disagree: the video decodes to {info.frames} frames, "
                      + " and ".join(claims) + f"; trusted: the decoded video (numFrames {info.frames}){annotations}",
                      "warning")


def _write_movement(movement: Movement, layout: Layout, writer: GraphWriter, report: IngestReport) -> None:
    if not writer.node_once("BodyMovement", movement.id, name=movement.name, part=movement.part,
                            state=movement.state, object=movement.object):
        return
    writer.rel("OF_PART", movement.id, part_id(movement.part))
    if layout.states is not None and movement.state not in layout.states:
        report.reject(f"movement {movement.name!r}", f"state {movement.state!r} is not in list/part_stat.txt", "warning")
    if movement.object:
        writer.node_once("Object", object_id(movement.object), name=movement.object)
        writer.rel("USES", movement.id, object_id(movement.object))
        if layout.objects is not None and movement.object not in layout.objects:
            report.reject(f"movement {movement.name!r}", f"object {movement.object!r} is not in list/object.txt", "warning")
