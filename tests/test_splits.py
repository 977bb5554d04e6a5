"""kgtoolkit.ingest.splits: the one stratified selection behind the validation split (ingest) and the
limited-data training subset (sampler): per-class counts, order independence, and pinned choices."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from kgtoolkit.ingest.splits import carve_validation, stratified_selection, training_subset

VIDEOS = [(f"v{i:02d}", f"class{i % 3}") for i in range(30)]  # 10 videos in each of 3 classes


def _per_class(chosen: set[str], videos=VIDEOS) -> dict[str, int]:
    counts: dict[str, int] = {}
    for video, label in videos:
        counts[label] = counts.get(label, 0) + (video in chosen)
    return counts


def test_validation_takes_round_fraction_of_each_class_and_never_a_whole_class():
    assert _per_class(carve_validation(VIDEOS, 0.25, seed=0)) == {"class0": 2, "class1": 2, "class2": 2}
    assert _per_class(carve_validation(VIDEOS, 0.01, seed=0)) == {"class0": 1, "class1": 1, "class2": 1}
    assert _per_class(carve_validation(VIDEOS, 1.0, seed=0)) == {"class0": 9, "class1": 9, "class2": 9}
    assert carve_validation(VIDEOS, 0.0, seed=0) == set()
    assert carve_validation([("alone", "c")], 0.5, seed=0) == set()


def test_training_subset_takes_at_least_one_video_of_each_class_and_all_at_fraction_one():
    assert _per_class(training_subset(VIDEOS, 0.25, seed=0)) == {"class0": 2, "class1": 2, "class2": 2}
    assert _per_class(training_subset(VIDEOS, 0.01, seed=0)) == {"class0": 1, "class1": 1, "class2": 1}
    assert training_subset(VIDEOS, 1.0, seed=0) == {v for v, _ in VIDEOS}


def test_the_choices_are_pinned_so_old_runs_and_graphs_stay_reproducible():
    # what carve_validation and the sampler's _stratified_subset chose before they became one function
    assert sorted(carve_validation(VIDEOS, 0.2, seed=7)) == ["v04", "v14", "v21", "v23", "v25", "v27"]
    assert sorted(training_subset(VIDEOS, 0.2, seed=7)) == ["v02", "v04", "v15", "v21", "v28", "v29"]


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 4)), unique_by=lambda x: x[0], max_size=40),
       st.floats(0.0, 1.0), st.integers(0, 3), st.randoms(use_true_random=False))
def test_selection_depends_neither_on_order_nor_on_other_classes(rows, fraction, seed, rng: random.Random):
    videos = [(f"v{v}", c) for v, c in rows]
    shuffled = videos[:]
    rng.shuffle(shuffled)
    for select in (carve_validation, training_subset):
        chosen = select(videos, fraction, seed)
        assert chosen == select(shuffled, fraction, seed) and chosen <= {v for v, _ in videos}
        for label in {c for _, c in videos}:
            alone = [(v, c) for v, c in videos if c == label]
            assert select(alone, fraction, seed) == {v for v, c in alone if v in chosen}


def test_count_zero_selects_nothing_and_count_n_everything():
    assert stratified_selection(VIDEOS, lambda n: 0, "salt") == set()
    assert stratified_selection(VIDEOS, lambda n: n, "salt") == {v for v, _ in VIDEOS}
