"""Helpers shared by test modules (imported as `from helpers import ...`; tests/ is on sys.path)."""

from __future__ import annotations

from pathlib import Path

from kgtoolkit.runs import LoadedRun, RunDir, load_run
from kgtoolkit.train.config import load_config


def untrained_run(root: Path, run_id: str, *overrides: str) -> LoadedRun:
    """A run of the packaged tiny model with random weights (seeded), written as a run directory
    (`RunDir.write_untrained`) and loaded as `embed` and `classify` load one: what write-back and
    scoring need, without training."""
    config = load_config("tiny-scratch", ["data.frames=4", "eval_batch_size=8", *overrides])
    run = RunDir(Path(root) / run_id).write_untrained(config, {"action_names": []}, seed=7)
    return load_run(run)
