"""The pretrained stand-in (kgtoolkit.pretrain): the loss, a tiny pretraining run, and the file it
writes loading where `model.pretrained: FILE` loads weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from kgtoolkit.model.backbone import load_backbone
from kgtoolkit.pretrain import CorpusOptions, PretrainOptions, corpus_clips, hashed_name, multi_positive_loss, pretrain
from kgtoolkit.synth import generate


def test_with_one_positive_each_the_loss_is_clips():
    torch.manual_seed(0)
    video, text, scale = torch.randn(5, 8), torch.randn(5, 8), torch.tensor(2.0)
    logits = scale.exp() * F.normalize(video, dim=-1) @ F.normalize(text, dim=-1).t()
    clip = 0.5 * (F.cross_entropy(logits, torch.arange(5)) + F.cross_entropy(logits.t(), torch.arange(5)))
    assert torch.allclose(multi_positive_loss(video, text, torch.eye(5), scale), clip)


def test_the_loss_spreads_the_target_over_the_texts_a_clip_shows():
    video = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    positives = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    good = multi_positive_loss(video, text, positives, torch.tensor(3.0))
    wrong = multi_positive_loss(video, text, positives[[1, 0]], torch.tensor(3.0))
    assert good < wrong


def test_a_tiny_pretraining_run_writes_weights_that_model_pretrained_loads(tmp_path):
    corpus = tmp_path / "corpus"
    generate(corpus, classes=3, train_per_class=4, test_per_class=0, frames=6, size=32, world="source", quirks=0)
    clips = corpus_clips(corpus)
    assert len(clips) == 12 and all(2 <= len(names) <= 4 for _, names in clips)
    out = tmp_path / "standin.pt"
    result = pretrain(corpus, out, PretrainOptions(frames=2, epochs=2, batch_size=4), log=lambda _: None)
    assert [e["epoch"] for e in result.epochs] == [1, 2] and result.clips_seen == 2 * 8
    loaded = load_backbone(PretrainOptions().model, str(out)).model.state_dict()
    torch.manual_seed(0)  # pretrain's seed: the weights it started from
    initial = load_backbone(PretrainOptions().model, None).model.state_dict()
    saved = torch.load(out, weights_only=True)
    assert all(torch.equal(loaded[k], saved[k]) for k in saved)
    assert loaded.keys() == initial.keys()
    assert any(not torch.equal(loaded[k], initial[k]) for k in saved)  # trained


def test_a_stopped_pretraining_resumes_from_its_last_epoch_and_ends_as_an_uninterrupted_one(tmp_path):
    corpus = tmp_path / "corpus"
    generate(corpus, classes=3, train_per_class=4, test_per_class=0, frames=6, size=32, world="source", quirks=0)
    options = PretrainOptions(frames=2, epochs=3, batch_size=4)
    whole = pretrain(corpus, tmp_path / "whole.pt", options, log=lambda _: None)

    def stop_after_the_first_epoch(line: str) -> None:
        if line.startswith('{"epoch": 1,'):
            raise KeyboardInterrupt

    out = tmp_path / "stopped.pt"
    with pytest.raises(KeyboardInterrupt):
        pretrain(corpus, out, options, log=stop_after_the_first_epoch)
    assert not out.exists() and Path(f"{out}.resume").is_file()
    lines: list[str] = []
    resumed = pretrain(corpus, out, options, log=lines.append)
    assert any(line.startswith("resumed after epoch 1 of 3") for line in lines)
    assert sum(line.startswith('{"epoch"') for line in lines) == 2  # epochs 2 and 3 only
    assert not Path(f"{out}.resume").exists()
    assert resumed.clips_seen == whole.clips_seen and len(resumed.epochs) == 3
    assert [e["loss"] for e in resumed.epochs] == [e["loss"] for e in whole.epochs]
    a, b = torch.load(tmp_path / "whole.pt", weights_only=True), torch.load(out, weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_cache_name_changes_with_every_input():
    base = hashed_name(CorpusOptions(), PretrainOptions(), {"a": 1})
    assert base == hashed_name(CorpusOptions(), PretrainOptions(), {"a": 1})
    assert base != hashed_name(CorpusOptions(classes=65), PretrainOptions(), {"a": 1})
    assert base != hashed_name(CorpusOptions(), PretrainOptions(epochs=13), {"a": 1})
    assert base != hashed_name(CorpusOptions(), PretrainOptions(), {"a": 2})


def test_standin_builds_once_then_finds_its_checkpoint_and_a_config_names_it(tmp_path, monkeypatch):
    from kgtoolkit import pretrain as pretrain_module
    from kgtoolkit.errors import ConfigurationError
    from kgtoolkit.pretrain import standin
    from kgtoolkit.train.config import load_config
    from kgtoolkit.train.loop import _resolved

    corpus = CorpusOptions(classes=3, per_class=4, frames=6, size=32, nuisances=(0.0, 1.0))
    options = PretrainOptions(frames=2, epochs=1, batch_size=4)
    lines: list[str] = []
    built = standin(tmp_path, corpus, options, log=lines.append)
    assert not built.cached and built.path.is_file() and built.result.clips_seen > 0
    assert sorted(p.name.split("-n")[-1] for p in tmp_path.glob("corpus-*")) == ["0", "1"]
    assert any(line.startswith("corpus: 6 videos") for line in lines)
    again = standin(tmp_path, corpus, options, log=lines.append)
    assert again.cached and again.path == built.path and again.result is None
    assert built.report(corpus, options)["pretrain_seconds"] > 0

    # `model.pretrained: standin` becomes the checkpoint's path in the config a run records
    monkeypatch.setattr(pretrain_module, "DEFAULT_CACHE", tmp_path)
    monkeypatch.setattr(pretrain_module, "CorpusOptions", lambda: corpus)
    monkeypatch.setattr(pretrain_module, "PretrainOptions", lambda: options)
    assert _resolved(load_config("tiny")).model.pretrained == str(built.path)
    with pytest.raises(ConfigurationError, match="kg-tiny-rn checkpoint; model.name is kg-tiny"):
        _resolved(load_config("tiny", ["model.name=kg-tiny"]))


def test_kgtoolkit_pretrain_prints_the_cached_checkpoint_it_finds(tmp_path):
    """`kgtoolkit pretrain --cache DIR` with the default options' checkpoint already there prints its
    path and builds nothing (the build itself: the test above, through `standin`)."""
    import subprocess
    import sys

    from kgtoolkit.pretrain import model_config

    options = PretrainOptions()
    cached = tmp_path / hashed_name(CorpusOptions(), options, model_config(options.model))
    cached.write_bytes(b"a checkpoint")
    result = subprocess.run([sys.executable, "-m", "kgtoolkit", "pretrain", "--cache", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(cached) and sorted(p.name for p in tmp_path.iterdir()) == [cached.name]


@pytest.mark.parametrize("rank, order", [(0, ["find or build", "barrier"]), (1, ["barrier", "find or build"])])
def test_under_torchrun_the_main_process_builds_the_standin_and_the_others_wait(monkeypatch, rank, order):
    """Only rank 0 may build the stand-in: the other ranks wait at a barrier, then find it cached."""
    import torch

    from kgtoolkit.train import loop
    from kgtoolkit.train.config import load_config
    from kgtoolkit.train.runtime import Runtime

    calls: list[str] = []
    monkeypatch.setattr(torch.distributed, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(loop, "standin_checkpoint", lambda name: calls.append("find or build") or Path("/s.pt"))
    config = loop._resolved(load_config("tiny"), Runtime(torch.device("cpu"), rank=rank, world=2))
    assert calls == order and config.model.pretrained == "/s.pt"
    calls.clear()
    loop._resolved(load_config("tiny"), Runtime(torch.device("cpu")))
    assert calls == ["find or build"]
