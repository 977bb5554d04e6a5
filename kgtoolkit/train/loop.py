"""`train(config, store, run_dir)`: the KG-CLIP training loop.

Seeded and resumable: an epoch's data order, frame offsets, sampled movements and dropout are
pure functions of (seed, epoch), so `resume` from the last epoch checkpoint ends exactly where an
uninterrupted run would (on the same device and thread count). Model selection is on the
validation split (or, with `optim.select: last`, the last epoch is kept); the test split is
evaluated once, with the selected checkpoint, at the end.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from kgtoolkit.errors import ConfigurationError, DataError
from kgtoolkit.graph import GraphStore
from kgtoolkit.ingest.splits import stable_key
from kgtoolkit.model.kgclip import CLASS_WEIGHTS, REL_VA, KGClip, StepBatch
from kgtoolkit.train.checkpoint import load_checkpoint, save_checkpoint
from kgtoolkit.train.clips import (ClipDataset, ClipDecoder, ClipSpec, EdgeBatches, EpochBatches, collate,
                                   collate_edges)
from kgtoolkit.train.config import TrainConfig, save_config
from kgtoolkit.train.run import build_model, tokenize
from kgtoolkit.train.runtime import Runtime, seed_everything, setup_runtime
from kgtoolkit.train.sampler import GraphTriplets, TripletSampler, VideoItem
from kgtoolkit.train.ranks import same_graph_on_every_rank
from kgtoolkit.train.tensorboard import TensorBoardLog, learned_embeddings


@dataclass
class TrainResult:
    run_dir: Path
    run_id: str
    best_epoch: int
    best_val_top1: float
    test: dict


StepCallback = Callable[[dict], None]


def clip_specs(videos: list[VideoItem]) -> list[ClipSpec]:
    return [ClipSpec(v.path or "", v.frames, v.width, v.height) for v in videos]


def _check_videos(data: GraphTriplets) -> None:
    train = data.split("train")
    if not train:
        raise ConfigurationError("the graph has no training videos (split 'train'): ingest a dataset first")
    # A few files gone since ingest are named and skipped, epoch by epoch (ClipDataset); a graph whose
    # training videos have no file at all (a KG-CLIP release) cannot be trained on.
    if not any(v.path and Path(v.path).is_file() for v in train):
        raise ConfigurationError(
            f"none of the {len(train)} training videos has a readable file (e.g. {train[0].id}: "
            f"{train[0].path or 'no path'}): training needs the pixels of a Kinetics-TPS ingest (a KG-CLIP "
            "release graph has none; see `pipelines/eval_linkpred.py`)"
        )


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


def _group_lr(optimizer: torch.optim.Optimizer, kind: str) -> float | None:
    return next((g["lr"] for g in optimizer.param_groups if g.get("name") == kind), None)


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


@torch.no_grad()
def evaluate(model: KGClip, data: GraphTriplets, videos: list[VideoItem], action_tokens: torch.Tensor,
             decoder: ClipDecoder, runtime: Runtime, batch_size: int, workers: int) -> dict:
    """Top-1/top-5 of S_output (and of S_mm and S_tri alone), per-class accuracy and the confusion matrix."""
    model.eval()
    if not videos:
        return {"videos": 0, "top1": 0.0, "top5": 0.0}
    classes = model.encode_text(action_tokens.to(runtime.device)).float()
    keys = model.relation_keys(classes, REL_VA, CLASS_WEIGHTS) if model.two_tower or not model.use_graph else None
    loader = DataLoader(ClipDataset(clip_specs(videos), decoder, train=False), batch_size=batch_size,
                        num_workers=workers, collate_fn=collate)
    scores: dict[str, list[torch.Tensor]] = {"s_output": [], "s_mm": [], "s_tri": []}
    kept: list[int] = []
    skipped: list[str] = []
    for frames, indices, failed in loader:
        skipped.extend(failed)
        if frames is None:
            continue
        video = model.embed_clips(frames.to(runtime.device), runtime.autocast_dtype)
        result = model.keyed_scores(video, keys) if keys is not None else model.class_scores(video, classes)
        for key in scores:
            scores[key].append(getattr(result, key).cpu())
        kept.extend(indices.tolist())
    model.train()
    if not kept:
        return {"videos": 0, "top1": 0.0, "top5": 0.0, "skipped": skipped}
    truth = torch.tensor([videos[i].action for i in kept])
    n_classes = len(data.actions)
    out: dict = {"videos": len(kept), "skipped": skipped}
    for key, parts in scores.items():
        s = torch.cat(parts)
        k = min(5, n_classes)
        top = s.topk(k, dim=1).indices
        prefix = "" if key == "s_output" else f"{key}_"
        out[f"{prefix}top1"] = float((top[:, 0] == truth).float().mean())
        out[f"{prefix}top5"] = float((top == truth[:, None]).any(dim=1).float().mean())
        if key == "s_output":
            predicted = top[:, 0]
    confusion = np.zeros((n_classes, n_classes), dtype=int)
    for t, p in zip(truth.tolist(), predicted.tolist()):
        confusion[t, p] += 1
    out["per_class"] = {
        data.action_names[c]: {"videos": int(confusion[c].sum()),
                               "top1": float(confusion[c, c] / confusion[c].sum()) if confusion[c].sum() else None}
        for c in range(n_classes)
    }
    out["confusion"] = confusion.tolist()
    return out


def train(
    config: TrainConfig,
    store: GraphStore,
    run_dir: Path,
    *,
    resume: bool = False,
    on_step: StepCallback | None = None,
    on_epoch: StepCallback | None = None,
    stop_after_epoch: int | None = None,
) -> TrainResult:
    runtime = setup_runtime(config.device, config.precision)
    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    state = load_checkpoint(ckpt_dir / "last.pt") if resume else None
    if state is None and (ckpt_dir / "last.pt").exists():
        raise ConfigurationError(f"{run_dir} already holds a run: pass --resume to continue it, or another --out")
    run_id = json.loads((run_dir / "run.json").read_text())["run_id"] if resume else f"{run_dir.name}"

    config = _resolved(config)
    seed_everything(config.seed, "init")
    data = TripletSampler(store, config.data.page_size).load(
        train_fraction=config.data.train_fraction, protocol=config.data.protocol, seed=config.seed)
    _check_videos(data)
    _check_selection(data, config)
    digests = same_graph_on_every_rank(data, runtime)
    model, backbone = build_model(config, load_pretrained=state is None)
    model.to(runtime.device)
    if runtime.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")
        data.save_id_maps(run_dir / "id_maps.json")
        (run_dir / "run.json").write_text(json.dumps({
            "run_id": run_id, "graph": store.uri, "status": "training", "data": data.stats,
            "device": str(runtime.device), "world_size": runtime.world, "graph_digests": digests,
        }, indent=1))

    templates = config.model.prompt_templates
    action_tokens = tokenize(backbone, data.action_names, templates).to(runtime.device)
    movement_tokens = tokenize(backbone, data.movement_names, templates).to(runtime.device)
    decoder = ClipDecoder(config.data.frames, backbone.image_size, backbone.mean, backbone.std, config.data.augment)
    train_videos = data.split("train")
    train_set = ClipDataset(clip_specs(data.videos), decoder, train=True, seed=config.seed)
    val_videos = data.split("val")
    eval_decoder = ClipDecoder(config.data.frames, backbone.image_size, backbone.mean, backbone.std,
                               config.data.augment)  # the test view of the augmentation ("authors": 256 -> 224)
    edges = vb_edges(data) if config.data.vb_sampling == "per_edge" else None

    optimizer = build_optimizer(model, config, runtime)
    steps_per_epoch = len(EpochBatches([v.index for v in train_videos], config.optim.batch_size, config.seed, 0))
    total = steps_per_epoch * config.optim.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _lr_lambda(total, round(config.optim.warmup_epochs * steps_per_epoch)))
    forward = loss_module(model, config, runtime)
    scaler = runtime.grad_scaler()

    start_epoch, history, best = 0, [], {"epoch": -1, "val_top1": -1.0}
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start_epoch, history, best = state["epoch"] + 1, json.loads(state["history"]), json.loads(state["best"])
    board = TensorBoardLog(run_dir, runtime.is_main, purge_step=start_epoch * steps_per_epoch)

    for epoch in range(start_epoch, config.optim.epochs):
        seed_everything(config.seed, "epoch", epoch, runtime.rank)
        model.train()
        if edges is None:
            batches = EpochBatches([v.index for v in train_videos], config.optim.batch_size, config.seed, epoch,
                                   runtime.rank, runtime.world)
        else:
            batches = EdgeBatches([v.index for v in train_videos], config.optim.batch_size, config.seed, epoch,
                                  edges, runtime.rank, runtime.world)
        loader = DataLoader(train_set, batch_sampler=batches, num_workers=config.data.workers, collate_fn=collate_edges,
                            pin_memory=runtime.device.type == "cuda",
                            persistent_workers=False, prefetch_factor=4 if config.data.workers else None)
        sums: dict[str, float] = {}
        clips, started, wait, steps_done, skipped = 0, time.perf_counter(), 0.0, 0, []
        fetch = time.perf_counter()
        for step, (frames, indices, clip_edges, failed) in enumerate(loader):
            wait += time.perf_counter() - fetch
            skipped.extend(failed)  # the batch goes on without clips that cannot be decoded; named per epoch
            if frames is None:
                if runtime.distributed:  # the other ranks would wait for this one's gradients forever
                    raise DataError(f"rank {runtime.rank}: no clip of a batch could be decoded: " + "; ".join(failed))
                fetch = time.perf_counter()
                continue
            batch = batch_to(step_batch(frames, indices, data, config, epoch, step, runtime.rank, clip_edges, edges),
                        runtime.device)
            losses = optimizer_step(forward, model, optimizer, batch, action_tokens, movement_tokens, config, runtime,
                                    graph=epoch >= config.optim.graph_warmup_epochs, scaler=scaler)
            scheduler.step()
            clips += len(indices)
            steps_done += 1
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            board.step(epoch * steps_per_epoch + step, losses, optimizer,
                       clips * runtime.world / (time.perf_counter() - started))
            if on_step and runtime.is_main:
                on_step({"epoch": epoch, "step": step, "steps": len(batches), "loss": float(losses["loss"].detach()),
                         "clips_per_s": clips * runtime.world / (time.perf_counter() - started)})
            fetch = time.perf_counter()
        if steps_done == 0 and skipped:
            problems = sorted(set(skipped))
            raise DataError(f"epoch {epoch}: none of the {len(problems)} training clips could be decoded, e.g. "
                            + "; ".join(problems[:3]))
        seconds = time.perf_counter() - started
        record = {"epoch": epoch, **{f"train_{k}": v / max(1, steps_done) for k, v in sums.items()},
                  "lr_backbone": _group_lr(optimizer, "backbone"), "lr_graph": _group_lr(optimizer, "graph"),
                  "seconds": round(seconds, 2), "clips_per_s": round(clips * runtime.world / seconds, 2),
                  "loader_wait_s": round(wait, 2)}
        if skipped:
            record["skipped_clips"] = sorted(set(skipped))
        if runtime.is_main:
            val: dict = {"top1": None}
            if val_videos:
                val = evaluate(model, data, val_videos, action_tokens, eval_decoder, runtime, config.eval_batch_size,
                               config.data.workers)
                record.update({"val_top1": val["top1"], "val_top5": val["top5"],
                               "val_s_mm_top1": val.get("s_mm_top1"), "val_s_tri_top1": val.get("s_tri_top1")})
            else:
                record["val_top1"] = None  # no validation split (optim.select: last)
            if val.get("skipped"):
                record["skipped_clips"] = sorted(set(record.get("skipped_clips", [])) | set(val["skipped"]))
            history.append(record)
            if config.optim.select == "last":
                improved = True
            else:
                improved = val["top1"] > best["val_top1"] or best["epoch"] < 0
            if improved:
                best = {"epoch": epoch, "val_top1": val["top1"]}
            checkpoint = {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict(), "history": json.dumps(history),
                          "best": json.dumps(best), "run_id": run_id}
            if scaler.is_enabled():
                checkpoint["scaler"] = scaler.state_dict()
            save_checkpoint(checkpoint, ckpt_dir / "last.pt")
            if improved:
                save_checkpoint(checkpoint, ckpt_dir / "best.pt")
            _write_metrics(run_dir, history)
            board.epoch((epoch + 1) * steps_per_epoch, record, val, data.action_names)
            if on_epoch:
                on_epoch(record)
        if runtime.distributed:
            torch.distributed.barrier()
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            break

    test: dict = {}
    if runtime.is_main and (stop_after_epoch is None or epoch + 1 >= config.optim.epochs):
        model.load_state_dict(load_checkpoint(ckpt_dir / "best.pt")["model"])
        test = evaluate(model, data, data.split("test"), action_tokens, eval_decoder, runtime,
                        config.eval_batch_size, config.data.workers)
        test.update({"best_epoch": best["epoch"], "best_val_top1": best["val_top1"], "run_id": run_id,
                     "classes": len(data.actions), "chance_top1": 1 / max(1, len(data.actions))})
        (run_dir / "test_metrics.json").write_text(json.dumps(test, indent=1))
        from kgtoolkit.train.plots import write_plots

        write_plots(run_dir, history, test, data.action_names)
        board.test(total, test, data.action_names)
        board.embeddings(total, learned_embeddings(model, data, action_tokens, movement_tokens, eval_decoder, runtime,
                                                   config.eval_batch_size, config.data.workers))
        info = json.loads((run_dir / "run.json").read_text())
        info["status"] = "done"
        (run_dir / "run.json").write_text(json.dumps(info, indent=1))
    board.close()
    if runtime.distributed:
        torch.distributed.barrier()
    return TrainResult(run_dir, run_id, best["epoch"], best["val_top1"], test)


def _resolved(config: TrainConfig) -> TrainConfig:
    """The config as the run directory records it: the activation its weights imply written down
    (model.quick_gelu), so that loading the run rebuilds the same model without those weights."""
    if config.model.quick_gelu is not None:
        return config
    from kgtoolkit.model.backbone import weights_quick_gelu

    resolved = weights_quick_gelu(config.model.name, config.model.pretrained)
    if resolved is None:
        return config
    config = config.model_copy(deep=True)
    config.model.quick_gelu = resolved
    return config


def _check_selection(data: GraphTriplets, config: TrainConfig) -> None:
    """Selecting on validation needs validation videos: without them every epoch would tie and the
    first one would be tested, silently."""
    if config.optim.select == "validation" and not data.split("val"):
        where = f"release protocol {config.data.protocol} (split{config.data.protocol})" if config.data.protocol \
            else "split 'val'"
        raise ConfigurationError(
            f"the graph has no validation videos ({where}), so no epoch can be selected on validation: "
            "re-ingest with --val-fraction above 0 (e.g. 0.1), or set optim.select=last to test the last epoch")


def _write_metrics(run_dir: Path, history: list[dict]) -> None:
    tmp = run_dir / ".metrics.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in history))
    tmp.replace(run_dir / "metrics.jsonl")
