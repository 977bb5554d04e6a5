"""The paper's recipe as the authors' code runs it (pipelines/kg-clip-paper.yaml, docs/PAPER.md):
OpenAI weights with QuickGELU, OpenAI's TorchScript files, the authors' augmentations and test
view, v-b edges sampled with their own clips, the optimiser switches, precision, and model
selection without a validation split. Nothing here downloads anything."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import IngestOptions
from kgtoolkit.model.backbone import is_torchscript_archive, load_backbone, weights_quick_gelu
from kgtoolkit.media import AUTHORS_SCALES, ClipDataset, ClipDecoder, collate_edges, multiscale_crop_box
from kgtoolkit.train.clips import EdgeBatches
from kgtoolkit.train.config import load_config
from kgtoolkit.testing import synthetic_graph
from kgtoolkit.train.sampler import GraphTriplets, VideoItem

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "pipelines" / "kg-clip-paper.yaml"
# The paper's config at CPU size: the package's kg-tiny backbone with random weights, tiny batches.
TINY = ["model.name=kg-tiny", "model.pretrained=null", "model.triplet_layers=1", "data.frames=2", "data.workers=0",
        "optim.batch_size=4", "optim.ab_batch_size=4", "optim.warmup_epochs=0", "eval_batch_size=8",
        "write_embeddings=false"]


# --- 1. OpenAI weights with QuickGELU -------------------------------------------------------------------------
def _activation(model: torch.nn.Module) -> type:
    return type(model.visual.transformer.resblocks[0].mlp.gelu)


def test_the_openai_tag_builds_vit_b_16_with_quick_gelu_without_downloading(monkeypatch):
    """open_clip's ViT-B-16 config says GELU, its `openai` weights were trained with QuickGELU:
    load_backbone follows the weights. The download is replaced by random weights (pretrained=None)."""
    import open_clip
    from open_clip.transformer import QuickGELU

    assert weights_quick_gelu("ViT-B-16", "openai") is True
    assert weights_quick_gelu("ViT-B-16", "laion2b_s34b_b88k") is False  # trained with GELU
    assert weights_quick_gelu("ViT-B-16", None) is None
    assert open_clip.get_model_config("ViT-B-16").get("quick_gelu", False) is False  # open_clip's config: GELU
    paper = load_config(PAPER)
    assert (paper.model.name, paper.model.pretrained) == ("ViT-B-16-quickgelu", "openai")
    assert open_clip.get_model_config(paper.model.name)["quick_gelu"] is True

    real = open_clip.create_model
    calls: list[dict] = []

    def offline(name, pretrained=None, **kwargs):
        calls.append({"name": name, "pretrained": pretrained, **kwargs})
        return real(name, pretrained=None, **kwargs)

    monkeypatch.setattr(open_clip, "create_model", offline)
    backbone = load_backbone("ViT-B-16", "openai")
    assert calls[-1]["pretrained"] == "openai" and calls[-1]["force_quick_gelu"] is True
    assert _activation(backbone.model) is QuickGELU
    assert (backbone.image_size, backbone.embed_dim) == (224, 512)
    # the paper's model name carries QuickGELU in its config, whatever the weights
    assert _activation(load_backbone(paper.model.name, None).model) is QuickGELU
    # a run records the activation its weights imply, and is rebuilt with it from its checkpoint alone;
    # a run saved before the key existed was trained with open_clip's GELU and is rebuilt so
    from kgtoolkit.train.loop import _resolved
    from kgtoolkit.runs import build_model

    monkeypatch.setattr(open_clip, "create_model", real)
    older = load_config(REPO / "pipelines" / "vit-b-16.yaml", ["model.triplet_layers=1"])
    recorded = _resolved(older)
    assert recorded.model.quick_gelu is True and older.model.quick_gelu is None
    assert _activation(build_model(recorded, load_pretrained=False)[0].clip) is QuickGELU
    assert _activation(build_model(older, load_pretrained=False)[0].clip) is torch.nn.GELU


def test_quick_gelu_can_be_forced_either_way():
    from open_clip.transformer import QuickGELU

    assert _activation(load_backbone("kg-tiny").model) is torch.nn.GELU
    assert _activation(load_backbone("kg-tiny", quick_gelu=True).model) is QuickGELU
    assert load_config(None, ["model.quick_gelu=false"]).model.quick_gelu is False


# --- 2. OpenAI's own checkpoint files (TorchScript) --------------------------------------------------------------
class _OpenAIStyleArchive(torch.nn.Module):
    """A module holding a CLIP state dict under OpenAI's names, scripted as OpenAI's releases are
    (fp16 weights, an `input_resolution` entry), without OpenAI's code."""

    def __init__(self, state: dict[str, torch.Tensor], resolution: int):
        super().__init__()
        for name, value in state.items():
            *path, leaf = name.split(".")
            node: torch.nn.Module = self
            for part in path:
                if not hasattr(node, part):
                    node.add_module(part, torch.nn.Module())
                node = getattr(node, part)
            node.register_parameter(leaf, torch.nn.Parameter(value.clone(), requires_grad=False))
        self.register_buffer("input_resolution", torch.tensor(resolution))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _openai_archive(path: Path, state: dict[str, torch.Tensor]) -> Path:
    half = {k: v.half() if v.is_floating_point() and k != "logit_scale" else v for k, v in state.items()}
    with pytest.warns(FutureWarning):  # TorchScript is deprecated; OpenAI's files are TorchScript
        torch.jit.script(_OpenAIStyleArchive(half, 64)).save(str(path))
    return path


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_an_openai_torchscript_release_loads_with_its_weights_and_quick_gelu(tmp_path: Path):
    from open_clip.transformer import QuickGELU

    torch.manual_seed(1)
    source = load_backbone("kg-tiny", quick_gelu=True).model
    state = source.state_dict()
    path = _openai_archive(tmp_path / "ViT-tiny.pt", state)
    assert is_torchscript_archive(path)
    with pytest.raises(RuntimeError, match="TorchScript"), pytest.warns(UserWarning):
        torch.load(path, weights_only=True)  # what open_clip's state-dict loader would make of it

    backbone = load_backbone("kg-tiny", str(path))
    assert _activation(backbone.model) is QuickGELU  # OpenAI's weights: QuickGELU without being asked
    loaded = backbone.model.state_dict()
    assert set(loaded) == set(state)
    for key, value in loaded.items():  # fp16 in the file, fp32 in the model, the same numbers
        assert value.dtype == torch.float32, key
        assert torch.equal(value, state[key].half().float() if key != "logit_scale" else state[key]), key
    config = load_config(PAPER, [*TINY, f"model.pretrained={path}"])
    from kgtoolkit.runs import build_model

    model, _ = build_model(config)
    assert torch.equal(model.clip.visual.conv1.weight, loaded["visual.conv1.weight"])
    from kgtoolkit.train.loop import _resolved

    # the run's config.yaml records QuickGELU: a run loaded where the file is gone keeps the activation
    assert _resolved(config).model.quick_gelu is True and config.model.quick_gelu is None

    # a release of another architecture is named, not half-loaded
    smaller = {k: v for k, v in state.items() if not k.startswith("visual.transformer.resblocks.3.")}
    other = _openai_archive(tmp_path / "other.pt", smaller)
    with pytest.raises(ConfigurationError, match=r"other\.pt: an OpenAI CLIP release that does not fit kg-tiny"):
        load_backbone("kg-tiny", str(other))


# --- 3. the authors' augmentations and test view -----------------------------------------------------------------
def test_multiscale_crop_boxes_are_the_authors():
    """Frames 340 x 256, input 224: sides int(256 * s) for s in (1, .875, .75, .66) = 256, 224, 192,
    168, the two sides' ranks at most one apart (10 pairs), at one of 13 fixed positions."""
    assert AUTHORS_SCALES == (1, 0.875, 0.75, 0.66)
    rng = random.Random(0)
    boxes = [multiscale_crop_box(340, 256, 224, rng) for _ in range(3000)]
    sides = [256, 224, 192, 168]
    pairs = {(w, h) for i, h in enumerate(sides) for j, w in enumerate(sides) if abs(i - j) <= 1}
    assert len(pairs) == 10 and {(w, h) for _, _, w, h in boxes} == pairs
    for left, top, w, h in boxes:
        ws, hs = (340 - w) // 4, (256 - h) // 4
        assert left in {0, ws, 2 * ws, 3 * ws, 4 * ws} and top in {0, hs, 2 * hs, 3 * hs, 4 * hs}
        assert left + w <= 340 and top + h <= 256
    full = [b for b in boxes if b[2:] == (256, 256)]
    assert {(left, top) for left, top, _, _ in full} == {(0, 0), (21, 0), (42, 0), (63, 0), (84, 0)}
    # a side within 3 px of the input size is snapped to it
    assert {w for _, _, w, _ in (multiscale_crop_box(100, 100, 87, rng) for _ in range(500))} == {100, 87, 75, 66}


def _frames(t: int, height: int, width: int, same: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    if same:
        return np.stack([frame] * t)
    return rng.integers(0, 256, size=(t, height, width, 3), dtype=np.uint8)


def test_the_authors_training_view_draws_one_set_of_parameters_per_clip():
    decoder = ClipDecoder(4, 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "authors")
    assert decoder.scale_size == 36 and ClipDecoder(4, 224, (0, 0, 0), (1, 1, 1), "authors").scale_size == 256
    identical = _frames(4, 36, 48, same=True)
    outputs = []
    for seed in range(12):
        clip = decoder.view(identical, train=True, rng=random.Random(seed))
        assert clip.shape == (4, 3, 32, 32) and clip.dtype == torch.float32
        for t in range(1, 4):  # the same crop, flip, colours and RandAugment ops on every frame
            assert torch.equal(clip[t], clip[0]), (seed, t)
        again = decoder.view(identical, train=True, rng=random.Random(seed))
        assert torch.equal(clip, again)  # a pure function of the clip's seed
        outputs.append(clip[0])
    assert len({tuple(o.flatten()[:64].tolist()) for o in outputs}) >= 10  # seeds draw different views
    assert all(float(o.min()) >= -2.0 - 1e-6 and float(o.max()) <= 2.0 + 1e-6 for o in outputs)  # from [0, 1]


def test_the_authors_test_view_is_the_deterministic_centre_crop():
    decoder = ClipDecoder(3, 32, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "authors")
    frames = _frames(3, 36, 50, same=False, seed=4)
    view = decoder.view(frames)
    top, left = (36 - 32) // 2, (50 - 32) // 2
    expected = torch.from_numpy(frames[:, top : top + 32, left : left + 32]).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(view, expected)
    assert torch.equal(decoder.view(frames, train=True, rng=None), expected)  # no rng: the test view
    # the other modes keep their own training view and the same test view
    plain = ClipDecoder(3, 32, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "none")
    assert plain.scale_size == 32
    assert torch.equal(plain.view(frames[:, 2:34, 9:41], train=True, rng=random.Random(1)),
                       torch.from_numpy(frames[:, 2:34, 9:41]).permute(0, 3, 1, 2).float() / 255)


def test_augment_is_a_named_choice_and_old_boolean_configs_still_load():
    assert load_config(None).data.augment == "none"
    assert load_config(None, ["data.augment=true"]).data.augment == "kgtoolkit"
    assert load_config(None, ["data.augment=false"]).data.augment == "none"
    assert load_config(REPO / "pipelines" / "vit-b-16.yaml").data.augment == "kgtoolkit"
    assert load_config(PAPER).data.augment == "authors"
    assert ClipDecoder(2, 8, (0, 0, 0), (1, 1, 1), True).augment == "kgtoolkit"
    with pytest.raises(ConfigurationError, match="data.augment"):
        load_config(None, ["data.augment=strong"])


# --- 4. v-b edges with their own clips ------------------------------------------------------------------------------
def _graph(videos: int = 10, movements: int = 6) -> GraphTriplets:
    items = []
    for i in range(videos):
        split = "train" if i < 8 else "val"
        moves = tuple(sorted({(i + k) % movements for k in range(1 + i % 3)})) if split == "train" else ()
        items.append(VideoItem(i, f"v{i}", None, 8, 64, 64, split, i % 3, moves))
    return GraphTriplets(["a0", "a1", "a2"], ["a0", "a1", "a2"], [f"m{k}" for k in range(movements)],
                         [f"m{k}" for k in range(movements)], items, [(0, 1), (1, 2), (2, 3)])


def test_per_edge_batches_hold_two_b_clips_with_edges_drawn_over_all_training_edges():
    from kgtoolkit.train.step import vb_edges

    data = _graph()
    edges = vb_edges(data)
    assert edges == [(v.index, m) for v in data.videos[:8] for m in v.movements] and len(edges) == 15
    train = [v.index for v in data.split("train")]
    batches = EdgeBatches(train, 3, seed=7, epoch=0, edges=edges)
    steps = list(batches)
    assert len(steps) == len(batches) == 2
    drawn: set[int] = set()
    for step, keys in enumerate(steps):
        va, vb = keys[:3], keys[3:]
        assert len(keys) == 6 and all(len(k) == 2 for k in va) and all(len(k) == 4 for k in vb)
        for j, (epoch, video, edge, slot) in enumerate(vb):
            assert (epoch, slot) == (0, step * 3 + j) and edges[edge][0] == video
            drawn.add(edge)
    # over epochs every edge is drawn, including edges of videos outside the step's v-a clips
    for epoch in range(1, 40):
        drawn.update(k[2] for keys in EdgeBatches(train, 3, 7, epoch, edges) for k in keys[3:])
    assert drawn == set(range(15))
    # reproducible for a seed, different for another
    assert list(EdgeBatches(train, 3, 7, 0, edges)) == steps
    assert list(EdgeBatches(train, 3, 8, 0, edges)) != steps
    # two ranks share a step's draws
    halves = [list(EdgeBatches(train, 3, 7, 0, edges, rank=r, world=2))[0] for r in (0, 1)]
    assert sorted(k for h in halves for k in h if len(k) == 4) == sorted(k for k in steps[0] if len(k) == 4)


def test_a_per_edge_step_batch_serves_v_a_and_v_b_from_their_own_clips():
    from kgtoolkit.train.step import step_batch, vb_edges

    data = _graph()
    edges = vb_edges(data)
    config = load_config(None, ["data.vb_sampling=per_edge", "optim.batch_size=3", "optim.ab_batch_size=2"])

    class Frames(ClipDecoder):  # a clip whose pixels name its video
        def decode(self, spec, train=False, rng=None):
            return torch.full((2, 3, 4, 4), float(spec.path))

    from kgtoolkit.media import ClipSpec

    dataset = ClipDataset([ClipSpec(str(v.index)) for v in data.videos], Frames(2, 4, (0,) * 3, (1,) * 3), True)
    keys = list(EdgeBatches([v.index for v in data.split("train")], 3, 7, 0, edges))[0]
    frames, indices, clip_edges, failed = collate_edges([dataset[k] for k in keys])
    assert frames.shape[0] == 6 and failed == [] and clip_edges[:3].tolist() == [-1, -1, -1]
    batch = step_batch(frames, indices, data, config, 0, 0, 0, clip_edges, edges)
    assert batch.frames.shape[0] == 3 and batch.vb_frames.shape[0] == 3
    assert batch.frames[:, 0, 0, 0, 0].tolist() == [float(k[1]) for k in keys[:3]]
    assert batch.vb_frames[:, 0, 0, 0, 0].tolist() == [float(edges[k[2]][0]) for k in keys[3:]]
    assert batch.vb_tail.tolist() == [edges[k[2]][1] for k in keys[3:]] and batch.vb_rows.tolist() == [0, 1, 2]
    assert batch.va_tail.tolist() == [data.videos[k[1]].action for k in keys[:3]]
    assert batch.ab_head.numel() == 2
    # per-video sampling: movements of the v-a clips themselves, no extra clips
    per_video = step_batch(frames[:3], indices[:3], data, load_config(None, ["optim.ab_batch_size=2"]), 0, 0, 0)
    assert per_video.vb_frames is None and per_video.vb_rows.tolist() == [0, 1, 2]
    assert all(m in data.videos[indices[r]].movements for r, m in zip(per_video.vb_rows.tolist(),
                                                                       per_video.vb_tail.tolist()))


def test_a_movement_head_step_batch_holds_every_movement_each_clip_shows():
    from kgtoolkit.train.step import step_batch

    data = _graph()
    indices = torch.tensor([0, 1, 2, 8])  # three training videos and a validation one (no annotations)
    frames = torch.zeros(4, 2, 3, 4, 4)
    head = step_batch(frames, indices, data, load_config(None, ["model.use_graph=false", "model.movement_head=1"]),
                      0, 0, 0)
    expected = torch.zeros(4, 6)
    for row, i in enumerate(indices.tolist()):
        expected[row, list(data.videos[i].movements)] = 1.0
    assert torch.equal(head.shows, expected) and expected[:3].sum() == 1 + 2 + 3 and expected[3].sum() == 0
    assert step_batch(frames, indices, data, load_config(None, ["model.movement_head=1"]), 0, 0, 0).shows is None
    assert step_batch(frames, indices, data, load_config(None, ["model.use_graph=false"]), 0, 0, 0).shows is None


def test_the_v_b_loss_reads_the_edges_own_clips():
    from kgtoolkit.model.kgclip import KGClip, StepBatch

    torch.manual_seed(0)
    model = KGClip(load_backbone("kg-tiny"), frames=2, triplet_layers=1).eval()  # eval: no dropout
    text = torch.randn(3, model.embed_dim), torch.randn(4, model.embed_dim)
    frames = torch.randn(3, 2, 3, 64, 64)

    def losses(vb_frames):
        batch = StepBatch(frames, torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]), torch.tensor([0, 1, 3]),
                          torch.tensor([0, 1]), torch.tensor([1, 2]), vb_frames=vb_frames)
        with torch.no_grad():
            return model.training_loss(batch, *text, lam=1.0, pair_weight=0.0)

    shared, own, other = losses(None), losses(frames.clone()), losses(torch.randn(3, 2, 3, 64, 64))
    assert own["vb"].item() == pytest.approx(shared["vb"].item(), rel=1e-5)  # the same clips: the same loss
    assert other["vb"].item() != pytest.approx(shared["vb"].item(), rel=1e-3)
    assert other["va"].item() == pytest.approx(shared["va"].item(), rel=1e-6)


# --- 5. optimisation switches and precision ------------------------------------------------------------------------
def test_decay_all_puts_weight_decay_on_every_parameter():
    from kgtoolkit.model.kgclip import KGClip
    from kgtoolkit.train.step import build_optimizer
    from kgtoolkit.train.runtime import Runtime

    model = KGClip(load_backbone("kg-tiny"), frames=2, triplet_layers=1)
    total = sum(1 for _ in model.parameters())
    cpu = Runtime(torch.device("cpu"))
    split = build_optimizer(model, load_config(None, ["optim.weight_decay=0.2"]), cpu)
    assert {g["weight_decay"] for g in split.param_groups} == {0.0, 0.2}
    spared = sum(len(g["params"]) for g in split.param_groups if g["weight_decay"] == 0)
    assert spared > 0 and sum(len(g["params"]) for g in split.param_groups) == total
    every = build_optimizer(model, load_config(PAPER, TINY), cpu)
    assert {g["weight_decay"] for g in every.param_groups} == {0.2}
    assert sum(len(g["params"]) for g in every.param_groups) == total
    assert {(g["name"], g["lr"]) for g in every.param_groups} == {("backbone", 1e-5), ("graph", 1e-4), ("text", 1e-5)}


class _Quadratic(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([3.0, -4.0]))

    def forward(self, *args) -> dict[str, torch.Tensor]:
        return {"loss": 50.0 * (self.weight ** 2).sum()}


@pytest.mark.parametrize("clip", [1.0, None])
def test_grad_clip_null_turns_clipping_off(monkeypatch, clip):
    from kgtoolkit.train import step
    from kgtoolkit.train.runtime import Runtime

    norms: list[float] = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(parameters, max_norm, *args, **kwargs):
        norm = real(parameters, max_norm, *args, **kwargs)
        norms.append(float(norm))
        return norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    model = _Quadratic()
    config = load_config(None, [f"optim.grad_clip={'null' if clip is None else clip}"])
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    step.optimizer_step(model, model, optimizer, None, None, None, config, Runtime(torch.device("cpu")))
    gradient = torch.tensor([300.0, -400.0])  # d/dw 50 w^2 = 100 w; norm 500
    if clip is None:
        assert norms == [] and torch.allclose(model.weight.detach(), torch.tensor([3.0, -4.0]) - gradient)
    else:
        assert norms == [pytest.approx(500.0)]
        assert torch.allclose(model.weight.detach(), torch.tensor([3.0, -4.0]) - gradient / 500, atol=1e-5)


def test_precision_modes_and_the_fp16_scaler():
    from kgtoolkit.train.step import optimizer_step
    from kgtoolkit.train.runtime import Runtime

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert Runtime(cpu).autocast_dtype is None and Runtime(gpu).autocast_dtype is torch.bfloat16  # "auto"
    assert Runtime(gpu, precision="fp32").autocast_dtype is None
    assert Runtime(cpu, precision="bf16").autocast_dtype is torch.bfloat16
    assert Runtime(gpu, precision="fp16").autocast_dtype is torch.float16
    assert not Runtime(cpu, precision="bf16").grad_scaler().is_enabled()
    fp16 = Runtime(cpu, precision="fp16")
    scaler = fp16.grad_scaler()
    assert scaler.is_enabled() and load_config(PAPER).precision == "fp16"
    # the scaled step moves the weights as the plain one: the scale is undone before AdamW
    config = load_config(None, ["optim.grad_clip=null"])
    results = []
    for runtime, step_scaler in ((Runtime(cpu, precision="fp32"), None), (fp16, scaler)):
        model = _Quadratic()
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
        optimizer_step(model, model, optimizer, None, None, None, config, runtime, scaler=step_scaler)
        results.append(model.weight.detach().clone())
    assert torch.allclose(results[0], results[1], atol=1e-6) and not torch.equal(results[0], torch.tensor([3.0, -4.0]))
    assert scaler.get_scale() == 65536.0  # no overflow: the scale stays


def test_the_paper_config_is_the_authors_recipe():
    config = load_config(PAPER)
    m, d, o = config.model, config.data, config.optim
    assert (m.triplet_mixing, m.inverse_score) == ("batch", "authors")
    assert (m.name, m.pretrained, m.triplet_layers, m.dropout, m.prompt_templates) == \
        ("ViT-B-16-quickgelu", "openai", 3, 0.1, ["{}"])
    assert (d.frames, d.augment, d.vb_sampling) == (16, "authors", "per_edge")
    assert (o.epochs, o.batch_size, o.ab_batch_size, o.lr_backbone, o.lr_graph, o.warmup_epochs) == \
        (50, 15, 15, 1e-5, 1e-4, 5)
    assert (o.weight_decay, o.decay_all, o.betas, o.eps, o.grad_clip) == (0.2, True, (0.9, 0.98), 1e-8, None)
    assert (o.lam, o.pair_weight, o.graph_warmup_epochs, config.seed) == (1.0, 0.0, 0, 1024)
    assert "optim.lam=0.5" in PAPER.read_text() and "1.5" in PAPER.read_text()


# --- 6 and 7. no validation split; the paper's config end to end at CPU size ------------------------------------
@pytest.fixture(scope="module")
def graph_without_validation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_graph(tmp_path_factory.mktemp("noval"), IngestOptions(val_fraction=0), classes=3,
                           train_per_class=4, test_per_class=1, frames=8, size=64, seed=5)


def test_an_empty_validation_split_is_a_clear_error(graph_without_validation: Path, tmp_path: Path):
    from kgtoolkit.train.loop import train

    with EmbeddedGraphStore(graph_without_validation) as store, pytest.raises(ConfigurationError) as error:
        train(load_config(PAPER, TINY), store, tmp_path / "run")
    message = str(error.value)
    assert "no validation videos (split 'val')" in message
    assert "--val-fraction" in message and "optim.select=last" in message
    assert not (tmp_path / "run").exists()


def test_the_paper_config_trains_at_cpu_size_and_selects_the_last_epoch(graph_without_validation: Path,
                                                                         tmp_path: Path):
    run = tmp_path / "run"
    args = [sys.executable, "-m", "kgtoolkit", "train", "--graph", str(graph_without_validation),
            "--config", str(PAPER), "--out", str(run)]
    for item in [*TINY, "optim.epochs=2", "optim.select=last"]:
        args += ["--set", item]
    result = subprocess.run(args, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [0, 1] and all(r["val_top1"] is None for r in history)
    assert all(r["train_vb"] > 0 and r["train_ab"] > 0 and "train_pair" not in r for r in history)
    test = json.loads((run / "test_metrics.json").read_text())
    assert test["best_epoch"] == 1 and test["videos"] == 3 and test["best_val_top1"] is None
    assert "last epoch 1 (val top-1 n/a)" in " ".join(result.stdout.split())
    from kgtoolkit.train.checkpoint import load_checkpoint

    scaler = load_checkpoint(run / "checkpoints" / "last.pt")["scaler"]  # fp16: resumed with its loss scale
    assert scaler["scale"] > 0 and scaler["_growth_tracker"] >= 0
    saved = load_config(run / "config.yaml")
    assert (saved.data.augment, saved.data.vb_sampling, saved.optim.grad_clip, saved.precision) == \
        ("authors", "per_edge", None, "fp16")
