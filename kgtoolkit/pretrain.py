"""The pretrained stand-in: a CLIP trained contrastively on the source world, offline.

The paper fine-tunes a CLIP pretrained on web data, which already relates "squat" to "leg bend".
No weights can be fetched here, so this module makes a stand-in: the tiny open_clip model trained
from random weights on a large synthetic source corpus (`kgtoolkit synth --world source`: many
source actions composed from the shared movement vocabulary, at nuisance strengths 0, 0.5 and 1:
from random weights the tiny model learns nothing from full-nuisance videos alone), each clip paired with
the texts of the movements it shows, as its annotations name them ("left arm raise", "right hand
hold ball"). Source and target actions are disjoint; both draw on one movement vocabulary. The
text tower keeps its seeded random weights (`text_lr: 0`, as the tiny config fine-tunes): the image
tower learns to put each clip near the fixed embeddings of the movements it shows.

The loss is CLIP's symmetric contrastive loss with several positives: in a batch of B clips and the
M distinct movement texts they show, clip i's target is spread evenly over the texts it shows and
text j's over the clips that show it. `pretrain` saves the open_clip state dict,
which `model.pretrained: FILE` loads, and reports the cost and the held-out retrieval it reached.

`standin_path` names the file by a hash of every input (corpus options, training options, model
config, kgtoolkit's synth and pretrain versions), so a benchmark or the demo builds it once per
machine and reuses it: `pipelines/pretrain_standin.py`.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from kgtoolkit.ingest.splits import stable_key
from kgtoolkit.model.backbone import Backbone, load_backbone
from kgtoolkit.media import ClipDataset, ClipDecoder, collate, spec_of

PRETRAIN_VERSION = 3  # bump when the loss or the loop changes what a given config produces


@dataclass(frozen=True)
class CorpusOptions:
    """`kgtoolkit synth --world source` options of the pretraining corpus."""

    classes: int = 48
    per_class: int = 24  # split evenly over the nuisance levels
    frames: int = 16
    size: int = 64
    nuisances: tuple[float, ...] = (0.0, 0.5, 1.0)  # one sub-corpus per level, as web data mixes easy and hard
    seed: int = 1000  # the target benchmarks use small seeds; the corpus never shares their draws

    def parts(self) -> list[tuple[float, int, int]]:
        """(nuisance, videos per class, seed) of each sub-corpus."""
        return [(n, self.per_class // len(self.nuisances), self.seed + i) for i, n in enumerate(self.nuisances)]


@dataclass(frozen=True)
class PretrainOptions:
    model: str = "kg-tiny"
    frames: int = 4  # per-frame encoder, mean-pooled: fewer frames per clip, more clips per second
    epochs: int = 10
    batch_size: int = 16  # more steps per clip seen: at 64 (16 steps an epoch) the loss stayed near log M for 10 epochs
    lr: float = 1e-3
    # 0: the text tower stays at its (seeded) random weights, as pipelines/tiny.yaml keeps it; trained from
    # scratch beside a random image tower it collapses (the loss stayed at log M, M texts in a batch).
    text_lr: float = 0.0
    weight_decay: float = 0.05
    warmup_epochs: int = 1
    held_out: float = 0.1  # share of the corpus kept out of training to measure retrieval
    seed: int = 0
    workers: int = 2


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


@torch.no_grad()
def retrieval_top1(backbone: Backbone, loader, clips: Sequence[tuple[Path, list[str]]], names: list[str]) -> float:
    """Held-out clips: the share whose most similar movement text is one they show."""
    backbone.model.eval()
    text = F.normalize(backbone.model.encode_text(backbone.tokenizer(names)), dim=-1)
    column = {n: j for j, n in enumerate(names)}
    hits = total = 0
    for frames, indices, _ in loader:
        if frames is None:
            continue
        best = (F.normalize(_encode_video(backbone, frames), dim=-1) @ text.t()).argmax(dim=1)
        for row, i in enumerate(indices.tolist()):
            hits += int(best[row]) in {column[n] for n in clips[i][1]}
            total += 1
    backbone.model.train()
    return hits / max(total, 1)


def pretrain(corpus: Path | Sequence[Path], out: Path, options: PretrainOptions = PretrainOptions(),
             log: Callable[[str], None] = print) -> PretrainResult:
    """Train the stand-in on a source corpus folder and save its open_clip state dict to `out`."""
    torch.manual_seed(options.seed)
    clips = corpus_clips(corpus)
    order = list(range(len(clips)))
    random.Random(stable_key("held-out", options.seed)).shuffle(order)
    held = set(order[: int(len(clips) * options.held_out)])
    train_idx = [i for i in range(len(clips)) if i not in held]
    held_idx = sorted(held)
    names = sorted({n for _, shown in clips for n in shown})
    backbone = load_backbone(options.model, None)
    model = backbone.model
    model.train()
    decoder = ClipDecoder(options.frames, backbone.image_size, backbone.mean, backbone.std, "kgtoolkit")
    dataset = ClipDataset([spec_of(p) for p, _ in clips], decoder, train=True, seed=options.seed)
    eval_set = ClipDataset([spec_of(clips[i][0]) for i in held_idx], decoder, train=False)
    eval_loader = torch.utils.data.DataLoader(eval_set, batch_size=64, num_workers=options.workers, collate_fn=collate)
    held_clips = [clips[i] for i in held_idx]
    groups = []
    for tower, lr in (("visual.", options.lr), ("", options.text_lr)):  # "": the text tower and logit_scale
        named = [(n, p) for n, p in model.named_parameters() if n.startswith(tower) == bool(tower)]
        if tower == "" and lr == 0:
            for n, p in named:
                p.requires_grad_(n == "logit_scale")
            named, lr = [(n, p) for n, p in named if n == "logit_scale"], options.lr
        groups += [{"params": [p for n, p in named if p.ndim >= 2 and n != "logit_scale"],
                    "weight_decay": options.weight_decay, "lr": lr},
                   {"params": [p for n, p in named if p.ndim < 2 or n == "logit_scale"], "weight_decay": 0.0, "lr": lr}]
    optimiser = torch.optim.AdamW([g for g in groups if g["params"]], lr=options.lr)
    steps_per_epoch = max(1, len(train_idx) // options.batch_size)
    total, warmup = steps_per_epoch * options.epochs, steps_per_epoch * options.warmup_epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / max(1, warmup)) * 0.5 * (
        1 + math.cos(math.pi * min(1.0, max(0, s - warmup) / max(1, total - warmup)))))
    result = PretrainResult(out, 0.0, 0)
    began = time.perf_counter()
    for epoch in range(options.epochs):
        shuffled = list(train_idx)
        random.Random(stable_key("order", options.seed, epoch)).shuffle(shuffled)
        batches = [[(epoch, i) for i in shuffled[b * options.batch_size : (b + 1) * options.batch_size]]
                   for b in range(steps_per_epoch)]
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=options.workers,
                                             collate_fn=collate)
        losses = []
        for frames, indices, _ in loader:
            if frames is None:
                continue
            shown = [clips[i][1] for i in indices.tolist()]
            batch_names = sorted({n for s in shown for n in s})
            column = {n: j for j, n in enumerate(batch_names)}
            positives = torch.zeros(len(shown), len(batch_names))
            for row, s in enumerate(shown):
                positives[row, [column[n] for n in s]] = 1.0
            loss = multi_positive_loss(_encode_video(backbone, frames), model.encode_text(backbone.tokenizer(batch_names)),
                                       positives, model.logit_scale)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            losses.append(loss.item())
            result.clips_seen += len(shown)
        row = {"epoch": epoch + 1, "loss": round(sum(losses) / max(1, len(losses)), 4),
               "held_out_top1": round(retrieval_top1(backbone, eval_loader, held_clips, names), 4),
               "seconds": round(time.perf_counter() - began, 1)}
        result.epochs.append(row)
        log(json.dumps(row))
    result.seconds = time.perf_counter() - began
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    torch.save(model.state_dict(), tmp)
    tmp.replace(out)
    return result
