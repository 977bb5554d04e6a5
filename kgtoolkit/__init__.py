"""kgtoolkit: knowledge graphs and CLIP for fine-grained video action recognition (KG-CLIP)."""

__version__ = "0.1.0"
