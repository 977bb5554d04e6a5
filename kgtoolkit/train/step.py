"""`TrainStep`: one KG-CLIP training step as `kgtoolkit train` runs it (the loss under autocast,
backward, gradient clipping, AdamW, the learning-rate schedule), and the pieces it is made of: the
optimizer's parameter groups, the loss module (DDP, torch.compile), the step's triplets. `train()`
runs it epoch after epoch; `pipelines/bench_train.py` and `pipelines/gpu_check.py` time it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import fields

import torch

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.ingest.splits import stable_key
from kgtoolkit.model.kgclip import KGClip, StepBatch
from kgtoolkit.train.config import TrainConfig
from kgtoolkit.train.runtime import Runtime
from kgtoolkit.train.sampler import GraphTriplets


def _lr_lambda(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


# Text tower parameters of open_clip's CLIP (and `text.` of its CustomTextCLIP).
_TEXT_PREFIXES = ("clip.transformer.", "clip.token_embedding.", "clip.positional_embedding", "clip.ln_final.",
                  "clip.text_projection", "clip.text.")


def _no_decay(name: str, param: torch.nn.Parameter, decay_all: bool = False) -> bool:
    """open_clip's rule: no weight decay on gains, biases, norms, embeddings' scale and logit_scale;
    `decay_all` (the authors' single AdamW group): decay on every parameter."""
    if decay_all:
        return False
    return param.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name


def build_optimizer(model: KGClip, config: TrainConfig, runtime: Runtime) -> torch.optim.Optimizer:
    """AdamW with the backbone's image tower and logit scale at lr_backbone, its text tower at
    lr_text (0 freezes it), the graph module (Triplet Encoder, temporal pooling) at lr_graph. The
    group order is fixed (backbone, graph, text; each with and without decay) for checkpoints."""
    o = config.optim
    lr_text = o.lr_backbone if o.lr_text is None else o.lr_text
    groups: dict[tuple[str, bool], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        kind = "text" if name.startswith(_TEXT_PREFIXES) else "backbone" if name.startswith("clip.") else "graph"
        if kind == "text" and lr_text == 0:
            param.requires_grad_(False)
            continue
        groups.setdefault((kind, _no_decay(name, param, o.decay_all)), []).append(param)
    lrs = {"backbone": o.lr_backbone, "graph": o.lr_graph, "text": lr_text}
    return torch.optim.AdamW(
        [{"params": groups[key], "lr": lrs[key[0]], "weight_decay": 0.0 if key[1] else o.weight_decay, "name": key[0]}
         for kind in ("backbone", "graph", "text") for key in ((kind, False), (kind, True)) if groups.get(key)],
        betas=o.betas, eps=o.eps, fused=runtime.device.type == "cuda",
    )


def _compile_backend(name: str) -> str:
    import torch._dynamo

    known = torch._dynamo.list_backends(exclude_tags=())
    if name not in known:
        raise ConfigurationError(f"compile: {name!r} is not a torch.compile backend here (use inductor; "
                                 f"known: {', '.join(sorted(known))})")
    return name


def step_batch(frames: torch.Tensor, indices: torch.Tensor, data: GraphTriplets, config: TrainConfig,
                epoch: int, step: int, rank: int, clip_edges: torch.Tensor | None = None,
                edge_list: list[tuple[int, int]] | None = None) -> StepBatch:
    """The step's triplets. `clip_edges` (from `collate_edges`): per clip, the v-b edge (an index into
    `edge_list`, see `vb_edges`) it was drawn for, -1 for a v-a clip. data.vb_sampling=per_video: a
    movement of each v-a clip, from the clip's own EXHIBITS edges; per_edge: the drawn edges, each
    with its own clip."""
    rng = random.Random(stable_key("step", config.seed, epoch, step, rank))
    vb_frames = None
    if clip_edges is not None and bool((clip_edges >= 0).any()):
        is_edge = clip_edges >= 0
        vb_frames, frames, indices = frames[is_edge], frames[~is_edge], indices[~is_edge]
        vb_tail = [edge_list[e][1] for e in clip_edges[is_edge].tolist()]
        vb_rows = list(range(len(vb_tail)))
        vb_heads = [data.videos[edge_list[e][0]] for e in clip_edges[is_edge].tolist()]
    videos = [data.videos[i] for i in indices.tolist()]
    if vb_frames is None:
        vb_rows = [k for k, v in enumerate(videos) if v.movements] if config.data.vb_sampling == "per_video" else []
        vb_tail = [rng.choice(videos[k].movements) for k in vb_rows]
        vb_heads = [videos[k] for k in vb_rows]
    ab = [rng.choice(data.involves) for _ in range(config.optim.ab_batch_size)] if data.involves else []
    known = config.model.mask_known_edges
    shows = None
    if config.model.movement_head and not config.model.use_graph:
        shows = torch.zeros(len(videos), len(data.movements))
        for row, video in enumerate(videos):
            shows[row, list(video.movements)] = 1.0
    return StepBatch(
        frames=frames,
        va_tail=torch.tensor([v.action for v in videos]),
        vb_rows=torch.tensor(vb_rows, dtype=torch.long),
        vb_tail=torch.tensor(vb_tail, dtype=torch.long),
        ab_head=torch.tensor([a for a, _ in ab], dtype=torch.long),
        ab_tail=torch.tensor([m for _, m in ab], dtype=torch.long),
        vb_known=known_edges([set(v.movements) for v in vb_heads], vb_tail) if known else None,
        ab_known=known_edges([data.involves_of(a) for a, _ in ab], [m for _, m in ab]) if known else None,
        vb_frames=vb_frames,
        shows=shows,
    )


def known_edges(tails_of_head: list[set[int]], tails: list[int]) -> torch.Tensor:
    """(K, K) True where row i's head has a known edge to row j's tail."""
    return torch.tensor([[t in known for t in tails] for known in tails_of_head], dtype=torch.bool).view(
        len(tails_of_head), len(tails))


def vb_edges(data: GraphTriplets) -> list[tuple[int, int]]:
    """Every training v-b edge as (video index, movement index): what per-edge sampling draws from."""
    return [(v.index, m) for v in data.split("train") for m in v.movements]


def batch_to(batch: StepBatch, device: torch.device) -> StepBatch:
    return StepBatch(**{f.name: None if getattr(batch, f.name) is None
                        else getattr(batch, f.name).to(device, non_blocking=True) for f in fields(batch)})


class _Forward(torch.nn.Module):
    """The loss as a module's forward, so DistributedDataParallel can wrap it."""

    def __init__(self, model: KGClip):
        super().__init__()
        self.model = model

    def forward(self, batch: StepBatch, action_tokens: torch.Tensor, movement_tokens: torch.Tensor,
                lam: float, pair_weight: float, graph: bool = True) -> dict[str, torch.Tensor]:
        model = self.model
        action_text = model.encode_text(action_tokens)
        needed = torch.unique(torch.cat([batch.vb_tail, batch.ab_tail]))
        if batch.shows is not None:  # the movement head scores every movement
            needed = torch.arange(movement_tokens.shape[0], device=needed.device)
        movement_text = torch.zeros(movement_tokens.shape[0], model.embed_dim, device=action_text.device,
                                    dtype=action_text.dtype)
        if needed.numel():
            movement_text = movement_text.index_copy(0, needed, model.encode_text(movement_tokens[needed]))
        return model.training_loss(batch, action_text, movement_text, lam, pair_weight, graph=graph)


def loss_module(model: KGClip, config: TrainConfig, runtime: Runtime) -> torch.nn.Module:
    """The loss as training runs it: under DistributedDataParallel with torchrun, through
    torch.compile when `compile` names a backend."""
    forward: torch.nn.Module = _Forward(model)
    if runtime.distributed:
        forward = torch.nn.parallel.DistributedDataParallel(
            forward, find_unused_parameters=(not config.model.use_graph or config.model.temporal != "mean"
                                             or config.optim.graph_warmup_epochs > 0))
    if config.compile:
        forward = torch.compile(forward, backend=_compile_backend(config.compile))
    return forward


_NO_SCALING = torch.amp.GradScaler("cpu", enabled=False)


def optimizer_step(forward: torch.nn.Module, model: KGClip, optimizer: torch.optim.Optimizer, batch: StepBatch,
                   action_tokens: torch.Tensor, movement_tokens: torch.Tensor, config: TrainConfig,
                   runtime: Runtime, graph: bool = True,
                   scaler: torch.amp.GradScaler | None = None) -> dict[str, torch.Tensor]:
    """One training step: the loss under autocast, backward (loss-scaled by `scaler` for fp16),
    gradient clipping (unless optim.grad_clip is null), AdamW."""
    with torch.autocast(runtime.device.type, dtype=runtime.autocast_dtype, enabled=runtime.autocast_dtype is not None):
        losses = forward(batch, action_tokens, movement_tokens, config.optim.lam, config.optim.pair_weight, graph)
    optimizer.zero_grad(set_to_none=True)
    scaler = scaler or _NO_SCALING  # a disabled scaler: backward and step as they are
    scaler.scale(losses["loss"]).backward()
    scaler.unscale_(optimizer)
    if config.optim.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return losses


class TrainStep:
    """One training step of KG-CLIP, with the state it carries from step to step: the optimizer
    (`build_optimizer`), the loss module (`loss_module`: DDP under torchrun, torch.compile when
    `compile` names a backend), the fp16 loss scaler, and, given `steps_per_epoch`, the schedule
    (linear warm-up over optim.warmup_epochs, then cosine to 0 at optim.epochs). The prompt tokens
    of every action and movement are encoded anew at each step (the text tower may train)."""

    def __init__(self, model: KGClip, config: TrainConfig, runtime: Runtime, action_tokens: torch.Tensor,
                 movement_tokens: torch.Tensor, *, steps_per_epoch: int | None = None):
        self.model, self.config, self.runtime = model, config, runtime
        self.action_tokens, self.movement_tokens = action_tokens, movement_tokens
        self.optimizer = build_optimizer(model, config, runtime)
        self.scheduler = None
        if steps_per_epoch is not None:
            total = steps_per_epoch * config.optim.epochs
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer, _lr_lambda(total, round(config.optim.warmup_epochs * steps_per_epoch)))
        self.forward = loss_module(model, config, runtime)
        self.scaler = runtime.grad_scaler()

    def batch(self, frames: torch.Tensor, indices: torch.Tensor, data: GraphTriplets, epoch: int, step: int,
              clip_edges: torch.Tensor | None = None, edge_list: list[tuple[int, int]] | None = None) -> StepBatch:
        """The step's triplets (`step_batch`) on the step's device."""
        return batch_to(step_batch(frames, indices, data, self.config, epoch, step, self.runtime.rank, clip_edges,
                                   edge_list), self.runtime.device)

    def uses_graph(self, epoch: int) -> bool:
        """Whether the graph's losses count in this epoch (not during optim.graph_warmup_epochs)."""
        return epoch >= self.config.optim.graph_warmup_epochs

    def __call__(self, batch: StepBatch, graph: bool = True) -> dict[str, torch.Tensor]:
        """One step on `batch`; the losses (total `loss` and its parts)."""
        losses = optimizer_step(self.forward, self.model, self.optimizer, batch, self.action_tokens,
                                self.movement_tokens, self.config, self.runtime, graph=graph, scaler=self.scaler)
        if self.scheduler is not None:
            self.scheduler.step()
        return losses

    def lr(self, kind: str) -> float | None:
        """The current learning rate of a parameter group: backbone, graph or text."""
        return next((g["lr"] for g in self.optimizer.param_groups if g.get("name") == kind), None)

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the step: optimizer, schedule, and the loss scale under fp16."""
        state = {"optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
