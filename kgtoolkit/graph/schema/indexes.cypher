// Lookup indexes used by the toolkit's queries (the sampler filters videos by split; people look
// actions and movements up by name). Vector indexes are created by `kgtoolkit embed` / `train`
// once the embedding dimension is known (see MODEL.md). Every statement is idempotent.
CREATE INDEX video_split IF NOT EXISTS FOR (n:Video) ON (n.split);
CREATE INDEX video_name IF NOT EXISTS FOR (n:Video) ON (n.name);
CREATE INDEX action_name IF NOT EXISTS FOR (n:Action) ON (n.name);
CREATE INDEX action_class_index IF NOT EXISTS FOR (n:Action) ON (n.classIndex);
CREATE INDEX body_movement_name IF NOT EXISTS FOR (n:BodyMovement) ON (n.name);
CREATE INDEX body_movement_part IF NOT EXISTS FOR (n:BodyMovement) ON (n.part);
