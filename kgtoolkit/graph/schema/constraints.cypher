// Uniqueness of `id` for every label of the graph model (graph_schema/MODEL.md).
// Applied by `kgtoolkit schema apply`; every statement is idempotent.
CREATE CONSTRAINT video_id IF NOT EXISTS FOR (n:Video) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT action_id IF NOT EXISTS FOR (n:Action) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT body_part_id IF NOT EXISTS FOR (n:BodyPart) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT object_id IF NOT EXISTS FOR (n:Object) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT body_movement_id IF NOT EXISTS FOR (n:BodyMovement) REQUIRE n.id IS UNIQUE;
