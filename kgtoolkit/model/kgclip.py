"""KG-CLIP: a CLIP backbone whose video and text embeddings also feed the Triplet Encoder.

Training (per step, as the authors' `E2E_leaner`): for each learned relation (v-b, a-b, v-a),
1/2 (L_tri(forward) + L_tri(inverse)) + lambda * L_mm, summed over relations, where L is the
in-batch KL contrastive loss with same-tail positives.

How L_tri builds its in-batch logits (`triplet_loss`):
- "authors": as their code, logit[i, j] = cos(x_h of sequence i, x_t of sequence j), sequence i
  being [h_i, r, t_i]. Both x_h and x_t read their whole sequence, so both can encode the tail:
  the loss is then solved from the tails' text alone, with no need to look at the video (measured:
  from random weights the video tower does not learn; BENCHMARKS.md, "Training accuracy").
- "pairwise" (default): logit[i, j] = the score of the sequence [h_i, r, t_j] itself, the same
  per-pair score inference uses, so a pair can only score high if head and tail agree.

On top, `pair_weight` adds a per-pair classification term for v-a (every candidate action scored through its own [v, r, a]
sequence): inference scores (video, action) pairs one sequence at a time, so a clip's prediction
never depends on the other clips of its batch (the authors averaged over the batch), and this term
teaches the encoder about sequences with a wrong tail, which it would otherwise never see.

Inference: S_output = 1/2 S_mm + 1/4 S_tri_forward + 1/4 S_tri_inverse, all cosines in [-1, 1].
With `use_graph=False` the model is CLIP alone (S_output = S_mm), for ablations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kgtoolkit.model.backbone import Backbone
from kgtoolkit.model.losses import same_target_labels, symmetric_kl, symmetric_kl_logits
from kgtoolkit.model.triplet import TripletEncoder

# The authors' relation ids; inverses are id + 3.
REL_VB, REL_AB, REL_VA = 0, 1, 2
INVERSE = 3


@dataclass
class StepBatch:
    """One training step: B decoded clips and the triplets they serve, plus a-b pairs."""

    frames: torch.Tensor  # (B, T, 3, S, S)
    va_tail: torch.Tensor  # (B,) action index of each clip
    vb_rows: torch.Tensor  # (K,) which clips have a movement this step
    vb_tail: torch.Tensor  # (K,) movement index for those clips
    ab_head: torch.Tensor  # (M,) action index
    ab_tail: torch.Tensor  # (M,) movement index
    vb_frames: torch.Tensor | None = None  # (K, T, 3, S, S): v-b edges' own clips (data.vb_sampling=per_edge)


@dataclass
class ClassScores:
    s_output: torch.Tensor  # (B, C)
    s_mm: torch.Tensor
    s_tri: torch.Tensor  # 1/2 (forward + inverse)
    s_tri_forward: torch.Tensor
    s_tri_inverse: torch.Tensor


class TemporalTransformer(nn.Module):
    """Optional temporal pooling: frame embeddings + positions through a small transformer, with a
    residual, then the mean (the authors' `seq_encoder`, unused in their final model)."""

    def __init__(self, width: int, frames: int, layers: int = 1):
        super().__init__()
        self.positions = nn.Parameter(torch.zeros(1, frames, width))
        layer = nn.TransformerEncoderLayer(width, max(1, width // 64), 4 * width, dropout=0.1, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.encoder(x + self.positions[:, : x.shape[1]])).mean(dim=1)


class KGClip(nn.Module):
    def __init__(self, backbone: Backbone, *, frames: int, use_graph: bool = True, temporal: str = "mean",
                 triplet_layers: int = 3, dropout: float = 0.1, triplet_loss: str = "pairwise"):
        super().__init__()
        if triplet_loss not in ("pairwise", "authors"):
            raise ValueError(f"triplet_loss must be 'pairwise' or 'authors' (got {triplet_loss!r})")
        self.triplet_loss = triplet_loss
        self.clip = backbone.model
        self.embed_dim = backbone.embed_dim
        self.use_graph = use_graph
        self.triplet = TripletEncoder(self.embed_dim, relations=3, layers=triplet_layers, dropout=dropout)
        self.temporal = TemporalTransformer(self.embed_dim, frames) if temporal == "transformer" else None

    # --- embeddings -------------------------------------------------------------------------
    @property
    def logit_scale(self) -> torch.Tensor:
        return self.clip.logit_scale.exp().clamp(max=100)

    def encode_video(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) -> (B, D): frames encoded one by one, pooled over time."""
        b, t = frames.shape[:2]
        per_frame = self.clip.encode_image(frames.flatten(0, 1)).view(b, t, -1)
        return self.temporal(per_frame) if self.temporal is not None else per_frame.mean(dim=1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, L) or (N, P, L) tokens (P prompt templates, averaged) -> (N, D)."""
        if tokens.dim() == 3:
            n, p = tokens.shape[:2]
            return self.clip.encode_text(tokens.flatten(0, 1)).view(n, p, -1).mean(dim=1)
        return self.clip.encode_text(tokens)

    def both_ways(self, video: torch.Tensor, relation: int, tails: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) triple scores of every (video, tail) pair: forward [v, r, t] and inverse [t, r', v]."""
        return (self.triplet.pair_scores(video, relation, tails),
                self.triplet.pair_scores(tails, relation + INVERSE, video).t())

    # --- training ---------------------------------------------------------------------------
    def relation_loss(self, head: torch.Tensor, relation: int, tail: torch.Tensor, targets: torch.Tensor,
                      lam: float) -> torch.Tensor:
        labels = same_target_labels(targets)
        scale = self.logit_scale
        loss_mm = symmetric_kl(head, tail, labels, scale)
        if self.triplet_loss == "pairwise":
            forward = symmetric_kl_logits(scale * self.triplet.pair_scores(head, relation, tail), labels)
            inverse = symmetric_kl_logits(scale * self.triplet.pair_scores(tail, relation + INVERSE, head), labels)
            return (forward + inverse) / 2 + lam * loss_mm
        rel = torch.full((head.shape[0],), relation, dtype=torch.long, device=head.device)
        x_h, x_t = self.triplet(head, rel, tail)
        forward = symmetric_kl(x_h, x_t, labels, scale)
        x_h, x_t = self.triplet(tail, rel + INVERSE, head)
        inverse = symmetric_kl(x_h, x_t, labels, scale)
        return (forward + inverse) / 2 + lam * loss_mm

    def pair_loss(self, video: torch.Tensor, classes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of per-pair triple scores over every candidate action (forward and inverse)."""
        scale = self.logit_scale
        forward, inverse = self.both_ways(video, REL_VA, classes)
        return (F.cross_entropy(scale * forward, targets) + F.cross_entropy(scale * inverse, targets)) / 2

    def training_loss(self, batch: StepBatch, action_text: torch.Tensor, movement_text: torch.Tensor,
                      lam: float, pair_weight: float, graph: bool = True) -> dict[str, torch.Tensor]:
        """action_text (C, D) and movement_text (M, D): text embeddings of every action/movement.
        graph=False: the CLIP loss alone (CLIP-only models, and a graph warm-up's first epochs)."""
        video = self.encode_video(batch.frames)
        va_tail = action_text[batch.va_tail]
        if not self.use_graph or not graph:  # CLIP alone: the multi-modal contrastive loss of v-a
            loss = symmetric_kl(video, va_tail, same_target_labels(batch.va_tail), self.logit_scale)
            return {"loss": loss, "va": loss.detach()}
        parts = {"va": self.relation_loss(video, REL_VA, va_tail, batch.va_tail, lam)}
        if batch.vb_rows.numel() > 1:
            vb_video = video[batch.vb_rows] if batch.vb_frames is None else self.encode_video(batch.vb_frames)
            parts["vb"] = self.relation_loss(vb_video, REL_VB, movement_text[batch.vb_tail],
                                             batch.vb_tail, lam)
        if batch.ab_head.numel() > 1:
            parts["ab"] = self.relation_loss(action_text[batch.ab_head], REL_AB, movement_text[batch.ab_tail],
                                             batch.ab_tail, lam)
        if pair_weight > 0:
            parts["pair"] = pair_weight * self.pair_loss(video, action_text, batch.va_tail)
        loss = sum(parts.values())
        return {"loss": loss, **{k: v.detach() for k, v in parts.items()}}

    # --- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def class_scores(self, video: torch.Tensor, classes: torch.Tensor) -> ClassScores:
        """Scores of every (video, class) pair; each row depends on its own video only."""
        s_mm = F.normalize(video, dim=-1) @ F.normalize(classes, dim=-1).t()
        if not self.use_graph:
            zeros = torch.zeros_like(s_mm)
            return ClassScores(s_mm, s_mm, zeros, zeros, zeros)
        forward, inverse = self.both_ways(video, REL_VA, classes)
        s_tri = (forward + inverse) / 2
        return ClassScores(0.5 * s_mm + 0.5 * s_tri, s_mm, s_tri, forward, inverse)

    @torch.no_grad()
    def movement_scores(self, video: torch.Tensor, movements: torch.Tensor) -> torch.Tensor:
        """(B, M) v-b triple scores, 1/2 (forward + inverse), of every (video, body movement) pair:
        how much the clip shows each movement. Each row depends on its own video only."""
        if not self.use_graph:
            return F.normalize(video, dim=-1) @ F.normalize(movements, dim=-1).t()
        forward, inverse = self.both_ways(video, REL_VB, movements)
        return (forward + inverse) / 2
