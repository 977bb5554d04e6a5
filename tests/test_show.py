"""`kgtoolkit show NODE_ID --png FILE`: a node's neighbourhood read from either store into networkx,
listed and drawn; the PNG opened and checked for size and content."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph import NodeRow, RelRow
from kgtoolkit.neighbourhood import LABEL_COLOURS, draw, neighbourhood

MOVEMENTS = {"movement:right_hand/hold/barbell": ("right hand hold barbell", "right_hand", "barbell"),
             "movement:left_hand/hold/barbell": ("left hand hold barbell", "left_hand", "barbell"),
             "movement:left_leg/bend": ("left leg bend", "left_leg", None)}


def seed_graph(store) -> None:
    """An action (clean and jerk) with three movements, their parts and object, and three videos;
    video v0 exhibits two of the movements."""
    store.upsert_nodes("Action", [NodeRow("action:clean_and_jerk", {"name": "clean and jerk"})])
    store.upsert_nodes("Video", [NodeRow(f"video:clean_and_jerk/v{i}", {"name": f"v{i}"}) for i in range(3)])
    store.upsert_nodes("BodyMovement", [NodeRow(i, {"name": n}) for i, (n, _, _) in MOVEMENTS.items()])
    store.upsert_nodes("BodyPart", [NodeRow(f"part:{p}", {"name": p}) for _, p, _ in MOVEMENTS.values()])
    store.upsert_nodes("Object", [NodeRow("object:barbell", {"name": "barbell"})])
    store.upsert_relationships("INVOLVES", [RelRow("action:clean_and_jerk", m, {}) for m in MOVEMENTS])
    store.upsert_relationships("OF_PART", [RelRow(m, f"part:{p}", {}) for m, (_, p, _) in MOVEMENTS.items()])
    store.upsert_relationships("USES", [RelRow(m, f"object:{o}", {}) for m, (_, _, o) in MOVEMENTS.items() if o])
    store.upsert_relationships("SHOWS", [RelRow(f"video:clean_and_jerk/v{i}", "action:clean_and_jerk", {})
                                         for i in range(3)])
    store.upsert_relationships("EXHIBITS", [RelRow("video:clean_and_jerk/v0", m, {"frames": 4})
                                            for m in list(MOVEMENTS)[:2]])


def _edges(hood) -> set[tuple[str, str, str]]:
    return set(hood.graph.edges(data="type"))


def test_an_actions_neighbourhood_is_its_movements_parts_and_objects(store):
    seed_graph(store)
    hood = neighbourhood(store, "action:clean_and_jerk")
    assert _edges(hood) == {("action:clean_and_jerk", m, "INVOLVES") for m in MOVEMENTS} | \
        {(m, f"part:{p}", "OF_PART") for m, (_, p, _) in MOVEMENTS.items()} | \
        {(m, "object:barbell", "USES") for m, (_, _, o) in MOVEMENTS.items() if o}
    assert hood.omitted == {"SHOWS": 3}  # an action's videos are counted, not drawn
    assert hood.summary() == {"BodyMovement": 3, "BodyPart": 3, "Object": 1}
    assert hood.graph.nodes["movement:left_leg/bend"]["name"] == "left leg bend"
    with_videos = neighbourhood(store, "action:clean_and_jerk", show_all=True, limit=2)
    assert with_videos.summary()["Video"] == 2 and with_videos.omitted == {"SHOWS": 1, "INVOLVES": 1}


def test_a_videos_neighbourhood_is_its_action_and_movements(store):
    seed_graph(store)
    hood = neighbourhood(store, "video:clean_and_jerk/v0")
    one_hop = {(u, v, t) for u, v, t in _edges(hood) if u == "video:clean_and_jerk/v0"}
    assert one_hop == {("video:clean_and_jerk/v0", "action:clean_and_jerk", "SHOWS"),
                       ("video:clean_and_jerk/v0", "movement:right_hand/hold/barbell", "EXHIBITS"),
                       ("video:clean_and_jerk/v0", "movement:left_hand/hold/barbell", "EXHIBITS")}
    assert hood.summary() == {"Action": 1, "BodyMovement": 2, "BodyPart": 2, "Object": 1}
    movement = neighbourhood(store, "movement:left_leg/bend")  # from a movement: its action, part
    assert _edges(movement) == {("action:clean_and_jerk", "movement:left_leg/bend", "INVOLVES"),
                                ("movement:left_leg/bend", "part:left_leg", "OF_PART")}
    with pytest.raises(ConfigurationError, match="no node has the id 'action:nope'"):
        neighbourhood(store, "action:nope")


def check_png(path, size=(1000, 1000)) -> None:
    """The picture has the expected size and is not blank: it holds the node colours of an action,
    movements and parts, and a good share of its pixels are not background."""
    image = np.asarray(Image.open(path).convert("RGB"))
    assert (image.shape[1], image.shape[0]) == size
    assert (image.min(axis=2) < 250).mean() > 0.02  # not an empty canvas
    for label in ("Action", "BodyMovement", "BodyPart"):
        colour = np.array([int(LABEL_COLOURS[label][i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(image.astype(int) - colour).sum(axis=2) < 12).sum() > 200, label


def test_draw_writes_a_png_with_the_neighbourhood(store, tmp_path):
    seed_graph(store)
    path = draw(neighbourhood(store, "action:clean_and_jerk"), tmp_path / "cj.png", size=8, dpi=75)
    check_png(path, (600, 600))
    with pytest.raises(ConfigurationError, match="cannot write the picture"):
        draw(neighbourhood(store, "action:clean_and_jerk"), tmp_path / "missing" / "cj.png")


def test_cli_show_on_either_store(store, tmp_path):
    seed_graph(store)
    png = tmp_path / "show.png"
    result = subprocess.run([sys.executable, "-m", "kgtoolkit", "show", "action:clean_and_jerk", "--graph", store.uri,
                             "--png", str(png)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "left leg bend" in result.stdout and "3 SHOWS relationships not shown" in result.stdout
    check_png(png)
    missing = subprocess.run([sys.executable, "-m", "kgtoolkit", "show", "video:nope", "--graph", store.uri],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "no node has the id 'video:nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
