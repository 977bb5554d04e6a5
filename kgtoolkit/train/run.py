"""Moved to `kgtoolkit.runs` (run directories, model building, loading a run); kept for imports."""

from kgtoolkit.runs import RUNS_DIR, LoadedRun, RunDir, build_model, latest_run, load_run, tokenize

__all__ = ["RUNS_DIR", "LoadedRun", "RunDir", "build_model", "latest_run", "load_run", "tokenize"]
