"""Deterministic, class-stratified selection of videos: the validation split carved out of the
training videos at ingest, and the training subset of a limited-data run."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable


def stable_key(*parts: object) -> int:
    """A hash that is the same in every process and Python version (unlike `hash`)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


def stratified_selection(videos: Iterable[tuple[str, Hashable]], count: Callable[[int], int],
                         *salt: object) -> set[str]:
    """Ids of `count(n)` of each class's n videos, given as (video id, class) pairs: those first by
    the stable hash of (*salt, class, video), so the choice depends neither on the order the videos
    come in nor on the other classes."""
    by_class: dict[Hashable, list[str]] = defaultdict(list)
    for video, label in videos:
        by_class[label].append(video)
    chosen: set[str] = set()
    for label, members in by_class.items():
        ranked = sorted(members, key=lambda v: (stable_key(*salt, label, v), v))
        chosen.update(ranked[:count(len(members))])
    return chosen


def carve_validation(videos: Iterable[tuple[str, str]], fraction: float, seed: int) -> set[str]:
    """Ids of the (video id, class) pairs that go to validation: round(fraction * n) per class,
    at least one for a class with two or more videos when fraction > 0, chosen by a seeded hash
    so the choice does not depend on the order the videos were found in."""
    if fraction <= 0:
        return set()
    return stratified_selection(videos, lambda n: min(n - 1, max(1, round(fraction * n))) if n >= 2 else 0, seed)


def training_subset(videos: Iterable[tuple[str, Hashable]], fraction: float, seed: int) -> set[str]:
    """Ids of the (video id, class) pairs a limited-data run trains on: round(fraction * n) videos
    of each class (at least 1), chosen by a seeded hash; every video when fraction >= 1."""
    videos = list(videos)
    if fraction >= 1:
        return {video for video, _ in videos}
    return stratified_selection(videos, lambda n: max(1, round(fraction * n)), "subset", seed)
