"""`classify(clips)`: top-k actions for video files, with S_output = 1/2 S_mm + 1/2 S_tri and the
body movements that support the top action (movements the graph links to it by INVOLVES,
ranked by how close their text embedding is to the clip's embedding).

The model is loaded once; clips are decoded one by one (a bad file is reported and skipped)
and encoded in batches. The result of each clip depends on that clip alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict

from kgtoolkit.graph import GraphStore
from kgtoolkit.ingest.videos import VideoError, probe_video
from kgtoolkit.ingest.ktps import VIDEO_SUFFIXES
from kgtoolkit.train.clips import ClipSpec
from kgtoolkit.train.run import LoadedRun


class ActionScore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str  # the action's name
    id: str | None = None  # its node id, when the graph knows it
    score: float  # S_output
    s_mm: float  # cosine of clip and action text embeddings
    s_tri: float  # triplet score, 1/2 (forward + inverse)


class SupportingMovement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    movement: str
    id: str
    similarity: float  # cosine of clip and movement text embeddings
    support: float | None = None  # share of the action's training videos showing it (INVOLVES)


class ClipResult(BaseModel):
    """One object per clip of `kgtoolkit classify --json`."""

    model_config = ConfigDict(extra="forbid")
    clip: str
    top: list[ActionScore] = []  # best first
    movements: list[SupportingMovement] = []  # supporting the top action, best first
    error: str | None = None  # set when the clip could not be classified (then `top` is empty)


@dataclass
class Classes:
    names: list[str]
    ids: list[str | None]
    embeddings: torch.Tensor  # (C, D) text embeddings


def expand_clips(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders become the video files below them (sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        else:
            out.append(path)
    return out


def graph_classes(run: LoadedRun, store: GraphStore | None) -> Classes:
    """The actions to score: the graph's (so actions added after training count), else the run's."""
    if store is not None:
        actions = [n for page in store.iter_nodes("Action") for n in page]
        if actions:
            actions.sort(key=lambda n: (n.props.get("classIndex", 1 << 30), n.id))
            names = [n.props.get("name", n.id) for n in actions]
            return Classes(names, [n.id for n in actions], run.text_embeddings(names))
    return Classes(run.action_names, list(run.id_maps.get("actions", [None] * len(run.action_names))),
                   run.action_text())


class Classifier:
    """A loaded run and the graph's actions, prepared once: class text embeddings and the INVOLVES
    lists are computed at construction, so classifying a clip costs its decode and one forward."""

    def __init__(self, run: LoadedRun, store: GraphStore | None = None, *, k: int = 5, movements: int = 5):
        self.run, self.store, self.k, self.movements = run, store, k, movements
        self.classes = graph_classes(run, store)
        self._involves: dict[str, list[tuple[str, str, float | None]]] = {}  # action -> (id, name, support)
        self._movement_text: dict[str, torch.Tensor] = {}
        if store is not None:
            links = [r for page in store.iter_relationships("INVOLVES") for r in page]
            nodes = store.get_nodes("BodyMovement", sorted({r.dst for r in links}))
            for r in links:
                if r.dst in nodes:
                    self._involves.setdefault(r.src, []).append(
                        (r.dst, nodes[r.dst].props.get("name", r.dst), r.props.get("support")))
        self.decoder = run.decoder()

    def supporting(self, action_id: str | None, clip_embedding: torch.Tensor) -> list[SupportingMovement]:
        links = self._involves.get(action_id or "", [])
        if not links:
            return []
        if action_id not in self._movement_text:
            self._movement_text[action_id] = F.normalize(self.run.text_embeddings([n for _, n, _ in links]), dim=-1)
        sims = self._movement_text[action_id] @ F.normalize(clip_embedding, dim=-1)
        order = sims.argsort(descending=True)[: self.movements].tolist()
        return [SupportingMovement(movement=links[i][1], id=links[i][0], similarity=round(float(sims[i]), 4),
                                   support=links[i][2]) for i in order]

    def __call__(self, clips: list[Path], batch_size: int = 16) -> list[ClipResult]:
        results = [ClipResult(clip=str(c)) for c in clips]
        specs: list[tuple[int, ClipSpec]] = []
        for i, clip in enumerate(clips):
            try:
                if not clip.exists():
                    raise VideoError("no such file")
                if not clip.is_file():
                    raise VideoError("not a file")
                info = probe_video(clip)
                specs.append((i, ClipSpec(str(clip), info.frames, info.width, info.height)))
            except VideoError as error:
                results[i].error = str(error)
        for start in range(0, len(specs), batch_size):
            self._score(specs[start : start + batch_size], results)
        return results

    def _score(self, chunk: list[tuple[int, ClipSpec]], results: list[ClipResult]) -> None:
        frames, kept = [], []
        for i, spec in chunk:
            try:
                frames.append(self.decoder.decode(spec))
                kept.append(i)
            except Exception as error:  # decord failing on a file PyAV could open
                results[i].error = f"cannot decode: {' '.join(str(error).split())[:160]}"
        if not frames:
            return
        run, classes = self.run, self.classes
        with torch.no_grad():
            video = run.model.encode_video(torch.stack(frames).to(run.device)).float()
            scores = run.model.class_scores(video, classes.embeddings.to(run.device))
        for row, i in enumerate(kept):
            top = scores.s_output[row].topk(min(self.k, len(classes.names))).indices.tolist()
            results[i].top = [
                ActionScore(action=classes.names[c], id=classes.ids[c], score=round(float(scores.s_output[row, c]), 4),
                            s_mm=round(float(scores.s_mm[row, c]), 4), s_tri=round(float(scores.s_tri[row, c]), 4))
                for c in top
            ]
            results[i].movements = self.supporting(classes.ids[top[0]], video[row])


def classify(clips: list[Path], run: LoadedRun, store: GraphStore | None = None, *, k: int = 5,
             movements: int = 5, batch_size: int = 16) -> list[ClipResult]:
    """Classify clips with a run (a `Classifier` made for this one call)."""
    return Classifier(run, store, k=k, movements=movements)(clips, batch_size)
