"""`kgtoolkit classify` on this machine, three measurements (`--parts`, default all three):

- latency: cold start (process start to the first answer, as a user runs it) and warm per-clip
  latency (model loaded once, one clip at a time), for the tiny model and open_clip ViT-B-32.
- cold: the cold start split, median of `--cold-repeats` whole processes each, wall time and peak
  RSS (the child's own VmHWM): the import floor (`python -c "import torch, open_clip"`),
  `kgtoolkit --help`, and `kgtoolkit classify CLIP --json`; "above the floor" is the classify row
  less the floor row. `--code DIR` runs those processes on another checkout's `kgtoolkit/` (e.g. an
  older commit exported with `git archive`), to compare before and after.
- folder: `kgtoolkit classify FOLDER --output FILE.jsonl` over `--folder-clips` clips (the rate of its
  summary line, clips/s, and the wall time of the whole process).

    python pipelines/bench_classify.py [--parts latency cold folder] [--repeats 10] [--models kg-tiny ViT-B-32]

Runs are made on the spot (random weights; none of these needs training) over a small synthetic set
(clips of 32 frames at 224 px), so nothing is downloaded. 8 frames per clip.
"""

from __future__ import annotations

import kgtoolkit  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from kgtoolkit.classify import Classifier
from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import ingest
from kgtoolkit.synth import generate
from kgtoolkit.tables import write_tables
from kgtoolkit.train.config import load_config
from kgtoolkit.runs import RunDir, load_run
from kgtoolkit.train.sampler import TripletSampler

REPO = Path(__file__).resolve().parents[1]


def untrained_run(model_name: str, frames: int, graph: Path, out: Path) -> Path:
    config = load_config(None, [f"model.name={model_name}", f"data.frames={frames}"])
    with EmbeddedGraphStore(graph) as store:
        id_maps = TripletSampler(store).load().id_maps()
    return RunDir(out).write_untrained(config, id_maps, status="untrained (benchmark)").path


# Runs a child's command and prints its peak RSS at exit: VmHWM belongs to the new process image, whereas
# ru_maxrss from wait4 starts from the forking parent's RSS (this script holds torch already).
PEAK_WRAPPER = """import atexit, sys
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("\\n[peak-rss-kb " + line.split()[1] + "]\\n")
atexit.register(_peak)
mode, target, *rest = sys.argv[1:]
if mode == "-c":
    sys.argv = ["-c"]
    exec(target)
else:
    import runpy
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def whole_process(args: list[str], code: Path | None = None) -> dict:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child process; `args` as
    after `python` (`["-c", CODE]` or `["-m", MODULE, ...]`)."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
           "PYTHONPATH": str(code or REPO)}  # and a neutral working directory: `-c` puts it first on sys.path
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-c", PEAK_WRAPPER, *args], stdout=subprocess.DEVNULL, stderr=err,
                                 env=env, cwd=tempfile.gettempdir())
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        err.seek(0)
        text = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args)} exited {os.waitstatus_to_exitcode(status)}: {text[-2000:]}")
    peak = re.findall(r"\[peak-rss-kb (\d+)\]", text)
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": int(peak[-1]) / 1024 if peak else float("nan"), "stderr": text}


def cold_split(run: Path, graph: Path, clip: Path, repeats: int, codes: dict[str, Path | None]) -> list[dict]:
    """Each process `repeats` times for each checkout in `codes` (label -> folder holding kgtoolkit/, None
    for this one), the checkouts taking turns so that a change in the machine's load hits them alike."""
    commands = {
        "import torch, open_clip (floor)": ["-c", "import torch, open_clip"],
        "kgtoolkit --help": ["-m", "kgtoolkit", "--help"],
        "kgtoolkit classify CLIP --json": ["-m", "kgtoolkit", "classify", str(clip), "--run", str(run),
                                           "--graph", str(graph), "--json"],
    }
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(repeats):
        for what, command in commands.items():
            for label, code in codes.items():
                runs.setdefault((label, what), []).append(whole_process(command, code))
    rows = []
    for label in codes:
        mine = []
        for what in commands:
            measured = runs[label, what]
            mine.append({"code": label, "process": what,
                         **{key: round(statistics.median(r[key] for r in measured), 2) for key in ("wall_s", "cpu_s")},
                         "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in measured))})
        floor, whole = mine[0], mine[2]
        mine.append({"code": label, "process": "classify above the floor",
                     **{key: round(whole[key] - floor[key], 2) for key in ("wall_s", "cpu_s", "peak_rss_mb")}})
        rows += mine
    return rows


def folder_rate(run: Path, graph: Path, folder: Path, out: Path) -> dict:
    measured = whole_process(["-m", "kgtoolkit", "classify", str(folder), "--run", str(run), "--graph", str(graph),
                              "--output", str(out)])
    summary = " ".join(measured["stderr"].split())
    match = re.search(r"classified ([\d,]+) of ([\d,]+) clips in ([\d.]+) s \(([\d.]+) clips/s\)", summary)
    if match is None:
        raise RuntimeError(f"no summary line in: {summary[-500:]}")
    return {"clips": int(match[2].replace(",", "")), "classified": int(match[1].replace(",", "")),
            "seconds": float(match[3]), "clips_per_s": float(match[4]),
            "process_wall_s": round(measured["wall_s"], 2), "peak_rss_mb": round(measured["peak_rss_mb"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=["latency", "cold", "folder"], default=["latency", "cold", "folder"])
    parser.add_argument("--models", nargs="+", default=["kg-tiny", "ViT-B-32"])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cold-repeats", type=int, default=3)
    parser.add_argument("--code", type=Path, help="cold: also measure this checkout (a folder holding kgtoolkit/)")
    parser.add_argument("--folder-clips", type=int, default=96)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows, cold, folder = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        per_class = max(2, -(-args.folder_clips // 6)) if "folder" in args.parts else 2
        generate(root / "ktps", classes=6, train_per_class=2, test_per_class=per_class, frames=32, size=224, seed=0,
                 quirks=1)  # the annotation quirks its BENCHMARKS figures were measured with
        with EmbeddedGraphStore(root / "graph") as store:
            ingest(root / "ktps", store)
        clips = sorted((root / "ktps" / "test_videos").rglob("*.mp4"))
        for name in args.models:
            run = untrained_run(name, args.frames, root / "graph", root / f"run-{name}")
            if "cold" in args.parts:
                codes = {str(args.code): args.code.resolve()} if args.code is not None else {}
                codes["this checkout"] = None
                cold += [{"model": name, **r} for r in cold_split(run, root / "graph", clips[0], args.cold_repeats, codes)]
            if "folder" in args.parts:
                selected = root / f"folder-{name}"
                for clip in clips[: args.folder_clips]:
                    target = selected / clip.relative_to(root / "ktps" / "test_videos")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(clip, target)
                folder.append({"model": name, **folder_rate(run, root / "graph", selected, root / f"{name}.jsonl")})
            if "latency" not in args.parts:
                continue
            cold_runs = []
            for _ in range(3):
                started = time.perf_counter()
                result = subprocess.run([sys.executable, "-m", "kgtoolkit", "classify", str(clips[0]), "--run", str(run),
                                         "--graph", str(root / "graph"), "--json"], capture_output=True, text=True)
                cold_runs.append(time.perf_counter() - started)
                assert result.returncode == 0, result.stderr
            loaded = load_run(run, "cuda" if torch.cuda.is_available() else "cpu")
            store = EmbeddedGraphStore(root / "graph")
            classifier = Classifier(loaded, store)
            classifier([clips[0]])  # warm-up
            warm = []
            for i in range(args.repeats):
                started = time.perf_counter()
                classifier([clips[i % len(clips)]])
                warm.append(time.perf_counter() - started)
            store.close()
            rows.append({"model": name, "frames": args.frames, "image_size": loaded.backbone.image_size,
                         "cold_start_s": round(statistics.median(cold_runs), 2),
                         "warm_per_clip_ms": round(1000 * statistics.median(warm), 1),
                         "threads": torch.get_num_threads()})
    load = os.getloadavg()
    print(f"classify, {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"{torch.get_num_threads()} torch threads")
    tables = {}
    if rows:
        tables["latency"] = pd.DataFrame(rows).assign(model=lambda f: f["model"] + " (random weights)").rename(columns={
            "image_size": "input px", "cold_start_s": "cold start (s, median of 3)",
            "warm_per_clip_ms": f"warm per clip (ms, median of {args.repeats})"}).drop(columns="threads")
    if cold:
        tables["cold"] = pd.DataFrame(cold).rename(columns={
            "wall_s": f"wall (s, median of {args.cold_repeats})", "cpu_s": "CPU user+sys (s, median)",
            "peak_rss_mb": "peak RSS (MB, median)"})
    if folder:
        tables["folder"] = pd.DataFrame(folder)
    write_tables(args.json, tables, floatfmt="g")
    if args.json:
        args.json.write_text(json.dumps({"latency": rows, "cold": cold, "folder": folder}, indent=1))


if __name__ == "__main__":
    main()
