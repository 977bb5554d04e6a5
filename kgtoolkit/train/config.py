"""The training configuration: a pydantic model (unknown keys refused), loaded from YAML with
`--set key.sub=value` overrides, saved resolved in the run directory. The shipped configs are
package data (kgtoolkit/configs/*.yaml, linked from pipelines/): `--config tiny` names one."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kgtoolkit.errors import ConfigurationError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(_Strict):
    name: str = "kg-tiny"  # an open_clip model (ViT-B-16, ...) or a package config (kg-tiny)
    # An open_clip pretrained tag, a local checkpoint path, or "standin": the pretrained stand-in of
    # kg-tiny-rn (kgtoolkit.pretrain, `kgtoolkit pretrain`), built the first time on this machine.
    pretrained: str | None = None
    use_graph: bool = True  # False: CLIP alone (no triplet branch), for ablations
    temporal: Literal["mean", "transformer"] = "mean"
    triplet_layers: int = Field(3, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    # Which tokens of [h, r1, r2, t] attend to which (kgtoolkit/model/triplet.py): "none" (two
    # towers, batch-independent), "pairs" (two towers, [h, r1] and [r2, t]), "batch" (the authors'
    # exact computation: across the batch at each position), "sequence" (joint; an ablation).
    triplet_mixing: Literal["none", "pairs", "batch", "sequence"] = "none"
    triplet_loss: Literal["pairwise", "authors"] = "pairwise"  # in-batch logits of "sequence" (kgclip.py)
    # The inverse triple score at inference: "pairwise" (each pair's own) or "authors" (their
    # test code's constant: class side averaged over classes, video side over videos).
    inverse_score: Literal["pairwise", "authors"] = "pairwise"
    # Leave known true (head, tail) edges that are not in-batch positives out of the v-b and a-b
    # contrastive losses (the authors count them as negatives).
    mask_known_edges: bool = False
    prompt_templates: list[str] = ["{}"]  # e.g. ["a video of a person {}.", "{}"]; "{}" is the name
    # CLIP plus a movement head (read when use_graph is false): the weight of a multi-label binary
    # cross-entropy over every body movement, each clip's targets the movements its video shows
    # (EXHIBITS), the logits its scaled cosine with each movement's text plus a learned bias. The
    # annotations the graph's v-b edges carry, used without a Triplet Encoder; classification stays S_mm.
    movement_head: float = Field(0.0, ge=0)
    # QuickGELU in the backbone's MLPs. None: as the weights were trained (an open_clip tag's own setting,
    # e.g. `openai` -> QuickGELU; an OpenAI TorchScript file -> QuickGELU; otherwise the model config's).
    quick_gelu: bool | None = None

    @field_validator("prompt_templates")
    @classmethod
    def _has_slot(cls, value: list[str]) -> list[str]:
        if not value or any("{}" not in t for t in value):
            raise ValueError("every prompt template needs a {} for the name")
        return value


class DataConfig(_Strict):
    frames: int = Field(8, ge=1)
    train_fraction: float = Field(1.0, gt=0, le=1)  # limited-data protocols: share of each class's training videos
    protocol: Literal["82", "64", "46", "28"] | None = None  # a KG-CLIP release split instead of `split`
    # Training-time augmentation (kgtoolkit/train/clips.py), the same random parameters on every frame:
    # "none"; "kgtoolkit": random resized crop + brightness/contrast (no flip: left and right are body
    # parts); "authors": their multi-scale crop, flip, colour jitter, greyscale and RandAugment(2, 9),
    # and their test view (short side size*256/224, centre crop). Old configs' true/false still load.
    augment: Literal["none", "kgtoolkit", "authors"] = "none"
    # v-b triples of a step: "per_video": a movement of each v-a clip (B clips a step); "per_edge": as the
    # authors, B more v-b edges drawn over all training v-b edges, each with its own clip (2B clips a step).
    vb_sampling: Literal["per_video", "per_edge"] = "per_video"
    workers: int = Field(2, ge=0)
    page_size: int = Field(5000, ge=1)

    @field_validator("augment", mode="before")
    @classmethod
    def _augment_bool(cls, value: object) -> object:
        return {True: "kgtoolkit", False: "none"}.get(value, value) if isinstance(value, bool) else value


class OptimConfig(_Strict):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(16, ge=2)
    ab_batch_size: int = Field(32, ge=0)
    lr_backbone: float = Field(1e-5, gt=0)
    lr_graph: float = Field(1e-4, gt=0)
    # The text tower's learning rate (default: lr_backbone); 0 freezes it. A text tower trained from
    # scratch jointly with a random image tower collapses (every class text gets the same embedding,
    # which stops the image tower's gradient): pipelines/tiny.yaml freezes it.
    lr_text: float | None = Field(None, ge=0)
    weight_decay: float = Field(0.2, ge=0)
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    warmup_epochs: float = Field(1.0, ge=0)
    grad_clip: float | None = Field(1.0, gt=0)  # max gradient norm; null: no clipping (the authors)
    # Weight decay on every parameter (the authors' AdamW has one group), instead of open_clip's rule
    # that spares gains, biases, norms, embeddings' scale and logit_scale.
    decay_all: bool = False
    lam: float = Field(0.1, ge=0)  # weight of the multi-modal contrastive loss (the authors' lambda)
    pair_weight: float = Field(1.0, ge=0)  # per-pair triple classification (see kgtoolkit/model/kgclip.py)
    # First epochs with the CLIP loss alone, then the whole KG-CLIP loss. The paper starts from a
    # pretrained CLIP; a model trained from random weights needs a video tower that already tells
    # clips apart before the triple scores can teach it anything (BENCHMARKS.md, "Training accuracy").
    graph_warmup_epochs: int = Field(0, ge=0)
    # The checkpoint tested at the end: "validation" (best validation top-1 among the epochs after
    # graph_warmup_epochs when the model uses the graph; a graph without validation videos is an
    # error) or "last" (the last epoch, e.g. a graph ingested with --val-fraction 0).
    select: Literal["validation", "last"] = "validation"


class TrainConfig(_Strict):
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    seed: int = 1024
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Autocast of the forward pass; weights, gradients and the AdamW step stay fp32 in every mode.
    # "auto": bf16 on a GPU, fp32 on the CPU; "fp16" adds a gradient scaler (kgtoolkit/train/runtime.py).
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    # torch.compile the training step's loss module with this backend: "inductor" on a GPU (1.8x the
    # eager step for ViT-B-16 on an H100, BENCHMARKS.md; compiling takes minutes); None runs eager.
    compile: str | None = None
    eval_batch_size: int = Field(32, ge=1)
    write_embeddings: bool = True


def _parse_value(text: str) -> Any:
    value = yaml.safe_load(text)
    return text if value is None and text not in ("null", "~", "") else value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"--set {item!r}: expected key=value, e.g. optim.epochs=5")
        node = data
        path = key.strip().split(".")
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigurationError(f"--set {item!r}: {part} is not a section")
        node[path[-1]] = _parse_value(raw)
    return data


PACKAGED_CONFIGS: Traversable = files("kgtoolkit") / "configs"


def packaged_configs() -> list[str]:
    """The names of the configs shipped in the package (`tiny`, `vit-b-16`, `kg-clip-paper`)."""
    return sorted(p.name.removesuffix(".yaml") for p in PACKAGED_CONFIGS.iterdir() if p.name.endswith(".yaml"))


def config_file(path: str | Path) -> Path | Traversable:
    """A config file as given, else the packaged config of that name (`tiny` or `tiny.yaml`)."""
    if Path(path).is_file() or "/" in str(path):
        return Path(path)
    packaged = PACKAGED_CONFIGS / (str(path) if str(path).endswith(".yaml") else f"{path}.yaml")
    return packaged if packaged.is_file() else Path(path)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """A config file (or the name of a packaged one) with `--set` overrides; no path: the defaults."""
    data: dict = {}
    if path is not None:
        source = config_file(path)
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigurationError(f"{path}: cannot read the config: {error} (or name a packaged config: "
                                     f"{', '.join(packaged_configs())})") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"{path}: a config is a mapping of sections (model, data, optim, ...)")
    data = apply_overrides(data, overrides or [])
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
        )
        raise ConfigurationError(f"{path or 'config'}: {problems}") from None


def save_config(config: TrainConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
