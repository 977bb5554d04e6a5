"""The graph model in code: labels, relationship types and their endpoints, and the Cypher
statements of graph_schema/ (package data: kgtoolkit/graph/schema/*.cypher, linked from
graph_schema/). Every label or type that reaches a Cypher string passes through
`check_label` / `check_rel_type`, so a hostile name can never become Cypher."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from kgtoolkit.errors import SchemaError

SCHEMA_DIR: Traversable = files("kgtoolkit") / "graph" / "schema"  # constraints.cypher, indexes.cypher

LABELS: tuple[str, ...] = ("Video", "Action", "BodyPart", "Object", "BodyMovement")
EMBEDDED_LABELS: tuple[str, ...] = ("Video", "Action", "BodyMovement")


@dataclass(frozen=True)
class RelType:
    name: str
    source: str
    target: str
    short: str | None = None  # the KG-CLIP relation name, for the three learned relations


REL_TYPES: dict[str, RelType] = {
    r.name: r
    for r in (
        RelType("SHOWS", "Video", "Action", "v-a"),
        RelType("EXHIBITS", "Video", "BodyMovement", "v-b"),
        RelType("INVOLVES", "Action", "BodyMovement", "a-b"),
        RelType("OF_PART", "BodyMovement", "BodyPart"),
        RelType("USES", "BodyMovement", "Object"),
    )
}
# The relations the Triplet Encoder learns, in the authors' order (ids 0, 1, 2; inverses 3, 4, 5):
# the one definition of relation ids that the model, the sampler's id_maps.json, link prediction
# and the KG-CLIP release reader (whose kg_idx.json names them v-b, a-b, v-a) share.
LEARNED_RELATIONS: tuple[str, ...] = ("EXHIBITS", "INVOLVES", "SHOWS")
RELATION_IDS: dict[str, int] = {name: i for i, name in enumerate(LEARNED_RELATIONS)}
REL_VB, REL_AB, REL_VA = RELATION_IDS["EXHIBITS"], RELATION_IDS["INVOLVES"], RELATION_IDS["SHOWS"]
INVERSE_OFFSET = len(LEARNED_RELATIONS)  # relation id + INVERSE_OFFSET is its inverse
RELEASE_RELATION_IDS: dict[str, int] = {REL_TYPES[name].short: i for name, i in RELATION_IDS.items()}

# Actions in class order: by `classIndex`, then id. An action without one (made by `add-action`
# after ingest) comes after every ingested action, in the sampler, link prediction and classify alike.
UNINDEXED_ACTION = 1 << 30


def action_sort_key(action_id: str, props: Mapping[str, object]) -> tuple[int, str]:
    index = props.get("classIndex")
    return (int(index) if isinstance(index, int) else UNINDEXED_ACTION, action_id)


_PROPERTY_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_label(label: str) -> str:
    if label not in LABELS:
        raise SchemaError(f"unknown node label {label!r}: the graph model has {', '.join(LABELS)}")
    return label


def check_rel_type(rel_type: str) -> RelType:
    try:
        return REL_TYPES[rel_type]
    except KeyError:
        raise SchemaError(
            f"unknown relationship type {rel_type!r}: the graph model has {', '.join(REL_TYPES)}"
        ) from None


def check_property_key(key: str) -> str:
    if not isinstance(key, str) or not _PROPERTY_KEY.match(key):
        raise SchemaError(f"property key {key!r} is not a plain identifier")
    return key


# Vector properties written by a run, per label. `embedding`: the model's joint space (video and text
# embeddings comparable). The relation-space vectors of a two-tower Triplet Encoder: a video's
# query and an action's (movement's) key, whose dot product is the score `classify` ranks by
# (kgtoolkit/model/kgclip.py `RelationKeys`), so one vector-index query ranks as classify does.
EMBEDDING = "embedding"
VECTOR_PROPERTIES: dict[str, tuple[str, ...]] = {
    "Video": (EMBEDDING, "showsQuery", "exhibitsQuery"),
    "Action": (EMBEDDING, "showsKey"),
    "BodyMovement": (EMBEDDING, "exhibitsKey"),
}
INDEXED_VECTORS: tuple[tuple[str, str], ...] = (
    ("Video", EMBEDDING), ("Action", EMBEDDING), ("BodyMovement", EMBEDDING),
    ("Action", "showsKey"), ("BodyMovement", "exhibitsKey"),
)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def check_vector_property(label: str, prop: str) -> str:
    if prop not in VECTOR_PROPERTIES.get(check_label(label), ()):
        raise SchemaError(f"{label} has no vector property {prop!r} (it has "
                          f"{', '.join(VECTOR_PROPERTIES.get(label, ())) or 'none'})")
    return prop


def vector_index_name(label: str, prop: str = EMBEDDING) -> str:
    """`Action` -> `action_embedding`, (`Action`, `showsKey`) -> `action_shows_key`."""
    return f"{_snake(check_label(label))}_{_snake(check_vector_property(label, prop))}"


def vector_run_property(prop: str) -> str:
    """The property that names the run a vector comes from: `embedding` -> `embeddingRun`."""
    return f"{prop}Run"


def schema_statements(schema_dir: Traversable = SCHEMA_DIR) -> list[str]:
    """The statements of constraints.cypher then indexes.cypher, comments stripped."""
    statements: list[str] = []
    for name in ("constraints.cypher", "indexes.cypher"):
        path = schema_dir / name
        if not path.is_file():
            raise SchemaError(f"{path}: schema file missing (reinstall kgtoolkit: the package ships it)")
        text = "\n".join(
            line for line in path.read_text(encoding="utf-8").splitlines()
            if not line.strip().startswith("//")
        )
        statements += [s.strip() for s in text.split(";") if s.strip()]
    return statements
