"""A node's neighbourhood, read from either store into networkx, and drawn as a PNG (`kgtoolkit show`).

The neighbourhood is the node, every relationship that leaves or reaches it (at most `limit` per
type, the rest counted in `omitted`; an action's videos are only counted unless asked for), and, for each body movement among those neighbours, its body
part (OF_PART) and object (USES): an action with its movements and their parts and objects, or a
video with its action and movements. It is drawn with networkx's spring layout (seeded, the node
fixed in the middle, so the same graph gives the same picture) and matplotlib.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph import GraphStore
from kgtoolkit.schema import LABELS, REL_TYPES

ID_PREFIX_LABELS = {"video:": "Video", "action:": "Action", "movement:": "BodyMovement", "part:": "BodyPart",
                    "object:": "Object"}
LABEL_COLOURS = {"Video": "#4c72b0", "Action": "#dd8452", "BodyMovement": "#55a868", "BodyPart": "#8172b3",
                 "Object": "#c44e52"}
MOVEMENT_DETAILS = ("OF_PART", "USES")
# Relationships counted but not drawn by default: an action's videos (hundreds) hide its movements.
HIDDEN = {"Action": ("SHOWS",)}


def find_node(store: GraphStore, node_id: str) -> str:
    """The label of the node with this id (its id prefix's label first, then every label)."""
    prefixed = [label for prefix, label in ID_PREFIX_LABELS.items() if node_id.startswith(prefix)]
    for label in prefixed + [label for label in LABELS if label not in prefixed]:
        if store.get_nodes(label, [node_id]):
            return label
    raise ConfigurationError(f"no node has the id {node_id!r} in {store.uri}: ids look like 'action:push_up' or "
                             "'movement:left_arm/bend' (list them with `kgtoolkit query` or check `kgtoolkit stats`)")


@dataclass
class Neighbourhood:
    centre: str
    graph: nx.DiGraph  # nodes: label, name, hop (0, 1, 2); edges: type
    omitted: dict[str, int] = field(default_factory=dict)  # relationship type -> relationships not included

    def summary(self) -> dict[str, int]:
        """Label -> how many neighbours of that label (the node itself not counted)."""
        counts: dict[str, int] = defaultdict(int)
        for node, label in self.graph.nodes(data="label"):
            if node != self.centre:
                counts[label] += 1
        return dict(sorted(counts.items()))


def _relationships(store: GraphStore, label: str, node_id: str, types=None):
    """(type, src, dst) of every relationship at the node whose type connects its label."""
    for rel in REL_TYPES.values():
        if types is not None and rel.name not in types:
            continue
        for end, endpoint in (("src", rel.source), ("dst", rel.target)):
            if endpoint == label:
                yield rel.name, store.relationships_of(rel.name, node_id, end)


def neighbourhood(store: GraphStore, node_id: str, limit: int = 40, show_all: bool = False) -> Neighbourhood:
    """The node's neighbourhood (see the module docstring); at most `limit` relationships per type;
    an action's SHOWS videos only with `show_all`."""
    if limit < 1:
        raise ConfigurationError(f"--limit {limit}: draw at least one relationship per type")
    label = find_node(store, node_id)
    graph = nx.DiGraph()
    graph.add_node(node_id, label=label, hop=0)
    omitted: dict[str, int] = {}

    def add(rel_type: str, rows, hop: int) -> None:
        rel = REL_TYPES[rel_type]
        if len(rows) > limit:
            omitted[rel_type] = omitted.get(rel_type, 0) + len(rows) - limit
        for row in rows[:limit]:
            for end, end_label in ((row.src, rel.source), (row.dst, rel.target)):
                if end not in graph:
                    graph.add_node(end, label=end_label, hop=hop)
            graph.add_edge(row.src, row.dst, type=rel_type)

    for rel_type, rows in _relationships(store, label, node_id):
        if rel_type in HIDDEN.get(label, ()) and not show_all:
            if rows:
                omitted[rel_type] = omitted.get(rel_type, 0) + len(rows)
            continue
        add(rel_type, rows, 1)
    if label != "BodyMovement":
        for movement in [n for n, lab in graph.nodes(data="label") if lab == "BodyMovement"]:
            for rel_type, rows in _relationships(store, "BodyMovement", movement, MOVEMENT_DETAILS):
                add(rel_type, rows, 2)
    by_label: dict[str, list[str]] = defaultdict(list)
    for node, node_label in graph.nodes(data="label"):
        by_label[node_label].append(node)
    for node_label, ids in by_label.items():
        found = store.get_nodes(node_label, ids)
        for node in ids:
            graph.nodes[node]["name"] = str(found[node].props.get("name", node)) if node in found else node
    return Neighbourhood(node_id, graph, omitted)


def draw(hood: Neighbourhood, path: Path, size: float = 10.0, dpi: int = 100) -> Path:
    """Draw the neighbourhood to a PNG of size x size inches at `dpi`: nodes coloured by label, edges
    by type, the node itself in the middle (networkx shell layout)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    graph = hood.graph
    positions = nx.spring_layout(graph.to_undirected(), pos={hood.centre: (0.0, 0.0)}, fixed=[hood.centre],
                                 k=2.0 / max(1, graph.number_of_nodes()) ** 0.5, iterations=200, seed=0)
    small = graph.number_of_nodes() > 30
    fig, ax = plt.subplots(figsize=(size, size), dpi=dpi)
    types = sorted({t for _, _, t in graph.edges(data="type")})
    palette = plt.get_cmap("tab10")
    edge_colour = {t: palette(i % 10) for i, t in enumerate(types)}
    for rel_type in types:
        edges = [(u, v) for u, v, t in graph.edges(data="type") if t == rel_type]
        nx.draw_networkx_edges(graph, positions, edgelist=edges, edge_color=[edge_colour[rel_type]], ax=ax,
                               arrows=True, arrowsize=10, width=1.2, node_size=500 if small else 900)
    nodes = list(graph.nodes)
    nx.draw_networkx_nodes(graph, positions, nodelist=nodes, ax=ax, linewidths=1.0, edgecolors="black",
                           node_color=[LABEL_COLOURS[graph.nodes[n]["label"]] for n in nodes],
                           node_size=[1800 if n == hood.centre else (500 if small else 900) for n in nodes])
    nx.draw_networkx_labels(graph, positions, ax=ax, font_size=6 if small else 8,
                            labels={n: textwrap.fill(graph.nodes[n]["name"], 14) for n in nodes})
    handles = [Line2D([], [], marker="o", linestyle="", markersize=10, markerfacecolor=LABEL_COLOURS[lab],
                      markeredgecolor="black", label=lab)
               for lab in LABELS if any(d == lab for _, d in graph.nodes(data="label"))]
    handles += [Line2D([], [], color=edge_colour[t], linewidth=2, label=t) for t in types]
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    title = f"{graph.nodes[hood.centre]['name']} ({hood.centre}): {graph.number_of_nodes() - 1} neighbours"
    if hood.omitted:
        title += "; not drawn: " + ", ".join(f"{n} {t}" for t, n in sorted(hood.omitted.items()))
    ax.set_title(textwrap.fill(title, 90), fontsize=10)
    ax.set_axis_off()
    ax.margins(0.12)
    path = Path(path)
    try:
        fig.savefig(path, dpi=dpi, facecolor="white", format="png")
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot write the picture ({error.strerror or error})") from None
    finally:
        plt.close(fig)
    return path
