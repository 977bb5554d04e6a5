"""The CLIP backbone, from open_clip: a model name (open_clip's own, or one of this package's
`model_configs/*.json`, such as the CPU-sized `kg-tiny`) and weights given as an open_clip
pretrained tag (downloaded by open_clip when online) or a local checkpoint file.

A local file is either a state dict (read by open_clip with `weights_only=True`: a pickle that
would run code is refused) or one of OpenAI's own releases (`ViT-B-16.pt`), which are TorchScript
archives that `weights_only=True` cannot read. Those go through open_clip's loader for them
(`load_openai_model`: `torch.jit.load`, which runs TorchScript, not Python, then the state dict is
rebuilt as an ordinary open_clip CLIP); only the weights are kept, copied into the named model.

The activation follows the weights: OpenAI's CLIP was trained with QuickGELU while open_clip's
`ViT-B-16` config says GELU, so an `openai` tag (any tag whose open_clip entry says quick_gelu) or an
OpenAI TorchScript file builds the model with QuickGELU (`weights_quick_gelu`); `quick_gelu`
overrides it.
"""

from __future__ import annotations

import logging
import zipfile
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


class LazyTokenizer:
    """open_clip's tokenizer of a model, built at its first use: loading its BPE vocabulary takes a
    moment that a run whose text embeddings are cached (train/text_cache.py) does not need to spend."""

    def __init__(self, name: str):
        self.name = name
        self._tokenizer = None

    def __call__(self, texts, *args, **kwargs):
        if self._tokenizer is None:
            import open_clip

            self._tokenizer = open_clip.get_tokenizer(self.name)
        return self._tokenizer(texts, *args, **kwargs)


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


def is_torchscript_archive(path: str | Path) -> bool:
    """A TorchScript archive (as OpenAI's CLIP releases): a zip with `<name>/constants.pkl` and
    TorchScript code under `<name>/code/`; a `torch.save` state dict has neither."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def weights_quick_gelu(name: str, pretrained: str | None) -> bool | None:
    """Whether the weights were trained with QuickGELU: an open_clip tag's own setting, True for an
    OpenAI TorchScript file, None when the weights do not say (the model config decides)."""
    if not pretrained:
        return None
    path = Path(pretrained).expanduser()
    if path.is_file():
        return True if is_torchscript_archive(path) else None
    import open_clip

    register_package_configs()
    if name in open_clip.list_models() and pretrained in open_clip.list_pretrained_tags_by_model(name):
        return bool(open_clip.get_pretrained_cfg(name, pretrained).get("quick_gelu", False))
    return None


def _create(name: str, weights: str | None, quick_gelu: bool | None) -> torch.nn.Module:
    import open_clip

    forced = {} if quick_gelu is None else {"force_quick_gelu": True} if quick_gelu else {"quick_gelu": False}
    with _quiet_random_init():
        return open_clip.create_model(name, pretrained=weights, weights_only=True, **forced)


def _load_openai_archive(name: str, path: Path, quick_gelu: bool | None) -> torch.nn.Module:
    """OpenAI's TorchScript release through open_clip's `load_openai_model` (fp32), its weights copied
    into the named model, so that a file that is not `name`'s architecture is a clear error."""
    import open_clip

    try:
        loaded = open_clip.load_openai_model(str(path), precision="fp32", device="cpu")
    except Exception as error:
        raise ConfigurationError(f"pretrained weights {path}: a TorchScript archive that open_clip cannot read as an "
                                 f"OpenAI CLIP release: {' '.join(str(error).split())[:300]}") from None
    model = _create(name, None, True if quick_gelu is None else quick_gelu)
    try:
        model.load_state_dict(loaded.state_dict(), strict=True)
    except RuntimeError as error:
        raise ConfigurationError(f"pretrained weights {path}: an OpenAI CLIP release that does not fit {name} "
                                 f"(e.g. another ViT size): {' '.join(str(error).split())[:300]}") from None
    return model


def load_backbone(name: str, pretrained: str | None = None, quick_gelu: bool | None = None) -> Backbone:
    """`pretrained`: None (random weights), an existing file path (a state dict, or an OpenAI
    TorchScript release), or an open_clip tag. `quick_gelu`: None follows the weights
    (`weights_quick_gelu`), True/False forces the activation."""
    import open_clip

    register_package_configs()
    if name not in open_clip.list_models():
        raise ConfigurationError(
            f"unknown CLIP model {name!r}: use an open_clip model name (e.g. ViT-B-16) or one of "
            f"{', '.join(sorted(p.stem for p in PACKAGE_CONFIGS.glob('*.json')))}"
        )
    if quick_gelu is None:
        quick_gelu = weights_quick_gelu(name, pretrained)
    weights: str | None = None
    archive: Path | None = None
    if pretrained:
        path = Path(pretrained).expanduser()
        if path.exists():
            if not path.is_file():
                raise ConfigurationError(f"pretrained weights {path}: not a file")
            if is_torchscript_archive(path):
                archive = path
            else:
                weights = str(path)
        elif pretrained in open_clip.list_pretrained_tags_by_model(name):
            weights = pretrained  # open_clip downloads it (needs the network once)
        else:
            tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
            raise ConfigurationError(
                f"pretrained {pretrained!r} is neither an existing file nor an open_clip tag of {name} "
                f"(tags: {tags})"
            )
    if archive is not None:
        model = _load_openai_archive(name, archive, quick_gelu)
    else:
        try:
            model = _create(name, weights, quick_gelu)
        except RuntimeError as error:
            raise ConfigurationError(f"cannot load CLIP weights {pretrained!r} into {name}: {error}") from None
        except Exception as error:  # network errors of a tag download, corrupt files
            raise ConfigurationError(f"cannot load CLIP weights {pretrained!r} for {name}: {error}") from None
    visual = model.visual
    size = visual.image_size if isinstance(visual.image_size, int) else visual.image_size[0]
    mean = tuple(getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN)
    std = tuple(getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD)
    embed_dim = open_clip.get_model_config(name)["embed_dim"]
    return Backbone(model, LazyTokenizer(name), int(size), mean, std, int(embed_dim))
