"""`kgtoolkit ingest` on Kinetics-TPS layouts made by `kgtoolkit synth`: counts, agreement with
what was drawn, idempotency on both stores, and every kind of bad input reported by name while
the rest of the dataset is still ingested."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import IngestOptions, ingest
from kgtoolkit.synth import generate

CLASSES, TRAIN, TEST, FRAMES = 3, 3, 1, 8


@pytest.fixture(scope="session")
def small_ktps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ktps") / "ktps"
    generate(root, classes=CLASSES, train_per_class=TRAIN, test_per_class=TEST, frames=FRAMES, size=64, seed=7)
    return root


@pytest.fixture
def ktps(small_ktps: Path, tmp_path: Path) -> Path:
    """A private copy to damage."""
    root = tmp_path / "ktps"
    shutil.copytree(small_ktps, root)
    return root


def _truth(root: Path) -> dict:
    return json.loads((root / "list" / "synth_truth.json").read_text())


def _exhibits(store) -> dict[tuple[str, str], dict]:
    return {(r.src, r.dst): r.props for page in store.iter_relationships("EXHIBITS") for r in page}


def _train_video(root: Path, n: int = 0) -> tuple[str, str]:
    label, name = sorted(_truth(root)["videos"]["train"])[n].split("/")
    return label, name


def _problems(report, severity: str | None = None) -> list[tuple[str, str]]:
    return [(p.path, p.reason) for p in report.rejected if severity is None or p.severity == severity]


# --- the good path ----------------------------------------------------------------------------------
def test_ingest_matches_what_was_drawn(small_ktps: Path, embedded_store):
    report = ingest(small_ktps, embedded_store, IngestOptions(workers=2))
    assert report.rejected == []
    assert report.nodes["Video"] == CLASSES * (TRAIN + TEST)
    assert report.nodes["Action"] == CLASSES
    assert report.relationships["SHOWS"] == CLASSES * (TRAIN + TEST)
    assert report.frame_files == CLASSES * TRAIN * FRAMES
    assert report.splits == {"train": CLASSES * (TRAIN - 1), "val": CLASSES, "test": CLASSES * TEST}
    exhibits = _exhibits(embedded_store)
    truth = _truth(small_ktps)["videos"]["train"]
    names = {n.id: n.props["name"] for page in embedded_store.iter_nodes("BodyMovement") for n in page}
    for key, video in truth.items():
        drawn = {m["name"]: m for m in video["movements"]}
        seen = {names[dst]: props for (src, dst), props in exhibits.items() if src == f"video:{key}"}
        assert set(drawn) <= set(seen), key  # every drawn movement is found (quirks may add 'others' + object)
        for name, movement in drawn.items():
            assert seen[name]["frames"] == movement["frames"]
            assert seen[name]["firstFrame"] == movement["first_frame"]
            assert seen[name]["lastFrame"] == movement["last_frame"]
    videos = {n.id: n.props for page in embedded_store.iter_nodes("Video") for n in page}
    assert {p["numFrames"] for p in videos.values()} == {FRAMES}
    assert all(Path(p["path"]).is_file() for p in videos.values())
    # INVOLVES comes from training videos only: no edge is supported by a validation or test video alone
    train_ids = {v for v, p in videos.items() if p["split"] == "train"}
    for page in embedded_store.iter_relationships("INVOLVES"):
        for r in page:
            supporters = [s for (s, d) in exhibits if d == r.dst and s in train_ids and videos[s]["action"] == r.src.split(":", 1)[1]]
            assert len(supporters) == r.props["videos"] >= 1


def test_same_counts_in_both_stores_and_a_second_ingest_changes_nothing(small_ktps: Path, embedded_store, neo4j_store):
    first = ingest(small_ktps, embedded_store)
    into_neo4j = ingest(small_ktps, neo4j_store)
    assert into_neo4j.nodes == first.nodes and into_neo4j.relationships == first.relationships
    props = {n.id: n.props for page in neo4j_store.iter_nodes("Video") for n in page}
    again = ingest(small_ktps, neo4j_store)
    assert again.nodes == first.nodes and again.relationships == first.relationships
    assert {n.id: n.props for page in neo4j_store.iter_nodes("Video") for n in page} == props
    assert _exhibits(neo4j_store) == _exhibits(embedded_store)


def test_cli_ingest_report_and_exit_status(small_ktps: Path, ktps: Path, tmp_path: Path):
    report_file = tmp_path / "report.json"
    ok = subprocess.run([sys.executable, "-m", "kgtoolkit", "ingest", str(small_ktps), "--graph", str(tmp_path / "g"),
                         "--report", str(report_file)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(report_file.read_text())
    assert data["nodes"]["Video"] == CLASSES * (TRAIN + TEST) and data["rejected"] == []
    assert set(data["relationships"]) >= {"SHOWS", "EXHIBITS", "INVOLVES"}
    label, name = _train_video(ktps)
    (ktps / "train_annotations" / label / name / name / "img_00002.json").write_text("{")
    bad = subprocess.run([sys.executable, "-m", "kgtoolkit", "ingest", str(ktps), "--graph", str(tmp_path / "g2"),
                          "--report", str(report_file)], capture_output=True, text=True)
    assert bad.returncode == 3
    assert "img_00002.json" in bad.stdout and "Traceback" not in bad.stderr
    assert json.loads(report_file.read_text())["rejected"][0]["path"].endswith("img_00002.json")


# --- bad input: each reported by file, the rest still ingested -----------------------------------------
def _frame(ktps: Path, n: int = 0, frame: int = 2) -> Path:
    label, name = _train_video(ktps, n)
    return ktps / "train_annotations" / label / name / name / f"img_{frame:05d}.json"


def _set_part(path: Path, **changes) -> None:
    doc = json.loads(path.read_text())
    human = next(h for h in doc["humans"] if h["parts"])
    human["parts"][0].update(changes)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("damage,reason", [
    (lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]), "not valid JSON"),
    (lambda p: p.write_text(""), "empty file"),
    (lambda p: p.write_text("[1, 2, 3]"), 'must be an object with a "humans" list'),
    (lambda p: _set_part(p, box="10,20,30,40"), "box must be a list of 4 numbers"),
    (lambda p: _set_part(p, verb=7), "verb must be a non-empty string"),
    (lambda p: _set_part(p, name="tail"), "unknown body part 'tail'"),
    (lambda p: _set_part(p, obj_class=["ball"]), "obj_class must be a string or null"),
])
def test_bad_frame_json_is_reported_and_the_rest_kept(ktps: Path, embedded_store, damage, reason):
    clean = ingest(ktps, EmbeddedGraphStore(ktps.parent / "clean"))
    path = _frame(ktps)
    damage(path)
    report = ingest(ktps, embedded_store)
    rel = str(path.relative_to(ktps))
    assert any(p == rel and reason in r for p, r in _problems(report, "error")), _problems(report)
    assert report.nodes["Video"] == clean.nodes["Video"]  # the video itself is still there
    assert report.frame_files >= clean.frame_files - 1  # only that one frame (or entry) is lost
    label, name = _train_video(ktps)
    assert any(src == f"video:{label}/{name}" for src, _ in _exhibits(embedded_store))


def test_annotations_without_their_video(ktps: Path, embedded_store):
    label, name = _train_video(ktps, 1)
    (ktps / "train_videos" / label / f"{name}.mp4").unlink()
    report = ingest(ktps, embedded_store)
    problems = _problems(report, "error")
    missing = f"train_videos/{label}/{name}.mp4 is missing"
    assert (f"train_annotations/{label}/{name}/{name}", f"annotations for video {label}/{name}, whose video file "
            f"{missing}; not ingested") in problems
    line = 1 + [row.split(",")[0] for row in (ktps / "list" / "video_train_flist.csv").read_text().splitlines()].index(
        f"{label}/{name}")
    assert (f"list/video_train_flist.csv:{line}", f"lists {label}/{name}, but its video file {missing}") in problems
    assert len(problems) == 2
    assert report.nodes["Video"] == CLASSES * (TRAIN + TEST) - 1


@pytest.mark.parametrize("damage", [
    lambda p: p.write_text("this is not a video"),
    lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 3]),
    lambda p: p.write_bytes(b""),
], ids=["not-a-video", "truncated", "empty"])
def test_unreadable_videos_are_rejected_by_name(ktps: Path, embedded_store, damage):
    label, name = _train_video(ktps, 2)
    path = ktps / "train_videos" / label / f"{name}.mp4"
    damage(path)
    report = ingest(ktps, embedded_store)
    assert any(p == f"train_videos/{label}/{name}.mp4" and ("not a readable video" in r or "empty file" in r)
               for p, r in _problems(report, "error")), _problems(report)
    assert report.nodes["Video"] == CLASSES * (TRAIN + TEST) - 1


def test_frame_count_disagreements_are_flagged(ktps: Path, embedded_store):
    label, name = _train_video(ktps, 0)
    flist = ktps / "list" / "video_train_flist.csv"
    flist.write_text(flist.read_text().replace(f"{label}/{name},{FRAMES}", f"{label}/{name},{FRAMES + 5}"))
    other_label, other = _train_video(ktps, 1)
    (ktps / "train_annotations" / other_label / other / other / f"img_{FRAMES:05d}.json").unlink()
    line = 1 + flist.read_text().splitlines().index(f"{label}/{name},{FRAMES + 5}")
    report = ingest(ktps, embedded_store)
    assert sorted(_problems(report)) == sorted([
        (f"train_videos/{label}/{name}.mp4", f"frame counts disagree: the video decodes to {FRAMES} frames, "
         f"list/video_train_flist.csv:{line} says {FRAMES + 5}; trusted: the decoded video (numFrames {FRAMES}); "
         "the annotations are ingested as they are"),
        (f"train_videos/{other_label}/{other}.mp4", f"frame counts disagree: the video decodes to {FRAMES} frames, "
         f"the annotations train_annotations/{other_label}/{other}/{other}/ run to img_{FRAMES - 1:05d} "
         f"({FRAMES - 1} files); trusted: the decoded video (numFrames {FRAMES}); the annotations are ingested as they are"),
    ])
    assert all(p.severity == "warning" for p in report.rejected)
    assert report.nodes["Video"] == CLASSES * (TRAIN + TEST)  # flagged, not dropped
    videos = {n.id: n.props for page in embedded_store.iter_nodes("Video") for n in page}
    assert videos[f"video:{label}/{name}"]["numFrames"] == FRAMES


def test_odd_and_hostile_names(ktps: Path, embedded_store, tmp_path: Path):
    label, name = _train_video(ktps, 0)
    video = ktps / "train_videos" / label / f"{name}.mp4"
    unicode_class = ktps / "train_videos" / "café_dança"  # unicode is a fine name
    unicode_class.mkdir()
    shutil.copy(video, unicode_class / "vídeo_1.mp4")
    encoded = ktps / "train_videos" / "a%2Fb"
    encoded.mkdir()
    shutil.copy(video, encoded / "x.mp4")
    control = ktps / "test_videos" / label / "bad\nname.mp4"
    shutil.copy(video, control)
    outside = tmp_path / "outside.mp4"
    shutil.copy(video, outside)
    os.symlink(outside, ktps / "test_videos" / label / "escape.mp4")
    report = ingest(ktps, embedded_store)
    problems = _problems(report)
    assert any("a%2Fb" in p and "encoded slash" in r for p, r in problems)
    assert any("bad\\nname" in p and "not a plain file name" in r for p, r in problems)
    assert any(p.endswith("escape.mp4") and "symbolic link" in r for p, r in problems)
    ids = {n.id for page in embedded_store.iter_nodes("Video") for n in page}
    assert "video:café_dança/vídeo_1" in ids
    assert not any("escape" in i or "a%2Fb" in i for i in ids)
    assert report.nodes["Video"] == CLASSES * (TRAIN + TEST) + 1


def test_empty_or_wrong_roots_are_refused(tmp_path: Path, embedded_store):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigurationError, match="neither a Kinetics-TPS root"):
        ingest(empty, embedded_store)
    with pytest.raises(ConfigurationError, match="no such file"):
        ingest(tmp_path / "missing", embedded_store)
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(ConfigurationError, match="found a file"):
        ingest(file, embedded_store)
    bare = tmp_path / "bare"
    (bare / "train_videos").mkdir(parents=True)
    report = ingest(bare, embedded_store)
    assert any("no video files found" in r for _, r in _problems(report, "error"))


# --- the same part and state with and without an object (the crash of issue 12) ---------------------
def test_a_part_holding_with_and_without_an_object_in_one_video(ktps: Path, store):
    """`hold` with an object in some frames and `hold` alone in others: two movements, both counted,
    on both stores (sorting movements once compared None with a string and stopped the ingest)."""
    label, name = _train_video(ktps, 0)
    folder = ktps / "train_annotations" / label / name / name
    for frame in range(1, FRAMES + 1):
        obj = "barbell" if frame % 2 else None
        parts = [{"name": "right_hand", "box": [1, 2, 10, 12], "verb": "hold", "obj_class": obj,
                  "obj_bbox": [3, 3, 9, 9] if obj else None},
                 {"name": "left_hand", "box": [1.5, 2.5, 10.25, 12.75], "verb": "hold", "obj_class": None}]
        (folder / f"img_{frame:05d}.json").write_text(json.dumps({"humans": [{"number": 0, "parts": parts}]}))
    report = ingest(ktps, store, IngestOptions(workers=1, min_support=0.0))
    assert report.rejected == []
    exhibits = {dst: (p["frames"], p["firstFrame"], p["lastFrame"]) for (src, dst), p in _exhibits(store).items()
                if src == f"video:{label}/{name}"}
    assert exhibits == {"movement:right_hand/hold/barbell": (4, 1, 7), "movement:right_hand/hold": (4, 2, 8),
                        "movement:left_hand/hold": (8, 1, 8)}
    involves = {(r.src, r.dst) for page in store.iter_relationships("INVOLVES") for r in page}
    videos = {n.id: n.props for page in store.iter_nodes("Video") for n in page}
    if videos[f"video:{label}/{name}"]["split"] == "train":
        assert {(f"action:{label}", m) for m in exhibits} <= involves
    movements = {n.id: n.props for page in store.iter_nodes("BodyMovement") for n in page}
    assert movements["movement:right_hand/hold"].get("object") is None  # a null property is no property
    assert movements["movement:right_hand/hold/barbell"]["object"] == "barbell"


# --- flist files in the forms a user may hold -------------------------------------------------------
def _flist_rows(root: Path, split: str = "train") -> list[tuple[str, str, int]]:
    return [(*key.split("/"), FRAMES) for key in sorted(_truth(root)["videos"][split])]


FLIST_FORMS = {
    "header video_name,num_frames; ids only": lambda rows: ["video_name,num_frames", *(f"{v},{n}" for _, v, n in rows)],
    "no header; class/video.mp4": lambda rows: [f"{c}/{v}.mp4,{n}" for c, v, n in rows],
    "tabs; header Name, Frames": lambda rows: ["Name\tFrames", *(f"{v}.mp4\t{n}" for _, v, n in rows)],
    "spaces; no header; train_videos/ prefix": lambda rows: [f"train_videos/{c}/{v}.mp4 {n}" for c, v, n in rows],
    "extra columns": lambda rows: ["label,video,frames", *(f"{c},{v},{n}" for c, v, n in rows)],
}


@pytest.mark.parametrize("form", FLIST_FORMS)
def test_flist_forms_are_read_and_matched_by_video_id(ktps: Path, embedded_store, form):
    rows = _flist_rows(ktps)
    label, name, _ = rows[1]
    rows[1] = (label, name, FRAMES + 3)  # one count that disagrees with the video
    lines = FLIST_FORMS[form](rows)
    (ktps / "list" / "video_train_flist.csv").write_text("\n".join(lines) + "\n")
    report = ingest(ktps, embedded_store)
    line = 1 + next(i for i, text in enumerate(lines) if name in text)
    assert _problems(report) == [(
        f"train_videos/{label}/{name}.mp4",
        f"frame counts disagree: the video decodes to {FRAMES} frames, list/video_train_flist.csv:{line} says "
        f"{FRAMES + 3}; trusted: the decoded video (numFrames {FRAMES}); the annotations are ingested as they are")]
    assert report.nodes["Video"] == CLASSES * (TRAIN + TEST)


def test_flist_id_in_two_classes_is_ambiguous(ktps: Path, embedded_store):
    rows = _flist_rows(ktps)
    label, name, _ = rows[0]
    other = next(c for c, _, _ in rows if c != label)
    shutil.copy(ktps / "train_videos" / label / f"{name}.mp4", ktps / "train_videos" / other / f"{name}.mp4")
    (ktps / "list" / "video_train_flist.csv").write_text(
        "video,frames\n" + "".join(f"{v},{n}\n" for _, v, n in rows))
    report = ingest(ktps, embedded_store)
    assert _problems(report, "error") == [(
        "list/video_train_flist.csv:2",
        f"video id {name} names no class and matches 2 videos: train_videos/{label}/{name}, "
        f"train_videos/{other}/{name}; ambiguous, so their frame counts are not checked against this row")]
    assert (f"train_videos/{other}/{name}.mp4", "training video without frame annotations: no EXHIBITS edges") \
        in _problems(report, "warning")
    assert report.nodes["Video"] == CLASSES * (TRAIN + TEST) + 1  # both videos are ingested


@pytest.mark.parametrize("content,reason", [
    ("video,label,frames\nx,1,8\n", None),  # a header: its columns are known
    ("x,1,8\ny,2,8\n", "has no header and its 3 columns cannot be told apart"),
    ("clip,count\nx,8\n", "names no video column (one of video, video_name, name,"),
    ("video,length_s\nx,8\n", "names no frame-count column (one of frames, num_frames,"),
])
def test_flist_that_cannot_be_told_apart_is_refused_by_name(ktps: Path, embedded_store, content, reason):
    (ktps / "list" / "video_train_flist.csv").write_text(content)
    report = ingest(ktps, embedded_store)
    problems = _problems(report, "error")
    if reason is None:  # read; its one row names a video that is not there
        assert problems == [("list/video_train_flist.csv:2",
                             "lists video x, but its video file train_videos/<class>/x.mp4 is missing (no class folder "
                             "holds it)")]
    else:
        assert len(problems) == 1 and problems[0][0] == "list/video_train_flist.csv"
        assert reason in problems[0][1] and problems[0][1].endswith("; frame counts are not cross-checked")
    assert report.nodes["Video"] == CLASSES * (TRAIN + TEST)


def test_flist_bad_rows_are_reported_and_the_others_matched(ktps: Path, embedded_store):
    flist = ktps / "list" / "video_train_flist.csv"
    rows = _flist_rows(ktps)
    label, name, _ = rows[2]
    text = flist.read_text().replace(f"{label}/{name},{FRAMES}", f"{label}/{name},eight")
    flist.write_text(text + "\nx,1,2\n")
    report = ingest(ktps, embedded_store)
    lines = text.splitlines()
    assert sorted(_problems(report)) == sorted([
        (f"list/video_train_flist.csv:{lines.index(f'{label}/{name},eight') + 1}",
         f"frame count 'eight' of video '{label}/{name}' is not a whole number"),
        (f"list/video_train_flist.csv:{len(lines) + 2}", "has more fields than the header or first row: 'x,1,2'"),
        (f"train_videos/{label}/{name}.mp4", "not listed in list/video_train_flist.csv"),
    ])


# --- boxes against the probed frame size; parts keyed by name -----------------------------------------
def test_boxes_outside_the_frame_are_reported_and_their_movements_still_count(ktps: Path, embedded_store):
    clean = ingest(ktps, EmbeddedGraphStore(ktps.parent / "clean"))
    clean_exhibits = _exhibits(EmbeddedGraphStore(ktps.parent / "clean"))
    path = _frame(ktps, 0, frame=3)
    doc = json.loads(path.read_text())
    human = next(h for h in doc["humans"] if h["parts"])
    part = human["parts"][0]
    part["box"] = [10, 20, 64.9, 65.0]  # within the 1-pixel tolerance of the 64x64 frame
    human["box"] = [0, 0, 30.5, 70]  # y2 beyond the frame
    human["parts"][-1]["box"] = [-3, 5, 20, 30]  # x1 before it
    human["parts"][-1]["obj_bbox"] = [0, 0, 66, 10]
    path.write_text(json.dumps(doc))
    report = ingest(ktps, embedded_store)
    rel = str(path.relative_to(ktps))
    last = len(human["parts"]) - 1
    name = human["parts"][-1]["name"]
    tail = "reaches outside the 64x64 frame (more than 1 px past an edge); the movement still counts"
    assert sorted(_problems(report)) == sorted([
        (rel, f"humans[0].box [0, 0, 30.5, 70] {tail.replace('the movement still counts', 'its parts are still read')}"),
        (rel, f"humans[0].parts[{last}] ({name}).box [-3, 5, 20, 30] {tail}"),
        (rel, f"humans[0].parts[{last}] ({name}).obj_bbox [0, 0, 66, 10] {tail}"),
    ])
    assert all(p.severity == "warning" for p in report.rejected)
    assert report.frame_files == clean.frame_files
    assert _exhibits(embedded_store) == clean_exhibits  # every movement still counts


def test_many_boxes_outside_one_video_are_counted_past_the_first_ten(ktps: Path, embedded_store):
    label, name = _train_video(ktps, 0)
    folder = ktps / "train_annotations" / label / name / name
    for frame in range(1, FRAMES + 1):
        path = folder / f"img_{frame:05d}.json"
        doc = json.loads(path.read_text())
        for human in doc["humans"]:
            for part in human["parts"]:
                part["box"] = [0, 0, 128, 128]  # annotated at twice the video's size
        path.write_text(json.dumps(doc))
    report = ingest(ktps, embedded_store)
    total = sum(len(h["parts"]) for f in folder.iterdir() for h in json.loads(f.read_text())["humans"])
    warnings = _problems(report, "warning")
    assert len(warnings) == 11 and _problems(report, "error") == []
    assert warnings[-1] == (f"train_annotations/{label}/{name}/{name}",
                            f"{total} boxes in all reach outside the 64x64 frame; the first 10 are listed one by "
                            "one, and their movements still count")


def test_parts_keyed_by_name_read_as_the_list_form(ktps: Path, embedded_store):
    clean = ingest(ktps, EmbeddedGraphStore(ktps.parent / "clean"))
    clean_exhibits = _exhibits(EmbeddedGraphStore(ktps.parent / "clean"))
    label, name = _train_video(ktps, 1)
    folder = ktps / "train_annotations" / label / name / name
    for path in folder.iterdir():
        doc = json.loads(path.read_text())
        for human in doc["humans"]:
            human["parts"] = {p["name"]: {k: v for k, v in p.items() if k != "name" or p["name"] == "head"}
                              for p in human["parts"]}  # "name" inside the entry is optional
        path.write_text(json.dumps(doc))
    report = ingest(ktps, embedded_store)
    assert report.rejected == [] and report.frame_files == clean.frame_files
    assert _exhibits(embedded_store) == clean_exhibits
    path = sorted(folder.iterdir())[0]
    path.write_text(json.dumps({"humans": [{"parts": {"left_hand": {"name": "right_hand", "verb": "hold"},
                                                      "tail": {"verb": "wag"}}}]}))
    report = ingest(ktps, embedded_store)
    rel = str(path.relative_to(ktps))
    assert (rel, "humans[0].parts['left_hand'] is keyed 'left_hand' but named \"right_hand\"") in _problems(report)


# --- property: whole videos with the real data's quirks, mixed, and a few true defects ----------------
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PROP_FRAMES, PROP_SIZE = 12, 64
PROP_PARTS = ("head", "hip", "left_arm", "right_arm", "left_hand", "right_hand", "left_leg", "right_leg",
              "left_foot", "right_foot")
PROP_VERBS = ("none", "others", "hold", "bend", "step on", "  hold ")  # the last one: whitespace is normalised
PROP_OBJECTS = (None, None, "ball", "barbell")


def _coordinate(low: float, high: float):
    return st.one_of(st.integers(int(low), int(high)), st.floats(low, high, allow_nan=False).map(lambda v: round(v, 2)))


IN_FRAME_BOX = st.tuples(_coordinate(0, 31), _coordinate(0, 31), _coordinate(32, PROP_SIZE),
                         _coordinate(32, PROP_SIZE)).map(list)
OUT_OF_FRAME_BOX = st.tuples(_coordinate(0, 31), _coordinate(0, 31), st.sampled_from([PROP_SIZE + 2, 70.5, 128]),
                             _coordinate(32, PROP_SIZE)).map(list)


@st.composite
def _human(draw, number: int):
    names = draw(st.lists(st.sampled_from(PROP_PARTS), unique=True, max_size=10))  # 0 to 10 parts
    parts = []
    for name in names:
        obj = draw(st.sampled_from(PROP_OBJECTS))
        parts.append({"name": name, "box": draw(IN_FRAME_BOX), "verb": draw(st.sampled_from(PROP_VERBS)),
                      "obj_class": obj, "obj_bbox": draw(IN_FRAME_BOX) if obj else None})
    return {"number": number, "box": draw(IN_FRAME_BOX), "parts": parts}


@st.composite
def _video(draw):
    """PROP_FRAMES frame documents (0-2 humans, 0-10 parts, ints and floats, none/others, objects on and
    off) and the true defects put in: {frame: kind}, kind "outside" (a box past the frame), "unknown" (a
    part that does not exist) or "truncated" (not JSON; never the last frame, whose number is the count)."""
    frames = [{"humans": [draw(_human(n)) for n in range(draw(st.integers(0, 2)))]} for _ in range(PROP_FRAMES)]
    defects = draw(st.dictionaries(st.integers(1, PROP_FRAMES - 1), st.sampled_from(["outside", "unknown", "truncated"]),
                                   max_size=3))
    for frame, kind in defects.items():
        doc = frames[frame - 1]
        if kind == "truncated":
            continue
        if not doc["humans"]:
            doc["humans"].append({"number": 0, "box": [1, 1, 20, 20], "parts": []})
        entry = {"name": "tail" if kind == "unknown" else "head", "verb": "wag" if kind == "unknown" else "nod",
                 "box": draw(OUT_OF_FRAME_BOX) if kind == "outside" else [1, 1, 9, 9]}
        doc["humans"][0]["parts"].append(entry)
    unique = all(len({p["name"] for p in h["parts"]}) == len(h["parts"]) for doc in frames for h in doc["humans"])
    keyed = unique and draw(st.booleans())  # the evaluation files' form: parts keyed by name (each name once)
    return frames, defects, keyed


def _oracle(frames: list[dict], defects: dict[int, str]) -> dict[str, tuple[int, int, int]]:
    """movement id -> (frames, first, last), by the rule of DESIGN.md, written out here on its own."""
    seen: dict[str, list[int]] = {}
    for number, doc in enumerate(frames, start=1):
        if defects.get(number) == "truncated":
            continue
        ids = set()
        for human in doc["humans"]:
            for part in human["parts"]:
                verb, obj = " ".join(part["verb"].split()), part.get("obj_class")
                if part["name"] not in PROP_PARTS or verb == "none" or (verb == "others" and obj is None):
                    continue
                ids.add("movement:" + "/".join([part["name"], verb] + ([obj] if obj else [])))
        for movement in ids:
            seen.setdefault(movement, []).append(number)
    return {m: (len(n), n[0], n[-1]) for m, n in seen.items()}


@pytest.fixture(scope="module")
def quirky_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Two classes (one folder with parentheses), a video id starting with '-', quirks level 2; and the
    EXHIBITS of a clean ingest."""
    root = tmp_path_factory.mktemp("quirky") / "ktps"
    generate(root, classes=2, train_per_class=2, test_per_class=0, frames=PROP_FRAMES, size=PROP_SIZE, seed=3, quirks=2)
    keys = sorted(_truth(root)["videos"]["train"])
    assert keys[0].split("/")[1].startswith("-") and any("_(sport)/" in k for k in keys)
    with EmbeddedGraphStore(tmp_path_factory.mktemp("quirky-graph")) as store:
        report = ingest(root, store, IngestOptions(workers=1))
        assert report.rejected == []
        return root, _exhibits(store)


@settings(max_examples=20, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking:
          suppress_health_check=[HealthCheck.function_scoped_fixture,  # it takes minutes on 2 shared cores
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(video=_video())
def test_whole_quirky_videos_ingest_report_only_true_defects_and_count_every_movement(quirky_base, tmp_path_factory,
                                                                                       video):
    base, clean = quirky_base
    frames, defects, keyed = video
    root = tmp_path_factory.mktemp("prop") / "ktps"
    shutil.copytree(base, root)
    label, name = sorted(_truth(root)["videos"]["train"])[0].split("/")
    folder = root / "train_annotations" / label / name / name
    for number, doc in enumerate(frames, start=1):
        if keyed:
            doc = {"humans": [{**h, "parts": {p["name"]: p for p in h["parts"]}} for h in doc["humans"]]}
        text = json.dumps(doc)
        (folder / f"img_{number:05d}.json").write_text(text[: len(text) // 2] if defects.get(number) == "truncated" else text)
    with EmbeddedGraphStore(root.parent / "graph") as store:
        report = ingest(root, store, IngestOptions(workers=1))
        exhibits = _exhibits(store)

    prefix = f"train_annotations/{label}/{name}/{name}/img_"
    reported = sorted((p.path, p.severity) for p in report.rejected)
    expected = sorted((f"{prefix}{number:05d}.json", "warning" if kind == "outside" else "error")
                      for number, kind in defects.items())
    assert reported == expected, report.rejected
    for problem in report.rejected:
        kind = defects[int(problem.path[-10:-5])]
        where = "humans[0].parts['" if keyed else "humans[0].parts["
        assert {"truncated": "not valid JSON", "unknown": "unknown body part 'tail'",
                "outside": "reaches outside the 64x64 frame"}[kind] in problem.reason
        assert kind == "truncated" or problem.reason.startswith(where)
    assert report.frame_files == 2 * 2 * PROP_FRAMES - sum(k == "truncated" for k in defects.values())
    video = f"video:{label}/{name}"
    assert {dst: (p["frames"], p["firstFrame"], p["lastFrame"]) for (src, dst), p in exhibits.items() if src == video} \
        == _oracle(frames, defects)
    assert {k: v for k, v in exhibits.items() if k[0] != video} == {k: v for k, v in clean.items() if k[0] != video}


# --- the CLI on every kind of bad input at once: documented status, a report, never a traceback --------
FRAME_DAMAGES = [
    lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]),
    lambda p: p.write_text(""),
    lambda p: p.write_text("[1, 2, 3]"),
    lambda p: _set_part(p, box="10,20,30,40"),
    lambda p: _set_part(p, verb=7),
    lambda p: _set_part(p, name="tail"),
    lambda p: _set_part(p, obj_class=["ball"]),
    lambda p: _set_part(p, box=[0, 0, 99, 99]),  # outside the 64x64 frame: a warning
]


def _run_ingest(root: Path, graph: Path, report: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kgtoolkit", "ingest", str(root), "--graph", str(graph),
                           "--report", str(report), "--workers", "2"], capture_output=True, text=True, timeout=600)


def test_cli_on_every_bad_input_at_once_reports_each_and_never_prints_a_traceback(ktps: Path, tmp_path: Path):
    expected: list[str] = []  # a path each problem must be reported under
    for n, damage in enumerate(FRAME_DAMAGES):
        path = _frame(ktps, n // 3, frame=2 + n % 3)  # train videos 0, 1, 2
        damage(path)
        expected.append(str(path.relative_to(ktps)))
    label, name = _train_video(ktps, 3)
    (ktps / "train_videos" / label / f"{name}.mp4").unlink()  # annotations without their video
    expected += [f"train_annotations/{label}/{name}/{name}", "list/video_train_flist.csv:"]
    label, name = _train_video(ktps, 4)
    (ktps / "train_videos" / label / f"{name}.mp4").write_text("this is not a video")
    expected.append(f"train_videos/{label}/{name}.mp4")
    tests = sorted(_truth(ktps)["videos"]["test"])
    for key, data in zip(tests, (b"", b"\x00\x00\x00 ftyp truncated")):
        (ktps / "test_videos" / f"{key}.mp4").write_bytes(data)
        expected.append(f"test_videos/{key}.mp4")
    label, name = _train_video(ktps, 5)
    (ktps / "train_annotations" / label / name / name / f"img_{FRAMES:05d}.json").unlink()  # counts disagree
    expected.append(f"train_videos/{label}/{name}.mp4")
    (ktps / "train_videos" / "a%2Fb").mkdir()
    (ktps / "test_videos" / label / "bad\nname.mp4").write_bytes(b"x")
    os.symlink(tmp_path / "outside.mp4", ktps / "test_videos" / label / "escape.mp4")
    expected += ["a%2Fb", "bad\\nname", "escape.mp4"]
    flist = ktps / "list" / "video_test_flist.csv"
    flist.write_text(flist.read_text() + "x,1,2\n")
    expected.append("list/video_test_flist.csv:")

    result = _run_ingest(ktps, tmp_path / "graph", tmp_path / "report.json")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    paths = [p["path"] for p in report["rejected"]]
    for where in expected:
        assert any(where in path for path in paths), (where, paths)
    assert report["nodes"]["Video"] == CLASSES * (TRAIN + TEST) - 4  # only the missing and unreadable videos are gone
    assert report["relationships"]["EXHIBITS"] > 0

    for bad_root, message in ((tmp_path / "missing", "no such file or directory"),
                              (tmp_path / "report.json", "expected a dataset folder, found a file"),
                              (tmp_path, "neither a Kinetics-TPS root")):
        result = _run_ingest(bad_root, tmp_path / "graph", tmp_path / "unused.json")
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stdout + result.stderr
