"""GPU check of the KG-CLIP training step and the clip loader (run by pipelines/gpu_check.sh).

Defaults are the issue's set-up: open_clip ViT-B-16 with random weights (nothing downloaded),
8 frames at 224 px, bf16 autocast, batch 32 clips, the full KG-CLIP loss (v-a, v-b, a-b, pair).
Prints model clips/s, FLOPs per step (counted with torch.utils.flop_counter on one step: forward
+ backward), model FLOP utilisation against the GPU's dense bf16 peak, peak GPU memory, and the
loader's clips/s with N workers on a synthetic set generated on the spot (decord, 224 px).

    python pipelines/gpu_check.py                         # on the GPU machine
    python pipelines/gpu_check.py --device cpu --model kg-tiny --batch 4 --steps 2 --size 64 \
        --workers 2 --videos 16                           # a smoke run of the script on a CPU
"""

from __future__ import annotations

import kgtoolkit  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from kgtoolkit.model.backbone import load_backbone
from kgtoolkit.model.kgclip import KGClip, StepBatch
from kgtoolkit.train.clips import ClipDataset, ClipDecoder, ClipSpec, collate

# Dense bf16 tensor-core peaks (no sparsity), from NVIDIA's data sheets.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}


def peak_tflops(name: str) -> float | None:
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def synthetic_batch(model: KGClip, batch: int, frames: int, size: int, device: torch.device) -> StepBatch:
    g = torch.Generator().manual_seed(0)
    return StepBatch(
        frames=torch.randn(batch, frames, 3, size, size, generator=g).to(device),
        va_tail=torch.randint(0, 24, (batch,), generator=g).to(device),
        vb_rows=torch.arange(batch, device=device),
        vb_tail=torch.randint(0, 64, (batch,), generator=g).to(device),
        ab_head=torch.randint(0, 24, (batch,), generator=g).to(device),
        ab_tail=torch.randint(0, 64, (batch,), generator=g).to(device),
    )


def step(model: KGClip, batch: StepBatch, tokens_a: torch.Tensor, tokens_m: torch.Tensor,
         optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        action_text = model.encode_text(tokens_a)
        movement_text = model.encode_text(tokens_m)
        loss = model.training_loss(batch, action_text, movement_text, 0.1, 1.0)["loss"]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224, help="video frame size of the synthetic loader set")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--videos", type=int, default=256, help="synthetic videos for the loader test")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)

    backbone = load_backbone(args.model)  # random weights: nothing downloaded
    model = KGClip(backbone, frames=args.frames).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device.type == "cuda")
    tokens_a = backbone.tokenizer([f"action {i}" for i in range(24)]).to(device)
    tokens_m = backbone.tokenizer([f"left hand state {i}" for i in range(64)]).to(device)
    batch = synthetic_batch(model, args.batch, args.frames, backbone.image_size, device)

    with FlopCounterMode(display=False) as counter:
        step(model, batch, tokens_a, tokens_m, optimizer, device)
    flops = counter.get_total_flops()
    for _ in range(3):  # warm-up
        step(model, batch, tokens_a, tokens_m, optimizer, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(args.steps):
        step(model, batch, tokens_a, tokens_m, optimizer, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / args.steps
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = peak_tflops(name)
    achieved = flops / seconds / 1e12

    with tempfile.TemporaryDirectory() as tmp:
        from kgtoolkit.synth import generate

        per_class = max(1, args.videos // 8)
        generate(Path(tmp) / "ktps", classes=8, train_per_class=per_class, test_per_class=0 or 1,
                 frames=max(16, args.frames * 2), size=args.size, seed=0)
        files = sorted((Path(tmp) / "ktps" / "train_videos").rglob("*.mp4"))
        decoder = ClipDecoder(args.frames, backbone.image_size, backbone.mean, backbone.std)
        dataset = ClipDataset([ClipSpec(str(f)) for f in files], decoder, train=True, seed=0)
        keys = [(0, i % len(files)) for i in range(max(len(files), 4 * args.batch))]
        loader = DataLoader(dataset, batch_size=args.batch, sampler=keys, num_workers=args.workers,
                            collate_fn=collate, pin_memory=device.type == "cuda",
                            prefetch_factor=4 if args.workers else None, persistent_workers=False)
        clips, t0 = 0, None
        for frames, idx in loader:
            if t0 is None:
                t0 = time.perf_counter()  # first batch: worker start-up
                continue
            clips += len(idx)
        loader_rate = clips / (time.perf_counter() - t0) if clips else 0.0

    figures = {
        "device": name, "model": args.model, "frames": args.frames, "image_size": backbone.image_size,
        "batch": args.batch, "step_s": round(seconds, 4), "model_clips_per_s": round(args.batch / seconds, 1),
        "tflops_per_step": round(flops / 1e12, 3), "achieved_tflops": round(achieved, 1),
        "peak_bf16_tflops": peak, "mfu": round(achieved / peak, 3) if peak else None,
        "peak_memory_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None,
        "loader_workers": args.workers, "loader_clips_per_s": round(loader_rate, 1),
        "loader_over_model": round(loader_rate * seconds / args.batch, 2),
    }
    print(json.dumps(figures, indent=1))
    targets = [("MFU >= 0.35", figures["mfu"] is not None and figures["mfu"] >= 0.35),
               ("loader >= model", figures["loader_over_model"] >= 1)]
    for label, ok in targets:
        print(f"{label}: {'PASS' if ok else 'FAIL'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
