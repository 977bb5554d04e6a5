"""Kinetics-TPS flist files (`list/video_train_flist.csv`, `list/video_test_flist.csv`: video -> frame
count), read with pandas in every form a user may hold, never by guessing one.

The real files' columns are not documented anywhere we can reach, so the reader accepts:
- a header naming the columns (`video`, `video_name`, `name`, ...; `frames`, `num_frames`, ...; any
  case, other columns ignored), or no header: then the rows must hold exactly one column of whole
  numbers (the frame count) and one of names (the video); anything else is refused with what to do;
- fields separated by commas, tabs or spaces;
- videos named `<class>/<video>`, `<video>`, with or without `.mp4` (or another video suffix), or with
  a leading `train_videos/` (the last two path parts are the class and the video); an absolute path
  or one with `..` is refused (it cannot name a file of the dataset).
A row that cannot be read is a problem of its own (file and line), and the other rows are kept.
Matching rows to files on disk, by video id, is `kgtoolkit.ingest.ktps`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgtoolkit.errors import FlistError
from kgtoolkit.vocab import VIDEO_SUFFIXES, check_path_component

VIDEO_COLUMNS = ("video", "video_name", "name", "video_id", "videoname", "vid", "id", "path", "video_path",
                 "filename", "file")
FRAME_COLUMNS = ("frames", "num_frames", "frame_count", "n_frames", "nframes", "num_frame", "frame_num",
                 "total_frames", "length")
_BAD_LINE = "\x00bad line\x00"  # what a row with too many fields becomes, so that rows keep their line numbers


@dataclass(frozen=True)
class FlistRow:
    video: str  # the video id: the file name without its suffix (unique in Kinetics-TPS)
    label: str | None  # the class folder, when the row names one
    frames: int
    where: str  # "list/video_train_flist.csv:12"


def read_flist(path: Path, rel: str) -> tuple[list[FlistRow], list[tuple[str, str]]]:
    """The rows of one flist file and the problems (where, reason) of rows that were not read.
    Raises FlistError when the file cannot be read at all or its columns cannot be told apart."""
    import pandas as pd

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise FlistError(f"unreadable ({error})") from None
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        return [], []
    sep = "," if "," in first else "\t" if "\t" in first else r"\s+"
    try:
        table = pd.read_csv(
            path, sep=sep, header=None, dtype=str, na_filter=False, skip_blank_lines=False,
            engine="python", encoding="utf-8-sig", on_bad_lines=lambda fields: [_BAD_LINE + ",".join(fields)],
        )
    except (ValueError, pd.errors.ParserError) as error:  # e.g. an unclosed quote
        raise FlistError(f"not a table of video,frames rows ({' '.join(str(error).split())[:120]})") from None
    cells = [[("" if not isinstance(v, str) else v.strip()) for v in row] for row in table.itertuples(index=False)]
    header_line = next(i for i, row in enumerate(cells) if any(row))
    video_col, frames_col, has_header = _columns(cells[header_line], cells[header_line + 1:])

    rows: list[FlistRow] = []
    problems: list[tuple[str, str]] = []
    for index in range(header_line + int(has_header), len(cells)):
        row, where = cells[index], f"{rel}:{index + 1}"
        if not any(row):
            continue  # a blank line
        if row[0].startswith(_BAD_LINE):
            problems.append((where, f"has more fields than the header or first row: {row[0][len(_BAD_LINE):][:80]!r}"))
            continue
        parsed = _row(row[video_col], row[frames_col], where)
        if isinstance(parsed, str):
            problems.append((where, parsed))
        else:
            rows.append(parsed)
    return rows, problems


def _is_count(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _columns(first: list[str], rest: list[list[str]]) -> tuple[int, int, bool]:
    """(video column, frames column, whether `first` is a header)."""
    names = [cell.lower() for cell in first]
    if not any(_is_count(cell) for cell in first):  # no number in the first row: a header
        video = next((names.index(n) for n in VIDEO_COLUMNS if n in names), None)
        frames = next((names.index(n) for n in FRAME_COLUMNS if n in names), None)
        if video is None or frames is None:
            missing = ("video column (one of " + ", ".join(VIDEO_COLUMNS) + ")" if video is None else
                       "frame-count column (one of " + ", ".join(FRAME_COLUMNS) + ")")
            raise FlistError(f"its header {','.join(first)[:80]!r} names no {missing}; rename that column")
        return video, frames, True
    rows = [row for row in [first, *rest] if any(row) and not row[0].startswith(_BAD_LINE)]
    width = len(first)
    counts = [c for c in range(width) if all(_is_count(row[c]) for row in rows)]
    names_ = [c for c in range(width) if c not in counts and any(row[c] for row in rows)]
    if len(counts) == 1 and len(names_) == 1:
        return names_[0], counts[0], False
    raise FlistError(
        f"has no header and its {width} columns cannot be told apart (first row {','.join(first)[:80]!r}: "
        f"{len(counts)} column(s) of whole numbers, {len(names_)} of names); add a header line such as "
        "`video,frames` naming the video and frame-count columns"
    )


def _row(video: str, frames: str, where: str) -> FlistRow | str:
    """One row, or why it cannot be read."""
    if not _is_count(frames):
        return f"frame count {frames[:40]!r} of video {video[:80]!r} is not a whole number"
    path = [part for part in video.replace("\\", "/").split("/") if part not in ("", ".")]
    if video.startswith(("/", "\\")) or ".." in path or not path:
        return f"video {video[:80]!r} is not a path inside the dataset (absolute, empty or with '..'); not matched"
    name = path[-1]
    for suffix in VIDEO_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    label = path[-2] if len(path) >= 2 and path[-2] not in ("train_videos", "test_videos") else None
    for part in (name, label):
        problem = part is not None and check_path_component(part)
        if problem:
            return f"video {video[:80]!r}: {part[:40]!r} {problem}"
    return FlistRow(name, label, int(frames), where)
