"""The KG-CLIP model pieces: Triplet Encoder, losses, inference, backbone loading, config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.model.backbone import load_backbone
from kgtoolkit.model.kgclip import KGClip
from kgtoolkit.model.losses import kl_contrastive, same_target_labels
from kgtoolkit.model.triplet import TripletEncoder
from kgtoolkit.train.config import load_config


@pytest.fixture(scope="module")
def tiny_model() -> KGClip:
    torch.manual_seed(0)
    return KGClip(load_backbone("kg-tiny"), frames=4).eval()


def test_triplet_encoder_shapes_and_relations():
    enc = TripletEncoder(32, relations=3, layers=2).eval()
    h, t = torch.randn(6, 32), torch.randn(6, 32)
    x_h, x_t = enc(h, torch.tensor([0, 1, 2, 3, 4, 5]), t)
    assert x_h.shape == x_t.shape == (6, 32)
    fwd, _ = enc(h, torch.full((6,), 2), t)
    inv, _ = enc(h, torch.full((6,), 5), t)
    assert not torch.allclose(fwd, inv)  # the inverse relation has its own tokens
    assert enc.relation_embeddings.num_embeddings == 6 and enc.relation_embeddings.embedding_dim == 64


def test_predictions_do_not_depend_on_the_rest_of_the_batch(tiny_model: KGClip):
    clips = torch.randn(5, 4, 3, 64, 64)
    classes = torch.randn(7, tiny_model.embed_dim)
    with torch.no_grad():
        video = tiny_model.encode_video(clips)
        together = tiny_model.class_scores(video, classes)
        alone = [tiny_model.class_scores(video[i : i + 1], classes) for i in range(5)]
        shuffled = tiny_model.class_scores(video[[4, 2, 0, 3, 1]], classes)
    assert torch.allclose(together.s_output, torch.cat([a.s_output for a in alone]), atol=1e-5)
    assert torch.allclose(together.s_output[[4, 2, 0, 3, 1]], shuffled.s_output, atol=1e-5)
    fused = 0.5 * together.s_mm + 0.25 * together.s_tri_forward + 0.25 * together.s_tri_inverse
    assert torch.allclose(together.s_output, fused, atol=1e-6)


def test_clip_only_mode_scores_by_cosine_alone():
    model = KGClip(load_backbone("kg-tiny"), frames=4, use_graph=False).eval()
    video, classes = torch.randn(3, model.embed_dim), torch.randn(4, model.embed_dim)
    scores = model.class_scores(video, classes)
    expected = torch.nn.functional.normalize(video, dim=-1) @ torch.nn.functional.normalize(classes, dim=-1).t()
    assert torch.allclose(scores.s_output, expected, atol=1e-6)


def test_kl_loss_is_the_authors():
    logits = torch.tensor([[2.0, 0.5, 0.1], [0.3, 1.0, 0.2], [0.0, 0.4, 3.0]])
    labels = same_target_labels(torch.tensor([0, 0, 1]))
    target = torch.softmax(labels * 10, dim=1)
    manual = (target * (target.log() - torch.log_softmax(logits, dim=1))).sum() / 9 * 3
    assert kl_contrastive(logits, labels).item() == pytest.approx(manual.item(), rel=1e-5)


def test_training_loss_covers_every_relation(tiny_model: KGClip):
    from kgtoolkit.model.kgclip import StepBatch

    model = tiny_model.train()
    batch = StepBatch(frames=torch.randn(4, 4, 3, 64, 64), va_tail=torch.tensor([0, 0, 1, 2]),
                      vb_rows=torch.tensor([0, 1, 3]), vb_tail=torch.tensor([1, 2, 1]),
                      ab_head=torch.tensor([0, 1, 2]), ab_tail=torch.tensor([1, 2, 0]))
    out = model.training_loss(batch, torch.randn(3, model.embed_dim), torch.randn(3, model.embed_dim), 0.1, 1.0)
    assert set(out) == {"loss", "va", "vb", "ab", "pair"}
    out["loss"].backward()
    assert model.triplet.delta.grad is not None and model.clip.logit_scale.grad is not None
    model.eval()


def test_backbone_weights_from_a_local_file_and_clear_errors(tmp_path: Path):
    first = load_backbone("kg-tiny")
    path = tmp_path / "weights.pt"
    torch.save(first.model.state_dict(), path)
    again = load_backbone("kg-tiny", str(path))
    for (name, a), (_, b) in zip(first.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name
    with pytest.raises(ConfigurationError, match="neither an existing file nor an open_clip tag"):
        load_backbone("kg-tiny", "no-such-tag")
    with pytest.raises(ConfigurationError, match="unknown CLIP model"):
        load_backbone("ViT-Nope-99")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(ConfigurationError, match="cannot load CLIP weights"):
        load_backbone("kg-tiny", str(tmp_path / "bad.pt"))


def test_config_refuses_unknown_keys_and_applies_overrides(tmp_path: Path):
    repo = Path(__file__).resolve().parents[1]
    config = load_config(repo / "pipelines" / "tiny-scratch.yaml", ["optim.epochs=3", "model.use_graph=false",
                                                            "model.prompt_templates=['a video of {}']"])
    assert config.optim.epochs == 3 and config.model.use_graph is False
    assert config.model.prompt_templates == ["a video of {}"]
    with pytest.raises(ConfigurationError, match="optim.epocs"):
        load_config(None, ["optim.epocs=3"])
    with pytest.raises(ConfigurationError, match="prompt_templates"):
        load_config(None, ["model.prompt_templates=['no slot']"])
    with pytest.raises(ConfigurationError, match="key=value"):
        load_config(None, ["optim.epochs"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2]\n")
    with pytest.raises(ConfigurationError, match="bad.yaml"):
        load_config(bad)


@pytest.mark.parametrize("mixing, kind, solvable", [
    ("sequence", "authors", True),  # the joint encoder's x_h of sequence i reads t_i
    ("sequence", "pairwise", False),
    ("none", "authors", False),  # two towers: x_h cannot read the tail (the authors' real model)
    ("batch", "authors", False),
])
def test_in_batch_triple_logits_are_solved_from_the_tails_alone_only_by_the_joint_encoder(mixing, kind, solvable):
    """A batch whose heads carry no information: a loss well below its no-information value can
    only come from reading the tails. The authors' in-batch logits on a joint [h, r, t] encoder
    allow it; their own two-tower encoder (and the pairwise logits) do not."""
    torch.manual_seed(0)
    heads = torch.randn(1, 128).expand(6, 128)  # one head for every row: nothing to tell them apart
    tails = torch.randn(3, 128)[torch.tensor([0, 1, 2, 0, 1, 2])]
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    torch.manual_seed(1)
    model = KGClip(load_backbone("kg-tiny"), frames=2, triplet_layers=1, dropout=0.0, triplet_loss=kind,
                   triplet_mixing=mixing)
    optimizer = torch.optim.Adam(list(model.triplet.parameters()), lr=3e-3)
    for _ in range(150):
        loss = model.relation_loss(heads, 2, tails, targets, lam=0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    floor = float(kl_contrastive(torch.zeros(6, 6), same_target_labels(targets)))  # every logit equal
    final = float(loss.detach())
    if solvable:
        assert final < 0.5 * floor
    else:
        assert final >= floor - 1e-3


def test_model_options_are_checked():
    with pytest.raises(ValueError, match="triplet_loss"):
        KGClip(load_backbone("kg-tiny"), frames=2, triplet_loss="other")
    with pytest.raises(ValueError, match="triplet_mixing"):
        KGClip(load_backbone("kg-tiny"), frames=2, triplet_mixing="other")
    with pytest.raises(ValueError, match="inverse_score"):
        KGClip(load_backbone("kg-tiny"), frames=2, inverse_score="other")


def test_masking_known_edges_leaves_them_out_of_the_contrastive_loss():
    """Rows 0 and 1 have different tails, but (head 0, tail 1) is a known edge: masked, its logit
    changes nothing; unmasked, it is a negative whose logit raises the loss."""
    labels = same_target_labels(torch.tensor([0, 1, 2]))
    known = torch.zeros(3, 3, dtype=torch.bool)
    known[0, 1] = True
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]])
    raised = logits.clone()
    raised[0, 1] = 4.0
    mask = known & (labels == 0)
    assert torch.isclose(kl_contrastive(raised, labels, mask), kl_contrastive(logits, labels, mask))
    assert kl_contrastive(raised, labels) > kl_contrastive(logits, labels) + 0.1
    assert torch.isfinite(kl_contrastive(raised, labels, mask))


def test_text_tower_learning_rate_zero_freezes_it_and_weight_decay_spares_gains():
    from kgtoolkit.train.step import build_optimizer
    from kgtoolkit.runs import build_model
    from kgtoolkit.train.runtime import setup_runtime

    repo = Path(__file__).resolve().parents[1]
    runtime = setup_runtime("cpu")
    for lr_text, frozen in (("0", True), ("null", False)):
        config = load_config(repo / "pipelines" / "tiny-scratch.yaml", [f"optim.lr_text={lr_text}"])
        model, _ = build_model(config)
        optimizer = build_optimizer(model, config, runtime)
        text = [p for n, p in model.named_parameters() if n.startswith("clip.transformer.")]
        in_optimizer = {id(p) for g in optimizer.param_groups for p in g["params"]}
        assert all((not p.requires_grad) == frozen and (id(p) in in_optimizer) != frozen for p in text)
        names = {g["name"] for g in optimizer.param_groups}
        assert names == ({"backbone", "graph"} if frozen else {"backbone", "graph", "text"})
        if not frozen:
            assert all(g["lr"] == config.optim.lr_backbone for g in optimizer.param_groups if g["name"] == "text")
        scale = model.clip.logit_scale
        assert all(g["weight_decay"] == 0 for g in optimizer.param_groups if any(p is scale for p in g["params"]))


def test_the_movement_head_learns_which_movements_a_clip_shows_without_the_graph():
    """CLIP plus a movement head (model.movement_head, use_graph false): its multi-label loss is part
    of the training loss, reaches the image tower and its bias, and falls when the clip's embedding
    moves towards the texts of the movements its video shows."""
    from kgtoolkit.model.kgclip import StepBatch

    torch.manual_seed(0)
    model = KGClip(load_backbone("kg-tiny"), frames=2, use_graph=False, movement_head=0.5)
    assert KGClip(load_backbone("kg-tiny"), frames=2, movement_head=0.5).movement_head == 0  # with the graph: off
    movement_text = torch.randn(5, model.embed_dim)
    shows = torch.tensor([[1.0, 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]])  # the third shows none
    batch = StepBatch(frames=torch.randn(3, 2, 3, 64, 64), va_tail=torch.tensor([0, 1, 2]),
                      vb_rows=torch.zeros(0, dtype=torch.long), vb_tail=torch.zeros(0, dtype=torch.long),
                      ab_head=torch.zeros(0, dtype=torch.long), ab_tail=torch.zeros(0, dtype=torch.long), shows=shows)
    parts = model.training_loss(batch, torch.randn(3, model.embed_dim), movement_text, lam=0.1, pair_weight=0)
    assert torch.allclose(parts["loss"], parts["va"] + parts["movement_head"])
    parts["loss"].backward()
    assert model.movement_bias.grad is not None and model.clip.visual.conv1.weight.grad.abs().sum() > 0
    toward = (shows[:2] @ movement_text) / shows[:2].sum(1, keepdim=True)  # the mean text of what each shows
    with torch.no_grad():
        near = model.movement_loss(toward, movement_text, shows[:2])
        far = model.movement_loss(-toward, movement_text, shows[:2])
        assert model.movement_loss(toward, movement_text, shows[2:]) == 0  # no annotated clip: no loss
    assert near < far
