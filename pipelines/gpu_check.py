"""GPU check of the KG-CLIP training step and the clip loader (run by pipelines/gpu_check.sh).

Defaults are the issue's set-up: open_clip ViT-B-16 with random weights (nothing downloaded),
8 frames at 224 px, bf16 autocast, batch 32 clips, the whole KG-CLIP loss (v-a, v-b, a-b, pair).
The timed step is `kgtoolkit train`'s own `TrainStep`: its loss module, its AdamW groups (fused on
CUDA), gradient clipping. Prints and writes (after every stage, so a run cut short still leaves figures):

- the GPU's measured bf16 matrix-product rate (8192^3, random operands, median of 10), the
  ceiling the model-FLOP utilisation is also given against;
- per variant (`eager`, and `compile`: the loss module through torch.compile): model clips/s,
  FLOPs per step (counted with torch.utils.flop_counter on one eager step: forward + backward),
  model FLOP utilisation against the data-sheet dense bf16 peak and against the measured rate,
  peak GPU memory;
- the loader's clips/s with N DataLoader workers (decord, train-mode TSN sampling) on a synthetic
  set generated on the spot at --size px, and loader / model.

    bash pipelines/gpu_check.sh WHEELS                    # on the GPU machine (installs, then runs this)
    python pipelines/gpu_check.py --device cpu --model kg-tiny --batch 4 --steps 2 --size 64 \
        --workers 2 --videos 16 --variants eager          # a smoke run of the script on a CPU
"""

from __future__ import annotations

import kgtoolkit  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from kgtoolkit.model.kgclip import StepBatch
from kgtoolkit.media import ClipDataset, ClipDecoder, ClipSpec, collate
from kgtoolkit.train.config import DataConfig, ModelConfig, TrainConfig
from kgtoolkit.runs import build_model, tokenize
from kgtoolkit.train.runtime import Runtime
from kgtoolkit.train.step import TrainStep

# Dense bf16 tensor-core peaks (no sparsity), from NVIDIA's data sheets (SXM parts).
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}
ACTIONS, MOVEMENTS = 24, 64


def peak_tflops(name: str) -> float | None:
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def measured_matmul_tflops(device: torch.device, n: int = 8192, repeats: int = 10) -> float:
    """Median bf16 rate of an n^3 product on random operands, timed with CUDA events."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return 2 * n**3 / statistics.median(times) / 1e12


def synthetic_batch(batch: int, frames: int, size: int, device: torch.device, ab: int) -> StepBatch:
    g = torch.Generator().manual_seed(0)
    return StepBatch(
        frames=torch.randn(batch, frames, 3, size, size, generator=g).to(device),
        va_tail=torch.randint(0, ACTIONS, (batch,), generator=g).to(device),
        vb_rows=torch.arange(batch, device=device),
        vb_tail=torch.randint(0, MOVEMENTS, (batch,), generator=g).to(device),
        ab_head=torch.randint(0, ACTIONS, (ab,), generator=g).to(device),
        ab_tail=torch.randint(0, MOVEMENTS, (ab,), generator=g).to(device),
    )


class Trainer:
    """`kgtoolkit train`'s step (`TrainStep`, without the schedule) on one fixed batch."""

    def __init__(self, config: TrainConfig, device: torch.device, batch: int):
        self.model, self.backbone = build_model(config)
        self.model.to(device).train()
        self.device = device
        actions = tokenize(self.backbone, [f"action {i}" for i in range(ACTIONS)], ["{}"]).to(device)
        movements = tokenize(self.backbone, [f"left hand state {i}" for i in range(MOVEMENTS)], ["{}"]).to(device)
        self.train_step = TrainStep(self.model, config, Runtime(device), actions, movements)
        self.batch = synthetic_batch(batch, config.data.frames, self.backbone.image_size, device,
                                     config.optim.ab_batch_size)

    def step(self) -> None:
        self.train_step(self.batch)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()


def time_variant(trainer: Trainer, steps: int, warmup: int) -> dict:
    warmup_started = time.perf_counter()
    for _ in range(warmup):
        trainer.step()
    trainer.sync()
    warm_s = time.perf_counter() - warmup_started
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    trainer.sync()
    seconds = (time.perf_counter() - started) / steps
    return {"step_s": round(seconds, 4), "warmup_s": round(warm_s, 1),
            "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
            if trainer.device.type == "cuda" else None}


def loader_rate(args: argparse.Namespace, backbone, batch: int, pin: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        from kgtoolkit.synth import generate

        per_class = max(1, args.videos // 8)
        generate(Path(tmp) / "ktps", classes=8, train_per_class=per_class, test_per_class=1,
                 frames=max(16, args.frames * 2), size=args.size, seed=0, quirks=1)
        files = sorted((Path(tmp) / "ktps" / "train_videos").rglob("*.mp4"))
        decoder = ClipDecoder(args.frames, backbone.image_size, backbone.mean, backbone.std)
        dataset = ClipDataset([ClipSpec(str(f)) for f in files], decoder, train=True, seed=0)
        # Long enough that the first batches, which every worker makes at once, don't count:
        # the clock starts once `workers` batches have arrived.
        keys = [(0, i % len(files)) for i in range(batch * (args.workers + args.loader_batches))]
        loader = DataLoader(dataset, batch_size=batch, sampler=keys, num_workers=args.workers,
                            collate_fn=collate, pin_memory=pin,
                            prefetch_factor=4 if args.workers else None, persistent_workers=False)
        clips, t0 = 0, None
        for n, (_, idx, _) in enumerate(loader):
            if n < max(1, args.workers):
                t0 = time.perf_counter()  # worker start-up and the first round of batches
                continue
            clips += len(idx)
        return clips / (time.perf_counter() - t0) if clips else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="ViT-B-16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224, help="video frame size of the synthetic loader set")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--variants", default="eager,compile", help="comma-separated: eager, compile")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--videos", type=int, default=256, help="synthetic videos for the loader test")
    parser.add_argument("--loader-batches", type=int, default=128, help="loader batches timed")
    parser.add_argument("--profile", action="store_true",
                        help="also print the CUDA kernels that take the most time in 5 steps of each variant")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    config = TrainConfig(model=ModelConfig(name=args.model), data=DataConfig(frames=args.frames),
                         device="cuda" if cuda else "cpu")
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    figures: dict = {"device": name, "torch": torch.__version__, "model": args.model, "frames": args.frames,
                     "batch": args.batch, "peak_bf16_tflops_datasheet": peak_tflops(name)}

    def report(stage: str) -> None:
        print(f"[{stage}]", json.dumps(figures), flush=True)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1))

    if cuda:
        figures["measured_matmul_tflops"] = round(measured_matmul_tflops(device), 1)
        report("matmul")

    flops = None
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for position, variant in enumerate(variants):
        trainer = Trainer(config.model_copy(update={"compile": "inductor" if variant == "compile" else None}),
                          device, args.batch)
        figures["image_size"] = trainer.backbone.image_size
        if flops is None:
            counter_trainer = trainer if variant == "eager" else Trainer(config, device, args.batch)
            with FlopCounterMode(display=False) as counter:
                counter_trainer.step()
            flops = counter.get_total_flops()
            figures["tflops_per_step"] = round(flops / 1e12, 3)
            del counter_trainer
        result = time_variant(trainer, args.steps, args.warmup)
        achieved = flops / result["step_s"] / 1e12
        result.update({
            "model_clips_per_s": round(args.batch / result["step_s"], 1),
            "achieved_tflops": round(achieved, 1),
            "mfu_datasheet": round(achieved / figures["peak_bf16_tflops_datasheet"], 3)
            if figures["peak_bf16_tflops_datasheet"] else None,
            "mfu_measured_matmul": round(achieved / figures["measured_matmul_tflops"], 3)
            if "measured_matmul_tflops" in figures else None,
        })
        figures[variant] = result
        report(variant)
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                for _ in range(5):
                    trainer.step()
                trainer.sync()
            print(prof.key_averages().table(sort_by="self_device_time_total", row_limit=25, max_name_column_width=70))
        backbone = trainer.backbone
        del trainer
        if cuda:
            torch.cuda.empty_cache()
        if position == 0:  # the loader before the slow compile, so a run cut short still has it
            rate = loader_rate(args, backbone, args.batch, pin=cuda)
            figures.update({"loader_workers": args.workers, "loader_clips_per_s": round(rate, 1)})
            report("loader")
    for variant in variants:
        figures[variant]["loader_over_model"] = round(figures["loader_clips_per_s"] / figures[variant]["model_clips_per_s"], 2)
    report("done")

    for variant in variants:
        f = figures[variant]
        mfu = f["mfu_datasheet"]
        print(f"{variant}: {f['model_clips_per_s']} clips/s, {f['achieved_tflops']} TFLOP/s, "
              f"MFU {mfu} of data sheet ({f['mfu_measured_matmul']} of measured matmul), "
              f"peak memory {f['peak_memory_gib']} GiB, loader/model {f['loader_over_model']}")
        print(f"  MFU >= 0.35: {'PASS' if mfu is not None and mfu >= 0.35 else 'FAIL'}; "
              f"loader >= model: {'PASS' if f['loader_over_model'] >= 1 else 'FAIL'}")


if __name__ == "__main__":
    main()
