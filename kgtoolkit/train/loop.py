"""`train(config, store, run_dir)`: the KG-CLIP training loop.

Seeded and resumable: an epoch's data order, frame offsets, sampled movements and dropout are
pure functions of (seed, epoch), so `resume` from the last epoch checkpoint ends exactly where an
uninterrupted run would (on the same device and thread count). Model selection is on the
validation split, among the epochs after the graph warm-up (or, with `optim.select: last`, the last
epoch is kept); the test split is evaluated once, with the selected checkpoint, at the end.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from kgtoolkit.errors import ConfigurationError, DataError
from kgtoolkit.graph import GraphStore
from kgtoolkit.model.kgclip import CLASS_WEIGHTS, KGClip
from kgtoolkit.runs import RunDir, build_model, eval_decoder, iter_encoded, tokenize
from kgtoolkit.schema import REL_VA
from kgtoolkit.train.checkpoint import load_checkpoint, save_checkpoint
from kgtoolkit.media import ClipDataset, ClipDecoder, ClipSpec, collate_edges
from kgtoolkit.train.clips import EdgeBatches, EpochBatches
from kgtoolkit.train.config import TrainConfig, save_config
from kgtoolkit.train.runtime import Runtime, seed_everything, setup_runtime
from kgtoolkit.train.sampler import GraphTriplets, TripletSampler, VideoItem
from kgtoolkit.train.ranks import same_graph_on_every_rank
from kgtoolkit.train.step import TrainStep, vb_edges
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


@torch.no_grad()
def evaluate(model: KGClip, data: GraphTriplets, videos: list[VideoItem], action_tokens: torch.Tensor,
             decoder: ClipDecoder, runtime: Runtime, batch_size: int, workers: int) -> dict:
    """Top-1/top-5 of S_output (and of S_mm and S_tri alone), per-class accuracy and the confusion matrix."""
    model.eval()
    if not videos:
        return {"videos": 0, "top1": 0.0, "top5": 0.0}
    classes = model.encode_text(action_tokens.to(runtime.device)).float()
    keys = model.relation_keys(classes, REL_VA, CLASS_WEIGHTS) if model.two_tower or not model.use_graph else None
    scores: dict[str, list[torch.Tensor]] = {"s_output": [], "s_mm": [], "s_tri": []}
    kept: list[int] = []
    skipped: list[str] = []
    for batch in iter_encoded(model, clip_specs(videos), decoder, runtime, batch_size, workers):
        skipped.extend(batch.problems)
        if batch.vectors is None:
            continue
        result = model.keyed_scores(batch.vectors, keys) if keys is not None else model.class_scores(batch.vectors, classes)
        for key in scores:
            scores[key].append(getattr(result, key).cpu())
        kept.extend(batch.indices)
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


@dataclass
class _Prepared:
    """What the epochs of a run work with, set up once (or restored from its last checkpoint)."""

    config: TrainConfig
    runtime: Runtime
    run: RunDir
    run_id: str
    data: GraphTriplets
    model: KGClip
    step: TrainStep
    train_set: ClipDataset
    decoder: ClipDecoder  # the test view, for validation and test
    edges: list[tuple[int, int]] | None  # per-edge v-b sampling: every training v-b edge
    steps_per_epoch: int
    board: TensorBoardLog  # RUN_DIR/tensorboard (rank 0; a no-op on the others)
    start_epoch: int = 0
    history: list[dict] | None = None
    best: dict | None = None


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
    p = _prepare(config, store, RunDir(run_dir), resume)
    config, runtime, history, best = p.config, p.runtime, p.history, p.best
    epoch = p.start_epoch
    for epoch in range(p.start_epoch, config.optim.epochs):
        record = _train_epoch(p, epoch, on_step)
        if runtime.is_main:
            best = _end_epoch(p, epoch, record, history, best)
            if on_epoch:
                on_epoch(record)
        if runtime.distributed:
            torch.distributed.barrier()
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            break

    test: dict = {}
    if runtime.is_main and (stop_after_epoch is None or epoch + 1 >= config.optim.epochs):
        test = _test(p, history, best)
    p.board.close()
    if runtime.distributed:
        torch.distributed.barrier()
    return TrainResult(p.run.path, p.run_id, best["epoch"], best["val_top1"], test)


def _prepare(config: TrainConfig, store: GraphStore, run: RunDir, resume: bool) -> _Prepared:
    """The run's data, model and step, its directory written (config, id maps, run.json) and, when
    resuming, everything restored from its last checkpoint."""
    runtime = setup_runtime(config.device, config.precision)
    state = load_checkpoint(run.last) if resume else None
    if state is None and run.last.exists():
        raise ConfigurationError(f"{run.path} already holds a run: pass --resume to continue it, or another --out")
    run_id = json.loads(run.info.read_text())["run_id"] if resume else run.name

    config = _resolved(config, runtime)
    seed_everything(config.seed, "init")
    data = TripletSampler(store, config.data.page_size).load(
        train_fraction=config.data.train_fraction, protocol=config.data.protocol, seed=config.seed)
    _check_videos(data)
    _check_selection(data, config)
    digests = same_graph_on_every_rank(data, runtime)
    model, backbone = build_model(config, load_pretrained=state is None)
    model.to(runtime.device)
    if runtime.is_main:
        run.path.mkdir(parents=True, exist_ok=True)
        save_config(config, run.config)
        data.save_id_maps(run.id_maps)
        run.write_info({"run_id": run_id, "graph": store.uri, "status": "training", "data": data.stats,
                        "device": str(runtime.device), "world_size": runtime.world, "graph_digests": digests})

    templates = config.model.prompt_templates
    action_tokens = tokenize(backbone, data.action_names, templates).to(runtime.device)
    movement_tokens = tokenize(backbone, data.movement_names, templates).to(runtime.device)
    decoder = ClipDecoder(config.data.frames, backbone.image_size, backbone.mean, backbone.std, config.data.augment)
    train_set = ClipDataset(clip_specs(data.videos), decoder, train=True, seed=config.seed)
    steps_per_epoch = len(EpochBatches([v.index for v in data.split("train")], config.optim.batch_size,
                                       config.seed, 0))
    step = TrainStep(model, config, runtime, action_tokens, movement_tokens, steps_per_epoch=steps_per_epoch)
    start_epoch = 0 if state is None else state["epoch"] + 1
    # A resumed run purges its events logged after the checkpoint, so the curves show each step once.
    board = TensorBoardLog(run.path, runtime.is_main, purge_step=start_epoch * steps_per_epoch)
    prepared = _Prepared(config, runtime, run, run_id, data, model, step, train_set, eval_decoder(config, backbone),
                         vb_edges(data) if config.data.vb_sampling == "per_edge" else None, steps_per_epoch, board,
                         start_epoch, history=[], best={"epoch": -1, "val_top1": -1.0})
    if state is not None:
        model.load_state_dict(state["model"])
        step.load_state_dict(state)
        prepared.history, prepared.best = json.loads(state["history"]), json.loads(state["best"])
    return prepared


def _train_epoch(p: _Prepared, epoch: int, on_step: StepCallback | None) -> dict:
    """One epoch of training steps; its record for metrics.jsonl (losses, learning rates, speed,
    skipped clips), before validation."""
    config, runtime, data = p.config, p.runtime, p.data
    seed_everything(config.seed, "epoch", epoch, runtime.rank)
    p.model.train()
    train_indices = [v.index for v in data.split("train")]
    if p.edges is None:
        batches = EpochBatches(train_indices, config.optim.batch_size, config.seed, epoch, runtime.rank, runtime.world)
    else:
        batches = EdgeBatches(train_indices, config.optim.batch_size, config.seed, epoch, p.edges, runtime.rank,
                              runtime.world)
    loader = DataLoader(p.train_set, batch_sampler=batches, num_workers=config.data.workers, collate_fn=collate_edges,
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
        losses = p.step(p.step.batch(frames, indices, data, epoch, step, clip_edges, p.edges),
                        graph=p.step.uses_graph(epoch))
        clips += len(indices)
        steps_done += 1
        for key, value in losses.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach())
        p.board.step(epoch * p.steps_per_epoch + step, losses, p.step.optimizer,
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
              "lr_backbone": p.step.lr("backbone"), "lr_graph": p.step.lr("graph"),
              "seconds": round(seconds, 2), "clips_per_s": round(clips * runtime.world / seconds, 2),
              "loader_wait_s": round(wait, 2)}
    if skipped:
        record["skipped_clips"] = sorted(set(skipped))
    return record


def _end_epoch(p: _Prepared, epoch: int, record: dict, history: list[dict], best: dict) -> dict:
    """Validation, model selection, the epoch's checkpoints and metrics.jsonl (main process); the best so far."""
    config = p.config
    val: dict = {"top1": None}
    if p.data.split("val"):
        val = evaluate(p.model, p.data, p.data.split("val"), p.step.action_tokens, p.decoder, p.runtime,
                       config.eval_batch_size, config.data.workers)
        record.update({"val_top1": val["top1"], "val_top5": val["top5"],
                       "val_s_mm_top1": val.get("s_mm_top1"), "val_s_tri_top1": val.get("s_tri_top1")})
    else:
        record["val_top1"] = None  # no validation split (optim.select: last)
    if val.get("skipped"):
        record["skipped_clips"] = sorted(set(record.get("skipped_clips", [])) | set(val["skipped"]))
    history.append(record)
    if config.optim.select == "last":
        improved = True
    elif epoch < _first_selectable(config):
        improved = False  # the graph's losses have not counted yet: not the model being trained
    else:
        improved = val["top1"] > best["val_top1"] or best["epoch"] < 0
    if improved:
        best = {"epoch": epoch, "val_top1": val["top1"]}
    checkpoint = {"epoch": epoch, "model": p.model.state_dict(), **p.step.state_dict(),
                  "history": json.dumps(history), "best": json.dumps(best), "run_id": p.run_id}
    save_checkpoint(checkpoint, p.run.last)
    if improved:
        save_checkpoint(checkpoint, p.run.best)
    p.run.write_metrics(history)
    p.board.epoch((epoch + 1) * p.steps_per_epoch, record, val, p.data.action_names)
    return best


def _first_selectable(config: TrainConfig) -> int:
    """The first epoch validation may select. With the graph, not one of the optim.graph_warmup_epochs
    (CLIP loss alone): a checkpoint from before the graph's losses count has an untrained Triplet
    Encoder, and selecting it on a small validation split would test CLIP-only under KG-CLIP's name
    (issue 16 measured 7 of 16 such runs). A warm-up as long as the run leaves every epoch selectable."""
    warmup = config.optim.graph_warmup_epochs
    return warmup if config.model.use_graph and warmup < config.optim.epochs else 0


def _test(p: _Prepared, history: list[dict], best: dict) -> dict:
    """The test split with the selected checkpoint, once: test_metrics.json, the plots, status done."""
    p.model.load_state_dict(load_checkpoint(p.run.best)["model"])
    data = p.data
    test = evaluate(p.model, data, data.split("test"), p.step.action_tokens, p.decoder, p.runtime,
                    p.config.eval_batch_size, p.config.data.workers)
    test.update({"best_epoch": best["epoch"], "best_val_top1": best["val_top1"], "run_id": p.run_id,
                 "classes": len(data.actions), "chance_top1": 1 / max(1, len(data.actions))})
    p.run.test_metrics.write_text(json.dumps(test, indent=1))
    from kgtoolkit.train.plots import write_plots

    write_plots(p.run.path, history, test, data.action_names)
    total = p.steps_per_epoch * p.config.optim.epochs
    p.board.test(total, test, data.action_names)
    p.board.embeddings(total, learned_embeddings(p.model, data, p.step.action_tokens, p.step.movement_tokens, p.decoder,
                                                 p.runtime, p.config.eval_batch_size, p.config.data.workers))
    info = p.run.read_info()
    info["status"] = "done"
    p.run.write_info(info)
    return test


STANDIN = "standin"  # model.pretrained: the pretrained stand-in (kgtoolkit.pretrain)


def standin_checkpoint(model: str) -> Path:
    """The stand-in's checkpoint, built the first time on this machine (`kgtoolkit pretrain`)."""
    from kgtoolkit import pretrain

    if model != pretrain.PretrainOptions().model:
        raise ConfigurationError(f"model.pretrained: standin is a {pretrain.PretrainOptions().model} checkpoint; "
                                 f"model.name is {model}")
    return pretrain.standin(log=lambda line: print(f"[stand-in] {line}", file=sys.stderr, flush=True)).path


def _resolved(config: TrainConfig, runtime: Runtime | None = None) -> TrainConfig:
    """The config as the run directory records it: `model.pretrained: standin` as the checkpoint's
    path, and the activation its weights imply written down (model.quick_gelu), so that loading the
    run rebuilds the same model without those weights. Under torchrun the main process finds or
    builds the stand-in, the others wait for it and then find it cached."""
    if config.model.pretrained == STANDIN:
        config = config.model_copy(deep=True)
        distributed = runtime is not None and runtime.distributed
        if distributed and not runtime.is_main:
            torch.distributed.barrier()
        config.model.pretrained = str(standin_checkpoint(config.model.name))
        if distributed and runtime.is_main:
            torch.distributed.barrier()
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
