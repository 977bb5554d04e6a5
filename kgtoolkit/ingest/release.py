"""Ingesting the KG-CLIP release folder (kg_idx.json + triplet pickles) into the graph model.

Its known defects (../shared/data/kg_clip_release/README.md) are detected from the data, reported
in `IngestReport.defects`, and handled rather than copied:
- the older split files' video ids are offset by -26: detected, shifted back, kept as `splitLegacy`;
- test videos of the 8:2 split have EXHIBITS edges: written (they come from annotations), and
  counted, so that training, which reads only training videos' edges, can say it never saw them;
- INVOLVES edges derived from test videos: each edge gets `trainVideos` (how many 8:2 training
  videos show the movement) and `testOnly`, so training keeps only edges seen in training.
Every video's `split` is the 8:2 protocol's, with `val` carved out of its training part; the other
protocols stay on the node as `split82`, `split64`, `split46`, `split28`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.ingest.ktps import IngestOptions
from kgtoolkit.ingest.report import IngestReport
from kgtoolkit.ingest.splits import carve_validation
from kgtoolkit.ingest.writer import GraphWriter
from kgtoolkit.safe_pickle import UnsafePickleError, load_int_triples
from kgtoolkit.schema import RELEASE_RELATION_IDS
from kgtoolkit.vocab import Movement, action_id, object_id, parse_movement_name, part_id, video_id

PROTOCOLS = ("82", "64", "46", "28")
LEGACY = {"train": "v-a-trn.pkl", "val": "v-a-val.pkl", "test": "v-a-tst.pkl"}


def is_release_dir(root: Path) -> bool:
    return (root / "kg_idx.json").is_file()


Reject = Callable[[str, str], None]  # (file or entry, reason): report it, or raise


def read_index(root: Path) -> dict[int, str]:
    """kg_idx.json as id -> name; a ValueError saying what is wrong when it is not a JSON object of id -> name."""
    try:
        return {int(k): v for k, v in json.loads((root / "kg_idx.json").read_text(encoding="utf-8")).items()}
    except (ValueError, OSError, AttributeError) as error:
        raise ValueError(f"not a JSON object of id -> name: {error}") from None


def read_triples(root: Path, name: str, relation: str, reject: Reject) -> list[tuple[int, int, int]]:
    """The triples of one pickle whose relation id is `relation`'s (v-b, a-b or v-a); a missing or
    unsafe file, and each triple of another relation, go to `reject`."""
    if not (root / name).is_file():
        reject(name, "missing: its triples are not read")
        return []
    try:
        triples = load_int_triples(root / name)  # refuses anything but int triples, runs nothing
    except UnsafePickleError as error:
        reject(name, f"{error}; none of its triples are read")
        return []
    expected = RELEASE_RELATION_IDS[relation]
    good = []
    for position, (h, r, t) in enumerate(triples):
        if r != expected:
            reject(f"{name}[{position}]", f"relation id {r}, expected {expected} ({relation})")
        else:
            good.append((h, r, t))
    return good


def read_movements(index: dict[int, str], ids: Iterable[int], reject: Reject) -> dict[int, Movement]:
    """The body movements named by these ids, in id order; an id that names none goes to `reject`."""
    movements: dict[int, Movement] = {}
    for i in sorted(ids):
        try:
            movements[i] = parse_movement_name(index[i])
        except (KeyError, ValueError) as error:
            reject(f"kg_idx.json[{i}]", f"not a body movement: {error}")
    return movements


@dataclass(frozen=True)
class ReleaseComposition:
    """How a release composes its actions of body movements (kg_idx.json, a-b.pkl and, when present,
    v-b.pkl): the actions are the heads of a-b.pkl, the movements the tails of a-b.pkl and v-b.pkl."""

    names: dict[int, str]
    actions: list[int]  # in id order (kg_idx.json's)
    movements: dict[int, Movement]  # in id order
    involves: list[tuple[int, int]]  # (action, movement), in a-b.pkl's order
    exhibits: list[tuple[int, int]]  # (video, movement), in v-b.pkl's order; none without v-b.pkl


def read_composition(root: Path) -> ReleaseComposition:
    """The action -> movement graph of a release folder, without its videos' splits (what `synth
    --composition` and `kgtoolkit.composition` read); the first problem is a ConfigurationError that
    names the file."""
    def reject(where: str, reason: str) -> NoReturn:
        raise ConfigurationError(f"{root / where}: {reason} (is it a KG-CLIP release folder?)")

    try:
        names = read_index(root)
    except ValueError as error:
        reject("kg_idx.json", str(error))
    ab = read_triples(root, "a-b.pkl", "a-b", reject)
    vb = read_triples(root, "v-b.pkl", "v-b", reject) if (root / "v-b.pkl").is_file() else []
    movements = read_movements(names, {t for _, _, t in ab} | {t for _, _, t in vb}, reject)
    for a, _, t in ab:
        if a not in names:
            reject("a-b.pkl", f"triple ({a}, 1, {t}) names an action kg_idx.json does not")
    involves = [(a, t) for a, _, t in ab]
    exhibits = [(v, t) for v, _, t in vb]
    return ReleaseComposition(names, sorted({a for a, _ in involves}), movements, involves, exhibits)


def ingest_release(root: Path, writer: GraphWriter, report: IngestReport, options: IngestOptions) -> None:
    try:
        index = read_index(root)
    except ValueError as error:
        report.reject("kg_idx.json", str(error))
        return
    relations = {index.get(i) for i in RELEASE_RELATION_IDS.values()}
    if relations != set(RELEASE_RELATION_IDS):
        report.reject("kg_idx.json", f"ids 0-2 should name the relations v-b, a-b, v-a, found {sorted(map(str, relations))}")

    # Entities: actions are the tails of v-a, movements of a-b/v-b, videos the heads of v-a.
    splits = {p: {s: read_triples(root, f"v-a-{'trn' if s == 'train' else 'tst'}{p}.pkl", "v-a", report.reject)
                  for s in ("train", "test")} for p in PROTOCOLS}
    label_of: dict[int, int] = {}
    for p in PROTOCOLS:
        for triples in splits[p].values():
            for h, _, t in triples:
                label_of.setdefault(h, t)
    action_ids = sorted({t for t in label_of.values()})
    class_index = _class_indices(root, report)

    def action_folder(i: int) -> str:
        return index[i].replace(" ", "_")

    for position, i in enumerate(action_ids):  # without label_id.txt, classes follow kg_idx.json's order
        folder = action_folder(i)
        writer.node("Action", action_id(folder), name=index[i], classIndex=class_index.get(folder, position))

    vb = read_triples(root, "v-b.pkl", "v-b", report.reject)
    ab = read_triples(root, "a-b.pkl", "a-b", report.reject)
    movement_of = read_movements(index, {t for _, _, t in vb} | {t for _, _, t in ab}, report.reject)
    for movement in movement_of.values():
        writer.node("BodyMovement", movement.id, name=movement.name, part=movement.part, state=movement.state,
                    object=movement.object)
        writer.node_once("BodyPart", part_id(movement.part), name=movement.part)
        writer.rel("OF_PART", movement.id, part_id(movement.part))
        if movement.object:
            writer.node_once("Object", object_id(movement.object), name=movement.object)
            writer.rel("USES", movement.id, object_id(movement.object))

    # Splits: the 8:2 protocol is `split` (with validation carved from its training part).
    per_video: dict[int, dict[str, str]] = defaultdict(dict)
    for p in PROTOCOLS:
        for split, triples in splits[p].items():
            for h, _, _ in triples:
                per_video[h][f"split{p}"] = split
    legacy, offset = _legacy_splits(root, label_of, report)
    val = carve_validation(((str(h), str(label_of[h])) for h, s in per_video.items() if s.get("split82") == "train"),
                           options.val_fraction, options.seed)
    vid_of: dict[int, str] = {}
    for h in sorted(label_of):
        folder = action_folder(label_of[h])
        name = index.get(h, f"unnamed-{h}")
        vid = vid_of[h] = video_id(folder, name)
        split = per_video[h].get("split82", "unknown")
        if split == "train" and str(h) in val:
            split = "val"
        report.splits[split] = report.splits.get(split, 0) + 1
        report.videos += 1
        writer.node("Video", vid, name=name, split=split, action=folder, source="kgclip-release",
                    splitLegacy=legacy.get(h), **per_video[h])
        writer.rel("SHOWS", vid, action_id(folder))

    test_videos = {h for h, s in per_video.items() if s.get("split82") == "test"}
    train_seen: dict[int, Counter[int]] = defaultdict(Counter)  # action -> movement -> 8:2 training videos
    test_seen: dict[int, set[int]] = defaultdict(set)
    leaked = set()
    for h, _, t in vb:
        if h not in vid_of or t not in movement_of:
            report.reject("v-b.pkl", f"triple ({h}, 0, {t}) names an unknown video or movement")
            continue
        writer.rel("EXHIBITS", vid_of[h], movement_of[t].id)
        if h in test_videos:
            leaked.add(h)
            test_seen[label_of[h]].add(t)
        else:
            train_seen[label_of[h]][t] += 1
    test_only = 0
    for a, _, t in ab:
        if a not in index or t not in movement_of:
            report.reject("a-b.pkl", f"triple ({a}, 1, {t}) names an unknown action or movement")
            continue
        n = train_seen[a][t]
        test_only += n == 0
        writer.rel("INVOLVES", action_id(action_folder(a)), movement_of[t].id, trainVideos=n, testOnly=n == 0)

    if offset:
        report.defects.append(
            f"v-a-trn.pkl, v-a-val.pkl, v-a-tst.pkl: video ids are offset by {-offset} against kg_idx.json; "
            f"shifted by +{offset} (every label then agrees with the 8:2 files) and kept as `splitLegacy`"
        )
    report.defects.append(
        f"v-b.pkl: {len(leaked)} of the {len(test_videos)} test videos of the 8:2 split have body-movement "
        f"(EXHIBITS) edges; they are written, since they come from annotations, and training must not see them "
        f"(the sampler reads EXHIBITS of training videos only)"
    )
    report.defects.append(
        f"a-b.pkl: {test_only} of {len(ab)} INVOLVES edges are shown by no training video of the 8:2 split "
        f"(derived from test videos); they are written with testOnly=true and trainVideos=0, and a clean "
        f"protocol keeps only edges with trainVideos > 0"
    )
    if (root / "case.pkl").exists():
        report.defects.append("case.pkl: the authors' 11 case-study triples; not ingested (they repeat v-a edges)")


def _class_indices(root: Path, report: IngestReport) -> dict[str, int]:
    path = root / "label_id.txt"
    indices: dict[str, int] = {}
    if not path.is_file():
        report.reject("label_id.txt", "missing: class indices follow kg_idx.json order", "warning")
        return indices
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit():
            indices[fields[0]] = int(fields[1])
        elif fields:
            report.reject(f"label_id.txt:{line_no}", f"not `<class folder> <index>`: {line[:60]!r}")
    return indices


def _legacy_splits(root: Path, label_of: dict[int, int], report: IngestReport) -> tuple[dict[int, str], int]:
    """The older train/val/test files, with their id offset found from the data (0 if none)."""
    try:
        triples = {s: load_int_triples(root / f) for s, f in LEGACY.items() if (root / f).is_file()}
    except UnsafePickleError as error:
        report.reject("v-a-trn.pkl/v-a-val.pkl/v-a-tst.pkl", f"{error}; the older split is not kept")
        return {}, 0
    if not triples:
        return {}, 0
    every = [(h, t) for ts in triples.values() for h, _, t in ts]
    best = max(range(-64, 65), key=lambda k: sum(label_of.get(h + k) == t for h, t in every))
    agree = sum(label_of.get(h + best) == t for h, t in every)
    if agree < len(every):
        report.reject("v-a-trn.pkl/v-a-val.pkl/v-a-tst.pkl",
                      f"with the best id offset (+{best}) only {agree} of {len(every)} labels agree with the 8:2 files; "
                      "the older split is not kept", "warning")
        return {}, best
    return {h + best: s for s, ts in triples.items() for h, _, _ in ts}, best
