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
    assert any(p == f"train_annotations/{label}/{name}/{name}" and "not in train_videos" in r for p, r in problems)
    assert any(f"{label}/{name}" in p and "video file is missing" in r for p, r in problems)
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
    report = ingest(ktps, embedded_store)
    warnings = _problems(report, "warning")
    assert any(f"{label}/{name}" in p and f"the flist CSV says {FRAMES + 5}" in r for p, r in warnings)
    assert any(f"{other_label}/{other}" in p and f"run to img_{FRAMES - 1:05d}" in r for p, r in warnings)
    assert report.nodes["Video"] == CLASSES * (TRAIN + TEST)  # flagged, not dropped


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
