"""The `kgtoolkit train` job as a plain function: the config and run directory resolved (a new run
named by its start time under runs/, or the run being resumed), training, then, on the main
process, the learned embeddings written back onto the graph's nodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kgtoolkit.graph import GraphStore
from kgtoolkit.runs import RunDir
from kgtoolkit.train.config import TrainConfig, load_config
from kgtoolkit.train.embed import WrittenEmbeddings, write_run_embeddings
from kgtoolkit.train.loop import StepCallback, TrainResult, train
from kgtoolkit.train.runtime import is_main_process


def resolve_run(config: str | Path | None, overrides: list[str] | None, out: Path | None,
                resume: Path | None) -> tuple[TrainConfig, RunDir]:
    """The config and run directory of a job: `resume` continues that run with its own config.yaml
    (overrides on top); else `config` (a file, or the name of a packaged config such as `tiny`) and
    `out`, or a new directory under runs/."""
    if resume is not None:
        run = RunDir(resume)
        return load_config(run.config, overrides), run
    return load_config(config, overrides), RunDir(out) if out is not None else RunDir.new()


@dataclass
class TrainJob:
    result: TrainResult
    embeddings: WrittenEmbeddings | None  # None when config.write_embeddings is off


def train_job(config: TrainConfig, store: GraphStore, run: RunDir, *, resume: bool = False,
              on_step: StepCallback | None = None, on_epoch: StepCallback | None = None,
              on_trained: Callable[[TrainResult], None] | None = None) -> TrainJob | None:
    """Train, then write the embeddings back (config.write_embeddings). `on_trained` gets the
    `TrainResult` before the write-back starts. None on the other ranks under torchrun: rank 0
    reports and writes."""
    result = train(config, store, run.path, resume=resume, on_step=on_step, on_epoch=on_epoch)
    if not is_main_process():
        return None
    if on_trained:
        on_trained(result)
    written = write_run_embeddings(result.run_dir, store) if config.write_embeddings else None
    return TrainJob(result, written)
