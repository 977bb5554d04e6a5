"""The CLIP backbone, from open_clip: a model name (open_clip's own, or one of this package's
`model_configs/*.json`, such as the CPU-sized `kg-tiny`) and weights given as an open_clip
pretrained tag (downloaded by open_clip when online) or a local checkpoint file."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from kgtoolkit.errors import ConfigurationError

PACKAGE_CONFIGS = Path(__file__).resolve().parents[1] / "model_configs"
_registered = False


def register_package_configs() -> None:
    global _registered
    if not _registered:
        import open_clip

        open_clip.add_model_config(PACKAGE_CONFIGS)
        _registered = True


@dataclass
class Backbone:
    model: torch.nn.Module  # open_clip CLIP: encode_image, encode_text, logit_scale
    tokenizer: object
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    embed_dim: int


@contextmanager
def _quiet_random_init():
    """open_clip logs a warning whenever it builds a model without weights; random weights are
    asked for on purpose here (tests, the tiny config, a model a checkpoint will fill)."""
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(previous)


def load_backbone(name: str, pretrained: str | None = None) -> Backbone:
    """`pretrained`: None (random weights), an existing file path, or an open_clip tag."""
    import open_clip

    register_package_configs()
    if name not in open_clip.list_models():
        raise ConfigurationError(
            f"unknown CLIP model {name!r}: use an open_clip model name (e.g. ViT-B-16) or one of "
            f"{', '.join(sorted(p.stem for p in PACKAGE_CONFIGS.glob('*.json')))}"
        )
    weights: str | None = None
    if pretrained:
        path = Path(pretrained).expanduser()
        if path.exists():
            if not path.is_file():
                raise ConfigurationError(f"pretrained weights {path}: not a file")
            weights = str(path)
        elif pretrained in open_clip.list_pretrained_tags_by_model(name):
            weights = pretrained  # open_clip downloads it (needs the network once)
        else:
            tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
            raise ConfigurationError(
                f"pretrained {pretrained!r} is neither an existing file nor an open_clip tag of {name} "
                f"(tags: {tags})"
            )
    try:
        with _quiet_random_init():
            model = open_clip.create_model(name, pretrained=weights, weights_only=True)
    except RuntimeError as error:
        raise ConfigurationError(f"cannot load CLIP weights {pretrained!r} into {name}: {error}") from None
    except Exception as error:  # network errors of a tag download, corrupt files
        raise ConfigurationError(f"cannot load CLIP weights {pretrained!r} for {name}: {error}") from None
    visual = model.visual
    size = visual.image_size if isinstance(visual.image_size, int) else visual.image_size[0]
    mean = tuple(getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN)
    std = tuple(getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD)
    embed_dim = open_clip.get_model_config(name)["embed_dim"]
    return Backbone(model, open_clip.get_tokenizer(name), int(size), mean, std, int(embed_dim))
