#!/usr/bin/env bash
# GPU check for a machine that has a CUDA PyTorch image (torch, torchvision, numpy, pillow, timm,
# regex, safetensors, huggingface_hub, tqdm: what PyTorch images carry) but no network. It
# installs the few other wheels the check needs from a local folder into a private target (the
# image's torch is never touched), then runs pipelines/gpu_check.py from this checkout and writes
# the figures to $OUT/gpu_check.json (or ./gpu_check.json).
#
# Prepare the wheels on a machine with the network (versions from constraints.txt; --python-version
# is the GPU machine's Python):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2010_x86_64 \
#     -d WHEELS $(grep -iE '^(open_clip_torch|ftfy|wcwidth|av|decord|pydantic|pydantic_core|annotated-types|typing-inspection|typing_extensions)==' constraints.txt)
# then on the GPU machine:  bash pipelines/gpu_check.sh WHEELS [gpu_check.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=${1:?usage: gpu_check.sh WHEEL_FOLDER [gpu_check.py options]}
shift
python=${PYTHON:-python3}
site=${KGTOOLKIT_GPU_SITE:-/tmp/kgtoolkit-gpu-site}
"$python" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
"$python" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$wheels"/*.whl
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$python" -c 'import open_clip, decord, av, kgtoolkit; print("open_clip", open_clip.__version__, "decord", decord.__version__, "av", av.__version__)'
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv || true
"$python" pipelines/gpu_check.py --json "${OUT:-.}/gpu_check.json" "$@"
