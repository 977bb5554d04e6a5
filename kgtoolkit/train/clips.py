"""Training batches of clips: a seeded shuffle per epoch sharded across ranks (`EpochBatches`), and
per-edge v-b clips (`EdgeBatches`). Decoding clips lives in `kgtoolkit.media` (re-exported here)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler

from kgtoolkit.ingest.splits import stable_key
from kgtoolkit.media import (AUGMENTS, ClipDataset, ClipDecoder, ClipSpec, authors_augment, collate, collate_edges,
                             decode_problem, multiscale_crop_box, spec_of, tsn_indices)

__all__ = ["AUGMENTS", "ClipDataset", "ClipDecoder", "ClipSpec", "EdgeBatches", "EpochBatches", "authors_augment",
           "collate", "collate_edges", "decode_problem", "multiscale_crop_box", "spec_of", "tsn_indices"]


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

    def __iter__(self) -> Iterator[list[tuple[int, ...]]]:
        for batch in self.batches():
            yield [(self.epoch, i) for i in batch[self.rank :: self.world]]

    def __len__(self) -> int:
        return len(self.batches())


class EdgeBatches(EpochBatches):
    """`EpochBatches` plus, per step, `batch_size` v-b edges drawn uniformly with replacement over
    `edges` (every training (video, movement) EXHIBITS edge), each with its own clip: 2B clips a step,
    as the authors' loader (each item: its v-a clip and a random v-b edge's clip). The draws are a
    pure function of (seed, epoch, step), sharded across ranks like the v-a clips."""

    def __init__(self, indices: Sequence[int], batch_size: int, seed: int, epoch: int,
                 edges: Sequence[tuple[int, int]], rank: int = 0, world: int = 1):
        super().__init__(indices, batch_size, seed, epoch, rank, world)
        self.edges = list(edges)

    def edge_draws(self, step: int) -> list[int]:
        if not self.edges:
            return []
        rng = random.Random(stable_key("vb-edges", self.seed, self.epoch, step))
        return [rng.randrange(len(self.edges)) for _ in range(self.batch_size)]

    def __iter__(self) -> Iterator[list[tuple[int, ...]]]:
        for step, batch in enumerate(self.batches()):
            draws = list(enumerate(self.edge_draws(step)))[self.rank :: self.world]
            yield ([(self.epoch, i) for i in batch[self.rank :: self.world]]
                   + [(self.epoch, self.edges[e][0], e, step * self.batch_size + j) for j, e in draws])
