"""Where `kgtoolkit classify` results go at folder scale: streamed to a JSON-lines or CSV file as
each batch is scored (`--output FILE`), and a summary with the failed clips and the clips/s.

JSON lines (`.jsonl`, `.ndjson`, `.json`): one `ClipResult` object per line, in the clips' order.
CSV (`.csv`): one row per (clip, rank) with the columns of `CSV_COLUMNS`; a failed clip is one row
with an empty rank and its `error`. The file is flushed after every batch, so a run stopped half
way leaves every clip classified so far.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kgtoolkit.classify import ClipResult
from kgtoolkit.errors import ConfigurationError

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
