"""The Triplet Encoder of KG-CLIP.

Follows the authors' code (RuixZh/KG_CLIP, modules/AR_CLIP.py `triple_encoder` and
modules/triple_modules.py):
- a relation embedding `Embedding(2 * R, 2D)` (R relations and their inverses), each split into
  two tokens r1, r2;
- the sequence [h, r1, r2, t] plus 4 learned position embeddings goes through a pre-norm
  transformer (their `TransformerBlock`: x + drop(attn(LN x)), x + drop(FFN(LN x)), then dropout;
  FFN 4D with GELU; heads D/64), with a residual around the whole stack;
- x_h = x0 * x1 - delta, x_t = x2 * x3 (elementwise products: the relation-specific subspace),
  where delta is one learned vector (their `self.noise`);
- score = logit_scale * cos(x_h, x_t).
Where the paper's words differ: the paper describes projecting head and tail into a relation
space and a "deviation compensation" that adapts the margin of the entity distance; in the code
both are these elementwise products and the single learned offset subtracted from the head side,
which is what is implemented here. The code's LayerNorm uses the unbiased std plus eps; this uses
torch's LayerNorm (biased variance), a difference of O(1/D) in scale.
"""

from __future__ import annotations

import torch
from torch import nn


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
        y = self.norm1(x)
        x = x + self.drop(self.attn(y, y, y, need_weights=False)[0])
        x = x + self.drop(self.ffn(self.norm2(x)))
        return self.drop(x)


class TripletEncoder(nn.Module):
    def __init__(self, width: int, relations: int = 3, layers: int = 3, heads: int | None = None,
                 dropout: float = 0.1):
        super().__init__()
        self.width = width
        self.relations = relations
        self.relation_embeddings = nn.Embedding(2 * relations, 2 * width)
        self.position_embeddings = nn.Embedding(4, width)
        self.blocks = nn.Sequential(*[_Block(width, heads or max(1, width // 64), dropout) for _ in range(layers)])
        self.delta = nn.Parameter(torch.randn(1, width))  # deviation compensation (the authors' `noise`)
        self.apply(_init_weights)

    def forward(self, head: torch.Tensor, relation: torch.Tensor, tail: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """head, tail: (N, D); relation: (N,) ids in [0, 2R) (>= R: inverse). Returns x_h, x_t: (N, D)."""
        r1, r2 = self.relation_embeddings(relation).chunk(2, dim=-1)
        x = torch.stack([head, r1, r2, tail], dim=1)
        x = x + self.blocks(x + self.position_embeddings.weight[None])
        x_h = x[:, 0] * x[:, 1] - self.delta
        x_t = x[:, 2] * x[:, 3]
        return x_h, x_t

    def pair_scores(self, head: torch.Tensor, relation: int, tails: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """cos(x_h, x_t) of [h_i, r, t_j] for every i, j: (N, M). Each score reads one (h, r, t)
        sequence only, so a score never depends on the other items of the batch."""
        n, m = head.shape[0], tails.shape[0]
        h = head[:, None, :].expand(n, m, -1).reshape(n * m, -1)
        t = tails[None, :, :].expand(n, m, -1).reshape(n * m, -1)
        rel = torch.full((n * m,), relation, dtype=torch.long, device=head.device)
        out = []
        for start in range(0, n * m, chunk):
            x_h, x_t = self(h[start : start + chunk], rel[start : start + chunk], t[start : start + chunk])
            out.append(nn.functional.cosine_similarity(x_h, x_t, dim=-1))
        return torch.cat(out).view(n, m)


def _init_weights(module: nn.Module) -> None:
    """As the authors (BERT-style): normal(0, 0.02) for linear and embedding weights, zero biases."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
