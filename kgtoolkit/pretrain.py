"""The pretrained stand-in: a CLIP trained contrastively on the source world, offline.

The paper fine-tunes a CLIP pretrained on web data, which already relates "squat" to "leg bend".
No weights can be fetched here, so this module makes a stand-in: a tiny open_clip model trained
from random weights on a large synthetic source corpus (`kgtoolkit synth --world source`: many
source actions composed from the shared movement vocabulary, at nuisance strengths 0, 0.5 and 1,
as web data mixes easy and hard), each clip paired with the texts of the movements it shows, as its
annotations name them ("left arm raise", "right hand hold ball"). Source and target actions are
disjoint; both draw on one movement vocabulary. The text tower keeps its seeded random weights
(`text_lr: 0`, as the tiny config fine-tunes): the image tower learns to put each clip near the fixed
embeddings of the movements it shows.

The model is `kg-tiny-rn`, a ResNet image tower (open_clip's ModifiedResNet, the design of RN50, at
toy size): the kg-tiny ViT, trained the same way on the same corpus, reached 16.5% held-out
retrieval in 358 s where the ResNet reached 58.0% in 240 s (BENCHMARKS.md, "A benchmark world").

The loss is CLIP's symmetric contrastive loss with several positives: in a batch of B clips and the
M distinct movement texts they show, clip i's target is spread evenly over the texts it shows and
text j's over the clips that show it. A movement head (a linear layer on the clip embedding, binary
cross-entropy over every movement of the corpus, `movement_weight`) is trained beside it and not
saved. The corpus is decoded once into memory. `pretrain` saves the open_clip state dict, which
`model.pretrained: FILE` loads, and reports the cost and the held-out retrieval it reached.

`hashed_name` names the file by a hash of every input (corpus options, training options, model
config, kgtoolkit's synth and pretrain versions), so a benchmark or the demo builds it once per
machine and reuses it: `pipelines/pretrain_standin.py`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from kgtoolkit.ingest.splits import stable_key
from kgtoolkit.model.backbone import Backbone, load_backbone
from kgtoolkit.media import ClipDecoder, spec_of, tsn_indices
from kgtoolkit.train.checkpoint import load_checkpoint, save_checkpoint

PRETRAIN_VERSION = 4  # bump when the loss or the loop changes what a given config produces


@dataclass(frozen=True)
class CorpusOptions:
    """`kgtoolkit synth --world source` options of the pretraining corpus."""

    classes: int = 48
    per_class: int = 96  # split evenly over the nuisance levels
    frames: int = 16
    size: int = 64
    nuisances: tuple[float, ...] = (0.0, 0.5, 1.0)  # one sub-corpus per level, as web data mixes easy and hard
    seed: int = 1000  # the target benchmarks use small seeds; the corpus never shares their draws

    def parts(self) -> list[tuple[float, int, int]]:
        """(nuisance, videos per class, seed) of each sub-corpus."""
        return [(n, self.per_class // len(self.nuisances), self.seed + i) for i, n in enumerate(self.nuisances)]


@dataclass(frozen=True)
class PretrainOptions:
    # A ResNet image tower (open_clip's ModifiedResNet, RN50's design at toy size): it learns the corpus
    # several times faster than the kg-tiny ViT (BENCHMARKS.md, "A benchmark world").
    model: str = "kg-tiny-rn"
    frames: int = 4  # per-frame encoder, mean-pooled: fewer frames per clip, more clips per second
    epochs: int = 12
    batch_size: int = 32
    lr: float = 1e-3
    # 0: the text tower stays at its (seeded) random weights, as pipelines/tiny.yaml keeps it; trained from
    # scratch beside a random image tower it collapses (the loss stayed at log M, M texts in a batch).
    text_lr: float = 0.0
    # Weight of the movement head: a linear layer on the clip embedding predicting which movements
    # the clip shows (binary cross-entropy), trained beside the contrastive loss and not saved.
    movement_weight: float = 1.0
    weight_decay: float = 0.05
    warmup_epochs: int = 1
    held_out: float = 0.1  # share of the corpus kept out of training to measure retrieval
    seed: int = 0


@dataclass
class PretrainResult:
    path: Path
    seconds: float
    clips_seen: int
    epochs: list[dict] = field(default_factory=list)  # per epoch: loss, held-out retrieval


def corpus_clips(folders: Path | Sequence[Path]) -> list[tuple[Path, list[str]]]:
    """(video, names of the movements it shows) of every video of synth folders, from their truth files."""
    if isinstance(folders, (str, Path)):
        folders = [folders]
    return [clip for folder in folders for clip in _folder_clips(Path(folder))]


def _folder_clips(folder: Path) -> list[tuple[Path, list[str]]]:
    truth_path = Path(folder) / "list" / "synth_truth.json"
    if not truth_path.is_file():
        raise FileNotFoundError(f"{folder}: no list/synth_truth.json; make the corpus with `kgtoolkit synth --world source`")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    clips = []
    for split, videos in truth["videos"].items():
        for key, video in sorted(videos.items()):
            names = sorted({m["name"] for m in video["movements"]})
            matches = sorted((Path(folder) / f"{split}_videos").glob(f"{key}.*"))
            if not matches:
                raise FileNotFoundError(f"{folder}: the truth file names {split}/{key}, which has no video file")
            if names:
                clips.append((matches[0], names))
    return clips


def hashed_name(corpus: CorpusOptions, options: PretrainOptions, model_config: dict) -> str:
    from kgtoolkit import synth

    inputs = {"corpus": asdict(corpus), "pretrain": asdict(options), "model_config": model_config,
              "pretrain_version": PRETRAIN_VERSION, "synth_source": _synth_fingerprint(synth)}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    return f"standin-{options.model}-{digest}.pt"


def _synth_fingerprint(module) -> str:
    """A hash of the generator's source files: a change to the pixels makes a new stand-in."""
    root = Path(module.__file__)
    files = sorted(root.parent.glob("*.py")) if root.name == "__init__.py" else [root]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]


def multi_positive_loss(video: torch.Tensor, text: torch.Tensor, positives: torch.Tensor,
                        logit_scale: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric loss with several positives. video (B, D), text (M, D), positives (B, M) 0/1
    with every row and column holding at least one 1."""
    logits = logit_scale.exp() * F.normalize(video, dim=-1) @ F.normalize(text, dim=-1).t()
    to_text = positives / positives.sum(dim=1, keepdim=True)
    to_video = (positives / positives.sum(dim=0, keepdim=True)).t()
    return 0.5 * (-(to_text * logits.log_softmax(dim=1)).sum(1).mean()
                  - (to_video * logits.t().log_softmax(dim=1)).sum(1).mean())


def _encode_video(backbone: Backbone, frames: torch.Tensor) -> torch.Tensor:
    b, t = frames.shape[:2]
    return backbone.model.encode_image(frames.flatten(0, 1)).view(b, t, -1).mean(dim=1)


def decode_corpus(clips: Sequence[tuple[Path, list[str]]], decoder: ClipDecoder,
                  log: Callable[[str], None] = print) -> list[np.ndarray]:
    """Every frame of every clip as `decoder` reads it (uint8 (T, H, W, 3), short side its size):
    decoded once, so that an epoch costs the model's time only (a 4,608-clip corpus at 64 px holds
    about 0.9 GB); `_batch` crops and normalises."""
    frames = []
    for n, (path, _) in enumerate(clips):
        frames.append(decoder.read(spec_of(path)))
        if (n + 1) % 1000 == 0:
            log(f"decoded {n + 1}/{len(clips)} clips")
    return frames


def _batch(decoder: ClipDecoder, frames: Sequence[np.ndarray], indices: Sequence[int], train: bool,
           seed: int, epoch: int) -> torch.Tensor:
    """(B, T, 3, S, S) normalised clips: TSN frame offsets drawn per (seed, epoch, clip) when training."""
    clips = []
    for i in indices:
        rng = random.Random(stable_key("clip", seed, epoch, i)) if train else None
        clips.append(decoder.view(frames[i][tsn_indices(len(frames[i]), decoder.frames, train, rng)]))
    return torch.stack(clips)


@torch.no_grad()
def retrieval_top1(backbone: Backbone, decoder: ClipDecoder, frames: Sequence[np.ndarray],
                   clips: Sequence[tuple[Path, list[str]]], indices: Sequence[int], names: list[str]) -> float:
    """Held-out clips: the share whose most similar movement text is one they show."""
    backbone.model.eval()
    text = F.normalize(backbone.model.encode_text(backbone.tokenizer(names)), dim=-1)
    column = {n: j for j, n in enumerate(names)}
    hits = 0
    for start in range(0, len(indices), 64):
        chunk = list(indices[start : start + 64])
        best = (F.normalize(_encode_video(backbone, _batch(decoder, frames, chunk, False, 0, 0)), dim=-1)
                @ text.t()).argmax(dim=1)
        hits += sum(int(best[row]) in {column[n] for n in clips[i][1]} for row, i in enumerate(chunk))
    backbone.model.train()
    return hits / max(len(indices), 1)


def _optimiser(model: torch.nn.Module, head: torch.nn.Module, options: PretrainOptions) -> torch.optim.Optimizer:
    """AdamW: the image tower and the movement head at `lr`; the text tower at `text_lr` (frozen at 0);
    logit_scale at `lr`; no weight decay on gains, biases and logit_scale."""
    groups = []
    for named, lr in (([(n, p) for n, p in model.named_parameters() if n.startswith("visual.")]
                       + list(head.named_parameters()), options.lr),
                      ([(n, p) for n, p in model.named_parameters() if not n.startswith("visual.")], options.text_lr)):
        if lr == 0:
            for n, p in named:
                p.requires_grad_(n == "logit_scale")
            named, lr = [(n, p) for n, p in named if n == "logit_scale"], options.lr
        groups += [{"params": [p for n, p in named if p.ndim >= 2 and n != "logit_scale"],
                    "weight_decay": options.weight_decay, "lr": lr},
                   {"params": [p for n, p in named if p.ndim < 2 or n == "logit_scale"], "weight_decay": 0.0, "lr": lr}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=options.lr)


def pretrain(corpus: Path | Sequence[Path], out: Path, options: PretrainOptions = PretrainOptions(),
             log: Callable[[str], None] = print) -> PretrainResult:
    """Train the stand-in on source corpus folders and save its open_clip state dict to `out`. Every
    epoch leaves a resume checkpoint beside it (`out` + ".resume"): a build that was stopped goes on
    from its last finished epoch and ends where an uninterrupted one would (same device and threads)."""
    torch.manual_seed(options.seed)
    clips = corpus_clips(corpus)
    order = list(range(len(clips)))
    random.Random(stable_key("held-out", options.seed)).shuffle(order)
    held = set(order[: int(len(clips) * options.held_out)])
    train_idx = [i for i in range(len(clips)) if i not in held]
    held_idx = sorted(held)
    names = sorted({n for _, shown in clips for n in shown})
    column = {n: j for j, n in enumerate(names)}
    shows = torch.zeros(len(clips), len(names))  # clip -> the movements it shows
    for i, (_, shown) in enumerate(clips):
        shows[i, [column[n] for n in shown]] = 1.0
    backbone = load_backbone(options.model, None)
    model = backbone.model
    model.train()
    head = torch.nn.Linear(backbone.embed_dim, len(names))
    decoder = ClipDecoder(options.frames, backbone.image_size, backbone.mean, backbone.std)
    began = time.perf_counter()
    frames = decode_corpus(clips, decoder, log)
    log(f"decoded {len(clips)} clips in {time.perf_counter() - began:.0f} s")
    optimiser = _optimiser(model, head, options)
    steps_per_epoch = max(1, len(train_idx) // options.batch_size)
    total, warmup = steps_per_epoch * options.epochs, steps_per_epoch * options.warmup_epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / max(1, warmup)) * 0.5 * (
        1 + math.cos(math.pi * min(1.0, max(0, s - warmup) / max(1, total - warmup)))))
    result = PretrainResult(out, 0.0, 0)
    resume, first = Path(f"{out}.resume"), 0
    if resume.is_file():
        state = load_checkpoint(resume)
        for part, saved in zip((model, head, optimiser, schedule), state["parts"]):
            part.load_state_dict(saved)
        first, result.clips_seen, result.epochs = state["epoch"] + 1, state["clips_seen"], json.loads(state["epochs"])
        log(f"resumed after epoch {first} of {options.epochs} ({resume})")
    for epoch in range(first, options.epochs):
        shuffled = list(train_idx)
        random.Random(stable_key("order", options.seed, epoch)).shuffle(shuffled)
        losses = []
        for b in range(steps_per_epoch):
            batch = shuffled[b * options.batch_size : (b + 1) * options.batch_size]
            positives = shows[batch]
            present = positives.sum(dim=0) > 0
            batch_names = [n for n, keep in zip(names, present.tolist()) if keep]
            video = _encode_video(backbone, _batch(decoder, frames, batch, True, options.seed, epoch))
            loss = multi_positive_loss(video, model.encode_text(backbone.tokenizer(batch_names)),
                                       positives[:, present], model.logit_scale)
            if options.movement_weight:
                loss = loss + options.movement_weight * F.binary_cross_entropy_with_logits(head(video), positives)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            losses.append(loss.item())
            result.clips_seen += len(batch)
        row = {"epoch": epoch + 1, "loss": round(sum(losses) / max(1, len(losses)), 4),
               "held_out_top1": round(retrieval_top1(backbone, decoder, frames, clips, held_idx, names), 4),
               "seconds": round(time.perf_counter() - began, 1)}
        result.epochs.append(row)
        save_checkpoint({"parts": [part.state_dict() for part in (model, head, optimiser, schedule)], "epoch": epoch,
                         "clips_seen": result.clips_seen, "epochs": json.dumps(result.epochs)}, resume)
        log(json.dumps(row))
    result.seconds = time.perf_counter() - began
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    torch.save(model.state_dict(), tmp)
    tmp.replace(out)
    resume.unlink(missing_ok=True)
    return result


DEFAULT_CACHE = Path(os.environ.get("KGTOOLKIT_CACHE", Path.home() / ".cache" / "kgtoolkit")) / "standin"


@dataclass
class Standin:
    """A built (or found) stand-in: its checkpoint, and the cost and log when this call built it."""

    path: Path
    cached: bool
    corpus_seconds: float = 0.0
    result: PretrainResult | None = None

    def summary(self) -> str:
        if self.result is None:
            return f"stand-in found in the cache: {self.path.name}"
        return (f"stand-in built in {self.corpus_seconds + self.result.seconds:.0f} s, held-out movement retrieval "
                f"top-1 {100 * self.result.epochs[-1]['held_out_top1']:.1f}%")

    def report(self, corpus: CorpusOptions, options: PretrainOptions) -> dict:
        report = {"checkpoint": str(self.path), "cached": self.cached, "corpus": asdict(corpus), "pretrain": asdict(options)}
        if self.result is not None:
            report.update(corpus_seconds=round(self.corpus_seconds, 1), pretrain_seconds=round(self.result.seconds, 1),
                          clips_seen=self.result.clips_seen, epochs=self.result.epochs)
        return report


def model_config(name: str) -> dict:
    """The model's open_clip config (a package config's JSON), part of the stand-in's cache key."""
    from kgtoolkit.model.backbone import PACKAGE_CONFIGS

    path = Path(PACKAGE_CONFIGS) / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {"open_clip": name}


def standin(cache: Path | None = None, corpus: CorpusOptions | None = None, options: PretrainOptions | None = None,
            force: bool = False, log: Callable[[str], None] = print) -> Standin:
    """The stand-in's checkpoint under `cache` (DEFAULT_CACHE), named by the hash of every input:
    found, or built (the source corpus generated, `kgtoolkit synth --world source`, then `pretrain`).
    None: the default options."""
    from kgtoolkit.synth import generate

    cache = DEFAULT_CACHE if cache is None else cache
    corpus = CorpusOptions() if corpus is None else corpus
    options = PretrainOptions() if options is None else options

    out = Path(cache) / hashed_name(corpus, options, model_config(options.model))
    if out.is_file() and not force:
        return Standin(out, cached=True)
    corpus_key = hashlib.sha256(json.dumps(asdict(corpus), sort_keys=True).encode()).hexdigest()[:12]
    began = time.perf_counter()
    folders = []
    for nuisance, per_class, seed in corpus.parts():
        folder = Path(cache) / f"corpus-{corpus_key}-n{nuisance:g}"
        if not (folder / "list" / "synth_truth.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            summary = generate(folder, classes=corpus.classes, train_per_class=per_class, test_per_class=0,
                               frames=corpus.frames, size=corpus.size, nuisance=nuisance, seed=seed, quirks=0,
                               world="source")
            log(f"corpus: {summary.train_videos} videos in {summary.seconds:.0f} s -> {folder}")
        folders.append(folder)
    corpus_seconds = time.perf_counter() - began
    return Standin(out, False, corpus_seconds, pretrain(folders, out, options, log=log))
