"""The floor and the shortcut audit (kgtoolkit.baselines): the linear probe itself, and the audit on
the target world against the calm default world, where body-blind features do predict the class."""

from __future__ import annotations

import numpy as np
import pytest

from kgtoolkit.baselines import clip_features, labelled_clips, linear_probe, probe_all
from kgtoolkit.synth import generate


def test_the_probe_separates_separable_features_and_not_noise():
    rng = np.random.default_rng(0)
    y, yt = np.repeat(np.arange(4), 30), np.repeat(np.arange(4), 20)
    centres = rng.normal(0, 3, (4, 6))
    good = linear_probe(centres[y] + rng.normal(0, 1, (120, 6)), y, centres[yt] + rng.normal(0, 1, (80, 6)), yt)
    noise = linear_probe(rng.normal(0, 1, (120, 6)), y, rng.normal(0, 1, (80, 6)), yt)
    assert good.accuracy > 0.9 and good.chance == 0.25
    assert noise.accuracy < 0.45  # chance 0.25; 80 test points


def test_clip_features_see_motion_where_it_happens():
    frames = np.zeros((9, 32, 32, 3), dtype=np.uint8)
    frames[1::2, :8, 24:] = 255  # a blinking square in the top-right cell of the 4 x 4 grid
    features = clip_features(frames)
    grid = features["motion_grid"].reshape(3, 4, 4)
    assert grid[:, 0, 3].min() > 0.9 and np.delete(grid.reshape(3, 16), 3, axis=1).max() == 0
    assert features["frames"][0] == 9 and features["energy"].shape == (10,)
    with pytest.raises(ValueError, match="at least 2 frames"):
        clip_features(frames[:1])


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("worlds")
    options = dict(classes=6, train_per_class=16, test_per_class=8, frames=12, size=64, seed=5, quirks=0)
    generate(root / "target", world="target", nuisance=1.0, **options)
    generate(root / "calm", nuisance=0.0, **options)
    return root


def test_shortcut_audit_body_blind_features_are_near_chance_on_the_target_world(worlds):
    """48 test videos of 6 actions: chance 1/6. The same features predict the calm default world's
    class far above chance, so the audit can fail."""
    sets = ["colour", "energy", "frames", "blind"]
    target = {r.feature_set: r for r in probe_all(labelled_clips(worlds / "target", "train"),
                                                  labelled_clips(worlds / "target", "test"), sets=sets)}
    calm = {r.feature_set: r for r in probe_all(labelled_clips(worlds / "calm", "train"),
                                                labelled_clips(worlds / "calm", "test"), sets=sets)}
    for name in sets:
        assert target[name].chance == pytest.approx(1 / 6)
        assert target[name].accuracy <= 1 / 6 + 0.15, (name, target[name])
    assert calm["blind"].accuracy >= 0.5
