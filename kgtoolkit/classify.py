"""`classify(clips)`: top-k actions for video files, with S_output = 1/2 S_mm + 1/2 S_tri (the
paper's) and the body movements that support the top action (movements the graph links to it by
INVOLVES, ranked by the clip's v-b triple score with each).

With `movement_weight` w > 0, an action with INVOLVES edges is also scored through the graph:
S_kg = the mean v-b triple score of the clip with the action's movements, and
S_output = (1 - w) (1/2 S_mm + 1/2 S_tri) + w S_kg. That is how an action added with
`kgtoolkit add-action` (no pixels, no retraining) gets recognised: BENCHMARKS.md, "New actions
through the graph", measures it. With `calibrate`, only the actions the run did not train on are
scored through the graph, and their S_kg is first put on the trained actions' scale, clip by clip
(`calibrated`): a trained action's S_output was trained on clips of it and a new action's S_kg on
none, so the two are not on one scale.

The model is loaded once; with a two-tower Triplet Encoder the actions' and movements' side of
every score (`RelationKeys`) is computed once, so a clip costs its decode, one video encoding and
two Triplet Encoder passes, whatever the number of actions and movements. The result of each clip
depends on that clip alone.

Folders of thousands of clips: `Classifier.stream` probes (PyAV) and decodes (decord) the clips in
DataLoader worker processes, a batch at a time, encodes each batch in one forward, and yields the
results in the clips' order as they come; a clip that cannot be read or decoded (gone, empty,
corrupt, truncated) becomes a result with its `error`, and the others go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict

from kgtoolkit.graph import GraphStore
from kgtoolkit.schema import REL_VA, REL_VB, action_sort_key
from kgtoolkit.model.kgclip import CLASS_WEIGHTS, MOVEMENT_WEIGHTS
from kgtoolkit.media import VIDEO_SUFFIXES, ClipSpec
from kgtoolkit.runs import LoadedRun, iter_encoded


class ActionScore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str  # the action's name
    id: str | None = None  # its node id, when the graph knows it
    score: float  # S_output
    s_mm: float  # cosine of clip and action text embeddings
    s_tri: float  # triplet score, 1/2 (forward + inverse)
    s_kg: float | None = None  # mean v-b triple score over the action's INVOLVES movements (when used)


class SupportingMovement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    movement: str
    id: str
    similarity: float  # the clip's v-b triple score with the movement (cosine, in [-1, 1])
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


def graph_actions(store: GraphStore) -> list:
    """The graph's Action nodes in class order (schema.action_sort_key: added actions last)."""
    return sorted((n for page in store.iter_nodes("Action") for n in page), key=lambda n: action_sort_key(n.id, n.props))


def graph_classes(run: LoadedRun, store: GraphStore | None) -> Classes:
    """The actions to score: the graph's (so actions added after training count), else the run's."""
    if store is not None:
        actions = graph_actions(store)
        if actions:
            names = [n.props.get("name", n.id) for n in actions]
            return Classes(names, [n.id for n in actions], run.text_embeddings(names))
    return Classes(run.action_names, list(run.id_maps.get("actions", [None] * len(run.action_names))),
                   run.action_text())


class Classifier:
    """A loaded run and the graph's actions, prepared once: class and movement text embeddings and
    the INVOLVES lists are computed at construction, so classifying a clip costs its decode and one
    forward."""

    def __init__(self, run: LoadedRun, store: GraphStore | None = None, *, k: int = 5, movements: int = 5,
                 movement_weight: float = 0.0, calibrate: bool = False):
        if not 0.0 <= movement_weight <= 1.0:
            raise ValueError(f"movement_weight must be from 0 to 1 (got {movement_weight})")
        self.run, self.store, self.k, self.movements = run, store, k, movements
        self.movement_weight, self.calibrate = movement_weight, calibrate
        self.classes = graph_classes(run, store)
        self.movement_ids: list[str] = []
        self.movement_names: list[str] = []
        self.support: dict[tuple[str, str], float | None] = {}
        involves: dict[str, list[str]] = {}
        if store is not None:
            links = [r for page in store.iter_relationships("INVOLVES") for r in page]
            nodes = store.get_nodes("BodyMovement", sorted({r.dst for r in links}))
            self.movement_ids = sorted(nodes)
            self.movement_names = [nodes[i].props.get("name", i) for i in self.movement_ids]
            for r in links:
                if r.dst in nodes:
                    involves.setdefault(r.src, []).append(r.dst)
                    self.support[r.src, r.dst] = r.props.get("support")
        column = {m: j for j, m in enumerate(self.movement_ids)}
        # (C, M): row c averages the movements of class c (all zero for a class without any).
        self.involves = torch.zeros(len(self.classes.names), len(self.movement_ids))
        self.class_movements: list[list[int]] = []
        for c, action in enumerate(self.classes.ids):
            cols = sorted(column[m] for m in involves.get(action or "", []))
            self.class_movements.append(cols)
            if cols:
                self.involves[c, cols] = 1.0 / len(cols)
        self.has_movements = self.involves.sum(dim=1) > 0
        known = set(run.action_names)
        trained = torch.tensor([name in known for name in self.classes.names], dtype=torch.bool)
        # With `calibrate`: the actions scored through the graph, and the ones whose scores set its scale.
        self.graph_scored = self.has_movements & ~trained if calibrate else self.has_movements
        self.reference = self.has_movements & trained
        self.movement_text = (run.text_embeddings(self.movement_names) if self.movement_names
                              else torch.zeros(0, run.model.embed_dim))
        # Two towers (or no graph): the actions' and movements' side of every score, computed once.
        model = run.model
        keyed = model.two_tower or not model.use_graph
        self.class_keys = (model.relation_keys(self.classes.embeddings.to(run.device), REL_VA, CLASS_WEIGHTS)
                           if keyed else None)
        self.movement_keys = (model.relation_keys(self.movement_text.to(run.device), REL_VB, MOVEMENT_WEIGHTS)
                              if keyed and self.movement_ids else None)
        self.decoder = run.decoder()

    def supporting(self, c: int, movement_scores: torch.Tensor) -> list[SupportingMovement]:
        cols = self.class_movements[c]
        if not cols:
            return []
        order = sorted(cols, key=lambda j: -float(movement_scores[j]))[: self.movements]
        action = self.classes.ids[c] or ""
        return [SupportingMovement(movement=self.movement_names[j], id=self.movement_ids[j],
                                   similarity=round(float(movement_scores[j]), 4),
                                   support=self.support.get((action, self.movement_ids[j]))) for j in order]

    def __call__(self, clips: list[Path], batch_size: int = 16, workers: int = 0) -> list[ClipResult]:
        return [scored.result for scored in self.stream(clips, batch_size, workers)]

    def stream(self, clips: list[Path], batch_size: int = 16, workers: int = 0) -> Iterator[Scored]:
        """Each clip's result (with the frames the model saw), in the clips' order, batch by batch:
        `workers` processes probe and decode the next batches while this one is encoded
        (`runs.iter_encoded` with `probe`)."""
        run = self.run
        specs = [ClipSpec(str(clip)) for clip in clips]
        for batch in iter_encoded(run.model, specs, self.decoder, run.runtime, batch_size, workers, probe=True):
            results = {i: ClipResult(clip=str(clips[i])) for i in batch.indices}
            for i, problem in batch.failed:  # "PATH: problem" -> the problem (the result names the clip)
                results[i] = ClipResult(clip=str(clips[i]), error=problem.removeprefix(f"{specs[i].path}: "))
            if batch.vectors is not None:
                self._score(batch.vectors, [results[i] for i in batch.indices])
            rows = {i: row for row, i in enumerate(batch.indices)}
            for i in sorted(results):
                yield Scored(results[i], batch.frames[rows[i]] if i in rows else None)

    @torch.no_grad()
    def _score(self, video: torch.Tensor, results: list[ClipResult]) -> None:
        """Scores of the (B, D) video embeddings into their B results."""
        run, classes, model = self.run, self.classes, self.run.model
        if self.class_keys is not None:
            scores = model.keyed_scores(video, self.class_keys)
        else:  # the joint encoder ("sequence"): one sequence per (clip, action) pair
            scores = model.class_scores(video, classes.embeddings.to(run.device))
        if self.movement_keys is not None:
            per_movement = model.keyed_scores(video, self.movement_keys).s_output.cpu()
        elif self.movement_ids:
            per_movement = model.movement_scores(video, self.movement_text.to(run.device)).float().cpu()
        else:
            per_movement = torch.zeros(len(results), 0)
        s_kg = per_movement @ self.involves.t()  # (B, C)
        s_output = scores.s_output.float().cpu()
        if self.movement_weight > 0:
            w = self.movement_weight
            graph = calibrated(s_kg, s_output, self.reference) if self.calibrate else s_kg
            s_output = torch.where(self.graph_scored[None, :], (1 - w) * s_output + w * graph, s_output)
        for row, result in enumerate(results):
            top = s_output[row].topk(min(self.k, len(classes.names))).indices.tolist()
            result.top = [
                ActionScore(action=classes.names[c], id=classes.ids[c], score=round(float(s_output[row, c]), 4),
                            s_mm=round(float(scores.s_mm[row, c]), 4), s_tri=round(float(scores.s_tri[row, c]), 4),
                            s_kg=round(float(s_kg[row, c]), 4) if self.has_movements[c] else None)
                for c in top
            ]
            result.movements = self.supporting(top[0], per_movement[row])


def calibrated(s_kg: torch.Tensor, s_output: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(B, C) S_kg on S_output's scale, clip by clip: standardised over the `reference` actions (the
    trained ones with movements) and given their S_output's mean and spread, so that a new action
    whose movements fit the clip as well as a trained action's do scores as that action's S_output
    would. Fewer than two reference actions give no spread: S_kg unchanged."""
    if int(reference.sum()) < 2:
        return s_kg
    kg, out = s_kg[:, reference], s_output[:, reference]
    z = (s_kg - kg.mean(dim=1, keepdim=True)) / kg.std(dim=1, keepdim=True).clamp_min(1e-6)
    return out.mean(dim=1, keepdim=True) + out.std(dim=1, keepdim=True) * z


@dataclass
class Scored:
    result: ClipResult
    frames: torch.Tensor | None  # (T, 3, S, S) normalised, as the model saw them; None for a failed clip


def classify(clips: list[Path], run: LoadedRun, store: GraphStore | None = None, *, k: int = 5,
             movements: int = 5, batch_size: int = 16, movement_weight: float = 0.0, calibrate: bool = False,
             workers: int = 0) -> list[ClipResult]:
    """Classify clips with a run (a `Classifier` made for this one call)."""
    return Classifier(run, store, k=k, movements=movements, movement_weight=movement_weight,
                      calibrate=calibrate)(clips, batch_size, workers)
