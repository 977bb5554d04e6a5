"""Contrastive losses of KG-CLIP."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def same_target_labels(targets: torch.Tensor) -> torch.Tensor:
    """(N,) target ids -> (N, N) with 1 where two items share their target (in-batch positives)."""
    return (targets[:, None] == targets[None, :]).float()


def kl_contrastive(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """ActionCLIP's KL loss as the authors use it (modules/optimization.py `KLLoss`):
    KL(softmax(10 * labels) || softmax(logits)), averaged over all N x N entries (their
    `size_average=True`) times the batch size N, i.e. the sum divided by N."""
    target = F.softmax(labels * 10, dim=1)
    return F.kl_div(F.log_softmax(logits, dim=1), target, reduction="sum") / logits.shape[1]


def symmetric_kl_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1/2 (L(rows) + L(columns)) of an (N, N) logit matrix."""
    return (kl_contrastive(logits, labels) + kl_contrastive(logits.t(), labels.t())) / 2


def symmetric_kl(a: torch.Tensor, b: torch.Tensor, labels: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """1/2 (L(a -> b) + L(b -> a)) over cosine logits, as the authors' get_sim + KLLoss pair."""
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    return symmetric_kl_logits(logit_scale * a @ b.t(), labels)
