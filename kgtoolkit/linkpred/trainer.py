"""Training `TripletLinkPredictor`: sLCWA softmax cross-entropy over corrupted tails (uniform or
pseudo-typed `NegativeTails`) in both directions, or the authors' in-batch KL loss; per-epoch history
and selection of the epoch of best validation MRR."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.linkpred.data import LinkPredData
from kgtoolkit.linkpred.evaluation import evaluate
from kgtoolkit.linkpred.model import TripletLinkPredictor, neighbour_mean
from kgtoolkit.model.losses import same_target_labels, symmetric_kl


@dataclass
class TripletConfig:
    """Training of `TripletLinkPredictor`. loss: "softmax" = cross-entropy of the true tail against
    `negatives` corrupted tails (PyKEEN's sLCWA + CrossEntropyLoss), "kl" = the authors' in-batch KL
    contrastive loss (kgtoolkit.model.losses.symmetric_kl), "both" = their sum. sampler: "uniform"
    draws corrupted tails from every entity, "typed" from the entities seen in that slot of the
    relation in training (PyKEEN's PseudoTypedNegativeSampler). The defaults are the benchmark's,
    chosen on validation splits (BENCHMARKS.md, "Link prediction")."""

    dim: int = 32
    layers: int = 1  # the authors: 3 layers, dropout 0.1 (with CLIP features, not id embeddings)
    dropout: float = 0.0
    epochs: int = 30
    batch_size: int = 128
    negatives: int = 16
    sampler: str = "uniform"
    lr: float = 1e-2
    lr_schedule: str = "constant"  # "cosine": the learning rate decays from lr to 0 over the epochs (per step)
    weight_decay: float = 0.0
    loss: str = "softmax"
    scale: float = 10.0
    init_std: float = 0.1
    neighbours: bool = False  # an option (ablation): input = id embedding + mean of the training neighbours'
    mixing: str = "none"  # the encoder's token mixing (kgtoolkit.model.triplet); "sequence": the joint encoder
    valid_every: int = 0  # > 0: validation MRR every this many epochs (and the last), in `model.history`
    select: str = "last"  # "valid": keep the parameters of the epoch with the best validation MRR
    measure_fit: bool = False  # with each validation check, the MRR of as many (fixed) training triples
    seed: int = 0


class NegativeTails:
    """Corrupted tails for directed relations (r < R forward, r + R inverse), uniform or pseudo-typed."""

    def __init__(self, train: np.ndarray, num_entities: int, num_relations: int, typed: bool):
        self.num_entities = num_entities
        self.pools = None
        if typed:
            pools = [np.unique(train[train[:, 1] == r, 2]) for r in range(num_relations)]
            pools += [np.unique(train[train[:, 1] == r, 0]) for r in range(num_relations)]
            self.sizes = torch.as_tensor([max(1, len(p)) for p in pools])
            self.offsets = torch.as_tensor(np.cumsum([0] + [len(p) for p in pools])[:-1])
            self.pools = torch.as_tensor(np.concatenate(pools))

    def sample(self, relations: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
        if self.pools is None:
            return torch.randint(self.num_entities, (len(relations), k), generator=gen)
        u = torch.rand(len(relations), k, generator=gen)
        index = (u * self.sizes[relations, None]).long() + self.offsets[relations, None]
        return self.pools[index]


def _softmax_loss(model: TripletLinkPredictor, anchors, relations, targets, negatives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the true tail (column 0) against its negatives; a negative that is the true tail is masked."""
    scores = model.pair_scores(anchors, relations, torch.cat([targets[:, None], negatives], dim=1))
    false_negative = torch.cat([torch.zeros_like(targets[:, None], dtype=torch.bool), negatives == targets[:, None]], 1)
    return F.cross_entropy(scores.masked_fill(false_negative, float("-inf")), torch.zeros_like(targets))


def _kl_loss(model: TripletLinkPredictor, anchors, relations, targets) -> torch.Tensor:
    """The authors' loss: x_h of one true sequence against x_t of the others; same tail = positive."""
    x_h, x_t = model.encode(anchors, relations, targets[:, None])
    return symmetric_kl(x_h[:, 0], x_t[:, 0], same_target_labels(targets), model.scale)


@torch.no_grad()
def training_state(model: TripletLinkPredictor) -> dict[str, float]:
    """What a diverging or overfitting run shows: the logit scale, the mean entity id-embedding
    norm, the norm of every other parameter (the encoder's)."""
    others = [p for name, p in model.named_parameters() if name not in ("entities.weight", "log_scale")]
    return {"scale": float(model.scale), "entity_norm": float(model.entities.weight.norm(dim=1).mean()),
            "encoder_norm": float(torch.sqrt(sum((p.float() ** 2).sum() for p in others)))}


def train_triplet(data: LinkPredData, cfg: TripletConfig, on_epoch: Callable[[int, float], None] | None = None,
                  text: torch.Tensor | None = None) -> tuple[TripletLinkPredictor, float]:
    """Train on `data.train` (every triple forward and inverse each epoch); returns (model, seconds).
    `text`: frozen text embeddings of the entity names (`text_features`), added to the id embeddings."""
    torch.manual_seed(cfg.seed)
    model = TripletLinkPredictor(data.num_entities, data.num_relations, cfg.dim, cfg.layers, cfg.dropout,
                                 cfg.scale, init_std=cfg.init_std, text=text, mixing=cfg.mixing,
                                 adjacency=neighbour_mean(data.train, data.num_entities) if cfg.neighbours else None)
    model.history = []
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.lr_schedule not in ("constant", "cosine"):
        raise ConfigurationError(f"lr_schedule must be 'constant' or 'cosine' (got {cfg.lr_schedule!r})")
    steps = cfg.epochs * math.ceil(len(data.train) / cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps) if cfg.lr_schedule == "cosine" else None
    gen = torch.Generator().manual_seed(cfg.seed)
    sampler = NegativeTails(data.train, data.num_entities, data.num_relations, typed=cfg.sampler == "typed")
    triples = torch.as_tensor(data.train)
    R = data.num_relations
    fit_sample = np.random.default_rng(cfg.seed).permutation(len(triples))[: len(data.valid)]
    if cfg.select not in ("last", "valid"):
        raise ConfigurationError(f"select must be 'last' or 'valid' (got {cfg.select!r})")
    if cfg.select == "valid" and not (cfg.valid_every > 0 and len(data.valid)):
        raise ConfigurationError("select='valid' needs validation triples and valid_every > 0")
    best: tuple[float, int, dict | None] = (-1.0, 0, None)
    started = time.perf_counter()
    model.train()
    for epoch in range(cfg.epochs):
        total = 0.0
        order = torch.randperm(len(triples), generator=gen)
        for start in range(0, len(triples), cfg.batch_size):
            h, r, t = triples[order[start : start + cfg.batch_size]].unbind(1)
            anchors, relations, targets = torch.cat([h, t]), torch.cat([r, r + R]), torch.cat([t, h])
            loss = torch.zeros(())
            if cfg.loss in ("softmax", "both"):
                negatives = sampler.sample(relations, cfg.negatives, gen)
                loss = loss + _softmax_loss(model, anchors, relations, targets, negatives)
            if cfg.loss in ("kl", "both"):
                loss = loss + (_kl_loss(model, h, r, t) + _kl_loss(model, t, r + R, h)) / 2
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += float(loss.detach())
        record = {"epoch": epoch + 1, "loss": total / math.ceil(len(triples) / cfg.batch_size),
                  "lr": optimizer.param_groups[0]["lr"], **training_state(model)}
        if cfg.valid_every and ((epoch + 1) % cfg.valid_every == 0 or epoch + 1 == cfg.epochs) and len(data.valid):
            fn = model.score_fn(data.num_entities)
            record["valid_mrr"] = evaluate(fn, data, "valid", backend="own")["mrr"]
            if cfg.measure_fit:  # how well the model fits what it learns from (overfitting: this rises, valid falls)
                record["train_mrr"] = evaluate(fn, data, "train", backend="own", triples=data.train[fit_sample])["mrr"]
            model.train()
            if record["valid_mrr"] > best[0]:
                best = (record["valid_mrr"], epoch + 1, copy.deepcopy(model.state_dict()))
        model.history.append(record)
        if on_epoch:
            on_epoch(epoch, total)
    model.selected_epoch = cfg.epochs
    if cfg.select == "valid" and best[2] is not None:
        model.load_state_dict(best[2])
        model.selected_epoch = best[1]
    model.eval()
    return model, time.perf_counter() - started
