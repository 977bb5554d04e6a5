"""`kgtoolkit classify` past the model: `classify_files` loads the run and the graph's actions,
streams the clips through `Classifier.stream` with a progress bar, and sends each result where the
options say: printed (a table, or `--json`), streamed to a JSON-lines or CSV file as each batch is
scored (`--output FILE`), explained (`--explain DIR`); then a summary with the failed clips and
the clips/s.

JSON lines (`.jsonl`, `.ndjson`, `.json`): one `ClipResult` object per line, in the clips' order.
CSV (`.csv`): one row per (clip, rank) with the columns of `CSV_COLUMNS`; a failed clip is one row
with an empty rank and its `error`. The file is flushed after every batch, so a run stopped half
way leaves every clip classified so far.
"""

from __future__ import annotations

import csv
import json
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.markup import escape

from kgtoolkit.classify import ClipResult
from kgtoolkit.console import err_console, print_clip
from kgtoolkit.errors import ConfigurationError, KgToolkitError

CSV_COLUMNS = ("clip", "rank", "action", "id", "score", "s_mm", "s_tri", "s_kg", "movements", "error")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


class ResultWriter:
    """Writes results one by one to a JSON-lines or CSV file, chosen by its suffix."""

    def __init__(self, path: Path):
        suffix = path.suffix.lower()
        if suffix not in (*JSONL_SUFFIXES, ".csv"):
            raise ConfigurationError(f"--output {path}: name a .jsonl (JSON lines) or .csv file")
        try:
            self._file: IO[str] = path.open("w", encoding="utf-8", newline="")
        except OSError as error:
            raise ConfigurationError(f"--output {path}: cannot write it ({error.strerror})") from None
        self.path = path
        self._csv = csv.writer(self._file) if suffix == ".csv" else None
        if self._csv:
            self._csv.writerow(CSV_COLUMNS)

    def write(self, result: ClipResult) -> None:
        if self._csv is None:
            self._file.write(json.dumps(result.model_dump(), ensure_ascii=False) + "\n")
            return
        if result.error or not result.top:
            self._csv.writerow([result.clip, "", "", "", "", "", "", "", "", result.error or ""])
            return
        support = "; ".join(f"{m.movement} ({m.similarity:.4f})" for m in result.movements)
        for rank, top in enumerate(result.top, start=1):
            self._csv.writerow([result.clip, rank, top.action, top.id or "", top.score, top.s_mm, top.s_tri,
                                "" if top.s_kg is None else top.s_kg, support if rank == 1 else "", ""])

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class Summary:
    """Clips classified, the failed ones ("PATH: problem") and the rate, from the first clip to the last."""

    clips: int = 0
    failed: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0

    def add(self, result: ClipResult) -> None:
        self.clips += 1
        if result.error:
            self.failed.append(f"{result.clip}: {result.error}")
        self.seconds = time.perf_counter() - self.started

    @property
    def clips_per_s(self) -> float:
        return self.clips / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        done = self.clips - len(self.failed)
        return (f"classified {done:,} of {self.clips:,} clips in {self.seconds:.1f} s ({self.clips_per_s:.1f} clips/s)"
                + (f"; {len(self.failed):,} failed" if self.failed else ""))


def default_workers(clips: int, batch_size: int) -> int:
    """Decoding processes when --workers is not given: none for one batch of clips, else up to 4."""
    return 0 if clips <= batch_size else min(4, os.cpu_count() or 1)


def classify_files(clips: list[Path], run_dir: Path | None, graph: str | None, device: str, *, k: int = 5,
                   movement_weight: float = 0.0, calibrate: bool = False, as_json: bool = False,
                   output: Path | None = None, batch_size: int = 16, workers: int | None = None,
                   explain: Path | None = None) -> Summary:
    """`kgtoolkit classify`: the clips (files or folders) with a run (the latest when `run_dir` is None),
    scored against the graph's actions (the run's own when the graph cannot be opened); the summary."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kgtoolkit.classify import Classifier, expand_clips
    from kgtoolkit.graph import open_graph
    from kgtoolkit.runs import latest_run, load_run

    files = expand_clips(clips)
    loaded = load_run(run_dir or latest_run(), device)
    try:
        store = open_graph(graph)
    except KgToolkitError as error:
        err_console.print(f"[yellow]graph not available ({escape(str(error))}); scoring the run's own actions[/]")
        store = None
    try:
        classifier = Classifier(loaded, store, k=k, movement_weight=movement_weight, calibrate=calibrate)
    finally:
        if store is not None:
            store.close()
    explainer = None
    if explain is not None:
        from kgtoolkit.explain import Explainer

        explainer = Explainer(explain, loaded.decoder())
    workers = default_workers(len(files), batch_size) if workers is None else workers
    summary, collected = Summary(), []
    with (ResultWriter(output) if output else nullcontext()) as writer, Progress(
        TextColumn("[bold]classify[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("clips"),
        TimeRemainingColumn(), console=err_console, transient=True,
    ) as bar:
        task = bar.add_task("clips", total=len(files))
        for scored in classifier.stream(files, batch_size=batch_size, workers=workers):
            result = scored.result
            summary.add(result)
            bar.advance(task)
            if explainer is not None and not result.error:
                explainer.write(result, scored.frames)
            if result.error:
                bar.console.print(f"[red]{escape(f'{result.clip}: {result.error}')}[/]", highlight=False)
            if writer is not None:
                writer.write(result)
                if summary.clips % batch_size == 0:
                    writer.flush()
            elif as_json:
                collected.append(result.model_dump())
            elif not result.error:
                print_clip(result)
    if as_json and output is None:
        print(json.dumps(collected, indent=1, ensure_ascii=False))
    err_console.print(escape(summary.line() + (f"; results in {output}" if output else "")
                             + (f"; explanations in {explain}" if explain else "")), highlight=False)
    return summary
