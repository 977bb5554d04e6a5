"""Tables through pandas: the benchmark tables beside their JSON, `kgtoolkit query --format`
csv / json / table on a real Neo4j, and the ingest report's counts."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from kgtoolkit.graph import NodeRow
from kgtoolkit.ingest.report import IngestReport, graph_counts
from kgtoolkit.tables import format_rows, table_paths, write_tables


def test_write_tables_puts_markdown_and_csv_beside_the_json(tmp_path, capsys):
    frame = pd.DataFrame({"model": ["KG-CLIP", "CLIP-only"], "top-1": [0.71666, 0.5], "videos": [60, 60]})
    second = pd.DataFrame({"w": [0.0, 0.5], "held-out": [0.1, 0.25]})
    written = write_tables(tmp_path / "run.json", {None: frame, "holdout": second})
    assert [p.name for p in written] == ["run.md", "run.csv", "run.holdout.md", "run.holdout.csv"]
    assert (tmp_path / "run.md").read_text().splitlines() == [
        "| model     |   top-1 |   videos |",
        "|:----------|--------:|---------:|",
        "| KG-CLIP   |   0.717 |       60 |",
        "| CLIP-only |   0.500 |       60 |",
    ]
    assert pd.read_csv(tmp_path / "run.csv").equals(frame)  # the CSV keeps full precision
    assert pd.read_csv(tmp_path / "run.holdout.csv").equals(second)
    assert "| KG-CLIP   |   0.717 |" in capsys.readouterr().out
    assert table_paths(tmp_path / "a.b.json", "x") == (tmp_path / "a.b.x.md", tmp_path / "a.b.x.csv")
    assert write_tables(None, {None: frame}) == []  # printed only


ROWS = [
    {"id": "action:a,b", "name": 'say "hi"', "score": 0.123456789012345, "vector": [1.0, 2.5], "note": None},
    {"id": "action:ü", "name": "[/red]", "score": 2.0, "vector": [], "note": {"k": 1}},
]


def test_format_rows_csv_and_json_keep_every_value():
    parsed = list(csv.reader(io.StringIO(format_rows(ROWS, "csv"))))
    assert parsed == [["id", "name", "score", "vector", "note"],
                      ["action:a,b", 'say "hi"', "0.123456789012345", "[1.0, 2.5]", ""],
                      ["action:ü", "[/red]", "2.0", "[]", '{"k": 1}']]
    assert json.loads(format_rows(ROWS, "json")) == ROWS
    assert format_rows([], "csv").strip() == "" and json.loads(format_rows([], "json")) == []


def test_ingest_report_counts_per_label_and_type():
    report = IngestReport("src", "ktps", "g", nodes={"Video": 5, "Action": 2}, relationships={"SHOWS": 5},
                          written={"Video": 3, "SHOWS": 5})
    assert report.counts().values.tolist() == [["node", "Video", 5, 3], ["node", "Action", 2, 0],
                                               ["relationship", "SHOWS", 5, 5]]
    assert list(graph_counts({"Video": 1}, {}).columns) == ["kind", "name", "in graph"]


def _kgtoolkit(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "kgtoolkit", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_query_formats_on_neo4j(neo4j_store, neo4j_uri):
    neo4j_store.upsert_nodes("Action", [NodeRow("action:a,b", {"name": 'say "hi"', "classIndex": 0, "w": [1.0, 2.5]}),
                                        NodeRow("action:ü", {"name": "[/red]", "classIndex": 1, "w": []})])
    query = "MATCH (a:Action) RETURN a.id AS id, a.name AS name, a.classIndex AS index, a.w AS w ORDER BY index"
    as_csv = _kgtoolkit("query", query, "--graph", neo4j_uri, "--format", "csv").stdout
    assert list(csv.reader(io.StringIO(as_csv))) == [["id", "name", "index", "w"], ["action:a,b", 'say "hi"', "0", "[1.0, 2.5]"],
                                                     ["action:ü", "[/red]", "1", "[]"]]
    as_json = json.loads(_kgtoolkit("query", query, "--graph", neo4j_uri, "--format", "json").stdout)
    assert as_json == [{"id": "action:a,b", "name": 'say "hi"', "index": 0, "w": [1.0, 2.5]},
                       {"id": "action:ü", "name": "[/red]", "index": 1, "w": []}]
    table = _kgtoolkit("query", query, "--graph", neo4j_uri).stdout
    assert "[/red]" in table and 'say "hi"' in table and table.rstrip().endswith("2 rows")
    empty = _kgtoolkit("query", "MATCH (a:Action {id: $id}) RETURN a.id AS id", "--param", "id=none",
                       "--graph", neo4j_uri, "--format", "csv").stdout
    assert empty.strip() == ""


def test_markdown_keeps_integers_and_leaves_missing_cells_empty():
    from kgtoolkit.tables import markdown

    frame = pd.DataFrame({"frames": [1, 8], "top-1": [62.94, float("nan")]})
    assert markdown(frame, ".1f").splitlines()[2:] == ["|        1 |    62.9 |", "|        8 |         |"]


def test_benchmark_claims_table_from_result_rows():
    """pipelines/bench_accuracy.py's claims table: mean, sd and count per setting and model, in percent."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "pipelines" / "bench_accuracy.py"
    spec = importlib.util.spec_from_file_location("bench_accuracy", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = [{"model": m, "frames": f, "fraction": p, "seed": s, "top1": t}
            for m, f, p, s, t in [("KG-CLIP", 8, 1.0, 0, 0.5), ("KG-CLIP", 8, 1.0, 1, 0.7), ("CLIP-only", 8, 1.0, 0, 0.6),
                                  ("KG-CLIP", 8, 0.2, 0, 0.3), ("KG-CLIP", 1, 1.0, 0, 0.4)]]
    table = bench.claims_table(rows)
    assert table[["frames", "training data (%)"]].values.tolist() == [[1, 100.0], [8, 100.0], [8, 20.0]]
    assert table["KG-CLIP top-1 (%)"].tolist() == pytest.approx([40.0, 60.0, 30.0])
    assert table["KG-CLIP sd"].iloc[1] == pytest.approx(100 * 0.1414213, abs=1e-4)
    assert table["KG-CLIP n"].tolist() == [1, 2, 1] and table["CLIP-only n"].tolist() == [0, 1, 0]


def test_bench_claims_pairs_each_model_with_the_same_seeds_clip_only_run(tmp_path):
    """pipelines/bench_claims.py: per setting and model the mean over seeds with a Student's t 95%
    interval, and the paired difference against CLIP-only on the same seed; random-weight runs
    stay out of the grid's table and go to their own."""
    import importlib.util
    import sys
    from pathlib import Path

    pipelines = Path(__file__).resolve().parents[1] / "pipelines"
    sys.path.insert(0, str(pipelines))  # bench_claims imports bench_accuracy
    try:
        spec = importlib.util.spec_from_file_location("bench_claims", pipelines / "bench_claims.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(pipelines))
    rows = [{"model": m, "frames": 8, "fraction": 1.0, "seed": s, "top1": t, "weights": w, "s_mm_top1": t - 0.1,
             "s_tri_top1": t / 2}
            for m, s, t, w in [("KG-CLIP", 0, 0.50, "stand-in"), ("KG-CLIP", 1, 0.70, "stand-in"),
                               ("CLIP-only", 0, 0.40, "stand-in"), ("CLIP-only", 1, 0.65, "stand-in"),
                               ("KG-CLIP", 0, 0.05, "random")]]
    table = bench.claims_table(rows).set_index("model")
    assert table.loc["KG-CLIP", "top-1"] == pytest.approx(60.0) and table.loc["KG-CLIP", "seeds"] == 2
    assert table.loc["KG-CLIP", "± 95%"] == pytest.approx(12.706 * 14.1421356 / 2 ** 0.5, rel=1e-6)
    assert table.loc["KG-CLIP", "- CLIP-only"] == pytest.approx(7.5)  # (10 + 5) / 2, paired by seed
    assert table.loc["KG-CLIP", "diff ± 95%"] == pytest.approx(12.706 * 3.5355339 / 2 ** 0.5, rel=1e-6)
    assert table.loc["KG-CLIP", ["S_mm", "S_tri"]].tolist() == pytest.approx([50.0, 30.0])  # S_output's parts
    assert pd.isna(table.loc["CLIP-only", "S_tri"])
    assert bench.random_table(rows).to_dict("records") == [
        {"model": "KG-CLIP", "seed": 0, "from random": pytest.approx(5.0), "from the stand-in": pytest.approx(50.0)}]
    assert bench.settings([1, 2, 4, 8], [0.1, 0.4]) == [(8, 1.0), (4, 1.0), (2, 1.0), (1, 1.0), (8, 0.4), (8, 0.1)]
    floors = {(1.0, 0): 0.15, (1.0, 1): 0.25}
    assert bench.claims_table(rows, floors).set_index("model").loc["KG-CLIP", "floor"] == pytest.approx(20.0)
    pooled = bench.pooled_table(rows).set_index("model")  # the random-weight run is not a pair
    assert pooled.loc["KG-CLIP", ["pairs", "ahead", "level", "behind"]].tolist() == [2, 2, 0, 0]
    assert pooled.loc["KG-CLIP", "- CLIP-only"] == pytest.approx(7.5)
    assert pooled.loc["KG-CLIP", "± 95% (seeds)"] == pytest.approx(12.706 * 3.5355339 / 2 ** 0.5, rel=1e-6)
    assert pooled.loc["KG-CLIP", "sign test p (%)"] == pytest.approx(50.0)  # 2 of 2 ahead: 2 * 1/4
    assert bench.sign_test(22, 13) == pytest.approx(0.1755, abs=1e-4) and bench.sign_test(0, 0) == 1.0
    # --last: the same runs at their last epoch; S_mm and S_tri were the selected checkpoint's, so they go
    last = tmp_path / "claims.last.jsonl"
    last.write_text("".join(json.dumps({"key": list(bench.run_key(r)), "last_top1": r["top1"] + 0.1, "best_top1": r["top1"]})
                            + "\n" for r in rows[:2]))
    moved = bench.with_last_epochs(rows, last)
    assert [r["top1"] for r in moved] == pytest.approx([0.6, 0.8]) and all(r["s_tri_top1"] is None for r in moved)
    assert "S_tri" not in bench.claims_table(moved).columns


def test_holdout_selects_with_every_class_weighing_the_same_and_summarises_over_seeds():
    """pipelines/bench_accuracy.py holdout: the selection score is the mean of per-class top-1 (a
    class with many selection clips does not outweigh the others, as it would not in the test set);
    the table averages each weight over seeds and adds the weight each seed chose."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "pipelines" / "bench_accuracy.py"
    spec = importlib.util.spec_from_file_location("bench_accuracy", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # 8 clips of a held-out class all right, 2 of a trained class all wrong: 80% per clip, 50% balanced
    assert bench.balanced_top1([True] * 8 + [False] * 2, ["new"] * 8 + ["old"] * 2) == pytest.approx(0.5)
    rows = [{"weight": w, "seed": s, "held_top1": h, "held_only_top1": h, "seen_top1": t, "all_top1": (h + 3 * t) / 4,
             "chosen_on_selection": c}
            for w, s, h, t, c in [(0.0, 0, 0.0, 0.6, True), (1.0, 0, 0.4, 0.2, False),
                                  (0.0, 1, 0.2, 0.4, False), (1.0, 1, 0.6, 0.4, True)]]
    table = bench.holdout_table(rows).set_index("movement weight w")
    assert list(table.index) == ["0 (text only)", "1", "chosen per seed (0, 1)"]
    assert table["held-out top-1 (%)"].tolist() == pytest.approx([10.0, 50.0, 30.0])
    assert table["training actions top-1 (%)"].tolist() == pytest.approx([50.0, 30.0, 50.0])
    assert table["seeds"].tolist() == [2, 2, 2]
    assert set(table["S_kg"]) == {"as it is"}  # rows from before `calibrate`
    calibrated = [{**r, "calibrate": True, "held_top1": 1.0} for r in rows]
    both = bench.holdout_table(rows + calibrated)
    assert both["S_kg"].tolist() == ["as it is"] * 3 + ["calibrated"] * 3  # each mode its own weights
    assert both["held-out top-1 (%)"].tolist()[3:] == pytest.approx([100.0, 100.0, 100.0])


def test_ingest_and_stats_print_the_counts_table(tmp_path):
    """The CLI's summary of an ingest (in graph, written now) and `stats`, from the report's DataFrame."""
    import re

    from conftest import RELEASE_DIR

    graph = str(tmp_path / "graph")
    first = _kgtoolkit("ingest", str(RELEASE_DIR), "--graph", graph).stdout
    rows = {m[0]: m[1:] for m in re.findall(r"│ (?:node|relationship)\s+│ (\w+)\s+│\s+([\d,]+) │\s+([\d,]+) │", first)}
    assert rows["INVOLVES"] == ("801", "801") and rows["Video"] == ("3,809", "3,809") and len(rows) == 10
    again = _kgtoolkit("ingest", str(RELEASE_DIR), "--graph", graph).stdout
    assert re.search(r"│ relationship\s+│ EXHIBITS\s+│\s+5,040 │\s+5,040 │", again)  # upserted again, same count
    stats = _kgtoolkit("stats", "--graph", graph).stdout
    assert re.findall(r"│ (\w+)\s+│\s+([\d,]+) │", stats)[:2] == [("Video", "3,809"), ("Action", "24")]
