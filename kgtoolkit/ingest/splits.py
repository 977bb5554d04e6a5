"""Deterministic, class-stratified carving of a validation split out of the training videos."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable


def stable_key(*parts: object) -> int:
    """A hash that is the same in every process and Python version (unlike `hash`)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


def carve_validation(videos: Iterable[tuple[str, str]], fraction: float, seed: int) -> set[str]:
    """Ids of the (video id, class) pairs that go to validation: round(fraction * n) per class,
    at least one for a class with two or more videos when fraction > 0, chosen by a seeded hash
    so the choice does not depend on the order the videos were found in."""
    by_class: dict[str, list[str]] = defaultdict(list)
    for video, label in videos:
        by_class[label].append(video)
    chosen: set[str] = set()
    if fraction <= 0:
        return chosen
    for label, members in by_class.items():
        n = len(members)
        k = min(n - 1, max(1, round(fraction * n))) if n >= 2 else 0
        ranked = sorted(members, key=lambda v: (stable_key(seed, label, v), v))
        chosen.update(ranked[:k])
    return chosen
