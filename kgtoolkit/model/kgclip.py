"""KG-CLIP: a CLIP backbone whose video and text embeddings also feed the Triplet Encoder.

Training (per step, as the authors' `E2E_leaner`): for each learned relation (v-b, a-b, v-a),
1/2 (L_tri(forward) + L_tri(inverse)) + lambda * L_mm, summed over relations, where L is the
in-batch KL contrastive loss with same-tail positives.

The in-batch triple logits: with a two-tower Triplet Encoder (`triplet_mixing` none, pairs or
batch; kgtoolkit/model/triplet.py) they are the authors' logit[i, j] = cos(x_h_i, x_t_j), each
head and each tail encoded once; x_h cannot read the tail, so the loss has no shortcut through the
tails' text. With the joint encoder ("sequence", an ablation) `triplet_loss` says how they are
built: "pairwise", logit[i, j] = the score of the sequence [h_i, r, t_j] itself, or "authors",
cos(x_h of [h_i, r, t_i], x_t of [h_j, r, t_j]), which the joint encoder can solve from the tails
alone. `mask_known_edges` leaves out of the loss the entries (i, j) whose pair is a known true
edge with another tail than i's (a video showing both movements of a v-b pair, say), which the
same-tail labels would otherwise count as negatives.

On top, `pair_weight` adds a per-pair classification term for v-a (cross-entropy of the clip's
triple scores over every action; the authors have none, pipelines/tiny.yaml uses it).

Inference: S_output = 1/2 S_mm + 1/4 S_tri_forward + 1/4 S_tri_inverse, all cosines in [-1, 1].
With two towers an action's (movement's) side of every score is fixed once the model is: its
text embedding, its x_t of (video, SHOWS, action) and its x_h of (action, SHOWS^-1, video) are one
`RelationKeys`, computed once for all clips, and S_output is the dot product of a clip's query
vector with an action's key vector (`RelationKeys.query` / `.key`, written onto the nodes for
vector-index queries). `inverse_score="authors"` computes the inverse term as the authors' test
code does: the class side averaged over classes and the video side over the videos scored
together, one constant for every pair (so they rank by 1/2 S_mm + 1/4 S_fwd).
With `use_graph=False` the model is CLIP alone (S_output = S_mm), for ablations.

Mixing "batch" (the authors' computation) scores clips by a batch-independent rule: the set
being ranked (the graph's actions or movements) is encoded together, as the authors do at test
time, and each video together with `REFERENCE_VIDEOS` video embeddings of the last training batch,
kept in the model's state (`video_reference`), instead of the authors' test batch-mates
(`class_scores(..., batch_context="batch")` reproduces theirs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kgtoolkit.model.backbone import Backbone
from kgtoolkit.model.losses import same_target_labels, symmetric_kl, symmetric_kl_logits
from kgtoolkit.model.triplet import MIXINGS, TripletEncoder
from kgtoolkit.schema import INVERSE_OFFSET as INVERSE, LEARNED_RELATIONS, REL_AB, REL_VA, REL_VB

REFERENCE_VIDEOS = 16  # mixing "batch": the fixed set each video is encoded with at test time


@dataclass
class StepBatch:
    """One training step: B decoded clips and the triplets they serve, plus a-b pairs."""

    frames: torch.Tensor  # (B, T, 3, S, S)
    va_tail: torch.Tensor  # (B,) action index of each clip
    vb_rows: torch.Tensor  # (K,) which clips have a movement this step
    vb_tail: torch.Tensor  # (K,) movement index for those clips
    ab_head: torch.Tensor  # (M,) action index
    ab_tail: torch.Tensor  # (M,) movement index
    vb_known: torch.Tensor | None = None  # (K, K) True where (clip of row i, movement of row j) is a known edge
    ab_known: torch.Tensor | None = None  # (M, M) the same for (action i, movement j)
    vb_frames: torch.Tensor | None = None  # (K, T, 3, S, S): v-b edges' own clips (data.vb_sampling=per_edge)
    shows: torch.Tensor | None = None  # (B, M) 1 where clip i's video shows movement m (model.movement_head)


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


@dataclass
class RelationKeys:
    """The tail side of every (video, relation, tail) score for a fixed set of tails (the graph's
    actions under SHOWS, its movements under EXHIBITS), computed once. Rows are unit vectors;
    `weights` are those of S_mm, the forward and the inverse triple score in the relation's score."""

    relation: int
    text: torch.Tensor  # (C, D) unit text embeddings
    forward: torch.Tensor | None  # (C, D) unit x_t of (v, r, c); None without the graph
    inverse: torch.Tensor | None  # (C, D) unit x_h of (c, r^-1, v); None for the authors' constant
    weights: tuple[float, float, float]
    inverse_mean: torch.Tensor | None = None  # (D,) mean x_h of (c, r^-1, v) over the tails: the authors' constant

    def key(self) -> torch.Tensor:
        """(C, k*D): [text, forward, inverse] side by side (the parts that exist)."""
        return torch.cat([p for p in (self.text, self.forward, self.inverse) if p is not None], dim=-1)


class KGClip(nn.Module):
    def __init__(self, backbone: Backbone, *, frames: int, use_graph: bool = True, temporal: str = "mean",
                 triplet_layers: int = 3, dropout: float = 0.1, triplet_loss: str = "pairwise",
                 triplet_mixing: str = "none", inverse_score: str = "pairwise", mask_known_edges: bool = False,
                 movement_head: float = 0.0):
        super().__init__()
        if triplet_loss not in ("pairwise", "authors"):
            raise ValueError(f"triplet_loss must be 'pairwise' or 'authors' (got {triplet_loss!r})")
        if triplet_mixing not in MIXINGS:
            raise ValueError(f"triplet_mixing must be one of {', '.join(MIXINGS)} (got {triplet_mixing!r})")
        if inverse_score not in ("pairwise", "authors"):
            raise ValueError(f"inverse_score must be 'pairwise' or 'authors' (got {inverse_score!r})")
        self.triplet_loss = triplet_loss
        self.inverse_score = inverse_score
        self.mask_known_edges = mask_known_edges
        self.clip = backbone.model
        self.embed_dim = backbone.embed_dim
        self.use_graph = use_graph
        self.triplet = TripletEncoder(self.embed_dim, relations=len(LEARNED_RELATIONS), layers=triplet_layers,
                                      dropout=dropout, mixing=triplet_mixing)
        self.temporal = TemporalTransformer(self.embed_dim, frames) if temporal == "transformer" else None
        self.movement_head = movement_head if not use_graph else 0.0  # ModelConfig.movement_head
        if self.movement_head:
            self.movement_bias = nn.Parameter(torch.zeros(()))
        if triplet_mixing == "batch":
            self.register_buffer("video_reference", torch.zeros(REFERENCE_VIDEOS, self.embed_dim))
            self.register_buffer("video_reference_count", torch.zeros((), dtype=torch.long))

    # --- embeddings -------------------------------------------------------------------------
    @property
    def logit_scale(self) -> torch.Tensor:
        return self.clip.logit_scale.exp().clamp(max=100)

    @property
    def two_tower(self) -> bool:
        return self.triplet.two_tower

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

    def _video_context(self, batch_context: str) -> torch.Tensor | None:
        """Mixing "batch": what each video attends to at test time (module docstring)."""
        if self.triplet.mixing != "batch" or batch_context == "batch":
            return None
        return self.video_reference[: int(self.video_reference_count)]

    def _remember_videos(self, video: torch.Tensor) -> None:
        if self.triplet.mixing == "batch" and self.training and video.shape[0] > 1:
            k = min(REFERENCE_VIDEOS, video.shape[0])
            self.video_reference[:k] = video[:k].detach().to(self.video_reference.dtype)
            self.video_reference_count.fill_(k)

    # --- training ---------------------------------------------------------------------------
    def relation_loss(self, head: torch.Tensor, relation: int, tail: torch.Tensor, targets: torch.Tensor,
                      lam: float, known: torch.Tensor | None = None) -> torch.Tensor:
        labels = same_target_labels(targets)
        mask = known & (labels == 0) if known is not None and self.mask_known_edges else None
        mask_t = mask.t() if mask is not None else None  # the inverse direction's rows are the tails
        scale = self.logit_scale
        loss_mm = symmetric_kl(head, tail, labels, scale, mask)
        if self.two_tower or self.triplet_loss == "pairwise":
            forward = self.triplet.score_matrix(head, relation, tail)
            inverse = self.triplet.score_matrix(tail, relation + INVERSE, head)
            return (symmetric_kl_logits(scale * forward, labels, mask)
                    + symmetric_kl_logits(scale * inverse, labels, mask_t)) / 2 + lam * loss_mm
        rel = torch.full((head.shape[0],), relation, dtype=torch.long, device=head.device)
        x_h, x_t = self.triplet(head, rel, tail)
        forward = symmetric_kl(x_h, x_t, labels, scale, mask)
        x_h, x_t = self.triplet(tail, rel + INVERSE, head)
        inverse = symmetric_kl(x_h, x_t, labels, scale, mask_t)
        return (forward + inverse) / 2 + lam * loss_mm

    def movement_loss(self, video: torch.Tensor, movement_text: torch.Tensor, shows: torch.Tensor) -> torch.Tensor:
        """The movement head's multi-label loss over the clips whose video shows a movement: shows (B, M)."""
        rows = shows.sum(dim=1) > 0
        if not bool(rows.any()):
            return video.sum() * 0
        logits = self.logit_scale * F.normalize(video[rows], dim=-1) @ F.normalize(movement_text, dim=-1).t()
        return F.binary_cross_entropy_with_logits(logits + self.movement_bias, shows[rows].to(logits.dtype))

    def pair_loss(self, video: torch.Tensor, classes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of per-pair triple scores over every candidate action (forward and inverse)."""
        scale = self.logit_scale
        forward = self.triplet.score_matrix(video, REL_VA, classes)
        inverse = self.triplet.score_matrix(classes, REL_VA + INVERSE, video).t()
        return (F.cross_entropy(scale * forward, targets) + F.cross_entropy(scale * inverse, targets)) / 2

    def training_loss(self, batch: StepBatch, action_text: torch.Tensor, movement_text: torch.Tensor,
                      lam: float, pair_weight: float, graph: bool = True) -> dict[str, torch.Tensor]:
        """action_text (C, D) and movement_text (M, D): text embeddings of every action/movement.
        graph=False: the CLIP loss alone (CLIP-only models, and a graph warm-up's first epochs)."""
        video = self.encode_video(batch.frames)
        va_tail = action_text[batch.va_tail]
        if not self.use_graph or not graph:  # CLIP alone: the multi-modal contrastive loss of v-a
            loss = symmetric_kl(video, va_tail, same_target_labels(batch.va_tail), self.logit_scale)
            if self.movement_head and batch.shows is not None:
                head = self.movement_head * self.movement_loss(video, movement_text, batch.shows)
                return {"loss": loss + head, "va": loss.detach(), "movement_head": head.detach()}
            return {"loss": loss, "va": loss.detach()}
        self._remember_videos(video)
        parts = {"va": self.relation_loss(video, REL_VA, va_tail, batch.va_tail, lam)}
        if batch.vb_rows.numel() > 1:
            vb_video = video[batch.vb_rows] if batch.vb_frames is None else self.encode_video(batch.vb_frames)
            parts["vb"] = self.relation_loss(vb_video, REL_VB, movement_text[batch.vb_tail],
                                             batch.vb_tail, lam, batch.vb_known)
        if batch.ab_head.numel() > 1:
            parts["ab"] = self.relation_loss(action_text[batch.ab_head], REL_AB, movement_text[batch.ab_tail],
                                             batch.ab_tail, lam, batch.ab_known)
        if pair_weight > 0:
            parts["pair"] = pair_weight * self.pair_loss(video, action_text, batch.va_tail)
        loss = sum(parts.values())
        return {"loss": loss, **{k: v.detach() for k, v in parts.items()}}

    # --- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def embed_clips(self, frames: torch.Tensor, autocast: torch.dtype | None = None) -> torch.Tensor:
        """Video embeddings for scoring (evaluation, `embed`, `classify`): one precision path, the
        encoder under `autocast` (bf16 on a GPU, as in training), fp32 out."""
        with torch.autocast(frames.device.type, dtype=autocast, enabled=autocast is not None):
            return self.encode_video(frames).float()

    @torch.no_grad()
    def relation_keys(self, tails: torch.Tensor, relation: int, weights: tuple[float, float, float]) -> RelationKeys:
        """The tails' side of every score, once (two towers, or no graph); see `RelationKeys`."""
        tails = tails.float()
        text = F.normalize(tails, dim=-1)
        if not self.use_graph:
            return RelationKeys(relation, text, None, None, (1.0, 0.0, 0.0))
        if not self.two_tower:
            raise ValueError("triplet_mixing 'sequence' encodes each (video, tail) pair jointly: no keys")
        forward = F.normalize(self.triplet.tails(tails, relation).float(), dim=-1)
        inverse_heads = self.triplet.heads(tails, relation + INVERSE).float()
        if self.inverse_score == "authors":
            return RelationKeys(relation, text, forward, None, weights, inverse_heads.mean(dim=0))
        return RelationKeys(relation, text, forward, F.normalize(inverse_heads, dim=-1), weights)

    def _query_parts(self, video: torch.Tensor, keys: RelationKeys,
                     batch_context: str) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Unit video, unit x_h of (v, r, .) and raw x_t of (., r^-1, v) of each clip (the last two
        with the graph)."""
        video = video.float()
        if keys.forward is None:
            return F.normalize(video, dim=-1), None, None
        context = self._video_context(batch_context)
        x_h = self.triplet.heads(video, keys.relation, context).float()
        x_t = self.triplet.tails(video, keys.relation + INVERSE, context).float()
        return F.normalize(video, dim=-1), F.normalize(x_h, dim=-1), x_t

    @torch.no_grad()
    def keyed_scores(self, video: torch.Tensor, keys: RelationKeys, batch_context: str = "reference") -> ClassScores:
        """Scores of every (clip, tail) pair from precomputed keys (two towers, or no graph): each
        clip is encoded once per direction, the rest is matrix products."""
        v, x_h, x_t = self._query_parts(video, keys, batch_context)
        s_mm = v @ keys.text.t()
        if x_h is None:
            zeros = torch.zeros_like(s_mm)
            return ClassScores(s_mm, s_mm, zeros, zeros, zeros)
        forward = x_h @ keys.forward.t()
        if keys.inverse is None:  # the authors' constant: class side and video side each averaged
            inverse = F.cosine_similarity(keys.inverse_mean, x_t.mean(dim=0), dim=0).expand_as(forward)
        else:
            inverse = F.normalize(x_t, dim=-1) @ keys.inverse.t()
        w_mm, w_f, w_i = keys.weights
        return ClassScores(w_mm * s_mm + w_f * forward + w_i * inverse, s_mm, (forward + inverse) / 2, forward, inverse)

    @torch.no_grad()
    def relation_query(self, video: torch.Tensor, keys: RelationKeys, batch_context: str = "reference") -> torch.Tensor:
        """(B, k*D): the clips' query vectors; query @ keys.key().t() is the score of every pair
        (less the authors' constant inverse term, which does not depend on the pair)."""
        w_mm, w_f, w_i = keys.weights
        v, x_h, x_t = self._query_parts(video, keys, batch_context)
        parts = [w_mm * v]
        if x_h is not None:
            parts.append(w_f * x_h)
            if keys.inverse is not None:
                parts.append(w_i * F.normalize(x_t, dim=-1))
        return torch.cat(parts, dim=-1)

    @torch.no_grad()
    def class_scores(self, video: torch.Tensor, classes: torch.Tensor, batch_context: str = "reference") -> ClassScores:
        """Scores of every (video, class) pair. Each row depends on its own video only, except with
        mixing "batch" and batch_context="batch" (the authors' test batches) or inverse_score
        "authors" (whose constant is averaged over the videos given)."""
        if self.two_tower or not self.use_graph:
            return self.keyed_scores(video, self.relation_keys(classes, REL_VA, CLASS_WEIGHTS), batch_context)
        s_mm = F.normalize(video.float(), dim=-1) @ F.normalize(classes.float(), dim=-1).t()
        forward = self.triplet.score_matrix(video, REL_VA, classes)
        inverse = self.triplet.score_matrix(classes, REL_VA + INVERSE, video).t()
        s_tri = (forward + inverse) / 2
        return ClassScores(0.5 * s_mm + 0.5 * s_tri, s_mm, s_tri, forward, inverse)

    @torch.no_grad()
    def movement_scores(self, video: torch.Tensor, movements: torch.Tensor) -> torch.Tensor:
        """(B, M) v-b triple scores, 1/2 (forward + inverse), of every (video, body movement) pair:
        how much the clip shows each movement (without the graph: the cosine). Each row depends on
        its own video only."""
        if self.two_tower or not self.use_graph:
            return self.keyed_scores(video, self.relation_keys(movements, REL_VB, MOVEMENT_WEIGHTS)).s_output
        forward = self.triplet.score_matrix(video, REL_VB, movements)
        inverse = self.triplet.score_matrix(movements, REL_VB + INVERSE, video).t()
        return (forward + inverse) / 2


# The weights of S_mm, forward and inverse triple score in the two scores inference uses.
CLASS_WEIGHTS = (0.5, 0.25, 0.25)  # S_output of (video, SHOWS, action)
MOVEMENT_WEIGHTS = (0.0, 0.5, 0.5)  # the v-b score of (video, EXHIBITS, movement)
