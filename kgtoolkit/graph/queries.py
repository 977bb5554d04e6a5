"""Every Cypher statement the toolkit sends, in one place. Values always travel as parameters;
labels and relationship types (which Cypher cannot parameterise) are checked against the graph
model by `kgtoolkit.schema` before they are formatted in."""

from __future__ import annotations

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.schema import (EMBEDDING, check_label, check_rel_type, check_vector_property, vector_index_name,
                              vector_run_property)


# Batches travel as parallel lists ($ids/$props, $src/$dst/$props) rather than one map per row:
# fewer nested values for the driver to encode, the same MERGE for the server.
def upsert_nodes(label: str) -> str:
    return (
        f"UNWIND range(0, size($ids) - 1) AS i MERGE (n:{check_label(label)} {{id: $ids[i]}}) "
        "SET n += $props[i] RETURN count(n) AS written"
    )


def upsert_relationships(rel_type: str) -> str:
    rel = check_rel_type(rel_type)
    return (
        f"UNWIND range(0, size($src) - 1) AS i "
        f"MATCH (a:{rel.source} {{id: $src[i]}}) MATCH (b:{rel.target} {{id: $dst[i]}}) "
        f"MERGE (a)-[r:{rel.name}]->(b) SET r += $props[i] RETURN count(r) AS written"
    )


def missing_endpoints(rel_type: str) -> str:
    rel = check_rel_type(rel_type)
    return (
        f"UNWIND range(0, size($src) - 1) AS i "
        f"OPTIONAL MATCH (a:{rel.source} {{id: $src[i]}}) OPTIONAL MATCH (b:{rel.target} {{id: $dst[i]}}) "
        "WITH i, a, b WHERE a IS NULL OR b IS NULL RETURN i"
    )


def count_label(label: str) -> str:
    return f"MATCH (n:{check_label(label)}) RETURN count(n) AS count"


def count_rel_type(rel_type: str) -> str:
    # endpoints are fixed by the model, so the count store answers this without a scan
    return f"MATCH ()-[r:{check_rel_type(rel_type).name}]->() RETURN count(r) AS count"


def stream_nodes(label: str) -> str:
    return (
        f"MATCH (n:{check_label(label)}) "
        "RETURN n.id AS id, properties(n) AS props ORDER BY n.id"
    )


def get_nodes(label: str) -> str:
    return (
        f"UNWIND $ids AS id MATCH (n:{check_label(label)} {{id: id}}) "
        "RETURN n.id AS id, properties(n) AS props"
    )


def stream_relationships(rel_type: str) -> str:
    rel = check_rel_type(rel_type)
    return (
        f"MATCH (a:{rel.source})-[r:{rel.name}]->(b:{rel.target}) "
        "RETURN a.id AS src, b.id AS dst, properties(r) AS props"
    )


def relationships_of(rel_type: str, end: str) -> str:
    """The relationships of a type at one node: `end` "src" anchors the source on $id, "dst" the target."""
    rel = check_rel_type(rel_type)
    source, target = (f"{rel.source} {{id: $id}}", rel.target) if end == "src" else (rel.source, f"{rel.target} {{id: $id}}")
    return (
        f"MATCH (a:{source})-[r:{rel.name}]->(b:{target}) "
        "RETURN a.id AS src, b.id AS dst, properties(r) AS props ORDER BY src, dst"
    )


def write_embeddings(label: str, prop: str = EMBEDDING) -> str:
    prop, run = check_vector_property(label, prop), vector_run_property(prop)
    return (
        f"UNWIND $rows AS row MATCH (n:{check_label(label)} {{id: row.id}}) "
        f"CALL db.create.setNodeVectorProperty(n, '{prop}', row.embedding) "
        f"SET n.{run} = $run RETURN count(n) AS written"
    )


def get_embedding(label: str, prop: str = EMBEDDING) -> str:
    prop, run = check_vector_property(label, prop), vector_run_property(prop)
    return f"MATCH (n:{check_label(label)} {{id: $id}}) RETURN n.{prop} AS embedding, n.{run} AS run"


def all_embeddings(label: str, prop: str = EMBEDDING) -> str:
    prop, run = check_vector_property(label, prop), vector_run_property(prop)
    return (f"MATCH (n:{check_label(label)}) WHERE n.{prop} IS NOT NULL "
            f"RETURN n.id AS id, n.{prop} AS embedding, n.{run} AS run ORDER BY n.id")


def clear_embeddings(label: str, prop: str = EMBEDDING) -> str:
    prop, run = check_vector_property(label, prop), vector_run_property(prop)
    return (
        f"MATCH (n:{check_label(label)}) WHERE n.{prop} IS NOT NULL "
        f"AND ($keep_run IS NULL OR n.{run} IS NULL OR n.{run} <> $keep_run) "
        f"REMOVE n.{prop}, n.{run} RETURN count(n) AS cleared"
    )


def create_vector_index(label: str, dimensions: int, prop: str = EMBEDDING) -> str:
    dims = int(dimensions)  # an int we computed, never user text
    return (
        f"CREATE VECTOR INDEX {vector_index_name(label, prop)} IF NOT EXISTS "
        f"FOR (n:{check_label(label)}) ON n.{check_vector_property(label, prop)} OPTIONS {{indexConfig: "
        f"{{`vector.dimensions`: {dims}, `vector.similarity_function`: 'cosine', "
        # quantization (on by default in 5.26) would perturb scores by ~1e-3; keep them exact
        "`vector.quantization.enabled`: false}}"
    )


def drop_vector_index(label: str, prop: str = EMBEDDING) -> str:
    return f"DROP INDEX {vector_index_name(label, prop)} IF EXISTS"


SHOW_VECTOR_INDEX = (
    "SHOW VECTOR INDEXES YIELD name, state, options WHERE name = $name "
    "RETURN state, options.indexConfig.`vector.dimensions` AS dimensions"
)

QUERY_VECTOR_INDEX = (
    "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node, score "
    "RETURN node.id AS id, node.name AS name, score"
)


def exact_nearest(label: str, prop: str = EMBEDDING) -> str:
    """Exact cosine neighbours, for stores where the approximate index is not wanted."""
    prop = check_vector_property(label, prop)
    return (
        f"MATCH (n:{check_label(label)}) WHERE n.{prop} IS NOT NULL "
        f"WITH n, vector.similarity.cosine(n.{prop}, $vector) AS sim "
        "RETURN n.id AS id, n.name AS name, sim AS score ORDER BY score DESC, id LIMIT $k"
    )


SERVER_COMPONENTS = "CALL dbms.components() YIELD name, versions, edition RETURN name, versions, edition"


def parse_param(item: str) -> tuple[str, object]:
    """A query parameter as `kgtoolkit query --param name=value` gives it: the value a YAML scalar or
    list (3, 0.5, true, 'text', [1, 2]); text that YAML cannot read stays text."""
    import yaml

    name, sep, raw = item.partition("=")
    if not sep or not name.isidentifier():
        raise ConfigurationError(f"--param {item!r}: expected name=value, e.g. --param action='push up'")
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return name, raw if value is None and raw not in ("null", "~") else value
