"""`kgtoolkit ingest` on the real KG-CLIP release graph (../shared/data/kg_clip_release)."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from kgtoolkit.ingest import ingest
from kgtoolkit.safe_pickle import UnsafePickleError, load_int_triples

from conftest import RELEASE_DIR

EXPECTED_NODES = {"Video": 3809, "Action": 24, "BodyMovement": 391, "BodyPart": 10}
EXPECTED_RELS = {"SHOWS": 3809, "EXHIBITS": 5040, "INVOLVES": 801}


def test_release_is_ingested_with_its_defects_reported(store):
    report = ingest(RELEASE_DIR, store)
    for label, n in EXPECTED_NODES.items():
        assert report.nodes[label] == n, label
    for rel, n in EXPECTED_RELS.items():
        assert report.relationships[rel] == n, rel
    assert report.errors == []
    assert report.splits["test"] == 762 and report.splits["train"] + report.splits["val"] == 3047
    defects = "\n".join(report.defects)
    assert "offset by -26" in defects
    assert "363 of the 762 test videos" in defects
    assert "79 of 801 INVOLVES" in defects

    involves = [r for page in store.iter_relationships("INVOLVES") for r in page]
    assert sum(r.props["testOnly"] for r in involves) == 79
    videos = {n.id: n.props for page in store.iter_nodes("Video") for n in page}
    sample = videos["video:capoeira/2621"] if "video:capoeira/2621" in videos else next(iter(videos.values()))
    assert {"split82", "split64", "split46", "split28", "splitLegacy"} <= set(sample)
    assert sum(p["split28"] == "train" for p in videos.values()) == 761

    again = ingest(RELEASE_DIR, store)  # idempotent: same counts and the same properties
    assert again.nodes == report.nodes and again.relationships == report.relationships
    assert {n.id: n.props for page in store.iter_nodes("Video") for n in page} == videos


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path):
    class Exploit:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path / "victim"),))

    (tmp_path / "victim").mkdir()
    evil = tmp_path / "v-b.pkl"
    evil.write_bytes(pickle.dumps([(1, 0, 2), Exploit()]))
    with pytest.raises(UnsafePickleError, match=r"v-b\.pkl: refused: it asks for shutil\.rmtree"):
        load_int_triples(evil)
    assert (tmp_path / "victim").is_dir()


@pytest.mark.parametrize("payload,reason", [
    ({"a": 1}, "holds a dict"),
    ([(1, 2)], "not a triple of ints"),
    ([(1, 2, "3")], "not a triple of ints"),
    ([(True, 0, 1)], "not a triple of ints"),
])
def test_triplet_files_of_the_wrong_shape_are_refused(tmp_path: Path, payload, reason):
    path = tmp_path / "a-b.pkl"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(UnsafePickleError, match=reason):
        load_int_triples(path)


def test_release_with_a_poisoned_pickle_rejects_that_file_only(tmp_path: Path, embedded_store):
    release = tmp_path / "release"
    shutil.copytree(RELEASE_DIR, release)
    (release / "a-b.pkl").write_bytes(b"cos\nsystem\n(S'touch pwned'\ntR.")
    report = ingest(release, embedded_store)
    assert [(p.path, p.severity) for p in report.errors] == [("a-b.pkl", "error")]
    assert "refused: it asks for os.system" in report.errors[0].reason
    assert report.relationships["INVOLVES"] == 0
    assert report.relationships["EXHIBITS"] == 5040 and report.nodes["Video"] == 3809
    assert not (Path.cwd() / "pwned").exists()
