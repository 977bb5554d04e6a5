"""kgtoolkit: knowledge graphs and CLIP for fine-grained video action recognition (KG-CLIP)."""

import os

# OpenMP threads that wait by spinning turn a busy 2-core machine into a crawl: measured with 2
# threads while another process held a core, a tiny-model training step took 14 s spinning and
# 1.1 s with passive waiting (pipelines/bench_train.py, BENCHMARKS.md). Set before torch loads
# its OpenMP runtime; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
