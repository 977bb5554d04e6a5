"""kgtoolkit.linkpred: the KG-CLIP protocols read from a graph store, the filtered evaluator on a
hand-computed example, the graph heuristics, and the Triplet Encoder link predictor learning a
small synthetic graph. PyKEEN is a benchmark dependency (not in `.[test]`): only the tests that
compare with PyKEEN's own evaluator need it, and they skip without it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.ingest import ingest
from kgtoolkit.linkpred import (
    EXHIBITS, INVOLVES, RELEASE_RELATIONS, SHOWS, LinkPredData, TripletConfig, TripletLinkPredictor, entity_text, evaluate,
    heuristic_involves_overlap, heuristic_movement_frequency, heuristic_nearest_videos, neighbour_mean,
    read_release_graph, release_protocol_involves, release_protocol_video_action, text_features, train_triplet,
)

from conftest import RELEASE_DIR


# --- the KG-CLIP protocols, from a real store ----------------------------------------------------
@pytest.fixture
def release_graph(store):
    ingest(RELEASE_DIR, store)
    return read_release_graph(store)


def _pairs(triples: np.ndarray, relation: int) -> set[tuple[int, int]]:
    return {(h, t) for h, r, t in triples.tolist() if r == relation}


def test_protocol_a_hides_test_videos_actions_and_keeps_training_involves_only(release_graph):
    data = release_protocol_video_action(release_graph)
    assert data.sides == ("tail",)
    assert len(data.test) == 762 and len(data.valid) == 304
    assert set(data.test[:, 1].tolist()) == {SHOWS} == set(data.valid[:, 1].tolist())
    shown = _pairs(data.train, SHOWS)
    assert len(shown) == 2743
    held_out = {h for h, _, _ in data.test.tolist()} | {h for h, _, _ in data.valid.tolist()}
    assert not held_out & {h for h, _ in shown}  # no test or validation video's action is in training
    assert len(_pairs(data.train, EXHIBITS)) == 5040  # every video's movements, test videos' included
    assert len(_pairs(data.train, INVOLVES)) == 722  # 801 minus the 79 that only test videos support
    candidates = data.candidates["tail", SHOWS]
    assert len(candidates) == 24 and set(data.test[:, 2].tolist()) <= set(candidates.tolist())
    with_movements = {h for h, _ in _pairs(data.train, EXHIBITS)}
    assert len({h for h, _, _ in data.test.tolist()} - with_movements) == 399
    assert any("399 of them with no EXHIBITS" in note for note in data.notes)
    # the videos' names are numbers in blocks of one action: no text for them
    assert data.textless.tolist() == list(range(24 + 391, 24 + 391 + 3809))


def test_protocol_b_splits_involves_80_10_10_by_seed(release_graph):
    data = release_protocol_involves(release_graph, seed=0)
    assert (len(_pairs(data.train, INVOLVES)), len(data.valid), len(data.test)) == (641, 80, 80)
    splits = [_pairs(part, INVOLVES) for part in (data.train, data.valid, data.test)]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    assert len(_pairs(data.train, SHOWS)) == 3809 and len(_pairs(data.train, EXHIBITS)) == 5040
    again = release_protocol_involves(release_graph, seed=0)
    other = release_protocol_involves(release_graph, seed=1)
    assert np.array_equal(again.test, data.test) and not np.array_equal(other.test, data.test)
    assert len(data.candidates["tail", INVOLVES]) == 391 and len(data.candidates["head", INVOLVES]) == 24
    assert len(data.textless) == 3809 and data.textless.min() == 24 + 391


# --- the evaluator ---------------------------------------------------------------------------
def _hand_data(**kwargs) -> LinkPredData:
    return LinkPredData(name="hand", entities=list("abcde"), relations=["r0", "r1"],
                        train=np.array([[0, 0, 1], [0, 0, 2]]), valid=np.zeros((0, 3), dtype=np.int64),
                        test=np.array([[0, 0, 3], [4, 1, 0]]), **kwargs)


HAND_SCORES = {  # (side, anchor, relation) -> scores of entities a..e
    ("tail", 0, 0): [0.9, 0.8, 0.5, 0.5, 0.5],  # true 3 (0.5); 1, 2 are true too (filtered); 0 better, 4 tied
    ("tail", 4, 1): [0.1, 0.2, 0.3, 0.4, 0.0],  # true 0: three better -> rank 4
    ("head", 3, 0): [1.0, 2.0, 0.0, 0.0, 0.0],  # true 0: one better -> rank 2
    ("head", 0, 1): [5.0, 5.0, 5.0, 5.0, 5.0],  # true 4: tied with four others -> rank (1 + 5) / 2 = 3
}


def _hand_scores(anchors, relations, side, candidates):
    return torch.tensor([HAND_SCORES[side, a, r] for a, r in zip(anchors.tolist(), relations.tolist())])


def test_filtered_realistic_ranks_on_a_hand_computed_example():
    result = evaluate(_hand_scores, _hand_data(), "test", backend="own")
    ranks = [2.5, 4, 2, 3]  # tail: (0, 0, 3), (4, 1, 0); head: (?, 0, 3), (?, 1, 0)
    assert result["mrr"] == pytest.approx(np.mean([1 / r for r in ranks]))
    assert result["tail.mrr"] == pytest.approx((1 / 2.5 + 1 / 4) / 2)
    assert result["head.mrr"] == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert (result["hits@1"], result["hits@3"], result["hits@10"]) == (0.0, 0.75, 1.0)
    assert result["queries"] == 4


def test_candidates_restrict_the_ranking_and_sides_can_be_limited():
    data = _hand_data(sides=("tail",), candidates={("tail", 0): np.array([0, 3]), ("tail", 1): np.array([0, 1])})
    result = evaluate(_hand_scores, data, "test", backend="own")
    # (0, 0, 3): only a (0.9, better) and d remain -> rank 2; (4, 1, 0): only a and b (0.2, better) -> rank 2
    assert result["mrr"] == pytest.approx(0.5) and result["queries"] == 2 and "head.mrr" not in result


def test_pykeen_rank_based_evaluator_gives_the_same_numbers():
    pytest.importorskip("pykeen")
    for data in (_hand_data(), _hand_data(sides=("tail",), candidates={("tail", 0): np.array([0, 3])})):
        own = evaluate(_hand_scores, data, "test", backend="own")
        theirs = evaluate(_hand_scores, data, "test", backend="pykeen")
        for key in ("mrr", "hits@1", "hits@3", "hits@10", "tail.mrr"):
            assert theirs[key] == pytest.approx(own[key]), key


# --- graph heuristics --------------------------------------------------------------------------
def _tiny_release() -> LinkPredData:
    """Actions 0, 1; movements 2, 3, 4; training videos 5 (action 0: movements 2, 3) and 6 (action
    1: movement 4); test videos 7 (movement 2) and 8 (no movement)."""
    train = [(5, SHOWS, 0), (6, SHOWS, 1), (5, EXHIBITS, 2), (5, EXHIBITS, 3), (6, EXHIBITS, 4), (7, EXHIBITS, 2),
             (0, INVOLVES, 2), (0, INVOLVES, 3), (1, INVOLVES, 4)]
    return LinkPredData(name="tiny", entities=[str(i) for i in range(9)], relations=["EXHIBITS", "INVOLVES", "SHOWS"],
                        train=np.array(train), valid=np.zeros((0, 3), dtype=np.int64),
                        test=np.array([(7, SHOWS, 0), (8, SHOWS, 1)]), sides=("tail",),
                        candidates={("tail", SHOWS): np.array([0, 1])})


def test_video_heuristics_use_movements_and_fall_back_to_the_class_prior():
    data = _tiny_release()
    for heuristic in (heuristic_involves_overlap(data), heuristic_nearest_videos(data, k=1)):
        scores = heuristic(torch.tensor([7, 8]), torch.tensor([SHOWS, SHOWS]), "tail", torch.tensor([0, 1]))
        assert scores[0, 0] > scores[0, 1]  # video 7 shares movement 2 with action 0 / video 5
        assert scores[1, 0] == scores[1, 1]  # video 8: no movement, equal priors: a tie
        result = evaluate(heuristic, data, "test", backend="own")
        assert result["mrr"] == pytest.approx((1 + 1 / 1.5) / 2)


def test_movement_frequency_counts_the_actions_videos():
    data = _tiny_release()
    both = heuristic_movement_frequency(data)
    tails = both(torch.tensor([0, 1]), torch.tensor([INVOLVES, INVOLVES]), "tail", torch.tensor([2, 3, 4]))
    assert tails[:, 2:5].tolist() == [[1, 1, 0], [0, 0, 1]]
    heads = both(torch.tensor([4]), torch.tensor([INVOLVES]), "head", torch.tensor([0, 1]))
    assert heads[0, :2].tolist() == [0, 1]
    only_video_6 = heuristic_movement_frequency(data, videos={6})
    assert only_video_6(torch.tensor([0]), torch.tensor([INVOLVES]), "tail", torch.tensor([2, 3, 4]))[0, 2:5].sum() == 0


def _reference_scores(data: LinkPredData, name: str, anchors: list[int], candidates: list[int],
                      side: str = "tail", k: int = 100, videos: set[int] | None = None) -> torch.Tensor:
    """The heuristics as they were written before networkx (plain dicts of sets), kept as the oracle
    the graph-algorithm versions must match value for value."""
    def neighbours(relation: int) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {}
        for h, _, t in data.train[data.train[:, 1] == relation].tolist():
            out.setdefault(h, set()).add(t)
        return out

    counts = np.bincount(data.train[data.train[:, 1] == SHOWS, 2], minlength=data.num_entities)
    prior = torch.as_tensor(counts / (counts.sum() + 1.0), dtype=torch.float32)
    out = prior.repeat(len(anchors), 1) if name != "frequency" else torch.zeros(len(anchors), data.num_entities)
    exhibits, involves = neighbours(EXHIBITS), neighbours(INVOLVES)
    label = {h: t for h, _, t in data.train[data.train[:, 1] == SHOWS].tolist()}
    for i, x in enumerate(anchors):
        moves = exhibits.get(x, set())
        if name == "overlap":
            for a, inv in involves.items():
                out[i, a] += len(inv & moves)
        elif name == "nearest" and moves:
            shared = sorted(((len(moves & exhibits[u]), u) for u in sorted(label) if exhibits.get(u) and u != x),
                            key=lambda p: (-p[0], p[1]))
            for n, u in shared[:k]:
                if n > 0:
                    out[i, label[u]] += 1
        elif name == "frequency":
            for c in candidates:
                a, m = (x, c) if side == "tail" else (c, x)
                out[i, c] = sum(1 for v, t in label.items() if t == a and (videos is None or v in videos)
                                and m in exhibits.get(v, ()))
    return out


def _random_release(seed: int) -> LinkPredData:
    """4 actions (0-3), 12 movements (4-15), 40 videos (16-55): random SHOWS, EXHIBITS (some videos
    have none), INVOLVES; videos 46-55 are test queries with their SHOWS held out."""
    rng = np.random.default_rng(seed)
    train = []
    for v in range(16, 56):
        if v < 46:
            train.append((v, SHOWS, int(rng.integers(4))))
        train += [(v, EXHIBITS, int(m)) for m in rng.choice(np.arange(4, 16), int(rng.integers(0, 5)), replace=False)]
    train += [(a, INVOLVES, int(m)) for a in range(4) for m in rng.choice(np.arange(4, 16), 5, replace=False)]
    test = np.array([(v, SHOWS, int(rng.integers(4))) for v in range(46, 56)])
    return LinkPredData(name=f"random{seed}", entities=[str(i) for i in range(56)], relations=RELEASE_RELATIONS,
                        train=np.array(train), valid=np.zeros((0, 3), dtype=np.int64), test=test, sides=("tail",),
                        candidates={("tail", SHOWS): np.arange(4)})


@pytest.mark.parametrize("seed", range(6))
def test_networkx_heuristics_give_the_values_of_the_set_based_ones(seed):
    data = _random_release(seed)
    videos = list(range(16, 56))
    rel = torch.full((len(videos),), SHOWS)
    assert torch.equal(heuristic_involves_overlap(data)(torch.tensor(videos), rel, "tail", None),
                       _reference_scores(data, "overlap", videos, []))
    for k in (1, 3, 100):
        assert torch.equal(heuristic_nearest_videos(data, k=k)(torch.tensor(videos), rel, "tail", None),
                           _reference_scores(data, "nearest", videos, [], k=k))
    actions, movements = list(range(4)), list(range(4, 16))
    for subset in (None, set(range(16, 30))):
        frequency = heuristic_movement_frequency(data, videos=subset)
        tails = frequency(torch.tensor(actions), torch.full((4,), INVOLVES), "tail", torch.tensor(movements))
        assert torch.equal(tails, _reference_scores(data, "frequency", actions, movements, videos=subset))
        heads = frequency(torch.tensor(movements), torch.full((12,), INVOLVES), "head", torch.tensor(actions))
        assert torch.equal(heads, _reference_scores(data, "frequency", movements, actions, "head", videos=subset))
        assert tails.sum() > 0


def test_heuristics_on_the_release_keep_their_benchmark_values(embedded_store):
    """The figures of BENCHMARKS.md ("Link prediction"), from the networkx heuristics."""
    ingest(RELEASE_DIR, embedded_store)
    graph = read_release_graph(embedded_store)
    a, b = release_protocol_video_action(graph), release_protocol_involves(graph)
    assert evaluate(heuristic_involves_overlap(a), a, "test", backend="own")["mrr"] == pytest.approx(0.345, abs=5e-4)
    assert evaluate(heuristic_nearest_videos(a), a, "test", backend="own")["mrr"] == pytest.approx(0.457, abs=5e-4)
    assert evaluate(heuristic_movement_frequency(b), b, "test", backend="own")["mrr"] == 1.0
    videos = a.test[:40, 0].tolist()
    assert torch.equal(heuristic_nearest_videos(a)(torch.tensor(videos), torch.full((40,), SHOWS), "tail", None),
                       _reference_scores(a, "nearest", videos, []))


# --- the Triplet Encoder as a link predictor ---------------------------------------------------
def _block_graph(seed: int = 0) -> LinkPredData:
    """Three clusters of 8 entities: relation 0 links every A to every B, relation 1 every B to
    every C; 10% of the edges held out for test. A model that learns the clusters ranks them first."""
    a, b, c = range(0, 8), range(8, 16), range(16, 24)
    triples = np.array([(h, 0, t) for h in a for t in b] + [(h, 1, t) for h in b for t in c])
    order = np.random.default_rng(seed).permutation(len(triples))
    test, train = triples[order[:12]], triples[order[12:]]
    return LinkPredData(name="blocks", entities=[str(i) for i in range(24)], relations=["r0", "r1"],
                        train=train, valid=test[:0], test=test)


def test_triplet_encoder_learns_a_small_graph_and_beats_random():
    data = _block_graph()
    cfg = TripletConfig(dim=16, layers=1, dropout=0.0, epochs=25, batch_size=32, negatives=8, lr=1e-2, seed=0)
    untrained = TripletLinkPredictor(data.num_entities, data.num_relations, cfg.dim, layers=1, dropout=0.0)
    before = evaluate(untrained.score_fn(data.num_entities), data, "test", backend="own")["mrr"]
    model, seconds = train_triplet(data, cfg)
    after = evaluate(model.score_fn(data.num_entities), data, "test", backend="own")
    both = evaluate(model.score_fn(data.num_entities, both_directions=True), data, "test", backend="own")
    assert before < 0.45  # random ranking of ~17 unfiltered candidates: about 0.2
    assert after["mrr"] > 0.9 and both["mrr"] > 0.9 and after["hits@3"] == 1.0
    assert seconds > 0


def test_triplet_scores_do_not_depend_on_the_other_queries():
    data = _block_graph()
    model = TripletLinkPredictor(data.num_entities, data.num_relations, 16, layers=1, dropout=0.1)
    fn = model.score_fn(data.num_entities)
    together = fn(torch.tensor([0, 9, 17]), torch.tensor([0, 1, 0]), "tail", None)
    alone = fn(torch.tensor([9]), torch.tensor([1]), "tail", None)
    assert torch.allclose(together[1], alone[0], atol=1e-6)  # eval mode: no dropout, no batch statistics


@pytest.mark.parametrize("loss", ["kl", "both"])
def test_the_authors_in_batch_kl_loss_trains(loss):
    data = _block_graph()
    losses = []
    train_triplet(data, TripletConfig(dim=16, layers=1, epochs=3, batch_size=32, loss=loss, seed=0),
                  on_epoch=lambda epoch, total: losses.append(total))
    assert len(losses) == 3 and all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_frozen_text_embeddings_of_entity_names_are_an_option():
    pytest.importorskip("open_clip")
    data = _block_graph()
    text = text_features(data.entities, "kg-tiny")  # random weights: the plumbing, not the quality
    assert text.shape == (24, 128) and torch.allclose(text.norm(dim=1), torch.ones(24))
    cfg = TripletConfig(dim=16, layers=1, epochs=25, batch_size=32, negatives=8, lr=1e-2, seed=0)
    model, _ = train_triplet(data, cfg, text=text)
    assert "text" not in dict(model.named_parameters()) and torch.equal(model.text, text)  # frozen
    ids = torch.tensor([0, 9, 17])
    expected = model.entities(ids) + text[ids] @ model.text_projection.weight.T
    assert torch.allclose(model.entity(ids), expected, atol=1e-6)
    torch.manual_seed(cfg.seed)  # train_triplet's own initialisation, untrained
    initial = TripletLinkPredictor(24, 2, 16, layers=1, dropout=0.0, init_std=cfg.init_std, text=text)
    assert torch.equal(initial.text, text)
    assert not torch.allclose(initial.text_projection.weight, model.text_projection.weight)  # the projection learns
    assert evaluate(model.score_fn(data.num_entities), data, "test", backend="own")["mrr"] > 0.9
    without = entity_text(dataclasses.replace(data, textless=np.array([3, 5])), "kg-tiny")
    assert without[[3, 5]].abs().sum() == 0 and torch.allclose(without[[0, 4]].norm(dim=1), torch.ones(2))
    with pytest.raises(ConfigurationError, match="text features for 23 entities"):
        TripletLinkPredictor(24, 2, 16, text=text[:23])


def test_neighbour_mean_input_averages_training_neighbours_of_every_relation_both_ways():
    train = np.array([[0, 0, 1], [0, 1, 2], [3, 0, 1]])
    adjacency = neighbour_mean(train, 5).to_dense()
    assert adjacency[0].tolist() == [0, 0.5, 0.5, 0, 0] and adjacency[1].tolist() == [0.5, 0, 0, 0.5, 0]
    assert adjacency[2].tolist() == [1, 0, 0, 0, 0] and adjacency[4].sum() == 0  # entity 4: no neighbour
    model = TripletLinkPredictor(5, 2, 8, adjacency=neighbour_mean(train, 5))
    weight = model.entities.weight
    inputs = model.entity(torch.tensor([0, 4]))
    assert torch.allclose(inputs[0], weight[0] + (weight[1] + weight[2]) / 2) and torch.allclose(inputs[1], weight[4])
    data = _block_graph()
    cfg = TripletConfig(dim=16, layers=1, epochs=25, batch_size=32, negatives=8, lr=1e-2, neighbours=True, seed=0)
    model, _ = train_triplet(data, cfg)
    assert model.adjacency is not None
    assert evaluate(model.score_fn(data.num_entities), data, "test", backend="own")["mrr"] > 0.9


# --- two towers: each anchor and each candidate encoded once -----------------------------------
@pytest.mark.parametrize("mixing", ["none", "pairs"])
def test_two_tower_scores_equal_the_per_pair_scores_and_rank_identically(mixing):
    data = _block_graph()
    cfg = TripletConfig(dim=16, layers=2, epochs=3, batch_size=32, negatives=8, lr=1e-2, mixing=mixing, seed=0)
    model, _ = train_triplet(data, cfg)
    assert model.encoder.mixing == mixing and model.encoder.two_tower
    gen = torch.Generator().manual_seed(3)
    anchors, relations = torch.randint(24, (6,), generator=gen), torch.randint(4, (6,), generator=gen)  # 2, 3: inverses
    targets = torch.randint(24, (6, 5), generator=gen)
    with torch.no_grad():
        fast, slow = model.pair_scores(anchors, relations, targets), model.pair_scores(anchors, relations, targets, per_pair=True)
    assert fast.shape == (6, 5) and torch.allclose(fast, slow, atol=1e-5)
    assert fast.std() > 0.1  # a trained model: the scores are not all alike
    for both in (False, True):
        fast_fn = model.score_fn(data.num_entities, both_directions=both)
        slow_fn = model.score_fn(data.num_entities, both_directions=both, per_pair=True)
        for side, candidates in (("tail", None), ("head", None), ("tail", torch.tensor([1, 8, 9, 20]))):
            a, b = fast_fn(anchors, relations % 2, side, candidates), slow_fn(anchors, relations % 2, side, candidates)
            assert torch.equal(a.isnan(), b.isnan()) and torch.allclose(a.nan_to_num(), b.nan_to_num(), atol=1e-5)
        assert evaluate(fast_fn, data, "test", backend="own") == evaluate(slow_fn, data, "test", backend="own")


def test_the_link_predictor_takes_the_mixing_and_refuses_batch_dependent_scores():
    data = _block_graph()
    model, _ = train_triplet(data, TripletConfig(dim=16, layers=1, epochs=1, batch_size=32, mixing="sequence", seed=0))
    assert model.encoder.mixing == "sequence" and not model.encoder.two_tower
    assert TripletConfig().mixing == "none" == TripletLinkPredictor(24, 2, 16).encoder.mixing
    with pytest.raises(ConfigurationError, match="'batch' attends across the rows"):
        TripletLinkPredictor(24, 2, 16, mixing="batch")


def test_training_keeps_the_epoch_of_best_validation_mrr_and_records_its_state():
    data = _block_graph()
    data = dataclasses.replace(data, valid=data.test[:6], test=data.test[6:])
    cfg = TripletConfig(dim=16, layers=1, epochs=6, batch_size=32, negatives=8, lr=3e-2, valid_every=2, seed=0)
    last, _ = train_triplet(data, dataclasses.replace(cfg, measure_fit=True))
    history = last.history
    assert [r["epoch"] for r in history] == [1, 2, 3, 4, 5, 6] and last.selected_epoch == 6
    checked = [r for r in history if "valid_mrr" in r]
    assert [r["epoch"] for r in checked] == [2, 4, 6] and all("train_mrr" in r for r in checked)
    assert all(r["lr"] == 3e-2 and r["scale"] > 0 and r["entity_norm"] > 0 for r in history)
    best = max(checked, key=lambda r: r["valid_mrr"])
    selected, _ = train_triplet(data, dataclasses.replace(cfg, select="valid"))
    assert selected.selected_epoch == best["epoch"]
    valid_mrr = evaluate(selected.score_fn(data.num_entities), data, "valid", backend="own")["mrr"]
    assert valid_mrr == pytest.approx(best["valid_mrr"], abs=1e-9)  # the kept parameters are that epoch's
    cosine, _ = train_triplet(data, dataclasses.replace(cfg, lr_schedule="cosine"))
    lrs = [r["lr"] for r in cosine.history]
    assert lrs[0] < 3e-2 and all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ConfigurationError, match="needs validation triples"):
        train_triplet(_block_graph(), dataclasses.replace(cfg, select="valid"))
