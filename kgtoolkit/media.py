"""Video files for the model and the ingest: probing a file (PyAV: frame count, frame rate, size,
or why it cannot be read), the video suffixes a dataset folder may hold, and decoding clips for the
model (decord; `ClipSpec`, `ClipDecoder`, `ClipDataset`).

Probing walks the container's packets without decoding them (a frame count that does not depend on
the index alone, so a truncated file is caught) and decodes only the first frame; decoding the last
frame instead would decode the whole clip when it has one keyframe.

Decoding: decord in DataLoader workers, TSN segment sampling, CLIP's normalisation. Training takes
a random frame inside each of T equal segments, evaluation the centre of each; the short side is
resized to the model's input size and the centre cropped (with `augment="authors"`: to size *
256/224, then the centre crop, as the authors' test view). Augmentations (`augment`) draw their
random parameters once per clip from the clip's own seeded `random.Random`, so every frame of a clip
gets the same crop, flip and colours, and an epoch's clips are a pure function of (seed, epoch,
video) in any worker."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from kgtoolkit.errors import VideoError
from kgtoolkit.vocab import VIDEO_SUFFIXES

__all__ = ["AUGMENTS", "AUTHORS_SCALES", "VIDEO_SUFFIXES", "ClipDataset", "ClipDecoder", "ClipSpec", "VideoError",
           "VideoInfo", "authors_augment", "collate", "collate_edges", "decode_problem", "multiscale_crop_box",
           "probe_video", "probed", "spec_of", "tsn_indices"]


# --- probing ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    width: int
    height: int


def probe_video(path: Path) -> VideoInfo:
    try:
        if path.stat().st_size == 0:
            raise VideoError("empty file")
    except OSError as error:
        raise VideoError(f"cannot read: {error.strerror}") from None
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise VideoError("holds no video stream")
            stream = container.streams.video[0]
            listed = stream.frames  # what the index claims (0 when the container does not say)
            first = None
            packets = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the flush packet at the end
                packets += 1
                if first is None:
                    for frame in packet.decode():
                        first = frame
                        break
            if first is None:
                for frame in stream.codec_context.decode(None):  # frames held back by the decoder
                    first = frame
                    break
            rate = stream.average_rate or stream.guessed_rate
    except VideoError:
        raise
    except Exception as error:  # av.error.* (InvalidDataError, EOFError, ...)
        reason = " ".join(str(error).replace(f": '{path}'", "").split())[:160] or type(error).__name__
        raise VideoError(f"not a readable video ({reason})") from None
    if packets == 0 or first is None:
        raise VideoError("holds no decodable frames")
    if listed and packets < listed:
        raise VideoError(f"truncated: its index lists {listed} frames, the file holds {packets}")
    return VideoInfo(frames=packets, fps=round(float(rate or 0), 3), width=first.width, height=first.height)


# --- decoding clips for the model -----------------------------------------------------------------
def tsn_indices(num_frames: int, segments: int, train: bool, rng: random.Random | None = None) -> list[int]:
    """One frame per segment: random within it (training) or its centre (evaluation)."""
    num_frames = max(1, num_frames)
    edges = np.linspace(0, num_frames, segments + 1)
    out = []
    for k in range(segments):
        lo, hi = edges[k], edges[k + 1]
        if train and rng is not None:
            pos = lo + rng.random() * (hi - lo)
        else:
            pos = (lo + hi) / 2
        out.append(min(num_frames - 1, int(pos)))
    return out


@dataclass(frozen=True)
class ClipSpec:
    path: str
    frames: int = 0  # 0: ask the file
    width: int = 0
    height: int = 0


AUTHORS_SCALES = (1, 0.875, 0.75, 0.66)


def multiscale_crop_box(width: int, height: int, size: int, rng: random.Random,
                        scales: Sequence[float] = AUTHORS_SCALES) -> tuple[int, int, int, int]:
    """(left, top, crop width, crop height) as the authors' GroupMultiScaleCrop (TSN's): each side a
    scale of the frame's short side (a side within 3 px of `size` snapped to it), the two scales' ranks
    at most one apart, the box at one of 13 fixed positions (corners, centre, edge centres, quarters)."""
    base = min(width, height)
    sides = [int(base * s) for s in scales]
    sides = [size if abs(x - size) < 3 else x for x in sides]
    pairs = [(w, h) for i, h in enumerate(sides) for j, w in enumerate(sides) if abs(i - j) <= 1]
    crop_w, crop_h = rng.choice(pairs)
    ws, hs = (width - crop_w) // 4, (height - crop_h) // 4
    offsets = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs),
               (0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
               (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
    left, top = rng.choice(offsets)
    return left, top, crop_w, crop_h


def authors_augment(clip: torch.Tensor, size: int, rng: random.Random) -> torch.Tensor:
    """The authors' training transform on a (T, 3, H, W) uint8 clip -> (T, 3, size, size) uint8, in
    their order: RandAugment(2, 9) on the full frame, multi-scale crop resized to size x size,
    horizontal flip (p 0.5), colour jitter (brightness .4, contrast .4, saturation .2, hue .1; p 0.8),
    greyscale (p 0.2). torchvision's v2 transforms treat the T frames as one batch, so the parameters
    are drawn once per clip (the authors' RandAugment draws per frame; docs/PAPER.md)."""
    from torchvision.transforms import InterpolationMode, v2
    from torchvision.transforms.v2 import functional as TF

    def seeded(transform, x: torch.Tensor) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(rng.getrandbits(62))
            return transform(x)

    clip = seeded(v2.RandAugment(num_ops=2, magnitude=9), clip)
    height, width = clip.shape[-2:]
    left, top, crop_w, crop_h = multiscale_crop_box(width, height, size, rng)
    clip = TF.resized_crop(clip, top, left, crop_h, crop_w, [size, size],
                           interpolation=InterpolationMode.BILINEAR, antialias=True)
    if rng.random() < 0.5:
        clip = TF.horizontal_flip(clip)
    if rng.random() < 0.8:
        clip = seeded(v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1), clip)
    if rng.random() < 0.2:
        clip = TF.rgb_to_grayscale(clip, num_output_channels=3)
    return clip


AUGMENTS = ("none", "kgtoolkit", "authors")


class ClipDecoder:
    """Turns a video file into a normalised (T, 3, S, S) float tensor."""

    def __init__(self, frames: int, size: int, mean: Sequence[float], std: Sequence[float],
                 augment: str | bool = "none"):
        self.frames = frames
        self.size = size
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        if isinstance(augment, bool):  # older configs' data.augment
            augment = "kgtoolkit" if augment else "none"
        self.augment = augment
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {', '.join(AUGMENTS)} (got {augment!r})")
        # The authors' views start from frames whose short side is 256 for a 224 input.
        self.scale_size = size * 256 // 224 if self.augment == "authors" else size

    def view(self, array: np.ndarray, train: bool = False, rng: random.Random | None = None) -> torch.Tensor:
        """Decoded (T, H, W, 3) uint8 frames, short side `scale_size` -> the normalised (T, 3, S, S)
        clip: augmented when training with an rng, else the centre crop."""
        clip = torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2)
        if train and rng is not None and self.augment == "authors":
            clip = authors_augment(clip, self.size, rng)
        else:
            height, width = clip.shape[-2:]
            top, left = (height - self.size) // 2, (width - self.size) // 2
            clip = clip[:, :, top : top + self.size, left : left + self.size]
        clip = clip.float().div_(255)
        if train and rng is not None and self.augment == "kgtoolkit":
            clip = self._augment(clip, rng)
        return (clip - self.mean) / self.std

    def decode(self, spec: ClipSpec, train: bool = False, rng: random.Random | None = None) -> torch.Tensor:
        return self.view(self.read(spec, lambda count: tsn_indices(count, self.frames, train, rng)), train, rng)

    def read(self, spec: ClipSpec, pick: Callable[[int], list[int]] | None = None) -> np.ndarray:
        """(T, H, W, 3) uint8 frames, short side `scale_size`: those `pick(frame count)` names, or every frame."""
        import decord

        if not os.path.isfile(spec.path):
            raise FileNotFoundError("no such file")
        width, height = spec.width, spec.height
        if not (width and height):
            probe = decord.VideoReader(spec.path, num_threads=1)
            height, width = probe[0].shape[:2]
        short = self.scale_size
        scale = short / min(width, height)
        out_w, out_h = max(short, round(width * scale)), max(short, round(height * scale))
        reader = decord.VideoReader(spec.path, width=out_w, height=out_h, num_threads=1)
        indices = list(range(len(reader))) if pick is None else pick(len(reader))
        return reader.get_batch(indices).asnumpy()

    def _augment(self, clip: torch.Tensor, rng: random.Random) -> torch.Tensor:
        """augment="kgtoolkit": the same random resized crop and brightness/contrast on every frame."""
        s = self.size
        crop = int(s * rng.uniform(0.75, 1.0))
        top, left = rng.randint(0, s - crop), rng.randint(0, s - crop)
        clip = clip[:, :, top : top + crop, left : left + crop]
        clip = torch.nn.functional.interpolate(clip, size=(s, s), mode="bilinear", align_corners=False)
        brightness, contrast = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)
        mean = clip.mean(dim=(1, 2, 3), keepdim=True)
        return ((clip - mean) * contrast + mean * brightness).clamp_(0, 1)


class ClipDataset(Dataset):
    """Items are (epoch, index) keys, so that the random frame offsets of an epoch are a pure function
    of (seed, epoch, video) whatever the worker, and a resumed run decodes the same frames. A v-b
    edge's own clip (`EdgeBatches`) has the key (epoch, index, edge, slot): its frames and augmentation
    are drawn apart from the same video's v-a clip, keyed by its slot in the epoch. With `probe`, a
    file is probed (`probe_video`) before it is decoded, in the worker, so that a folder of unknown
    files costs no probing pass up front and a missing, empty, foreign or truncated file is named as
    such rather than by decord's message."""

    def __init__(self, specs: Sequence[ClipSpec], decoder: ClipDecoder, train: bool, seed: int = 0,
                 probe: bool = False):
        self.specs = list(specs)
        self.decoder = decoder
        self.train = train
        self.seed = seed
        self.probe = probe

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, key) -> tuple[torch.Tensor | None, int, str | None, int]:
        """(clip, index, None, edge), or (None, index, "PATH: problem", edge) for a file that cannot be
        decoded; edge is the v-b edge the clip serves, -1 for a v-a (or evaluation) clip."""
        from kgtoolkit.ingest.splits import stable_key  # here: kgtoolkit.ingest imports this module

        epoch, index, edge, slot = (*key, -1, -1)[:4] if isinstance(key, tuple) else (0, key, -1, -1)
        parts = ("clip", self.seed, epoch, index) if edge < 0 else ("vb-clip", self.seed, epoch, slot)
        rng = random.Random(stable_key(*parts)) if self.train else None
        spec = self.specs[index]
        try:
            if self.probe:
                spec = probed(spec.path)
            return self.decoder.decode(spec, train=self.train, rng=rng), index, None, edge
        except VideoError as error:
            return None, index, f"{spec.path}: {error}", edge
        except Exception as error:  # gone, truncated or replaced since ingest: the batch goes on without it
            return None, index, f"{spec.path}: {decode_problem(error)}", edge


def probed(path: str | Path) -> ClipSpec:
    """The spec of a file as `probe_video` finds it; VideoError when it is missing, not a file or not
    a readable video."""
    path = Path(path)
    if not path.exists():
        raise VideoError("no such file")
    if not path.is_file():
        raise VideoError("not a file")
    info = probe_video(path)
    return ClipSpec(str(path), info.frames, info.width, info.height)


def decode_problem(error: BaseException) -> str:
    """One line for a clip the decoder could not read (decord's messages run over several lines)."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    return f"cannot decode: {' '.join(str(error).split())[:160]}"


def collate(items: list[tuple]) -> tuple[torch.Tensor | None, torch.Tensor, list[str]]:
    """(frames of the clips that decoded, their indices, "PATH: problem" of those that did not);
    frames is None when no clip of the batch decoded."""
    frames, indices, _, problems = collate_edges(items)
    return frames, indices, problems


def collate_edges(items: list[tuple]) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, list[str]]:
    """`collate`, plus the v-b edge each decoded clip serves (-1: a v-a clip), for training steps."""
    good = [(item[0], item[1], item[3] if len(item) > 3 else -1) for item in items if item[2] is None]
    problems = [item[2] for item in items if item[2] is not None]
    frames = torch.stack([clip for clip, _, _ in good]) if good else None
    return (frames, torch.tensor([index for _, index, _ in good], dtype=torch.long),
            torch.tensor([edge for _, _, edge in good], dtype=torch.long), problems)


def spec_of(path: str | Path, frames: int = 0, width: int = 0, height: int = 0) -> ClipSpec:
    return ClipSpec(str(path), frames, width, height)
