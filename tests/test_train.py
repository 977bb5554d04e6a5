"""`kgtoolkit train` on a tiny synthetic set: the run directory, the metrics, the embeddings
written back, and a run killed with SIGKILL then resumed ending exactly as an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import ingest
from kgtoolkit.testing import synthetic_graph

REPO = Path(__file__).resolve().parents[1]
# epoch 0 trains the CLIP part alone, the later ones the whole KG-CLIP loss (tiny-scratch.yaml's graph warm-up, shortened)
FAST = ["optim.epochs=3", "optim.graph_warmup_epochs=1", "optim.batch_size=4", "optim.ab_batch_size=8",
        "data.workers=0", "data.frames=4", "eval_batch_size=8"]


@pytest.fixture(scope="module")
def tiny_graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_graph(tmp_path_factory.mktemp("train"), classes=3, train_per_class=5, test_per_class=2, frames=8,
                           size=64, seed=3)


def _train(graph: Path, out: Path, *extra: str, resume: bool = False) -> subprocess.Popen:
    args = [sys.executable, "-m", "kgtoolkit", "train", "--graph", str(graph)]
    if resume:
        args += ["--resume", str(out)]
    else:
        args += ["--config", str(REPO / "pipelines" / "tiny-scratch.yaml"), "--out", str(out)]
    for item in [*FAST, *extra]:
        args += ["--set", item]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, f"{out}\n{err}"
    return out


def test_a_run_writes_everything_and_puts_embeddings_on_the_nodes(tiny_graph: Path, tmp_path: Path):
    run = tmp_path / "run"
    out = _finish(_train(tiny_graph, run))
    for name in ("config.yaml", "id_maps.json", "checkpoints/last.pt", "checkpoints/best.pt", "metrics.jsonl",
                 "test_metrics.json", "plots/curves.png", "plots/confusion.png", "run.json"):
        assert (run / name).is_file(), name
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [0, 1, 2]
    assert all(r["train_loss"] > 0 and 0 <= r["val_top1"] <= 1 for r in history)
    assert "train_pair" not in history[0] and all("train_pair" in r and "train_vb" in r for r in history[1:])
    test = json.loads((run / "test_metrics.json").read_text())
    assert test["videos"] == 6 and 0 <= test["top1"] <= test["top5"] <= 1
    assert set(test["per_class"]) == {"push up", "squat", "deadlifting (sport)"}  # synth quirks: parentheses
    assert test["best_epoch"] in (1, 2)  # selected among the epochs the graph's losses counted in
    assert "test top-1" in out and "embeddings written" in out
    with EmbeddedGraphStore(tiny_graph) as store:
        for label, count in (("Video", 21), ("Action", 3)):
            ids, vectors, runs = store.embeddings(label)
            assert len(ids) == count and set(runs) == {"run"} and vectors.shape[1] == 128
        assert store.nearest("Action", store.embeddings("Action")[1][0], k=1)[0].score == pytest.approx(1, abs=1e-5)
    _check_tensorboard(run, history, test)


@pytest.mark.parametrize("use_graph, warmup, epochs, first", [(True, 10, 24, 10), (False, 10, 24, 0),
                                                               (True, 0, 24, 0), (True, 3, 3, 0)])
def test_validation_selects_only_after_the_graph_warmup(use_graph: bool, warmup: int, epochs: int, first: int):
    from kgtoolkit.train.config import TrainConfig
    from kgtoolkit.train.loop import _first_selectable

    config = TrainConfig.model_validate({"model": {"use_graph": use_graph},
                                         "optim": {"graph_warmup_epochs": warmup, "epochs": epochs}})
    assert _first_selectable(config) == first


def _check_tensorboard(run: Path, history: list[dict], test: dict) -> None:
    """The run's event files, read by TensorBoard's own reader: every loss part, the validation top-1 of
    S_output, S_mm and S_tri, learning rates, clips/s, the confusion matrices as images, and the
    projector's Action, BodyMovement and Video embeddings with their names and splits."""
    from google.protobuf import text_format
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    board = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    board.Reload()
    tags = board.Tags()
    parts = {k.removeprefix("train_") for r in history for k in r if k.startswith("train_")}
    assert {"loss", "pair", "vb"} <= parts
    assert {f"loss/{p}" for p in parts} | {f"epoch/train_{p}" for p in parts} <= set(tags["scalars"])
    assert {"val/top1", "val/top5", "val/s_mm_top1", "val/s_tri_top1", "lr/backbone", "lr/graph",
            "throughput/clips_per_s", "throughput/epoch_clips_per_s", "test/top1", "test/top5"} <= set(tags["scalars"])
    assert [e.value for e in board.Scalars("val/top1")] == pytest.approx([r["val_top1"] for r in history])
    assert [e.value for e in board.Scalars("val/s_tri_top1")] == pytest.approx([r["val_s_tri_top1"] for r in history])
    assert board.Scalars("test/top1")[0].value == pytest.approx(test["top1"])
    steps = [e.step for e in board.Scalars("loss/loss")]
    assert steps == sorted(set(steps)) and len(steps) >= 3  # one point per step, each once
    assert {"confusion/val", "confusion/test"} <= set(tags["images"])
    image = board.Images("confusion/test")[-1]
    assert image.width > 100 and image.height > 100 and image.encoded_image_string[:4] == b"\x89PNG"

    config = text_format.Parse((run / "tensorboard" / "projector_config.pbtxt").read_text(), ProjectorConfig())
    tables = {e.tensor_name.split(":")[0]: e for e in config.embeddings}
    assert set(tables) == {"Action", "BodyMovement", "Video"}
    ids = json.loads((run / "id_maps.json").read_text())
    for label, expected in (("Action", ids["action_names"]), ("BodyMovement", ids["movement_names"])):
        rows = (run / "tensorboard" / tables[label].metadata_path).read_text().splitlines()
        assert rows[0] == "name\tid" and [r.split("\t")[0] for r in rows[1:]] == expected
        vectors = (run / "tensorboard" / tables[label].tensor_path).read_text().splitlines()
        assert len(vectors) == len(expected) and len(vectors[0].split("\t")) == 128
    videos = [r.split("\t") for r in (run / "tensorboard" / tables["Video"].metadata_path).read_text().splitlines()]
    assert videos[0] == ["name", "split", "action"] and len(videos) == 1 + 21
    assert {v[1] for v in videos[1:]} == {"train", "val", "test"} and {v[2] for v in videos[1:]} == set(ids["action_names"])


def test_clips_that_no_longer_decode_are_named_and_the_others_train_test_and_embed(tmp_path: Path):
    synthetic_graph(tmp_path, classes=3, train_per_class=5, test_per_class=2, frames=8, size=64, seed=3)
    broken = sorted((tmp_path / "ktps" / "train_videos").rglob("*.mp4"))[0].resolve()
    gone = sorted((tmp_path / "ktps" / "test_videos").rglob("*.mp4"))[0].resolve()
    broken.write_bytes(b"not a video any more")
    gone.unlink()

    run = tmp_path / "run"
    process = _train(tmp_path / "graph", run, "optim.epochs=2")
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, f"{out}\n{err}"
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for record in history:  # the broken clip is a training or a validation clip: named every epoch
        assert [p.split(": ")[0] for p in record["skipped_clips"]] == [str(broken)]
        assert "cannot decode" in record["skipped_clips"][0]
    test = json.loads((run / "test_metrics.json").read_text())
    assert test["videos"] == 5 and test["skipped"] == [f"{gone}: no such file"]
    assert f"  {broken}: cannot decode" in err and f"  {gone}: no such file" in err
    with EmbeddedGraphStore(tmp_path / "graph") as store:
        assert len(store.embeddings("Video")[0]) == 21 - 2


def test_compiled_training_step_follows_the_eager_one(tiny_graph: Path, tmp_path: Path):
    """`compile` wires torch.compile around the loss module: through dynamo and AOT autograd (the
    aot_eager backend, which keeps eager kernels) the run's losses and accuracy are the eager run's.
    The speed of the inductor backend is a GPU figure (pipelines/gpu_check.py, BENCHMARKS.md)."""
    from kgtoolkit.train.config import load_config
    from kgtoolkit.train.loop import train

    histories = {}
    for backend in (None, "aot_eager"):
        overrides = [*FAST, "optim.epochs=2", "write_embeddings=false", f"compile={backend or 'null'}"]
        with EmbeddedGraphStore(tiny_graph) as store:
            result = train(load_config(REPO / "pipelines" / "tiny-scratch.yaml", overrides), store, tmp_path / str(backend))
        histories[backend] = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    eager, compiled = histories[None], histories["aot_eager"]
    assert "train_pair" not in eager[0] and "train_pair" in eager[1]  # both losses: CLIP alone, then KG-CLIP
    for a, b in zip(eager, compiled, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert b["val_top1"] == a["val_top1"]


def test_unknown_compile_backend_is_a_clear_error(tiny_graph: Path, tmp_path: Path):
    process = _train(tiny_graph, tmp_path / "run", "compile=turbo")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 2 and "compile: 'turbo' is not a torch.compile backend" in " ".join(err.split())


def test_sigkill_then_resume_ends_like_an_uninterrupted_run(tiny_graph: Path, tmp_path: Path):
    reference = tmp_path / "reference"
    _finish(_train(tiny_graph, reference, "write_embeddings=false"))
    killed = tmp_path / "killed"
    process = _train(tiny_graph, killed, "write_embeddings=false")
    metrics = killed / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 1):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    done = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert 1 <= len(done) < 3, "the kill must land mid-run"
    _finish(_train(tiny_graph, killed, resume=True))
    ref = [json.loads(line) for line in (reference / "metrics.jsonl").read_text().splitlines()]
    got = [json.loads(line) for line in metrics.read_text().splitlines()]
    # Same device, same threads, same seeds: the same numbers (only timings differ).
    for a, b in zip(ref, got, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
        assert a["val_top1"] == b["val_top1"]
    assert json.loads((reference / "test_metrics.json").read_text())["top1"] == \
        json.loads((killed / "test_metrics.json").read_text())["top1"]


def test_truncated_or_foreign_checkpoint_is_a_clear_error(tiny_graph: Path, tmp_path: Path):
    run = tmp_path / "run"
    _finish(_train(tiny_graph, run, "optim.epochs=1", "write_embeddings=false"))
    last = run / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    result = _train(tiny_graph, run, resume=True)
    out, err = result.communicate(timeout=300)
    assert result.returncode == 2 and "truncated or not a kgtoolkit checkpoint" in err and "Traceback" not in err
    import torch

    torch.save({"weights": torch.zeros(2)}, last)
    result = _train(tiny_graph, run, resume=True)
    out, err = result.communicate(timeout=300)
    assert result.returncode == 2 and "not a kgtoolkit checkpoint" in err


@pytest.mark.neo4j
def test_two_process_distributed_training_with_gloo_over_neo4j(tiny_graph: Path, tmp_path: Path, neo4j_store):
    """torchrun with 2 CPU processes (gloo) against the suite's Neo4j: each rank reads the graph itself
    and both read the same one (run.json's per-rank digests, equal to this process's own read), each
    trains on its shard, and rank 0 alone writes the run and the embeddings (once)."""
    from kgtoolkit.train.config import load_config
    from kgtoolkit.train.ranks import graph_digest
    from kgtoolkit.train.sampler import TripletSampler

    ingest(tiny_graph.parent / "ktps", neo4j_store)
    run = tmp_path / "ddp"
    overrides = [*FAST, "optim.epochs=2"]
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "kgtoolkit", "train", "--graph", neo4j_store.uri, "--config", str(REPO / "pipelines" / "tiny-scratch.yaml"),
            "--out", str(run)]
    for item in overrides:
        args += ["--set", item]
    result = subprocess.run(args, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((run / "run.json").read_text())
    assert info["world_size"] == 2 and info["status"] == "done" and info["graph"] == neo4j_store.uri
    config = load_config(REPO / "pipelines" / "tiny-scratch.yaml", overrides)
    read_here = TripletSampler(neo4j_store, config.data.page_size).load(
        train_fraction=config.data.train_fraction, protocol=config.data.protocol, seed=config.seed)
    assert info["graph_digests"] == [graph_digest(read_here)] * 2
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [0, 1]
    assert json.loads((run / "test_metrics.json").read_text())["videos"] == 6
    assert result.stdout.count("test top-1") == 1  # only rank 0 reports
    assert result.stdout.count("embeddings written") == 1 and "Video 21" in result.stdout  # and writes, once
    for label, count in (("Video", 21), ("Action", 3), ("BodyMovement", len(read_here.movements))):
        rows = neo4j_store.cypher(f"MATCH (n:{label}) WHERE n.embedding IS NOT NULL "
                                  "RETURN count(n) AS n, collect(DISTINCT n.embeddingRun) AS runs, "
                                  "collect(DISTINCT size(n.embedding)) AS dims")
        assert rows == [{"n": count, "runs": ["ddp"], "dims": [128]}], label
