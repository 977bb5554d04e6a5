"""`add_action(store, name, movements)`: a new action known only through the graph.

The Action node gets INVOLVES edges to its body movements (created with their BodyPart / Object
nodes when the graph does not have them yet), exactly as an ingest would write them, so every
reader (classify, the sampler, the Cypher cookbook) sees it like any other action. `classify`
scores it with no retraining: by the text embedding of its name (S_mm and the v-a triple score)
and by how well the clip exhibits its movements (the v-b triple scores; see
`kgtoolkit.classify`). Adding the same action twice changes nothing; adding it again with other
movements adds the new INVOLVES edges (they are never removed here).

The equivalent Cypher, for people who script Neo4j directly (graph_schema/QUERIES.md):

    MERGE (a:Action {id: $id}) ON CREATE SET a.name = $name, a.addedBy = 'add-action'
    WITH a UNWIND $movements AS m
    MATCH (b:BodyMovement {id: m}) MERGE (a)-[r:INVOLVES]->(b) SET r.source = 'add-action'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kgtoolkit.errors import ConfigurationError
from kgtoolkit.graph import GraphStore, NodeRow, RelRow
from kgtoolkit.vocab import Movement, action_id, check_path_component, object_id, parse_movement_name, part_id

ADDED_BY = "add-action"


@dataclass(frozen=True)
class AddedAction:
    id: str
    name: str
    movements: list[str]  # node ids, in the order given
    new_movements: list[str]  # the ones the graph did not have before
    existed: bool  # the Action node was there already


def _folder(name: str) -> str:
    """`bench press` (whitespace already collapsed) -> `bench_press`, the class-folder form the
    ingest makes ids from."""
    if not name:
        raise ConfigurationError("an action needs a non-empty name")
    folder = name.replace(" ", "_")
    problem = check_path_component(folder)
    if problem:
        raise ConfigurationError(f"action name {name!r} {problem}")
    return folder


def parse_movements(names: Sequence[str]) -> list[Movement]:
    """Movement names as in the graph ("right hand hold barbell"); every bad one is named at once."""
    movements, problems = [], []
    for name in names:
        try:
            movements.append(parse_movement_name(" ".join(name.split())))
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ConfigurationError("; ".join(problems))
    if not movements:
        raise ConfigurationError("give at least one --movement (e.g. --movement \"right hand hold barbell\")")
    return list(dict.fromkeys(movements))


def add_action(store: GraphStore, name: str, movement_names: Sequence[str]) -> AddedAction:
    name = " ".join(name.split())
    folder = _folder(name)
    movements = parse_movements(movement_names)
    node_id = action_id(folder)
    existed = bool(store.get_nodes("Action", [node_id]))
    known = store.get_nodes("BodyMovement", [m.id for m in movements])
    new = [m for m in movements if m.id not in known]
    if new:
        store.upsert_nodes("BodyPart", [NodeRow(part_id(p), {"name": p}) for p in sorted({m.part for m in new})])
        objects = sorted({m.object for m in new if m.object})
        if objects:
            store.upsert_nodes("Object", [NodeRow(object_id(o), {"name": o}) for o in objects])
        store.upsert_nodes("BodyMovement", [
            NodeRow(m.id, {"name": m.name, "part": m.part, "state": m.state, "object": m.object, "addedBy": ADDED_BY})
            for m in new])
        store.upsert_relationships("OF_PART", [RelRow(m.id, part_id(m.part)) for m in new])
        if objects:
            store.upsert_relationships("USES", [RelRow(m.id, object_id(m.object)) for m in new if m.object])
    if not existed:
        store.upsert_nodes("Action", [NodeRow(node_id, {"name": name, "addedBy": ADDED_BY})])
    result = store.upsert_relationships("INVOLVES", [RelRow(node_id, m.id, {"source": ADDED_BY}) for m in movements])
    if result.missing:  # cannot happen unless another writer deletes nodes meanwhile
        raise ConfigurationError(f"could not link {len(result.missing)} movements to {node_id}: their nodes vanished")
    return AddedAction(node_id, name, [m.id for m in movements], [m.id for m in new], existed)
