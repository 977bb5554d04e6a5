"""A run directory (`RunDir`: every file of a run, by name) and the trained model in it, loaded
once for evaluation, embeddings and classify (`LoadedRun`), with the one path by which clips
become vectors (`iter_encoded`) at the one precision rule (`Runtime.autocast_dtype` of the run's
`precision` on its device).

Layout: config.yaml (resolved), id_maps.json, checkpoints/{last,best}.pt, metrics.jsonl,
test_metrics.json, plots/*.png, run.json (identity and status), tensorboard/ (event files),
text_embeddings.pt (names' text embeddings per checkpoint, `train/text_cache.py`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.model.backbone import Backbone, load_backbone
from kgtoolkit.model.kgclip import KGClip
from kgtoolkit.train.checkpoint import load_checkpoint, save_checkpoint
from kgtoolkit.media import ClipDataset, ClipDecoder, ClipSpec, collate
from kgtoolkit.train.config import TrainConfig, load_config, save_config
from kgtoolkit.train.runtime import Runtime
from kgtoolkit.train.text_cache import CACHE_FILE, TextCache

RUNS_DIR = Path("runs")


@dataclass(frozen=True)
class RunDir:
    """The files of one run directory. Nothing else names them."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def new(cls, runs_dir: Path = RUNS_DIR) -> "RunDir":
        """A new run under `runs_dir`, named by the local time it starts (YYYYmmdd-HHMMSS)."""
        return cls(Path(runs_dir) / time.strftime("%Y%m%d-%H%M%S"))

    @classmethod
    def latest(cls, runs_dir: Path = RUNS_DIR) -> "RunDir":
        """The finished run (one with a best checkpoint) written last under `runs_dir`."""
        done = [cls(p.parent.parent) for p in Path(runs_dir).glob("*/checkpoints/best.pt")]
        if not done:
            raise ConfigurationError(f"no trained run under {runs_dir}/: train one with `kgtoolkit train`, or pass --run")
        return max(done, key=lambda run: run.best.stat().st_mtime)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def id_maps(self) -> Path:
        return self.path / "id_maps.json"

    @property
    def info(self) -> Path:
        return self.path / "run.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def test_metrics(self) -> Path:
        return self.path / "test_metrics.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def text_embeddings(self) -> Path:
        return self.path / CACHE_FILE

    def checkpoint(self, which: str = "best") -> Path:
        return self.checkpoints / f"{which}.pt"

    @property
    def last(self) -> Path:
        return self.checkpoint("last")

    @property
    def best(self) -> Path:
        return self.checkpoint("best")

    def read_info(self) -> dict:
        return json.loads(self.info.read_text()) if self.info.exists() else {}

    def write_info(self, info: dict) -> None:
        self.info.write_text(json.dumps(info, indent=1))

    def run_id(self) -> str:
        return self.read_info().get("run_id", self.name)

    def write_metrics(self, history: list[dict]) -> None:
        """metrics.jsonl, replaced whole (a temp file renamed over it)."""
        tmp = self.path / ".metrics.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r) + "\n" for r in history))
        tmp.replace(self.metrics)

    def write_untrained(self, config: TrainConfig, id_maps: dict, *, status: str = "untrained",
                        seed: int | None = None) -> "RunDir":
        """A run of `config`'s model with random weights (seeded when `seed` is given), as `load_run`
        reads it: for benchmarks and tests that need a run but no training."""
        if seed is not None:
            torch.manual_seed(seed)
        model, _ = build_model(config, load_pretrained=False)
        self.path.mkdir(parents=True, exist_ok=True)
        save_config(config, self.config)
        self.id_maps.write_text(json.dumps(id_maps, indent=1, ensure_ascii=False), encoding="utf-8")
        save_checkpoint({"epoch": 0, "model": model.state_dict()}, self.best)
        self.write_info({"run_id": self.name, "status": status})
        return self


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
                   dropout=config.model.dropout, movement_head=config.model.movement_head)
    return model, backbone


def tokenize(backbone: Backbone, names: list[str], templates: list[str]) -> torch.Tensor:
    """(N, P, L) tokens: every name in every prompt template."""
    texts = [t.format(n) for n in names for t in templates]
    return backbone.tokenizer(texts).view(len(names), len(templates), -1)


def latest_run(runs_dir: Path = RUNS_DIR) -> Path:
    return RunDir.latest(runs_dir).path


def eval_decoder(config: TrainConfig, backbone: Backbone) -> ClipDecoder:
    """The decoder of evaluation, `embed` and `classify`: the test view of the config's augmentation
    ("authors": 256 -> 224)."""
    return ClipDecoder(config.data.frames, backbone.image_size, backbone.mean, backbone.std, config.data.augment)


@dataclass(frozen=True)
class EncodedBatch:
    vectors: torch.Tensor | None  # (B, D) fp32, of the clips that decoded (None when none did)
    indices: list[int]  # their positions in the specs
    failed: list[tuple[int, str]]  # (position, "PATH: problem") of the others
    frames: torch.Tensor | None = None  # (B, T, 3, S, S) normalised, as the model saw them (on the CPU)

    @property
    def problems(self) -> list[str]:
        return [problem for _, problem in self.failed]


def _collate_failed(items: list[tuple]) -> tuple[torch.Tensor | None, list[int], list[tuple[int, str]]]:
    """`collate`, with the position of each clip that failed beside its problem."""
    frames, indices, _ = collate(items)
    return frames, indices.tolist(), [(item[1], item[2]) for item in items if item[2] is not None]


@torch.no_grad()  # on a generator, torch sets no-grad around each step only
def iter_encoded(model: KGClip, specs: Sequence[ClipSpec], decoder: ClipDecoder, runtime: Runtime,
                 batch_size: int, workers: int = 0, *, probe: bool = False) -> Iterator[EncodedBatch]:
    """The one path by which clips become vectors (evaluation, `embed`, `classify`, TensorBoard's
    projector): decoded as at evaluation (centre of each TSN segment; a file that cannot be decoded is
    named, not fatal) in `workers` DataLoader processes, and encoded in batches of `batch_size` under
    autocast at `runtime.autocast_dtype` (bf16 on a GPU unless the config's precision says otherwise,
    as in training), fp32 out, in the specs' order. `probe`: each file is probed first (PyAV, in the
    workers too), so that a missing, empty, foreign or truncated file is named as such."""
    loader = torch.utils.data.DataLoader(ClipDataset(specs, decoder, train=False, probe=probe), batch_size=batch_size,
                                         num_workers=workers, collate_fn=_collate_failed)
    for frames, indices, failed in loader:
        vectors = None if frames is None else model.embed_clips(frames.to(runtime.device), runtime.autocast_dtype)
        yield EncodedBatch(vectors, indices, failed, frames)


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

    @property
    def runtime(self) -> Runtime:
        return Runtime(self.device, precision=self.config.precision)

    def text_embeddings(self, names: list[str]) -> torch.Tensor:
        """(N, D) fp32 text embeddings of names, from the run's cache where it has them (`encode_names`)."""
        if self.text_cache is None or not names:
            return self.encode_names(names)
        return self.text_cache.embeddings(names, self.encode_names).to(self.device)

    @torch.no_grad()
    def encode_names(self, names: list[str]) -> torch.Tensor:
        """The names through the text tower, every prompt template (no cache)."""
        tokens = tokenize(self.backbone, names, self.config.model.prompt_templates).to(self.device)
        out = [self.model.encode_text(tokens[i : i + 256]) for i in range(0, len(names), 256)]
        return torch.cat(out).float() if out else torch.zeros(0, self.model.embed_dim, device=self.device)

    def action_text(self) -> torch.Tensor:
        if "actions" not in self._cache:
            self._cache["actions"] = self.text_embeddings(self.action_names)
        return self._cache["actions"]

    def decoder(self) -> ClipDecoder:
        return eval_decoder(self.config, self.backbone)

    def encode_clips(self, specs: list[ClipSpec], batch_size: int | None = None, workers: int = 0,
                     progress: Callable[[int], None] | None = None) -> tuple[torch.Tensor, list[int], list[str]]:
        """Video embeddings (`iter_encoded`): (K, D) vectors of the K clips that decoded, their
        positions in `specs`, and "PATH: problem" for the others."""
        out, kept, problems = [], [], []
        for batch in iter_encoded(self.model, specs, self.decoder(), self.runtime,
                                  batch_size or self.config.eval_batch_size, workers):
            problems.extend(batch.problems)
            if batch.vectors is not None:
                out.append(batch.vectors)
                kept.extend(batch.indices)
            if progress:
                progress(len(batch.indices) + len(batch.failed))
        vectors = torch.cat(out) if out else torch.zeros(0, self.model.embed_dim, device=self.device)
        return vectors, kept, problems


_INITIALISERS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
                 "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_")


@contextmanager
def skip_weight_init():
    """torch.nn.init's initialisers do nothing inside: for a model whose every parameter a strict
    `load_state_dict` overwrites next (a run's checkpoint). Drawing random weights only to throw them
    away was most of ViT-B-32's build time (BENCHMARKS.md, "Cold start"); `classify` on one clip
    pays it at every start."""
    saved = {name: getattr(torch.nn.init, name) for name in _INITIALISERS}
    for name in saved:
        setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.nn.init, name, fn)


def load_run(run_dir: Path | RunDir, device: torch.device | str = "cpu", checkpoint: str = "best") -> LoadedRun:
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if not run.config.is_file():
        raise ConfigurationError(f"{run.path}: not a kgtoolkit run directory (no config.yaml)")
    config = load_config(run.config)
    if "triplet_mixing" not in (yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}).get("model", {}):
        config.model.triplet_mixing = "sequence"  # runs from before the switch: the joint encoder
    id_maps = json.loads(run.id_maps.read_text(encoding="utf-8"))
    state = load_checkpoint(run.checkpoint(checkpoint), mmap=True)  # the optimizer's moments stay on disk
    with skip_weight_init():
        model, backbone = build_model(config, load_pretrained=False)
    model.load_state_dict(state["model"])  # strict: every parameter and persistent buffer
    device = torch.device(device)
    model.to(device).eval()
    text_cache = TextCache(run.text_embeddings, run.checkpoint(checkpoint), config.model.prompt_templates, device)
    return LoadedRun(run.path, run.run_id(), config, id_maps, model, backbone, device, text_cache=text_cache)
