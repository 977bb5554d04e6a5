"""The command line's output: rich tables and summaries on stdout, progress and problems on stderr."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(soft_wrap=True)
err_console = Console(stderr=True)


def print_counts(frame, title: str) -> None:
    """A counts table (`graph_counts`) with rich: numbers right-aligned with thousands separators."""
    table = Table(title=escape(title))
    numeric = [c for c in frame.columns if c not in ("kind", "name")]
    for column in frame.columns:
        table.add_column(column, justify="right" if column in numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:,}" if column in numeric else escape(str(v)) for column, v in zip(frame.columns, row)))
    console.print(table)


def print_graph_counts(counts: dict) -> None:
    """`kgtoolkit stats`: {"graph", "nodes", "relationships"} as one counts table."""
    from kgtoolkit.ingest.report import graph_counts

    print_counts(graph_counts(counts["nodes"], counts["relationships"]).rename(columns={"in graph": "count"}),
                 f"graph {counts['graph']}")


def print_ingest(result) -> None:
    print_counts(result.counts(), f"{result.kind} {result.source} -> {result.graph}")
    console.print(
        f"{result.videos:,} videos ({', '.join(f'{k} {v:,}' for k, v in sorted(result.splits.items()))}), "
        f"{result.frame_files:,} frame files in {result.seconds:.1f} s "
        f"({result.frame_files_per_second:,.0f} frame files/s)"
    )
    for defect in result.defects:
        console.print(f"[yellow]source defect:[/] {escape(defect)}", highlight=False)
    errors = [p for p in result.rejected if p.severity == "error"]
    warnings = [p for p in result.rejected if p.severity != "error"]
    for label, items in (("rejected", errors), ("warning", warnings)):
        for problem in items[:25]:
            console.print(f"[red]{label}:[/] {escape(f'{problem.path}: {problem.reason}')}", highlight=False)
        if len(items) > 25:
            console.print(f"... and {len(items) - 25} more {label} items (all of them are in --report)")
    if not result.rejected:
        console.print("[green]nothing rejected[/]")


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def print_skipped(what: str, problems: list[str]) -> None:
    """Name every clip that could not be decoded (on stderr): nothing is left out silently."""
    if problems:
        err_console.print(f"[yellow]{len(problems)} {what}, their files could not be decoded:[/]")
        for problem in problems:
            err_console.print(f"  {escape(problem)}", highlight=False, soft_wrap=True)


def cell(value: object) -> str:
    """A value as table text (escaped: a name like `[/red]` is shown, not read as markup)."""
    if isinstance(value, list) and len(value) > 8 and all(isinstance(v, float) for v in value):
        return escape(f"[{', '.join(f'{v:.3f}' for v in value[:3])}, ... {len(value)} floats]")
    if isinstance(value, float):
        return f"{value:.4f}"
    text = json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else str(value)
    return escape(text)


def print_rows(frame) -> None:
    """Query rows (a DataFrame, `tables.rows_frame`) as a table, then their count."""
    table = Table(*map(escape, frame.columns)) if len(frame.columns) else Table("(no rows)")
    for row in frame.itertuples(index=False):
        table.add_row(*(cell(v) for v in row))
    console.print(table)
    console.print(f"{len(frame)} row{'s' if len(frame) != 1 else ''}")


def print_similar(found) -> None:
    """`similar.Similar` as a ranked table."""
    table = Table("rank", "id", "name", "cosine",
                  title=escape(f"{found.label} nodes nearest to {found.node_id} (run {found.run_id})"))
    for rank, n in enumerate(found.neighbours, start=1):
        table.add_row(str(rank), escape(n.id), escape(str(n.name)), f"{n.score:.4f}")
    console.print(table)


def print_trained(result, select: str) -> None:
    """A finished training run (`TrainResult`): the selected epoch and the test accuracy."""
    test = result.test
    console.print(
        f"run {result.run_dir}: {'last' if select == 'last' else 'best'} epoch {result.best_epoch} "
        f"(val top-1 {percent(result.best_val_top1)}); "
        f"test top-1 {test['top1']:.1%}, top-5 {test['top5']:.1%} over {test['videos']} videos "
        f"(chance {test['chance_top1']:.1%})",
        markup=False,
    )
    print_skipped("test clips not evaluated", test.get("skipped", []))


def print_neighbourhood(hood, node_id: str, uri: str) -> None:
    """A node's neighbourhood (`neighbourhood.Neighbourhood`): its relationships, then what it counts."""
    g = hood.graph
    table = Table("relationship", "from", "to", title=escape(f"{g.nodes[node_id]['name']} ({node_id}) in {uri}"))
    for src, dst, rel_type in sorted(g.edges(data="type"), key=lambda e: (e[2], e[0], e[1])):
        table.add_row(rel_type, escape(g.nodes[src]["name"]), escape(g.nodes[dst]["name"]))
    console.print(table)
    parts = [f"{n} {label}" for label, n in hood.summary().items()]
    parts += [f"{n} {rel_type} relationships not shown" for rel_type, n in sorted(hood.omitted.items())]
    console.print(escape(f"{node_id}: {', '.join(parts) or 'no neighbours'}"))


def print_clip(result) -> None:
    """One `ClipResult` of `kgtoolkit classify`: its top actions and the movements supporting the first."""
    table = Table("rank", "action", "S_output", "S_mm", "S_tri", "S_kg", title=escape(result.clip))
    for rank, top in enumerate(result.top, start=1):
        table.add_row(str(rank), escape(top.action), f"{top.score:.4f}", f"{top.s_mm:.4f}", f"{top.s_tri:.4f}",
                      "-" if top.s_kg is None else f"{top.s_kg:.4f}")
    console.print(table)
    if result.movements:
        console.print(escape("  supporting movements of " + result.top[0].action + ": " + ", ".join(
            f"{m.movement} ({m.similarity:.2f})" for m in result.movements)))
