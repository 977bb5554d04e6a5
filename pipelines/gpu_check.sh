#!/usr/bin/env bash
# GPU check for a machine that has torch (with CUDA) but no network: installs kgtoolkit and its
# other dependencies from a local wheel folder, then runs pipelines/gpu_check.py and writes the
# figures to $OUT/gpu_check.json (or ./gpu_check.json).
#
# Prepare the wheels on a machine with the network (everything but torch, which the GPU machine has):
#   grep -v -E '^(torch|torchvision|triton|nvidia-|cuda-)' constraints.txt > /tmp/req.txt
#   pip download -d shared/wheels -r /tmp/req.txt --no-deps
# then on the GPU machine:  bash pipelines/gpu_check.sh shared/wheels
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=${1:-shared/wheels}
shift || true  # the rest goes to gpu_check.py
python=${PYTHON:-python3}
"$python" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
grep -v -E '^(torch|torchvision|triton|nvidia-|cuda-)' constraints.txt > /tmp/kgtoolkit-gpu-req.txt
"$python" -m pip install --quiet --no-index --find-links "$wheels" -r /tmp/kgtoolkit-gpu-req.txt
"$python" -m pip install --quiet --no-index --no-deps --no-build-isolation -e .
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true
"$python" pipelines/gpu_check.py --json "${OUT:-.}/gpu_check.json" "$@"
