"""The Triplet Encoder's token mixing, held to the authors' code and to the mathematics of two towers.

Golden figures: the authors' ARClip (RuixZh/KG_CLIP @ 6e7af54, modules/AR_CLIP.py and
modules/triple_modules.py) was run outside this project, in float64, with D = 8, 2 heads, their
3 layers, every parameter drawn by `authors_parameters` below (numpy default_rng(7), standard
normal x 0.3, in sorted-name order) and the inputs of `authors_inputs` (default_rng(11)). The
numbers are what their `triple_encoder` (relation 2, v-a) and their test-time `forward` printed.
Their LayerNorm divides by the unbiased std + eps: the same function as torch's LayerNorm with the
gain scaled by sqrt((D - 1) / D), which is how their weights are loaded here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kgtoolkit.model.backbone import Backbone
from kgtoolkit.model.kgclip import REL_VA, KGClip
from kgtoolkit.model.triplet import MIXINGS, TripletEncoder

D, HEADS, LAYERS, N, T, C = 8, 2, 3, 3, 2, 4

AUTHORS_X_H = [
    [5.28815598959, 13.1911278135, -2.00738252168, 0.27108156999, -0.348287133654, 0.275750713135, -0.135965725217, 1.43337756414],
    [1.17505361218, -3.90774284575, -3.95730517692, 0.266340890848, 1.28399385496, 0.204050510616, 0.593176310642, 3.29258798458],
    [1.20074883843, 4.23446931539, 3.19004280025, 0.240384892259, -1.34075794227, 0.466323670961, -0.00623155742951, -0.487787175099],
]
AUTHORS_X_T = [
    [17.1716032645, 4.68779907764, 1.76760494421, 2.17599463406, 1.97307928638, 1.54648956051, -2.33778563878, 3.09131832066],
    [9.86202824844, 14.3631406227, -0.180749071887, 0.285129371697, -0.679333000115, 6.24284941724, 1.9880116508, 0.961371758288],
    [5.94252413777, 12.5897567926, -0.549181995835, 2.17553430313, 0.806781375074, -1.3596837795, 8.52680510988, 4.63996520994],
]
AUTHORS_INFERENCE = [
    [0.279117878496, 0.201034115689, 0.55513847742, 0.344820826197],
    [0.520116918785, 0.512110581172, 0.0596640495565, 0.337653415657],
    [0.560169574228, 0.128594058255, 0.228897282302, -0.00204409414517],
]


def authors_parameters() -> dict[str, np.ndarray]:
    """Their state dict's names and shapes, each drawn in sorted-name order."""
    shapes = {"noise": (1, D), "relation_embeddings.weight": (6, 2 * D), "triple_position_embeddings.weight": (4, D)}
    for i in range(LAYERS):
        block = f"triple_transformer.resblocks.{i}."
        for j in range(3):
            shapes[f"{block}attention.linear_layers.{j}.weight"] = (D, D)
            shapes[f"{block}attention.linear_layers.{j}.bias"] = (D,)
        shapes[f"{block}attention.output_linear.weight"] = (D, D)
        shapes[f"{block}attention.output_linear.bias"] = (D,)
        shapes[f"{block}feed_forward.w_1.weight"] = (4 * D, D)
        shapes[f"{block}feed_forward.w_1.bias"] = (4 * D,)
        shapes[f"{block}feed_forward.w_2.weight"] = (D, 4 * D)
        shapes[f"{block}feed_forward.w_2.bias"] = (D,)
        for sub in ("input_sublayer", "output_sublayer"):
            shapes[f"{block}{sub}.norm.a_2"] = (D,)
            shapes[f"{block}{sub}.norm.b_2"] = (D,)
    rng = np.random.default_rng(7)
    return {name: rng.standard_normal(shapes[name]) * 0.3 for name in sorted(shapes)}


def authors_inputs() -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(11)
    shapes = (("head", (N, D)), ("tail", (N, D)), ("video", (N, T, D)), ("classes", (C, D)), ("other_tail", (N, D)))
    return {name: torch.tensor(rng.standard_normal(shape)) for name, shape in shapes}


def load_authors(encoder: TripletEncoder, params: dict[str, np.ndarray]) -> None:
    """Their parameters into this encoder: Q/K/V packed, LayerNorm gains scaled (module docstring)."""
    p = {k: torch.tensor(v) for k, v in params.items()}
    gain = math.sqrt((D - 1) / D)
    state = {"delta": p["noise"], "relation_embeddings.weight": p["relation_embeddings.weight"],
             "position_embeddings.weight": p["triple_position_embeddings.weight"]}
    for i in range(LAYERS):
        src, dst = f"triple_transformer.resblocks.{i}.", f"blocks.{i}."
        qkv = [f"{src}attention.linear_layers.{j}" for j in range(3)]
        state[f"{dst}attn.in_proj_weight"] = torch.cat([p[f"{n}.weight"] for n in qkv])
        state[f"{dst}attn.in_proj_bias"] = torch.cat([p[f"{n}.bias"] for n in qkv])
        state[f"{dst}attn.out_proj.weight"] = p[f"{src}attention.output_linear.weight"]
        state[f"{dst}attn.out_proj.bias"] = p[f"{src}attention.output_linear.bias"]
        state[f"{dst}ffn.0.weight"], state[f"{dst}ffn.0.bias"] = p[f"{src}feed_forward.w_1.weight"], p[f"{src}feed_forward.w_1.bias"]
        state[f"{dst}ffn.3.weight"], state[f"{dst}ffn.3.bias"] = p[f"{src}feed_forward.w_2.weight"], p[f"{src}feed_forward.w_2.bias"]
        for sub, norm in (("input_sublayer", "norm1"), ("output_sublayer", "norm2")):
            state[f"{dst}{norm}.weight"] = p[f"{src}{sub}.norm.a_2"] * gain
            state[f"{dst}{norm}.bias"] = p[f"{src}{sub}.norm.b_2"]
    encoder.load_state_dict(state)


def scoring_model(mixing: str, inverse_score: str = "pairwise", width: int = D) -> KGClip:
    """A KGClip for scoring tests: the CLIP part is an empty stand-in (scores take embeddings)."""
    clip = torch.nn.Module()
    clip.logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    backbone = Backbone(clip, None, 8, (0.5,) * 3, (0.5,) * 3, width)
    heads = HEADS if width == D else None
    model = KGClip(backbone, frames=T, triplet_mixing=mixing, inverse_score=inverse_score, dropout=0.0)
    model.triplet = TripletEncoder(width, layers=LAYERS, heads=heads, dropout=0.0, mixing=mixing)
    return model.double().eval()


def test_batch_mixing_is_the_authors_triple_encoder():
    model = scoring_model("batch")
    load_authors(model.triplet, authors_parameters())
    x = authors_inputs()
    with torch.no_grad():
        x_h, x_t = model.triplet(x["head"], torch.full((N,), REL_VA), x["tail"])
    assert torch.allclose(x_h, torch.tensor(AUTHORS_X_H, dtype=torch.float64), atol=1e-4)
    assert torch.allclose(x_t, torch.tensor(AUTHORS_X_T, dtype=torch.float64), atol=1e-4)


def test_batch_mixing_with_the_authors_inverse_and_test_batches_is_their_inference():
    model = scoring_model("batch", inverse_score="authors")
    load_authors(model.triplet, authors_parameters())
    x = authors_inputs()
    scores = model.class_scores(x["video"].mean(dim=1), x["classes"], batch_context="batch")
    assert torch.allclose(scores.s_output.double(), torch.tensor(AUTHORS_INFERENCE, dtype=torch.float64), atol=1e-4)
    # Their inverse term is one constant for every (video, class) pair: they rank by 1/2 S_mm + 1/4 S_fwd.
    assert torch.allclose(scores.s_tri_inverse, scores.s_tri_inverse[0, 0].expand(N, C))


@pytest.mark.parametrize("mixing", ["none", "pairs", "batch"])
def test_two_towers_replacing_every_tail_leaves_x_h_unchanged(mixing: str):
    torch.manual_seed(0)
    encoder = TripletEncoder(16, layers=2, dropout=0.0, mixing=mixing).eval()
    head, relation = torch.randn(5, 16), torch.full((5,), REL_VA)
    x_h, x_t = encoder(head, relation, torch.randn(5, 16))
    x_h2, x_t2 = encoder(head, relation, torch.randn(5, 16))
    assert torch.equal(x_h, x_h2)
    assert not torch.allclose(x_t, x_t2)
    # The joint encoder reads the tail in x_h: the two-tower property is not a trivial one.
    joint = TripletEncoder(16, layers=2, dropout=0.0, mixing="sequence").eval()
    joint.load_state_dict(encoder.state_dict())
    assert not torch.allclose(joint(head, relation, torch.randn(5, 16))[0], joint(head, relation, torch.randn(5, 16))[0])


@pytest.mark.parametrize("mixing", MIXINGS)
def test_score_matrix_equals_the_per_pair_scores(mixing: str):
    torch.manual_seed(1)
    encoder = TripletEncoder(16, layers=2, dropout=0.0, mixing=mixing).eval()
    heads, tails = torch.randn(3, 16), torch.randn(4, 16)
    matrix = encoder.score_matrix(heads, REL_VA, tails)
    for i in range(3):
        for j in range(4):
            if mixing == "batch":  # per pair = the head among the batch's heads, the tail among its tails
                x_h = encoder.heads(heads, REL_VA)[i]
                x_t = encoder.tails(tails, REL_VA)[j]
            else:
                x_h, x_t = encoder(heads[i : i + 1], torch.tensor([REL_VA]), tails[j : j + 1])
            expected = torch.nn.functional.cosine_similarity(x_h.reshape(1, -1), x_t.reshape(1, -1))
            assert torch.allclose(matrix[i, j], expected[0], atol=1e-5)


@pytest.mark.parametrize("mixing", MIXINGS)
def test_a_clips_scores_are_the_same_alone_and_in_any_batch(mixing: str):
    torch.manual_seed(2)
    model = scoring_model(mixing, width=16).float()
    model.train()
    model._remember_videos(torch.randn(6, 16))  # mixing "batch": a reference set kept from training
    model.eval()
    video, classes = torch.randn(5, 16), torch.randn(7, 16)
    together = model.class_scores(video, classes).s_output
    alone = torch.cat([model.class_scores(video[i : i + 1], classes).s_output for i in range(5)])
    shuffled = model.class_scores(video[[4, 2, 0, 3, 1]], classes).s_output
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together[[4, 2, 0, 3, 1]], shuffled, atol=1e-5)
    if mixing == "batch":  # the authors' own test batches do depend on the batch
        theirs = model.class_scores(video, classes, batch_context="batch").s_output
        assert not torch.allclose(theirs[:1], model.class_scores(video[:1], classes, batch_context="batch").s_output)


@pytest.mark.parametrize("mixing", ["none", "pairs", "batch"])
def test_query_and_key_vectors_reproduce_the_class_scores(mixing: str):
    """S_output = query . key: what the graph's vector indexes rank by is what classify ranks by."""
    from kgtoolkit.model.kgclip import CLASS_WEIGHTS

    torch.manual_seed(3)
    model = scoring_model(mixing, width=16).float()
    video, classes = torch.randn(4, 16), torch.randn(6, 16)
    keys = model.relation_keys(classes, REL_VA, CLASS_WEIGHTS)
    dot = model.relation_query(video, keys) @ keys.key().t()
    assert torch.allclose(dot, model.class_scores(video, classes).s_output, atol=1e-5)


def test_triplet_init_covers_the_packed_qkv_projection():
    torch.manual_seed(4)
    encoder = TripletEncoder(128, layers=2)
    for block in encoder.blocks:
        assert abs(float(block.attn.in_proj_weight.detach().std()) - 0.02) < 0.002
        assert float(block.attn.in_proj_bias.detach().abs().max()) == 0.0
