"""The Triplet Encoder of KG-CLIP.

Follows the authors' code (RuixZh/KG_CLIP @ 6e7af54, modules/AR_CLIP.py `triple_encoder` and
modules/triple_modules.py):
- a relation embedding `Embedding(2 * R, 2D)` (R relations and their inverses), each split into
  two tokens r1, r2;
- the tokens [h, r1, r2, t] plus 4 learned position embeddings go through a pre-norm transformer
  (their `TransformerBlock`: x + drop(attn(LN x)), x + drop(FFN(LN x)), then dropout; FFN 4D with
  tanh-GELU; heads D/64), with a residual around the whole stack;
- x_h = x0 * x1 - delta, x_t = x2 * x3 (elementwise products: the relation-specific subspace),
  where delta is one learned vector (their `self.noise`: the deviation compensation);
- score = cos(x_h, x_t) (times the logit scale in the losses).

Which tokens attend to which (`mixing`) is the point where the authors' code and its paper part:
their stack is (N, 4, D), permuted to (4, N, D) ("NLD -> LND", CLIP's convention), but their
attention is BERT-style and batch-first, so it runs across the N triples of the batch at each of
the 4 positions; h, r1, r2 and t never attend to each other. x_h then reads only (h, r1) and
x_t only (r2, t): a two-tower model. The four choices:
- "none": every token alone (attention over a set of one is its value projection): a two-tower,
  batch-independent encoder with the authors' structure. Each head and each tail is encoded once,
  and a score matrix is a cosine matrix (O(N + M) encoder passes instead of O(N x M)).
- "pairs": two towers, each side attending within itself: [h, r1] and [r2, t].
- "batch": the authors' exact computation: at each position, attention across the rows given
  together. In training those are the batch's triples, as theirs. At test time the authors
  attend across the test batch, so a clip's score depends on its batch-mates; kgtoolkit's rule
  (`KGClip`) is batch-independent: an entity of the set being ranked (the graph's actions or
  movements) is encoded together with the whole set, and each video together with a fixed
  reference set of video embeddings kept from training (`context` here).
- "sequence": [h, r1, r2, t] attend to each other (a joint encoder; kgtoolkit's earlier reading of
  the paper). Only here do x_h and x_t depend on both sides, so scores are per pair.

Parameter forms: their LayerNorm divides by the unbiased std plus eps; torch's LayerNorm by
sqrt(biased variance + eps). The two are the same function with the gain scaled by
sqrt((D - 1) / D) (up to eps): tests/test_model.py loads the authors' weights that way and holds
this module to the numbers their code prints. Their Q, K, V projections are three Linear layers;
here they are `nn.MultiheadAttention`'s packed `in_proj_weight`, initialised as theirs.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from kgtoolkit.schema import LEARNED_RELATIONS

Mixing = Literal["none", "pairs", "batch", "sequence"]
MIXINGS: tuple[str, ...] = ("none", "pairs", "batch", "sequence")
TWO_TOWER: frozenset[str] = frozenset({"none", "pairs", "batch"})
HEAD, TAIL = 0, 1


class _Block(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=1e-6)
        self.attn = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        self.ffn = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"), nn.Dropout(dropout),
                                 nn.Linear(4 * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (groups, length, D); attention runs along `length` (a set of one: the value path)."""
        y = self.norm1(x)
        if x.shape[1] == 1:  # softmax over one key is 1: the output is the value projection
            w, b = self.attn.in_proj_weight, self.attn.in_proj_bias
            d = x.shape[-1]
            attended = self.attn.out_proj(F.linear(y, w[2 * d :], b[2 * d :]))
        else:
            attended = self.attn(y, y, y, need_weights=False)[0]
        x = x + self.drop(attended)
        x = x + self.drop(self.ffn(self.norm2(x)))
        return self.drop(x)


class TripletEncoder(nn.Module):
    def __init__(self, width: int, relations: int = len(LEARNED_RELATIONS), layers: int = 3, heads: int | None = None,
                 dropout: float = 0.1, mixing: Mixing = "none"):
        super().__init__()
        if mixing not in MIXINGS:
            raise ValueError(f"mixing must be one of {', '.join(MIXINGS)} (got {mixing!r})")
        self.width = width
        self.relations = relations
        self.mixing = mixing
        self.relation_embeddings = nn.Embedding(2 * relations, 2 * width)
        self.position_embeddings = nn.Embedding(4, width)
        self.blocks = nn.ModuleList([_Block(width, heads or max(1, width // 64), dropout) for _ in range(layers)])
        self.delta = nn.Parameter(torch.randn(1, width))  # deviation compensation (the authors' `noise`)
        self.apply(_init_weights)

    @property
    def two_tower(self) -> bool:
        return self.mixing in TWO_TOWER

    # --- the transformer over token groups ----------------------------------------------------
    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x

    def _mix(self, x: torch.Tensor) -> torch.Tensor:
        """x: (G, N, L, D), L tokens of N rows in G independent groups -> the blocks' output,
        with attention where `mixing` puts it."""
        g, n, length, d = x.shape
        if self.mixing == "none":
            return self._transform(x.reshape(-1, 1, d)).view(g, n, length, d)
        if self.mixing == "batch":  # across the N rows, at each position
            y = self._transform(x.transpose(1, 2).reshape(g * length, n, d))
            return y.view(g, length, n, d).transpose(1, 2)
        return self._transform(x.reshape(g * n, length, d)).view(g, n, length, d)  # within each row

    def _tokens(self, entity: torch.Tensor, relation: torch.Tensor | int, side: int) -> torch.Tensor:
        rel = torch.as_tensor(relation, device=entity.device).expand(entity.shape[:-1])
        r1, r2 = self.relation_embeddings(rel).chunk(2, dim=-1)
        return torch.stack([entity, r1] if side == HEAD else [r2, entity], dim=-2)

    def _side(self, entity: torch.Tensor, relation: torch.Tensor | int, side: int) -> torch.Tensor:
        """(G, N, D) entities -> (G, N, D) x_h (side HEAD) or x_t (side TAIL); two-tower only."""
        tokens = self._tokens(entity, relation, side)
        positions = self.position_embeddings.weight[2 * side : 2 * side + 2]
        x = tokens + self._mix(tokens + positions)
        product = x[..., 0, :] * x[..., 1, :]
        return product - self.delta if side == HEAD else product

    def _encode(self, entity: torch.Tensor, relation: torch.Tensor | int, side: int,
                context: torch.Tensor | None) -> torch.Tensor:
        if not self.two_tower:
            raise ValueError("mixing 'sequence' encodes head and tail jointly: use forward() or score_matrix()")
        if context is None or self.mixing != "batch" or context.shape[0] == 0:
            return self._side(entity[None], relation, side)[0]
        # Each row encoded in a batch of its own made of the context rows and itself.
        m, k = entity.shape[0], context.shape[0]
        rows = torch.cat([context[None].expand(m, k, -1).to(entity.dtype), entity[:, None]], dim=1)
        return self._side(rows, relation, side)[:, -1]

    # --- public --------------------------------------------------------------------------------
    def heads(self, head: torch.Tensor, relation: torch.Tensor | int, context: torch.Tensor | None = None) -> torch.Tensor:
        """x_h of each head (N, D) under `relation` (an id in [0, 2R); >= R: inverse). With mixing
        "batch", the rows attend to each other, or each row only to itself and `context` (K, D)."""
        return self._encode(head, relation, HEAD, context)

    def tails(self, tail: torch.Tensor, relation: torch.Tensor | int, context: torch.Tensor | None = None) -> torch.Tensor:
        """x_t of each tail (N, D) under `relation`; `context` as in `heads`."""
        return self._encode(tail, relation, TAIL, context)

    def forward(self, head: torch.Tensor, relation: torch.Tensor, tail: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The authors' `triple_encoder`: head, tail (N, D), relation (N,) -> x_h, x_t (N, D), one
        (h, r, t) sequence per row (with "batch", the rows attend across the batch, as theirs)."""
        if self.two_tower:
            return self.heads(head, relation), self.tails(tail, relation)
        r1, r2 = self.relation_embeddings(relation).chunk(2, dim=-1)
        tokens = torch.stack([head, r1, r2, tail], dim=1)
        x = tokens + self._mix((tokens + self.position_embeddings.weight)[None])[0]
        return x[:, 0] * x[:, 1] - self.delta, x[:, 2] * x[:, 3]

    def score_matrix(self, head: torch.Tensor, relation: int, tails: torch.Tensor, *, chunk: int = 4096) -> torch.Tensor:
        """cos(x_h, x_t) of (h_i, r, t_j) for every i, j: (N, M). Two towers: each head and each
        tail is encoded once. "sequence": one [h_i, r, t_j] sequence per pair, in chunks."""
        if self.two_tower:
            x_h = self.heads(head, relation)
            x_t = self.tails(tails, relation)
            return F.normalize(x_h, dim=-1) @ F.normalize(x_t, dim=-1).t()
        n, m = head.shape[0], tails.shape[0]
        h = head[:, None, :].expand(n, m, -1).reshape(n * m, -1)
        t = tails[None, :, :].expand(n, m, -1).reshape(n * m, -1)
        rel = torch.full((n * m,), relation, dtype=torch.long, device=head.device)
        out = []
        for start in range(0, n * m, chunk):
            x_h, x_t = self(h[start : start + chunk], rel[start : start + chunk], t[start : start + chunk])
            out.append(F.cosine_similarity(x_h, x_t, dim=-1))
        return torch.cat(out).view(n, m)


def _init_weights(module: nn.Module) -> None:
    """As the authors (BERT-style): normal(0, 0.02) for linear and embedding weights and for the
    packed Q/K/V projection of nn.MultiheadAttention (their three Linear layers), zero biases."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.MultiheadAttention):
        nn.init.normal_(module.in_proj_weight, mean=0.0, std=0.02)
        nn.init.zeros_(module.in_proj_bias)
