"""The Triplet Encoder as a link predictor: entity id embeddings (optionally plus projected frozen
text embeddings of the names, or the mean of the training neighbours') fed to kgtoolkit's
`TripletEncoder` as head and tail; score(h, r, t) = scale * cos(x_h, x_t)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.linkpred.data import LinkPredData
from kgtoolkit.linkpred.evaluation import ScoreFn
from kgtoolkit.model.triplet import MIXINGS, TripletEncoder

# The Triplet Encoder's token mixings a link predictor may use: "batch" would make a query's score
# depend on the other queries scored with it (kgtoolkit.model.triplet).
LINKPRED_MIXINGS = tuple(m for m in MIXINGS if m != "batch")


@torch.no_grad()
def text_features(names: list[str], model: str = "kg-tiny", pretrained: str | None = None,
                  batch: int = 256) -> torch.Tensor:
    """Text embeddings (E, F), L2-normalised, of the entity names from kgtoolkit's CLIP text encoder
    (an open_clip model name; weights: a checkpoint file or an open_clip tag, None = random weights,
    which only tests use): the raw names, as the authors encode actions and body movements."""
    from kgtoolkit.model.backbone import load_backbone

    backbone = load_backbone(model, pretrained)
    backbone.model.eval()
    parts = [backbone.model.encode_text(backbone.tokenizer(names[i : i + batch])).float()
             for i in range(0, len(names), batch)]
    return F.normalize(torch.cat(parts), dim=-1)


def entity_text(data: LinkPredData, model: str = "kg-tiny", pretrained: str | None = None) -> torch.Tensor:
    """`text_features` of the dataset's entity names, zero for `data.textless` (names that are ids)."""
    text = text_features(data.entities, model, pretrained)
    text[torch.as_tensor(data.textless, dtype=torch.long)] = 0.0
    return text


def neighbour_mean(train: np.ndarray, num_entities: int) -> torch.Tensor:
    """Sparse (E, E) row-normalised adjacency of the training triples, every relation, both directions:
    row e averages the entities that e shares a training triple with (an empty row: no neighbour)."""
    rows = np.concatenate([train[:, 0], train[:, 2]])
    cols = np.concatenate([train[:, 2], train[:, 0]])
    degree = np.bincount(rows, minlength=num_entities).astype(np.float32)
    values = 1.0 / degree[rows]
    return torch.sparse_coo_tensor(torch.as_tensor(np.stack([rows, cols])), torch.as_tensor(values),
                                   (num_entities, num_entities), check_invariants=True).coalesce()


class TripletLinkPredictor(nn.Module):
    """Entity id embeddings (dim D) -> kgtoolkit's TripletEncoder -> scale * cos(x_h, x_t).

    Relation r < R is the forward relation; r + R its inverse: a head query (?, r, t) is scored as
    the tail query (t, r + R, ?), which is how the encoder learns both directions. `text` (E, F):
    frozen text embeddings of the entity names (a buffer, never trained); an entity's input is then
    its id embedding plus a learned linear projection (F -> D) of its text embedding."""

    def __init__(self, num_entities: int, num_relations: int, dim: int, layers: int = 1, dropout: float = 0.0,
                 scale: float = 10.0, learn_scale: bool = True, init_std: float = 0.1,
                 text: torch.Tensor | None = None, adjacency: torch.Tensor | None = None, mixing: str = "none"):
        super().__init__()
        if mixing not in LINKPRED_MIXINGS:
            raise ConfigurationError(f"link prediction mixing must be one of {', '.join(LINKPRED_MIXINGS)} (got {mixing!r}): "
                                     "'batch' attends across the rows scored together, so a query's score would depend on its batch")
        self.num_relations = num_relations
        self.entities = nn.Embedding(num_entities, dim)
        nn.init.normal_(self.entities.weight, std=init_std)
        self.text_projection: nn.Linear | None = None
        if text is not None:
            if text.shape[0] != num_entities:
                raise ConfigurationError(f"text features for {text.shape[0]} entities, the graph has {num_entities}")
            self.register_buffer("text", text.detach().float().clone())
            self.text_projection = nn.Linear(text.shape[1], dim, bias=False)
        self.register_buffer("adjacency", None if adjacency is None else adjacency.coalesce())
        self.encoder = TripletEncoder(dim, relations=num_relations, layers=layers, dropout=dropout, mixing=mixing)
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)), requires_grad=learn_scale)

    def entity(self, ids: torch.Tensor) -> torch.Tensor:
        """The encoder's input for entity ids (any shape) -> (..., D)."""
        x = self.entities(ids)
        if self.adjacency is not None:  # + the mean id embedding of the entity's training neighbours
            x = x + torch.sparse.mm(self.adjacency, self.entities.weight)[ids]
        if self.text_projection is not None:
            x = x + self.text_projection(self.text[ids])
        return x

    @property
    def scale(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=100.0)

    def encode(self, anchors: torch.Tensor, relations: torch.Tensor, targets: torch.Tensor):
        """x_h, x_t of the sequences [anchor, r, target], one per pair: anchors/relations (n,),
        targets (n, k) -> (n, k, D). Every mixing; two towers encode the same anchor k times."""
        n, k = targets.shape
        head = self.entity(anchors)[:, None, :].expand(n, k, -1).reshape(n * k, -1)
        tail = self.entity(targets).reshape(n * k, -1)
        x_h, x_t = self.encoder(head, relations[:, None].expand(n, k).reshape(-1), tail)
        return x_h.view(n, k, -1), x_t.view(n, k, -1)

    def pair_scores(self, anchors: torch.Tensor, relations: torch.Tensor, targets: torch.Tensor,
                    per_pair: bool = False) -> torch.Tensor:
        """scale * cos(x_h, x_t) of each (anchor, relation, target[j]): (n, k). Two towers: n head
        passes and n * k tail passes (x_h does not depend on the tail); "sequence" (or per_pair):
        one [anchor, r1, r2, target] sequence per pair."""
        if per_pair or not self.encoder.two_tower:
            x_h, x_t = self.encode(anchors, relations, targets)
            return self.scale * F.cosine_similarity(x_h, x_t, dim=-1)
        n, k = targets.shape
        x_h = F.normalize(self.encoder.heads(self.entity(anchors), relations), dim=-1)
        x_t = self.encoder.tails(self.entity(targets.reshape(-1)), relations.repeat_interleave(k))
        x_t = F.normalize(x_t, dim=-1).view(n, k, -1)
        return self.scale * torch.einsum("nd,nkd->nk", x_h, x_t)

    def _matrix(self, anchors: torch.Tensor, relations: torch.Tensor, cands: torch.Tensor,
                both_directions: bool) -> torch.Tensor:
        """Two towers: scores (n, m) of every (anchor_i, relation_i, cands_j); per relation, each
        anchor and each candidate encoded once (x_h of the anchors, x_t of the candidates)."""
        R = self.num_relations
        out = torch.empty(len(anchors), len(cands))
        cand_inputs = self.entity(cands)
        for relation in torch.unique(relations).tolist():
            rows = relations == relation
            anchor_inputs = self.entity(anchors[rows])
            x_h = F.normalize(self.encoder.heads(anchor_inputs, relation), dim=-1)
            x_t = F.normalize(self.encoder.tails(cand_inputs, relation), dim=-1)
            scores = x_h @ x_t.t()
            if both_directions:  # [candidate, r_inverse, anchor]
                inverse = (relation + R) % (2 * R)
                back_h = F.normalize(self.encoder.heads(cand_inputs, inverse), dim=-1)
                back_t = F.normalize(self.encoder.tails(anchor_inputs, inverse), dim=-1)
                scores = (scores + (back_h @ back_t.t()).t()) / 2
            out[rows] = self.scale * scores
        return out

    @torch.no_grad()
    def score_fn(self, num_entities: int, both_directions: bool = False, chunk: int = 16384,
                 per_pair: bool = False) -> ScoreFn:
        """A `ScoreFn` for `evaluate`; nothing is shared across the queries of a batch. Two towers:
        each query's anchor and every candidate encoded once per relation, score = scale * cos;
        "sequence" (or per_pair): one sequence per (query, candidate). both_directions: average the
        scores of [h, r, t] and [t, r_inverse, h]."""
        R = self.num_relations

        def directed(anchors, rel, cands):
            out = self.pair_scores(anchors, rel, cands[None, :].expand(len(anchors), -1), per_pair=True)
            if both_directions:
                n, m = len(anchors), len(cands)
                inverse = ((rel[:, None] + R) % (2 * R)).expand(n, m).reshape(-1)
                back = self.pair_scores(cands.repeat(n), inverse, anchors[:, None].expand(n, m).reshape(-1, 1), per_pair=True)
                out = (out + back.view(n, m)) / 2
            return out

        def scores(anchors, relations, side, candidates):
            self.eval()
            cands = torch.arange(num_entities) if candidates is None else candidates
            rel = relations + (R if side == "head" else 0)
            out = torch.full((len(anchors), num_entities), float("nan"))
            if self.encoder.two_tower and not per_pair:
                out[:, cands] = self._matrix(anchors, rel, cands, both_directions)
                return out
            per = max(1, chunk // len(cands))
            for s in range(0, len(anchors), per):
                out[s : s + per, cands] = directed(anchors[s : s + per], rel[s : s + per], cands)
            return out

        return scores
