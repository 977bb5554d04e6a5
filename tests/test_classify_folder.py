"""`kgtoolkit classify` at folder scale and `--explain`: results streamed to JSON lines or CSV in the
clips' order (batched decoding in worker processes gives the same scores as one clip at a time), a
corrupt file reported by name in the output and the summary without stopping the others, clips/s in
the summary, and the explanation pages and pictures holding classify's own numbers."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kgtoolkit.classify import ClipResult
from kgtoolkit.testing import synthetic_graph

REPO = Path(__file__).resolve().parents[1]
FRAMES = 4


def kgtoolkit(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "kgtoolkit", *args], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    if check:
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("classify")
    synthetic_graph(base, classes=3, train_per_class=5, test_per_class=3, frames=8, size=64, seed=5)
    kgtoolkit("train", "--graph", str(base / "graph"), "--config", str(REPO / "pipelines" / "tiny-scratch.yaml"),
              "--out", str(base / "run"), "--set", "optim.epochs=1", "--set", "optim.graph_warmup_epochs=0",
              "--set", "optim.batch_size=4", "--set", "data.workers=0", "--set", f"data.frames={FRAMES}",
              "--set", "write_embeddings=false")
    folder = base / "ktps" / "test_videos"
    corrupt = folder / "push_up" / "corrupt.mp4"  # sorts among the good clips of its folder
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    return {"base": base, "run": base / "run", "graph": base / "graph", "folder": folder, "corrupt": corrupt}


def _common(trained: dict) -> list[str]:
    return ["--run", str(trained["run"]), "--graph", str(trained["graph"]), "-k", "3"]


def _reference(trained: dict) -> dict[str, ClipResult]:
    """One process, no workers, everything in one JSON list at the end."""
    result = kgtoolkit("classify", str(trained["folder"]), *_common(trained), "--json", "--workers", "0", check=False)
    assert result.returncode == 3
    return {r.clip: r for r in (ClipResult.model_validate(x) for x in json.loads(result.stdout))}


def test_folder_streams_json_lines_in_order_and_a_corrupt_clip_stops_nothing(trained, tmp_path: Path):
    out = tmp_path / "results.jsonl"
    result = kgtoolkit("classify", str(trained["folder"]), *_common(trained), "--output", str(out),
                       "--batch-size", "2", "--workers", "2", check=False)
    assert result.returncode == 3 and "Traceback" not in result.stderr
    lines = [ClipResult.model_validate_json(line) for line in out.read_text(encoding="utf-8").splitlines()]
    clips = sorted(p for p in trained["folder"].rglob("*.mp4"))
    assert [r.clip for r in lines] == [str(p) for p in clips]  # every clip, in order, the corrupt one included
    corrupt = str(trained["corrupt"])
    failed = [r for r in lines if r.error]
    assert [r.clip for r in failed] == [corrupt] and failed[0].top == []
    assert "not a readable video" in failed[0].error
    good = [r for r in lines if not r.error]
    assert len(good) == 9 and all(len(r.top) == 3 and r.movements for r in good)
    # batched decoding in worker processes scores each clip as one clip at a time does
    reference = _reference(trained)
    for r in good:
        ref = reference[r.clip]
        assert [t.action for t in r.top] == [t.action for t in ref.top]
        assert [t.score for t in r.top] == pytest.approx([t.score for t in ref.top], abs=2e-4)
    assert reference[corrupt].error == failed[0].error
    stderr = " ".join(result.stderr.split())
    assert f"{corrupt}: not a readable video" in stderr  # named as it happens
    assert "classified 9 of 10 clips in" in stderr and "clips/s); 1 failed; results in" in stderr
    rate = float(stderr.split(" clips/s)")[0].rsplit("(", 1)[1])
    assert rate > 0


def test_folder_streams_csv_one_row_per_clip_and_rank(trained, tmp_path: Path):
    out = tmp_path / "results.csv"
    missing = trained["base"] / "gone.mp4"
    result = kgtoolkit("classify", str(trained["folder"]), str(missing), *_common(trained), "--output", str(out),
                       check=False)
    assert result.returncode == 3
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    reference = _reference(trained)
    by_clip: dict[str, list[dict]] = {}
    for row in rows:
        by_clip.setdefault(row["clip"], []).append(row)
    assert list(by_clip) == [*reference, str(missing)]
    assert by_clip[str(missing)] == [{**{k: "" for k in rows[0]}, "clip": str(missing), "error": "no such file"}]
    assert [r["error"] for r in by_clip[str(trained["corrupt"])]] == [reference[str(trained["corrupt"])].error]
    for clip, ref in reference.items():
        if ref.error:
            continue
        got = by_clip[clip]
        assert [r["rank"] for r in got] == ["1", "2", "3"] and [r["action"] for r in got] == [t.action for t in ref.top]
        assert [float(r["s_mm"]) for r in got] == pytest.approx([t.s_mm for t in ref.top], abs=2e-4)
        assert got[0]["movements"].split("; ")[0].startswith(ref.movements[0].movement + " (")
    assert "classified 9 of 11 clips" in " ".join(result.stderr.split())


def test_an_output_file_that_is_neither_jsonl_nor_csv_is_refused(trained, tmp_path: Path):
    result = kgtoolkit("classify", str(trained["folder"]), *_common(trained), "--output", str(tmp_path / "r.xlsx"),
                       check=False)
    assert result.returncode == 2 and "r.xlsx: name a .jsonl (JSON lines) or .csv file" in result.stderr


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.actions: list[dict] = []
        self.movements: list[dict] = []
        self.script: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "tr" and attrs.get("class") == "action":
            self.actions.append(attrs)
        elif tag == "tr" and attrs.get("class") == "movement":
            self.movements.append(attrs)
        elif tag == "script" and attrs.get("id") == "kgtoolkit-result":
            self._in_script = True

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        if self._in_script:
            self.script.append(data)


def test_explain_writes_a_page_and_a_picture_with_classifys_numbers(trained, tmp_path: Path):
    import base64
    import io

    from PIL import Image

    clips = sorted((trained["folder"] / "squat").glob("*.mp4"))[:2]
    out = tmp_path / "explain"
    result = kgtoolkit("classify", *map(str, clips), *_common(trained), "--json", "--explain", str(out))
    printed = [ClipResult.model_validate(x) for x in json.loads(result.stdout)]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{c.stem}.{s}" for c in clips for s in ("html", "png"))
    for clip, expected in zip(clips, printed, strict=True):
        page = _Page()
        page.feed((out / f"{clip.stem}.html").read_text(encoding="utf-8"))
        assert len(page.images) == FRAMES  # the sampled frames, embedded: the page needs no other file
        for src in page.images:
            assert src.startswith("data:image/png;base64,")
            frame = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
            assert frame.size == (64, 64) and len(frame.getcolors(maxcolors=1 << 16) or []) > 10  # not blank
        assert [a["data-action"] for a in page.actions] == [t.action for t in expected.top]
        assert [(float(a["data-score"]), float(a["data-s-mm"]), float(a["data-s-tri"])) for a in page.actions] == \
            [(t.score, t.s_mm, t.s_tri) for t in expected.top]
        assert [(m["data-movement"], float(m["data-similarity"])) for m in page.movements] == \
            [(m.movement, m.similarity) for m in expected.movements] and page.movements
        assert ClipResult.model_validate_json("".join(page.script).replace("<\\/", "</")) == expected
        with Image.open(out / f"{clip.stem}.png") as picture:
            assert picture.size[0] >= 600 and picture.size[1] >= 500
            assert ClipResult.model_validate_json(picture.text["kgtoolkit:result"]) == expected
            assert len(picture.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 50  # frames and bars drawn


def test_one_clip_on_the_embedded_store_imports_no_driver_or_table_library(trained):
    """Cold start: classifying a clip needs torch, open_clip, PyAV and decord, not the Neo4j driver,
    pandas, networkx, matplotlib or TensorBoard (each costs start-up time; BENCHMARKS.md)."""
    clip = sorted((trained["folder"] / "squat").glob("*.mp4"))[0]
    code = ("import sys\nfrom kgtoolkit.cli import app\n"
            f"app([{str(clip)!r}, '--run', {str(trained['run'])!r}, '--graph', {str(trained['graph'])!r}, '--json'],"
            " prog_name='kgtoolkit', standalone_mode=False)\n"
            "print(sorted(m for m in ('neo4j', 'pandas', 'networkx', 'matplotlib', 'tensorboard') if m in sys.modules),"
            " file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code.replace("app([", "app(['classify', ")], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert ClipResult.model_validate(json.loads(result.stdout)[0]).top
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_a_loaded_run_computes_what_a_freshly_initialised_model_does(trained):
    """load_run skips the random initialisation that the checkpoint overwrites: every parameter and
    buffer, and the clip and text embeddings, are those of a model built the ordinary way."""
    import torch

    from kgtoolkit.train.checkpoint import load_checkpoint
    from kgtoolkit.runs import build_model, load_run

    run = load_run(trained["run"])
    reference, _ = build_model(run.config, load_pretrained=False)
    reference.load_state_dict(load_checkpoint(trained["run"] / "checkpoints" / "best.pt")["model"])
    reference.eval()
    fast = dict(run.model.named_buffers()) | dict(run.model.named_parameters())
    for name, tensor in [*reference.named_buffers(), *reference.named_parameters()]:
        assert torch.equal(fast[name], tensor), name
    frames = torch.randn(2, FRAMES, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(run.model.embed_clips(frames, None), reference.embed_clips(frames, None))


def test_text_embeddings_are_kept_per_checkpoint(trained, tmp_path: Path):
    import shutil

    import torch

    from kgtoolkit.runs import load_run
    from kgtoolkit.train.text_cache import CACHE_FILE

    run_dir = tmp_path / "run"
    shutil.copytree(trained["run"], run_dir, ignore=shutil.ignore_patterns(CACHE_FILE))
    run = load_run(run_dir)
    names = run.action_names
    first = run.text_embeddings(names)
    assert (run_dir / CACHE_FILE).is_file() and torch.allclose(first, run.encode_names(names), atol=1e-6)
    again = load_run(run_dir)
    assert set(again.text_cache.vectors) == set(names)  # read back, not encoded again
    assert torch.equal(again.text_embeddings(names), first)
    grown = again.text_embeddings(["lateral raise", names[0]])  # a name it lacks is encoded and added
    assert torch.allclose(grown[0], run.encode_names(["lateral raise"])[0], atol=1e-6)
    assert set(load_run(run_dir).text_cache.vectors) == {*names, "lateral raise"}
    checkpoint = run_dir / "checkpoints" / "best.pt"
    os.utime(checkpoint, ns=(checkpoint.stat().st_atime_ns, checkpoint.stat().st_mtime_ns + 10**9))
    assert load_run(run_dir).text_cache.vectors == {}  # another checkpoint: nothing reused


def test_calibrated_puts_s_kg_on_the_trained_actions_scale_clip_by_clip():
    """`classify --calibrate`: per clip, S_kg standardised over the reference (trained) actions and given
    their S_output's mean and spread; a new action's movements fitting like a trained action's give
    that action's S_output; with fewer than two reference actions S_kg is left as it is."""
    import torch

    from kgtoolkit.classify import calibrated

    s_kg = torch.tensor([[0.1, 0.2, 0.3, 0.3], [0.5, 0.5, 0.7, 0.6]])
    s_output = torch.tensor([[10.0, 20.0, 30.0, 0.0], [1.0, 2.0, 3.0, 0.0]])
    reference = torch.tensor([True, True, True, False])
    out = calibrated(s_kg, s_output, reference)
    assert out[0].tolist() == pytest.approx([10.0, 20.0, 30.0, 30.0], abs=1e-4)  # an exact linear map per clip
    ref_kg, ref_out = s_kg[1, :3], s_output[1, :3]
    expected = ref_out.mean() + ref_out.std() * (0.6 - ref_kg.mean()) / ref_kg.std()
    assert float(out[1, 3]) == pytest.approx(float(expected), abs=1e-5)  # the second clip on its own scale
    assert calibrated(s_kg, s_output, torch.tensor([True, False, False, False])).equal(s_kg)
