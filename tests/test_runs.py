"""Run directories (`RunDir`), an untrained run loaded as a trained one is, the one encode path,
the packaged configs by name, and ids' labels: fast, no Neo4j, no training."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import untrained_run
from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph import NodeRow
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.media import ClipSpec
from kgtoolkit.runs import RunDir, iter_encoded, latest_run
from kgtoolkit.similar import similar
from kgtoolkit.synth import generate
from kgtoolkit.train.config import load_config, packaged_configs
from kgtoolkit.vocab import label_of_id

REPO = Path(__file__).resolve().parents[1]


def test_run_dir_names_every_file_of_the_documented_layout(tmp_path: Path):
    run = RunDir(tmp_path / "r")
    assert [p.relative_to(run.path).as_posix() for p in (
        run.config, run.id_maps, run.info, run.metrics, run.test_metrics, run.last, run.best, run.plots)] == [
        "config.yaml", "id_maps.json", "run.json", "metrics.jsonl", "test_metrics.json", "checkpoints/last.pt",
        "checkpoints/best.pt", "plots"]
    assert RunDir.new(tmp_path).path.parent == tmp_path and len(RunDir.new(tmp_path).name) == len("20260101-120000")


def test_latest_is_the_finished_run_written_last(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="no trained run"):
        RunDir.latest(tmp_path)
    for name, mtime in (("a", 200), ("b", 100), ("unfinished", 300)):
        path = tmp_path / name / "checkpoints" / ("last.pt" if name == "unfinished" else "best.pt")
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
        os.utime(path, (mtime, mtime))
    assert latest_run(tmp_path) == tmp_path / "a"


def test_an_untrained_run_loads_with_its_weights_and_id_maps(tmp_path: Path):
    first, second = untrained_run(tmp_path, "one"), untrained_run(tmp_path, "two")
    assert (first.run_id, first.run_dir) == ("one", tmp_path / "one")
    assert RunDir(first.run_dir).read_info()["status"] == "untrained"
    assert first.config.model.name == "kg-tiny" and first.config.data.frames == 4
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)  # seeded: the same random weights each time


def test_the_encode_path_names_each_clip_that_fails_by_position(tmp_path: Path):
    run = untrained_run(tmp_path, "run")
    generate(tmp_path / "ktps", classes=2, train_per_class=1, test_per_class=1, frames=8, size=64, seed=1)
    videos = sorted((tmp_path / "ktps" / "test_videos").rglob("*.mp4"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    specs = [ClipSpec(str(videos[0])), ClipSpec(str(broken)), ClipSpec(str(tmp_path / "gone.mp4")),
             ClipSpec(str(videos[1]))]
    batches = list(iter_encoded(run.model, specs, run.decoder(), run.runtime, batch_size=4))
    assert len(batches) == 1 and batches[0].indices == [0, 3]
    assert batches[0].vectors.shape == (2, run.model.embed_dim) and batches[0].vectors.dtype == torch.float32
    assert [i for i, _ in batches[0].failed] == [1, 2]
    assert batches[0].failed[1][1] == f"{tmp_path / 'gone.mp4'}: no such file"
    vectors, kept, problems = run.encode_clips(specs, batch_size=2)
    assert kept == [0, 3] and len(problems) == 2
    torch.testing.assert_close(vectors, batches[0].vectors, atol=1e-5, rtol=1e-5)


def test_a_packaged_config_is_named_without_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    assert packaged_configs() == ["kg-clip-paper", "tiny", "tiny-scratch", "vit-b-16"]
    assert load_config("tiny") == load_config(REPO / "pipelines" / "tiny.yaml") == load_config("tiny.yaml")
    assert load_config("tiny").model.pretrained == "standin"  # fine-tuned from the stand-in; tiny-scratch: random
    assert load_config("tiny").optim.select == "last"  # BENCHMARKS.md: validation chose worse in 122 of 210 runs
    assert load_config("tiny-scratch").model.pretrained is None
    assert load_config("vit-b-16").model.name == "ViT-B-16"
    (tmp_path / "tiny").write_text("seed: 5\n")  # a file of that name wins
    assert load_config("tiny").seed == 5
    with pytest.raises(ConfigurationError, match="tiny, tiny-scratch, vit-b-16"):
        load_config("nonesuch")


def test_label_of_id_and_similar_use_the_vocabulary(tmp_path: Path):
    assert [label_of_id(i) for i in ("video:a/b", "action:squat", "movement:head/nod", "part:head", "object:ball",
                                     "other")] == ["Video", "Action", "BodyMovement", "BodyPart", "Object", None]
    with EmbeddedGraphStore(tmp_path / "graph") as store:
        store.upsert_nodes("Action", [NodeRow(f"action:{n}", {"name": n}) for n in ("a", "b", "c")])
        store.write_embeddings("Action", ["action:a", "action:b", "action:c"],
                               np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32), run="r")
        found = similar(store, "action:a", k=5)
        assert (found.label, found.run_id, [n.id for n in found.neighbours]) == ("Action", "r", ["action:b", "action:c"])
        with pytest.raises(ConfigurationError, match="no embedding"):
            similar(store, "movement:head/nod")
        with pytest.raises(ConfigurationError, match="--label 'Object'"):
            similar(store, "action:a", label="Object")
