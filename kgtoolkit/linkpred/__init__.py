"""Link prediction: data protocols, the Triplet Encoder on id embeddings, and one filtered evaluator.

- `LinkPredData`: integer triples split into train/valid/test, with the sides to rank and, for a
  typed graph, the candidate entities of each (side, relation).
- `release_protocol_video_action` / `release_protocol_involves`: the KG-CLIP release graph, read
  from a graph store, as the two protocols of pipelines/eval_linkpred.py; `pykeen_dataset`: PyKEEN's
  bundled Nations / UMLS / Kinships (PyKEEN is imported lazily: a benchmark dependency only).
- `TripletLinkPredictor`: entities as learned id embeddings (optionally plus a learned projection
  of frozen text embeddings of the entity names, `text_features`) fed as head and tail into
  kgtoolkit's `TripletEncoder`; score(h, r, t) = scale * cos(x_h, x_t). With two towers (mixing
  "none", the default, or "pairs") x_h reads (h, r1) and x_t (r2, t) only, so each query's anchor and
  each candidate are encoded once per relation; "sequence" (the joint encoder of [h, r1, r2, t])
  encodes every pair. `train_triplet` trains it (sLCWA softmax cross-entropy over corrupted tails,
  both directions via the encoder's inverse relations; or the authors' in-batch KL loss), records
  the loss, logit scale, norms and validation MRR per epoch (`model.history`), and can keep the
  epoch of best validation MRR (`TripletConfig.select`).
- `evaluate`: every model hands over a score function; the same code filters the other true
  answers, drops non-candidates, and ranks (realistic rank: ties count half), either with PyKEEN's
  `RankBasedEvaluator` or with `rank_metrics`, which computes the same numbers without PyKEEN.

Modules (each imports only those above it): data, evaluation, model, trainer, heuristics; this
package re-exports their public names.
"""

from kgtoolkit.linkpred.data import (
    EXHIBITS,
    INVOLVES,
    PYKEEN_DATASETS,
    RELEASE_RELATIONS,
    SHOWS,
    SIDES,
    LinkPredData,
    ReleaseGraph,
    pykeen_dataset,
    read_release_graph,
    release_entities,
    release_protocol_involves,
    release_protocol_video_action,
)
from kgtoolkit.linkpred.evaluation import (
    ScoreFn,
    evaluate,
    masked_scores,
    query_scores,
    rank_metrics,
    realistic_ranks,
    true_answers,
)
from kgtoolkit.linkpred.heuristics import (
    heuristic_involves_overlap,
    heuristic_movement_frequency,
    heuristic_nearest_videos,
    relation_graph,
)
from kgtoolkit.linkpred.model import LINKPRED_MIXINGS, TripletLinkPredictor, entity_text, neighbour_mean, text_features
from kgtoolkit.linkpred.trainer import NegativeTails, TripletConfig, train_triplet, training_state

__all__ = [
    "EXHIBITS", "INVOLVES", "LINKPRED_MIXINGS", "PYKEEN_DATASETS", "RELEASE_RELATIONS", "SHOWS", "SIDES",
    "LinkPredData", "NegativeTails", "ReleaseGraph", "ScoreFn", "TripletConfig", "TripletLinkPredictor",
    "entity_text", "evaluate", "heuristic_involves_overlap", "heuristic_movement_frequency",
    "heuristic_nearest_videos", "masked_scores", "neighbour_mean", "pykeen_dataset", "query_scores",
    "rank_metrics", "read_release_graph", "realistic_ranks", "relation_graph", "release_entities",
    "release_protocol_involves", "release_protocol_video_action", "text_features", "train_triplet",
    "training_state", "true_answers",
]
