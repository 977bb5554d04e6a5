"""Result tables as pandas DataFrames: the one place that turns a table into Markdown, CSV or JSON.

Benchmark scripts build one DataFrame per result and `write_tables` puts it beside the run's JSON
(`results.json` -> `results.md` + `results.csv`, or `results.<name>.md/.csv` for a second table);
`kgtoolkit query --format` prints query rows through `format_rows`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

FORMATS = ("table", "json", "csv")


def markdown(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table (pandas `to_markdown`, through tabulate), without the index; missing
    values empty. Cells go over as objects: an all-number frame would reach tabulate as one float
    array, and its integer columns would read 3.0."""
    cells = frame.astype(object).where(frame.notna(), None)
    return cells.to_markdown(index=False, floatfmt=floatfmt, missingval="")


def table_paths(json_path: Path, name: str | None = None) -> tuple[Path, Path]:
    """The Markdown and CSV files beside `json_path` for the table `name` (None: the main table)."""
    stem = json_path.with_suffix("") if name is None else json_path.with_suffix(f".{name}")
    return stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".csv")


def write_tables(json_path: Path | None, tables: Mapping[str | None, pd.DataFrame], floatfmt: str = ".3f") -> list[Path]:
    """Print each table as Markdown and, when `json_path` is given, write it as Markdown and CSV
    beside it. Returns the files written."""
    written: list[Path] = []
    for name, frame in tables.items():
        text = markdown(frame, floatfmt)
        print(("\n" if written or name else "") + text)
        if json_path is not None:
            md, csv = table_paths(json_path, name)
            md.parent.mkdir(parents=True, exist_ok=True)
            md.write_text(text + "\n", encoding="utf-8")
            frame.to_csv(csv, index=False)
            written += [md, csv]
    return written


def _plain(value: object) -> object:
    """A cell for CSV: lists and maps as JSON text (a vector stays one cell), the rest as it is."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def rows_frame(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """Query records as a DataFrame, columns in the order of the first record (object dtype: values
    are kept exactly as the driver returned them)."""
    columns = list(rows[0]) if rows else []
    return pd.DataFrame([list(r.values()) for r in rows], columns=columns, dtype=object)


def format_rows(rows: Sequence[Mapping[str, object]], fmt: str) -> str:
    """The records as `csv` (a header line, then one line per record) or `json` (a list of objects)."""
    frame = rows_frame(rows)
    if fmt == "json":
        # json, not DataFrame.to_json: that rounds floats to 10 digits, and an id or a score must not move
        return json.dumps(frame.to_dict(orient="records"), indent=1, ensure_ascii=False, default=str)
    if fmt == "csv":
        return frame.map(_plain).to_csv(index=False, lineterminator="\n")
    raise ValueError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")

