"""Floors for the accuracy figures: hand-made video features and a linear probe on them.

A benchmark figure means little without a floor measured on the same videos and split. This module
computes, from the decoded pixels of each clip and nothing else:

- ``colour``: the clip's colour statistics (mean and standard deviation of each RGB channel, and a
  4-bin histogram per channel), blind to the body and its motion;
- ``energy``: the global motion energy (mean absolute difference of consecutive frames, over the
  whole frame) as a time profile of 8 bins, plus its mean and standard deviation: how much moves
  when, but not where;
- ``frames``: the frame count;
- ``motion_grid``: the floor's features. Frame-difference energy on a 4 x 4 grid of the frame,
  averaged in 3 equal time segments (48 numbers): where in the picture something moves, and when.
  It sees no body parts, no colours and no shapes, only motion located on a coarse grid, so it
  wins where a class moves a fixed region of the frame and loses when the figure's position,
  scale and tempo vary.

``linear_probe`` fits a multinomial logistic regression (standardised features, L2 penalty chosen
by 5-fold cross-validation on the training clips only) and scores the test clips. The body-blind
sets (``colour``, ``energy``, ``frames`` and ``blind``, their union) are the shortcut audit:
on a good benchmark they predict the class no better than chance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kgtoolkit.vocab import VIDEO_SUFFIXES

FEATURE_SETS = ("colour", "energy", "frames", "blind", "motion_grid")
BLIND_SETS = ("colour", "energy", "frames", "blind")
GRID, SEGMENTS, PROFILE_BINS, HIST_BINS = 4, 3, 8, 4
PROBE_PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def decode_all(path: str | Path, short: int = 64) -> np.ndarray:
    """Every frame of a video, resized (area) so its short side is `short`, as (T, H, W, 3) uint8."""
    import decord
    import torch

    frames = decord.VideoReader(str(path), num_threads=1)
    array = frames.get_batch(list(range(len(frames)))).asnumpy()
    height, width = array.shape[1:3]
    if min(height, width) == short:
        return array
    scale = short / min(height, width)
    resized = torch.nn.functional.interpolate(torch.from_numpy(array).permute(0, 3, 1, 2).float(),
                                              size=(max(short, round(height * scale)), max(short, round(width * scale))),
                                              mode="area")
    return resized.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def _bins(values: np.ndarray, count: int) -> np.ndarray:
    """`values` (N, ...) averaged in `count` equal consecutive chunks along the first axis."""
    edges = np.linspace(0, len(values), count + 1)
    return np.stack([values[int(a):max(int(a) + 1, int(b))].mean(axis=0) for a, b in zip(edges[:-1], edges[1:])])


def clip_features(frames: np.ndarray) -> dict[str, np.ndarray]:
    """The feature sets of one clip, from its (T, H, W, 3) uint8 frames (T >= 2)."""
    if len(frames) < 2:
        raise ValueError(f"need at least 2 frames, got {len(frames)}")
    pixels = frames.astype(np.float32) / 255.0
    flat = pixels.reshape(-1, 3)
    hist = np.concatenate([np.histogram(flat[:, c], bins=HIST_BINS, range=(0, 1))[0] / len(flat) for c in range(3)])
    colour = np.concatenate([flat.mean(0), flat.std(0), hist])
    diff = np.abs(np.diff(pixels, axis=0)).mean(axis=-1)  # (T-1, H, W)
    per_frame = diff.mean(axis=(1, 2))
    energy = np.concatenate([_bins(per_frame, PROFILE_BINS), [per_frame.mean(), per_frame.std()]])
    t, h, w = diff.shape
    grid = diff[:, : h - h % GRID, : w - w % GRID].reshape(t, GRID, h // GRID, GRID, w // GRID).mean(axis=(2, 4))
    motion_grid = _bins(grid, SEGMENTS).reshape(-1)
    frames_count = np.array([float(len(frames))])
    return {"colour": colour, "energy": energy, "frames": frames_count,
            "blind": np.concatenate([colour, energy, frames_count]), "motion_grid": motion_grid}


@dataclass(frozen=True)
class ProbeResult:
    feature_set: str
    accuracy: float  # top-1 on the test clips
    chance: float  # the most frequent test class's share: the best constant guess
    penalty: float  # the L2 penalty cross-validation chose
    train_accuracy: float
    dims: int

    def row(self) -> dict[str, object]:
        return {"features": self.feature_set, "dims": self.dims, "test top-1": round(100 * self.accuracy, 1),
                "chance": round(100 * self.chance, 1), "train top-1": round(100 * self.train_accuracy, 1),
                "L2": self.penalty}


def _fit(x: np.ndarray, y: np.ndarray, classes: int, penalty: float):
    """Multinomial logistic regression by L-BFGS in float64; returns (weights, bias)."""
    import torch

    xt, yt = torch.from_numpy(x).double(), torch.from_numpy(y).long()
    weight = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=500, tolerance_grad=1e-9,
                                  tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ weight + bias, yt) + penalty * (weight ** 2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return weight.detach().numpy(), bias.detach().numpy()


def _predict(x: np.ndarray, model) -> np.ndarray:
    weight, bias = model
    return (x @ weight + bias).argmax(axis=1)


def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = train.mean(0), train.std(0)
    std[std < 1e-8] = 1.0
    return [(a - mean) / std for a in (train, *others)]


def linear_probe(train_x: np.ndarray, train_y: Sequence[int], test_x: np.ndarray, test_y: Sequence[int], *,
                 feature_set: str = "", penalties: Iterable[float] = PROBE_PENALTIES, folds: int = 5,
                 seed: int = 0) -> ProbeResult:
    """Fit on the training clips (penalty by `folds`-fold cross-validation on them), score the test clips."""
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    classes = int(max(train_y.max(), test_y.max())) + 1
    order = np.random.default_rng(seed).permutation(len(train_y))
    fold_of = np.empty(len(train_y), dtype=int)
    fold_of[order] = np.arange(len(train_y)) % folds
    best, best_score = None, -1.0
    for penalty in penalties:
        correct = 0
        for k in range(folds):
            fit_rows, held = fold_of != k, fold_of == k
            xf, xh = _standardise(train_x[fit_rows], train_x[held])
            correct += int((_predict(xh, _fit(xf, train_y[fit_rows], classes, penalty)) == train_y[held]).sum())
        if correct / len(train_y) > best_score:
            best, best_score = penalty, correct / len(train_y)
    xs, xt = _standardise(train_x, test_x)
    model = _fit(xs, train_y, classes, best)
    chance = float(np.bincount(test_y, minlength=classes).max() / len(test_y))
    return ProbeResult(feature_set, float((_predict(xt, model) == test_y).mean()), chance, float(best),
                       float((_predict(xs, model) == train_y).mean()), int(train_x.shape[1]))


def split_features(clips: Sequence[tuple[str | Path, int]], short: int = 64) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(feature set -> (N, D) matrix, labels) for (video path, class index) pairs."""
    rows = [clip_features(decode_all(path, short)) for path, _ in clips]
    return {name: np.stack([r[name] for r in rows]) for name in FEATURE_SETS}, np.array([c for _, c in clips])


def probe_all(train: Sequence[tuple[str | Path, int]], test: Sequence[tuple[str | Path, int]], *,
              sets: Sequence[str] = FEATURE_SETS, short: int = 64) -> list[ProbeResult]:
    """A linear probe per feature set, trained on `train` clips and scored on `test` clips."""
    train_x, train_y = split_features(train, short)
    test_x, test_y = split_features(test, short)
    return [linear_probe(train_x[s], train_y, test_x[s], test_y, feature_set=s) for s in sets]



def labelled_clips(folder: str | Path, split: str) -> list[tuple[Path, int]]:
    """(video, class index) of `split` ("train" or "test") in a folder laid out as `kgtoolkit synth`
    writes it: <split>_videos/<action>/<video>. Classes are the action folders of both splits, sorted."""
    folder = Path(folder)
    actions = sorted({p.name for s in ("train", "test") for p in (folder / f"{s}_videos").glob("*") if p.is_dir()})
    if not actions:
        raise FileNotFoundError(f"{folder}: no train_videos/<action>/ or test_videos/<action>/ folders")
    return [(video, actions.index(action.name))
            for action in sorted((folder / f"{split}_videos").glob("*")) if action.is_dir()
            for video in sorted(action.iterdir()) if video.suffix.lower() in VIDEO_SUFFIXES]
