"""One filtered evaluator for every link predictor: each hands over a score function; the same code
filters the other true answers, drops non-candidates and ranks (realistic rank: ties count half),
with PyKEEN's `RankBasedEvaluator` or with `rank_metrics`, which computes the same numbers without it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
import torch

from kgtoolkit.linkpred.data import LinkPredData


# score_fn(anchors, relations, side, candidates) -> (n, num_entities) scores of the queries
# (anchor, relation, ?) for side "tail" (anchor = head) or (?, relation, anchor) for side "head";
# columns outside `candidates` (when given) are ignored, so they need not be computed.
ScoreFn = Callable[[torch.Tensor, torch.Tensor, str, torch.Tensor | None], torch.Tensor]


def true_answers(data: LinkPredData) -> dict[tuple[str, int, int], set[int]]:
    """(side, anchor, relation) -> every true answer in train, valid and test (for filtering)."""
    answers: dict[tuple[str, int, int], set[int]] = defaultdict(set)
    for h, r, t in data.all_true().tolist():
        answers["tail", h, r].add(t)
        answers["head", t, r].add(h)
    return answers


def masked_scores(scores: torch.Tensor, queries: np.ndarray, side: str, data: LinkPredData,
                  answers: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Filtered scores: NaN for the other true answers and for non-candidates (both excluded from
    the ranking, as PyKEEN's filtering does); returns (scores, true scores (n, 1))."""
    scores = scores.detach().float().cpu().clone()
    col, anchor_col = (2, 0) if side == "tail" else (0, 2)
    rows, truth = torch.arange(len(queries)), torch.as_tensor(queries[:, col])
    true_scores = scores[rows, truth].clone()[:, None]
    for relation in np.unique(queries[:, 1]).tolist():
        if (allowed := data.candidates.get((side, relation))) is not None:
            outside = torch.ones(scores.shape[1], dtype=torch.bool)
            outside[torch.as_tensor(allowed)] = False
            scores[torch.as_tensor(queries[:, 1] == relation)[:, None] & outside[None, :]] = float("nan")
    for i, (anchor, relation) in enumerate(zip(queries[:, anchor_col].tolist(), queries[:, 1].tolist())):
        scores[i, list(answers[side, anchor, relation])] = float("nan")
    scores[rows, truth] = true_scores[:, 0]
    return scores, true_scores


def realistic_ranks(scores: torch.Tensor, true_scores: torch.Tensor) -> torch.Tensor:
    """1 + (# better) + (# tied others) / 2, NaN entries ignored: PyKEEN's realistic rank."""
    optimistic = (scores > true_scores).sum(dim=1) + 1
    pessimistic = (scores >= true_scores).sum(dim=1)
    return (optimistic + pessimistic).double() / 2


def rank_metrics(ranks: np.ndarray) -> dict[str, float]:
    """MRR and Hits@1/3/10 of realistic ranks (a fractional rank 1.5 is not a hit at 1)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return {"mrr": float(np.mean(1.0 / ranks)), **{f"hits@{k}": float(np.mean(ranks <= k)) for k in (1, 3, 10)},
            "queries": int(ranks.size)}


def query_scores(score_fn: ScoreFn, data: LinkPredData, triples: np.ndarray, batch: int = 512):
    """Yield (side, queries, masked scores, true scores) over the triples, in batches."""
    answers = true_answers(data)
    for side in data.sides:
        anchor_col = 0 if side == "tail" else 2
        for start in range(0, len(triples), batch):
            q = triples[start : start + batch]
            candidates = None
            relations = np.unique(q[:, 1])
            allowed = [data.candidates.get((side, int(r))) for r in relations]
            if all(a is not None for a in allowed):
                candidates = torch.as_tensor(np.unique(np.concatenate(allowed)))
            raw = score_fn(torch.as_tensor(q[:, anchor_col]), torch.as_tensor(q[:, 1]), side, candidates)
            scores, true_scores = masked_scores(raw, q, side, data, answers)
            yield side, q, scores, true_scores


def evaluate(score_fn: ScoreFn, data: LinkPredData, split: str = "test", backend: str = "pykeen",
             triples: np.ndarray | None = None) -> dict:
    """Filtered rank-based metrics of both sides together ("both"), and per side, over the split
    (or only `triples`, filtered all the same). backend "pykeen": PyKEEN's RankBasedEvaluator on
    the masked scores; "own": `rank_metrics`."""
    per_side: dict[str, list[np.ndarray]] = defaultdict(list)
    evaluator = None
    if backend == "pykeen":
        from pykeen.evaluation import RankBasedEvaluator

        evaluator = RankBasedEvaluator(filtered=True)
    triples = data.split(split) if triples is None else triples
    for side, q, scores, true_scores in query_scores(score_fn, data, triples):
        if evaluator is not None:
            evaluator.process_scores_(hrt_batch=torch.as_tensor(q), target=side, scores=scores, true_scores=true_scores)
        per_side[side].append(realistic_ranks(scores, true_scores).numpy())
    ranks = {side: np.concatenate(parts) for side, parts in per_side.items()}
    if evaluator is None:
        out = rank_metrics(np.concatenate(list(ranks.values())))
        out.update({f"{s}.mrr": rank_metrics(r)["mrr"] for s, r in ranks.items()})
        return out
    result = evaluator.finalize()

    def metric(side: str, name: str) -> float:
        return float(result.get_metric(f"{side}.realistic.{name}"))

    out = {"mrr": metric("both", "inverse_harmonic_mean_rank"),
           **{f"hits@{k}": metric("both", f"hits_at_{k}") for k in (1, 3, 10)},
           "queries": int(sum(r.size for r in ranks.values()))}
    out.update({f"{s}.mrr": metric(s, "inverse_harmonic_mean_rank") for s in ranks})
    return out
