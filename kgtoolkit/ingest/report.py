"""What an ingest did: counts, time, throughput, and every item it refused or doubted."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Problem:
    path: str  # the file (or folder) the problem is in, relative to the dataset root where possible
    reason: str  # what is wrong, in words
    severity: str = "error"  # "error": the item was not ingested; "warning": ingested, with this caveat


@dataclass
class IngestReport:
    source: str
    kind: str  # "ktps" or "kgclip-release"
    graph: str
    nodes: dict[str, int] = field(default_factory=dict)  # label -> count in the graph after the ingest
    relationships: dict[str, int] = field(default_factory=dict)  # type -> count in the graph after
    written: dict[str, int] = field(default_factory=dict)  # label/type -> rows upserted by this run
    rejected: list[Problem] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)  # known problems of the source, and how they were handled
    splits: dict[str, int] = field(default_factory=dict)  # split -> videos
    frame_files: int = 0
    videos: int = 0
    seconds: float = 0.0

    @property
    def frame_files_per_second(self) -> float:
        return self.frame_files / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.rejected if p.severity == "error"]

    def reject(self, path: str | Path, reason: str, severity: str = "error") -> None:
        self.rejected.append(Problem(str(path), reason, severity))

    def to_json(self) -> dict:
        data = asdict(self)
        data["frame_files_per_second"] = round(self.frame_files_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        return data

    def counts(self) -> pd.DataFrame:
        """One row per label and per relationship type: kind, name, in graph, written now."""
        return graph_counts(self.nodes, self.relationships, self.written)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def graph_counts(nodes: dict[str, int], relationships: dict[str, int],
                 written: dict[str, int] | None = None) -> pd.DataFrame:
    """The graph's counts as a table: kind ("node" / "relationship"), name, in graph, and (when
    `written` is given) how many rows this run upserted, 0 where it wrote none."""
    import pandas as pd  # here: classify and train import this module and need no table

    frame = pd.concat([
        pd.DataFrame({"kind": "node", "name": list(nodes), "in graph": list(nodes.values())}),
        pd.DataFrame({"kind": "relationship", "name": list(relationships), "in graph": list(relationships.values())}),
    ], ignore_index=True).astype({"in graph": "int64"})
    if written is not None:
        frame["written now"] = frame["name"].map(written).fillna(0).astype("int64")
    return frame
