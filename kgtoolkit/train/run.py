"""A run directory and the trained model in it, loaded once for evaluation, embeddings and classify.

Layout: config.yaml (resolved), id_maps.json, checkpoints/{last,best}.pt, metrics.jsonl,
test_metrics.json, plots/*.png, run.json (identity and status).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.model.backbone import Backbone, load_backbone
from kgtoolkit.model.kgclip import KGClip
from kgtoolkit.train.checkpoint import load_checkpoint
from kgtoolkit.train.clips import ClipDecoder, ClipDataset, ClipSpec, collate
from kgtoolkit.train.config import TrainConfig, load_config
from kgtoolkit.train.runtime import Runtime
from kgtoolkit.train.text_cache import TextCache

RUNS_DIR = Path("runs")


def build_model(config: TrainConfig, load_pretrained: bool = True) -> tuple[KGClip, Backbone]:
    """The model of a config; `load_pretrained=False` when a checkpoint will overwrite the weights.
    The activation: model.quick_gelu, else what the pretrained weights were trained with when they are
    loaded, else the model config's. A run records the resolved value in its config.yaml (train), so
    a run without it was trained with the model config's activation, and is rebuilt with it."""
    backbone = load_backbone(config.model.name, config.model.pretrained if load_pretrained else None,
                             quick_gelu=config.model.quick_gelu)
    model = KGClip(backbone, frames=config.data.frames, use_graph=config.model.use_graph,
                   temporal=config.model.temporal, triplet_layers=config.model.triplet_layers,
                   triplet_loss=config.model.triplet_loss, triplet_mixing=config.model.triplet_mixing,
                   inverse_score=config.model.inverse_score, mask_known_edges=config.model.mask_known_edges,
                   dropout=config.model.dropout)
    return model, backbone


def tokenize(backbone: Backbone, names: list[str], templates: list[str]) -> torch.Tensor:
    """(N, P, L) tokens: every name in every prompt template."""
    texts = [t.format(n) for n in names for t in templates]
    return backbone.tokenizer(texts).view(len(names), len(templates), -1)


def latest_run(runs_dir: Path = RUNS_DIR) -> Path:
    done = [p.parent for p in runs_dir.glob("*/checkpoints/best.pt")]
    if not done:
        raise ConfigurationError(f"no trained run under {runs_dir}/: train one with `kgtoolkit train`, or pass --run")
    return max(done, key=lambda p: (p / "checkpoints" / "best.pt").stat().st_mtime)


@dataclass
class LoadedRun:
    run_dir: Path
    run_id: str
    config: TrainConfig
    id_maps: dict
    model: KGClip
    backbone: Backbone
    device: torch.device
    _cache: dict = field(default_factory=dict)
    text_cache: TextCache | None = None  # the run directory's text embeddings per name

    @property
    def action_names(self) -> list[str]:
        return self.id_maps["action_names"]

    def text_embeddings(self, names: list[str]) -> torch.Tensor:
        if self.text_cache is None or not names:
            return self.encode_names(names)
        return self.text_cache.embeddings(names, self.encode_names).to(self.device)

    @torch.no_grad()
    def encode_names(self, names: list[str]) -> torch.Tensor:
        tokens = tokenize(self.backbone, names, self.config.model.prompt_templates).to(self.device)
        out = [self.model.encode_text(tokens[i : i + 256]) for i in range(0, len(names), 256)]
        return torch.cat(out).float() if out else torch.zeros(0, self.model.embed_dim, device=self.device)

    def action_text(self) -> torch.Tensor:
        if "actions" not in self._cache:
            self._cache["actions"] = self.text_embeddings(self.action_names)
        return self._cache["actions"]

    def embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) decoded clips -> (B, D) fp32 video embeddings, at the precision evaluation uses."""
        return self.model.embed_clips(frames.to(self.device), Runtime(self.device, precision=self.config.precision).autocast_dtype)

    def decoder(self) -> ClipDecoder:
        return ClipDecoder(self.config.data.frames, self.backbone.image_size, self.backbone.mean, self.backbone.std,
                           self.config.data.augment)  # its test view

    @torch.no_grad()
    def encode_clips(self, specs: list[ClipSpec], batch_size: int | None = None, workers: int = 0,
                     progress=None) -> tuple[torch.Tensor, list[int], list[str]]:
        """Video embeddings decoded as at evaluation (centre of each TSN segment): (K, D) vectors of
        the K clips that decoded, their positions in `specs`, and "PATH: problem" for the others."""
        dataset = ClipDataset(specs, self.decoder(), train=False)
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size or self.config.eval_batch_size,
                                             num_workers=workers, collate_fn=collate)
        out, kept, problems = [], [], []
        for frames, indices, failed in loader:
            problems.extend(failed)
            if frames is not None:
                out.append(self.embed_frames(frames))
                kept.extend(indices.tolist())
            if progress:
                progress(len(indices) + len(failed))
        vectors = torch.cat(out) if out else torch.zeros(0, self.model.embed_dim, device=self.device)
        return vectors, kept, problems


_INITIALISERS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
                 "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_")


@contextmanager
def skip_weight_init():
    """torch.nn.init's initialisers do nothing inside: for a model whose every parameter a strict
    `load_state_dict` overwrites next (a run's checkpoint). Drawing random weights only to throw them
    away was most of ViT-B-32's build time here (1.5 s of CPU with them, 0.5 to 0.7 s without, on a busy
    2-core machine); `classify` on one clip pays it at every start."""
    saved = {name: getattr(torch.nn.init, name) for name in _INITIALISERS}
    for name in saved:
        setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


def load_run(run_dir: Path, device: torch.device | str = "cpu", checkpoint: str = "best") -> LoadedRun:
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigurationError(f"{run_dir}: not a kgtoolkit run directory (no config.yaml)")
    config = load_config(run_dir / "config.yaml")
    if "triplet_mixing" not in (yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}).get(
            "model", {}):
        config.model.triplet_mixing = "sequence"  # runs from before the switch: the joint encoder
    id_maps = json.loads((run_dir / "id_maps.json").read_text(encoding="utf-8"))
    state = load_checkpoint(run_dir / "checkpoints" / f"{checkpoint}.pt", mmap=True)  # the optimizer's moments stay on disk
    with skip_weight_init():
        model, backbone = build_model(config, load_pretrained=False)
    model.load_state_dict(state["model"])  # strict: every parameter and persistent buffer
    device = torch.device(device)
    model.to(device).eval()
    info = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    text_cache = TextCache(run_dir, run_dir / "checkpoints" / f"{checkpoint}.pt", config.model.prompt_templates, device)
    return LoadedRun(run_dir, info.get("run_id", run_dir.name), config, id_maps, model, backbone, device,
                     text_cache=text_cache)
