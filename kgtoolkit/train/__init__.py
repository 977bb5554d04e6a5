"""Training KG-CLIP from the graph: configuration, sampler, clip loader, loop, embeddings."""
