"""Decoding clips for the model: decord in DataLoader workers, TSN segment sampling, CLIP's
normalisation. Training takes a random frame inside each of T equal segments, evaluation the
centre of each; the short side is resized to the model's input size and the centre cropped."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from kgtoolkit.ingest.splits import stable_key


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


class ClipDecoder:
    """Turns a video file into a normalised (T, 3, S, S) float tensor."""

    def __init__(self, frames: int, size: int, mean: Sequence[float], std: Sequence[float], augment: bool = False):
        self.frames = frames
        self.size = size
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self.augment = augment

    def decode(self, spec: ClipSpec, train: bool = False, rng: random.Random | None = None) -> torch.Tensor:
        import decord

        if not os.path.isfile(spec.path):
            raise FileNotFoundError("no such file")
        width, height = spec.width, spec.height
        if not (width and height):
            probe = decord.VideoReader(spec.path, num_threads=1)
            height, width = probe[0].shape[:2]
        scale = self.size / min(width, height)
        out_w, out_h = max(self.size, round(width * scale)), max(self.size, round(height * scale))
        reader = decord.VideoReader(spec.path, width=out_w, height=out_h, num_threads=1)
        indices = tsn_indices(len(reader), self.frames, train, rng)
        array = reader.get_batch(indices).asnumpy()  # (T, H, W, 3) uint8
        top, left = (out_h - self.size) // 2, (out_w - self.size) // 2
        clip = torch.from_numpy(array[:, top : top + self.size, left : left + self.size]).permute(0, 3, 1, 2)
        clip = clip.float().div_(255)
        if train and self.augment and rng is not None:
            clip = self._augment(clip, rng)
        return (clip - self.mean) / self.std

    def _augment(self, clip: torch.Tensor, rng: random.Random) -> torch.Tensor:
        """The same random resized crop and colour jitter on every frame of the clip."""
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
    of (seed, epoch, video) whatever the worker, and a resumed run decodes the same frames."""

    def __init__(self, specs: Sequence[ClipSpec], decoder: ClipDecoder, train: bool, seed: int = 0):
        self.specs = list(specs)
        self.decoder = decoder
        self.train = train
        self.seed = seed

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, key) -> tuple[torch.Tensor | None, int, str | None]:
        """(clip, index, None), or (None, index, "PATH: problem") for a file that cannot be decoded."""
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = random.Random(stable_key("clip", self.seed, epoch, index)) if self.train else None
        spec = self.specs[index]
        try:
            return self.decoder.decode(spec, train=self.train, rng=rng), index, None
        except Exception as error:  # gone, truncated or replaced since ingest: the batch goes on without it
            return None, index, f"{spec.path}: {decode_problem(error)}"


class EpochBatches(Sampler):
    """Batches of (epoch, index) keys: a seeded shuffle per epoch, sharded across ranks."""

    def __init__(self, indices: Sequence[int], batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1):
        self.indices = list(indices)
        self.batch_size = batch_size
        self.seed, self.epoch, self.rank, self.world = seed, epoch, rank, world

    def batches(self) -> list[list[int]]:
        order = list(self.indices)
        random.Random(stable_key("order", self.seed, self.epoch)).shuffle(order)
        full = len(order) // self.batch_size
        return [order[b * self.batch_size : (b + 1) * self.batch_size] for b in range(max(1, full))]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for batch in self.batches():
            yield [(self.epoch, i) for i in batch[self.rank :: self.world]]

    def __len__(self) -> int:
        return len(self.batches())


def decode_problem(error: BaseException) -> str:
    """One line for a clip the decoder could not read (decord's messages run over several lines)."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    return f"cannot decode: {' '.join(str(error).split())[:160]}"


def collate(items: list[tuple[torch.Tensor | None, int, str | None]]
            ) -> tuple[torch.Tensor | None, torch.Tensor, list[str]]:
    """(frames of the clips that decoded, their indices, "PATH: problem" of those that did not);
    frames is None when no clip of the batch decoded."""
    good = [(clip, index) for clip, index, problem in items if problem is None]
    problems = [problem for _, _, problem in items if problem is not None]
    frames = torch.stack([clip for clip, _ in good]) if good else None
    return frames, torch.tensor([index for _, index in good], dtype=torch.long), problems


def spec_of(path: str | Path, frames: int = 0, width: int = 0, height: int = 0) -> ClipSpec:
    return ClipSpec(str(path), frames, width, height)
