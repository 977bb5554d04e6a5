"""Contrastive losses of KG-CLIP."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def same_target_labels(targets: torch.Tensor) -> torch.Tensor:
    """(N,) target ids -> (N, N) with 1 where two items share their target (in-batch positives)."""
    return (targets[:, None] == targets[None, :]).float()


MASKED = -1e4  # a logit whose softmax weight is 0 in any precision


def kl_contrastive(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """ActionCLIP's KL loss as the authors use it (modules/optimization.py `KLLoss`):
    KL(softmax(10 * labels) || softmax(logits)), averaged over all N x N entries (their
    `size_average=True`) times the batch size N, i.e. the sum divided by N. Entries where `mask`
    is True are left out of both distributions (known true pairs that are not positives)."""
    if mask is not None:
        logits = logits.masked_fill(mask, MASKED)
        labels = labels.masked_fill(mask, MASKED / 10)
    target = F.softmax(labels * 10, dim=1)
    return F.kl_div(F.log_softmax(logits, dim=1), target, reduction="sum") / logits.shape[1]


def symmetric_kl_logits(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """1/2 (L(rows) + L(columns)) of an (N, N) logit matrix."""
    mask_t = mask.t() if mask is not None else None
    return (kl_contrastive(logits, labels, mask) + kl_contrastive(logits.t(), labels.t(), mask_t)) / 2


def symmetric_kl(a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, logit_scale: torch.Tensor,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
    """1/2 (L(a -> b) + L(b -> a)) over cosine logits, as the authors' get_sim + KLLoss pair."""
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    return symmetric_kl_logits(logit_scale * a @ b.t(), labels, mask)
