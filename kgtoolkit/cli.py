"""The `kgtoolkit` command line: thin Typer commands over plain functions of the package."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from kgtoolkit.console import (console, err_console, percent as _percent, print_graph_counts, print_ingest as _print_ingest,
                               print_neighbourhood, print_rows, print_similar, print_skipped as _print_skipped, print_trained)
from kgtoolkit.errors import ConfigurationError, KgToolkitError

# classify --movement-weight: see BENCHMARKS.md, "New actions through the graph".
DEFAULT_MOVEMENT_WEIGHT = 0.0

app = typer.Typer(
    help="kgtoolkit: knowledge graphs and CLIP for fine-grained video action recognition (KG-CLIP).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Run a local Neo4j 5.26 server (Docker when an engine answers, else Java 17 + Maven).",
                     no_args_is_help=True)
schema_app = typer.Typer(help="The graph schema: constraints and indexes of graph_schema/.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(schema_app, name="schema")


GraphOption = Annotated[
    Optional[str],
    typer.Option(
        "--graph",
        envvar="KGTOOLKIT_GRAPH",
        help="Graph store: bolt://HOST:PORT or neo4j://HOST:PORT for Neo4j (credentials from "
        "NEO4J_USERNAME/NEO4J_PASSWORD/NEO4J_DATABASE), or a directory for the embedded store. "
        "Default: KGTOOLKIT_GRAPH, else .kgtoolkit/graph.",
        show_default=False,
    ),
]
PortOption = Annotated[
    Optional[int],
    typer.Option("--port", envvar="KGTOOLKIT_NEO4J_PORT", help="Bolt port on 127.0.0.1 (default 7687).",
                 show_default=False),
]
HttpPortOption = Annotated[
    Optional[int],
    typer.Option("--http-port", envvar="KGTOOLKIT_NEO4J_HTTP_PORT",
                 help="HTTP port on 127.0.0.1 for Neo4j Browser (default 7474).", show_default=False),
]
HomeOption = Annotated[
    Optional[Path],
    typer.Option("--home", envvar="KGTOOLKIT_NEO4J_HOME",
                 help="Server directory: data, logs, pid file (default .kgtoolkit/neo4j).", show_default=False),
]


# --- db ---------------------------------------------------------------------------------------
def _local_server(home: Path | None, port: int | None, file_import: Path | None = None, http_port: int | None = None,
                  browser: bool = False):
    from kgtoolkit.server.local import DEFAULT_HTTP_PORT, LocalNeo4j

    return LocalNeo4j(home, port=port, file_import=file_import,
                      http_port=(http_port or DEFAULT_HTTP_PORT) if browser else None)


@db_app.command("up")
def db_up(port: PortOption = None, home: HomeOption = None, http_port: HttpPortOption = None,
          browser: Annotated[bool, typer.Option(
              "--browser/--no-browser", help="Serve Neo4j Browser over HTTP on 127.0.0.1 (--no-browser: HTTP off, "
              "Bolt only).")] = True,
          java: Annotated[bool, typer.Option("--java", help="Use Java + Maven even if Docker answers.")] = False,
          allow_file_import: Annotated[Optional[Path], typer.Option(
              "--allow-file-import", metavar="DIR",
              help="Let LOAD CSV read files through file URLs, from this folder only (file:///x.csv is DIR/x.csv; "
              "a link inside it is followed). Default: LOAD CSV reads no files. Docker: NEO4J_ALLOW_FILE_IMPORT, "
              "see docker-compose.yml.", show_default=False)] = None) -> None:
    """Start Neo4j on 127.0.0.1 (Bolt, and Neo4j Browser over HTTP) and wait until it answers a Cypher query."""
    from kgtoolkit.server.docker import compose, docker_engine_available

    if not java and docker_engine_available():
        if allow_file_import is not None:
            raise ConfigurationError("--allow-file-import applies to the Java server (--java); with Docker, set "
                                     "NEO4J_ALLOW_FILE_IMPORT=true and mount the folder (docker-compose.yml says how)")
        compose("up", "-d", "--wait")
        console.print(f"Neo4j is up in Docker (docker-compose.yml): bolt://127.0.0.1:{os.environ.get('NEO4J_BOLT_PORT', 7687)}"
                      f", Browser http://127.0.0.1:{os.environ.get('NEO4J_HTTP_PORT', 7474)}/browser/", highlight=False)
        return
    server = _local_server(home, port, allow_file_import, http_port, browser)
    with console.status(f"Starting Neo4j {server.version} (the first start resolves it from Maven Central)..."):
        info = server.up()
    _print_server(info)
    console.print(escape(f"LOAD CSV file URLs: only from {server.file_import}" if server.file_import else
                         "LOAD CSV file URLs: off (--allow-file-import DIR allows one folder)"), highlight=False)


@db_app.command("status")
def db_status(port: PortOption = None, home: HomeOption = None) -> None:
    """Say whether the local Neo4j runs, its version, Bolt address, Browser URL and where its password is."""
    server = _local_server(home, port)
    info = server.status()
    if info is None:
        console.print(f"No local Neo4j is running for {server.home}. Start one with `kgtoolkit db up`.", markup=False)
        raise typer.Exit(3)
    _print_server(info)


@db_app.command("down")
def db_down(port: PortOption = None, home: HomeOption = None) -> None:
    """Stop the local Neo4j cleanly (SIGTERM, then SIGKILL after 60 s)."""
    server = _local_server(home, port)
    console.print("Neo4j stopped." if server.down() else "No local Neo4j was running.")


def _print_server(info) -> None:
    table = Table(show_header=False, box=None)
    for name, value in info.rows():
        table.add_row(name, escape(value))
    console.print(table)


# --- schema and stats ---------------------------------------------------------------------------
@schema_app.command("apply")
def schema_apply(graph: GraphOption = None) -> None:
    """Create the constraints and indexes of graph_schema/ (idempotent: IF NOT EXISTS)."""
    from kgtoolkit.graph import open_graph

    with open_graph(graph) as store:
        result = store.apply_schema()
        console.print(
            f"{store.uri}: {result.statements} schema statements applied, "
            f"{result.created} constraints/indexes created"
            + (" (all existed already)" if result.created == 0 else ""),
            markup=False,
        )


@app.command("stats")
def stats(graph: GraphOption = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Count the graph's nodes per label and relationships per type."""
    from kgtoolkit.graph import open_graph

    with open_graph(graph) as store:
        counts = {"graph": store.uri, "nodes": store.count_nodes(), "relationships": store.count_relationships()}
    if as_json:
        print(json.dumps(counts, indent=2))
        return
    print_graph_counts(counts)


# --- data -------------------------------------------------------------------------------------
@app.command("ingest")
def ingest_command(
    path: Annotated[Path, typer.Argument(help="A Kinetics-TPS root or a KG-CLIP release folder.", show_default=False)],
    graph: GraphOption = None,
    report: Annotated[Optional[Path], typer.Option(
        "--report", help="Also write the summary as JSON (keys: nodes, relationships, rejected, defects, ...).",
        show_default=False)] = None,
    workers: Annotated[int, typer.Option(help="Parser processes.")] = max(1, min(8, os.cpu_count() or 1)),
    val_fraction: Annotated[float, typer.Option(help="Share of each class's training videos carved out as validation.")] = 0.1,
    min_support: Annotated[float, typer.Option(
        help="INVOLVES (action -> movement) needs the movement in at least this share of the action's "
        "training videos.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the validation split.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Rows per write transaction.")] = 5000,
) -> None:
    """Write a dataset into the graph (idempotent: a second ingest changes nothing).

    Exit status: 0 when everything was ingested, 3 when some items were rejected or flagged
    (each is listed, and in --report), 2 for unusable input, 1 for other errors.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kgtoolkit.graph import open_graph
    from kgtoolkit.ingest import IngestOptions, ingest

    options = IngestOptions(val_fraction=val_fraction, seed=seed, min_support=min_support, workers=workers,
                            batch_size=batch_size)
    with open_graph(graph) as store, Progress(
        TextColumn("[bold]ingest[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("videos"),
        TimeRemainingColumn(), console=err_console, transient=True,
    ) as bar:
        task = bar.add_task("videos", total=None)
        result = ingest(path, store, options, progress=lambda done, total: bar.update(task, completed=done, total=total))
    _print_ingest(result)
    if report:
        result.write(report)
        console.print(f"report written to {report}", markup=False)
    if result.rejected:
        raise typer.Exit(3)


@app.command("synth")
def synth_command(
    out_dir: Annotated[Path, typer.Argument(help="New folder for the dataset (must not exist or be empty).",
                                            show_default=False)],
    classes: Annotated[int, typer.Option(help="Number of actions.")] = 6,
    train_per_class: Annotated[int, typer.Option(help="Training videos per action.")] = 4,
    test_per_class: Annotated[int, typer.Option(help="Test videos per action (no annotations, as in Kinetics-TPS).")] = 1,
    frames: Annotated[int, typer.Option(help="Frames per video.")] = 16,
    size: Annotated[int, typer.Option(help="Frame width and height in pixels.")] = 112,
    fps: Annotated[int, typer.Option(help="Frames per second of the mp4 files.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same dataset.")] = 0,
    composition: Annotated[Optional[Path], typer.Option(
        help="A KG-CLIP release folder: actions and their body movements follow its graph "
        "(kg_idx.json + a-b.pkl).", show_default=False)] = None,
    share_videos: Annotated[bool, typer.Option(
        help="Render one mp4 per class and split and link it for the others (for annotation-scale benchmarks).")] = False,
    nuisance: Annotated[float, typer.Option(
        help="Strength of the class-independent nuisances, 0 to 1: 1 varies position, scale, tempo, colours, "
        "background texture, a moving distractor and pixel noise per video; 0 is a centred figure on grey.")] = 1.0,
    quirks: Annotated[int, typer.Option(
        min=0, max=2,
        help="Annotation quirks of the real data: 0 none; 1 frames with no human, parts not annotated, 'others' "
        "states; 2 (default) also a second human, humans with no parts, float boxes, a part in one state with "
        "and without its object, video ids starting with '-' or holding '_', a class folder with parentheses. "
        "None of them is a defect: `kgtoolkit ingest` reports nothing for any level.")] = 2,
    world: Annotated[str, typer.Option(
        help="default: the built-in actions, every video shows all of its action's movements; target: the "
        "benchmark world (Kinetics-TPS-like: 6 movements per action, 2-4 shown per video, confusable pairs); "
        "source: the pretraining corpus of the stand-in CLIP (kgtoolkit.synth.worlds).")] = "default",
) -> None:
    """Generate a small synthetic dataset in the Kinetics-TPS layout, with real mp4 files."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from kgtoolkit.synth import generate

    with Progress(TextColumn("[bold]synth[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("videos"),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("videos", total=None)
        summary = generate(
            out_dir, classes=classes, train_per_class=train_per_class, test_per_class=test_per_class,
            frames=frames, size=size, fps=fps, seed=seed, composition=composition, share_videos=share_videos,
            nuisance=nuisance, quirks=quirks, world=world,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"{out_dir}: {len(summary.classes)} actions, {summary.train_videos} training and {summary.test_videos} "
        f"test videos, {summary.frame_jsons:,} frame JSONs in {summary.seconds:.1f} s "
        f"({summary.videos_per_second:.1f} videos/s)",
        markup=False,
    )


# --- training -----------------------------------------------------------------------------------
@app.command("train")
def train_command(
    config: Annotated[Optional[str], typer.Option(
        "--config", help="YAML config file, or the name of a packaged one: tiny (CPU-sized), tiny-standin "
        "(tiny, from the pretrained stand-in), vit-b-16, kg-clip-paper (pipelines/ links them). Default: "
        "built-in defaults.",
        show_default=False)] = None,
    graph: GraphOption = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Run directory (default: a new folder under runs/).", show_default=False)] = None,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="Override a config key, e.g. --set optim.epochs=5 --set model.use_graph=false.",
        show_default=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", help="Continue the run in this directory from its last checkpoint.", show_default=False)] = None,
) -> None:
    """Train KG-CLIP on the graph's training videos, select on validation, test once, write embeddings back."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kgtoolkit.graph import open_graph
    from kgtoolkit.train.job import resolve_run, train_job

    cfg, run_dir = resolve_run(config, set_, out, resume)
    with open_graph(graph) as store, Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}[/]"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}  {task.fields[rate]:.1f} clips/s"), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as bar:
        task = bar.add_task("train", total=None, epoch=0, loss=0.0, rate=0.0)

        def on_step(info: dict) -> None:
            bar.update(task, completed=info["step"] + 1, total=info["steps"], epoch=info["epoch"],
                       loss=info["loss"], rate=info["clips_per_s"])

        def on_epoch(record: dict) -> None:
            bar.console.print(
                f"epoch {record['epoch']}: loss {record['train_loss']:.3f}, val top-1 {_percent(record['val_top1'])} "
                f"(S_mm {_percent(record.get('val_s_mm_top1'))}), {record['clips_per_s']:.1f} clips/s"
            )
            _print_skipped("clips skipped this epoch", record.get("skipped_clips", []))

        job = train_job(cfg, store, run_dir, resume=resume is not None, on_step=on_step, on_epoch=on_epoch,
                        on_trained=lambda result: print_trained(result, cfg.optim.select))
        if job is not None and job.embeddings is not None:
            console.print(f"embeddings written to {store.uri}: {job.embeddings.summary()}", markup=False)
            _print_skipped("videos left without an embedding", job.embeddings.skipped)


@app.command("pretrain")
def pretrain_command(
    cache: Annotated[Optional[Path], typer.Option(
        help="Cache folder (default: $KGTOOLKIT_CACHE/standin or ~/.cache/kgtoolkit/standin).", show_default=False)] = None,
    force: Annotated[bool, typer.Option(help="Train again even when the cached checkpoint exists.")] = False,
) -> None:
    """Build (once per machine) the pretrained stand-in CLIP and print its checkpoint's path, for
    `--set model.pretrained=PATH`: the tiny CLIP trained on a synthetic source corpus (about 5 minutes
    on 2 cores; pipelines/pretrain_standin.py sets every option)."""
    from kgtoolkit.pretrain import standin

    built = standin(cache, force=force, log=lambda line: err_console.print(line, markup=False))
    err_console.print(built.summary(), markup=False)
    console.print(str(built.path), markup=False, soft_wrap=True)


# --- embeddings, queries, classify ------------------------------------------------------------------
RunOption = Annotated[Optional[Path], typer.Option(
    "--run", help="Run directory of a trained model (default: the latest finished run under runs/).",
    show_default=False)]


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@app.command("embed")
def embed_command(run: RunOption = None, graph: GraphOption = None) -> None:
    """Write a run's embeddings onto the Video, Action and BodyMovement nodes (with vector indexes)."""
    from kgtoolkit.graph import open_graph
    from kgtoolkit.train.embed import write_run_embeddings
    from kgtoolkit.runs import latest_run

    run_dir = run or latest_run()
    with open_graph(graph) as store:
        written = write_run_embeddings(run_dir, store, device=_device())
    console.print(f"embeddings of run {run_dir} written to {store.uri}: {written.summary()}", markup=False)
    _print_skipped("videos left without an embedding", written.skipped)


@app.command("query")
def query_command(
    cypher: Annotated[str, typer.Argument(help="A Cypher query; pass values with --param, never inline.",
                                          show_default=False)],
    graph: GraphOption = None,
    param: Annotated[Optional[list[str]], typer.Option(
        "--param", help="A query parameter name=value (YAML scalars: 3, 0.5, true, 'text', [1, 2]).",
        show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    write: Annotated[bool, typer.Option("--write", help="Allow the query to write (default: read access only).")] = False,
) -> None:
    """Run Cypher against Neo4j (read-only unless --write) and print the rows."""
    from kgtoolkit.graph import cypher_store, open_graph
    from kgtoolkit.graph.queries import parse_param
    from kgtoolkit.tables import FORMATS, format_rows, rows_frame

    if fmt not in FORMATS:
        raise ConfigurationError(f"--format {fmt!r}: use table, json or csv")
    params = dict(parse_param(p) for p in param or [])
    with open_graph(graph) as store:
        rows = cypher_store(store).cypher(cypher, params, write=write)  # writes need --write (ReadOnlyQueryError)
    if fmt != "table":
        sys.stdout.write(format_rows(rows, fmt) + ("\n" if fmt == "json" else ""))
        return
    print_rows(rows_frame(rows))


@app.command("similar")
def similar_command(
    node_id: Annotated[str, typer.Argument(help="A node id, e.g. 'action:push_up' or 'movement:left_arm/bend'.",
                                           show_default=False)],
    graph: GraphOption = None,
    label: Annotated[Optional[str], typer.Option(
        "--label", help="Search among Action, BodyMovement or Video nodes (default: the node's own label).",
        show_default=False)] = None,
    k: Annotated[int, typer.Option("-k", help="How many neighbours.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Nearest neighbours of a node by embedding (cosine), on either store."""
    from kgtoolkit.graph import open_graph
    from kgtoolkit.similar import similar

    with open_graph(graph) as store:
        found = similar(store, node_id, label, k)
    if as_json:
        print(json.dumps([{"id": n.id, "name": n.name, "score": round(n.score, 6)} for n in found.neighbours], indent=1))
        return
    print_similar(found)


@app.command("show")
def show_command(
    node_id: Annotated[str, typer.Argument(help="A node id, e.g. 'action:push_up' or 'video:push_up/Y0-KQvJjKAw_000057_000067'.",
                                           show_default=False)],
    graph: GraphOption = None,
    png: Annotated[Optional[Path], typer.Option("--png", help="Draw the neighbourhood to this PNG file.",
                                                show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="At most this many relationships of each type.")] = 40,
    videos: Annotated[bool, typer.Option("--videos", help="Draw an action's videos too (by default they are counted).")] = False,
) -> None:
    """A node's neighbourhood, on either store: an action with its movements and their parts and
    objects, a video with its action and movements; listed, and drawn with --png."""
    from kgtoolkit.graph import open_graph
    from kgtoolkit.neighbourhood import draw, neighbourhood

    with open_graph(graph) as store:
        hood = neighbourhood(store, node_id, limit=limit, show_all=videos)
    print_neighbourhood(hood, node_id, store.uri)
    if png is not None:
        draw(hood, png)
        console.print(f"drawn to {png}", markup=False)


@app.command("classify")
def classify_command(
    clips: Annotated[list[Path], typer.Argument(help="Video files or folders of them.", show_default=False)],
    run: RunOption = None,
    graph: GraphOption = None,
    k: Annotated[int, typer.Option("-k", help="How many actions per clip.")] = 5,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print a JSON list, one object per clip: clip, top [{action, score, s_mm, s_tri}], "
        "movements, error (see README).")] = False,
    movement_weight: Annotated[float, typer.Option(
        "--movement-weight", min=0.0, max=1.0,
        help="Weight w of the graph score S_kg (the clip's v-b triple scores averaged over each action's "
        "INVOLVES movements): S_output = (1 - w) (S_mm + S_tri) / 2 + w S_kg. 0 is the paper's score; "
        "actions added with add-action need w > 0 to be recognised by their movements.")] = DEFAULT_MOVEMENT_WEIGHT,
    calibrate: Annotated[bool, typer.Option(
        "--calibrate", help="With --movement-weight: mix S_kg into the actions the run did not train on only, "
        "put first on the trained actions' scale for each clip (their mean and spread of S_kg and S_output).")] = False,
    output: Annotated[Optional[Path], typer.Option(
        "--output", help="Stream the results to this file as they come: .jsonl (one JSON object per clip) or "
        ".csv (one row per clip and rank); nothing per clip is printed then.", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Clips decoded and encoded together.")] = 16,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=0, help="Decoding processes (default: none for one batch of clips, else up to 4).",
        show_default=False)] = None,
    explain: Annotated[Optional[Path], typer.Option(
        "--explain", metavar="DIR", help="Write an explanation of each clip into DIR: a PNG and a self-contained "
        "HTML page with the sampled frames, the top actions' S_mm and S_tri, and the supporting body movements.",
        show_default=False)] = None,
) -> None:
    """Top-k actions of each clip (S_output with its S_mm, S_tri and S_kg parts) and the body movements
    that support the top action. Exit status 3 when some clip could not be classified."""
    from kgtoolkit.classify_output import classify_files

    summary = classify_files(clips, run, graph, _device(), k=k, movement_weight=movement_weight, calibrate=calibrate,
                             as_json=as_json, output=output, batch_size=batch_size, workers=workers, explain=explain)
    if summary.failed:
        raise typer.Exit(3)


@app.command("add-action")
def add_action_command(
    name: Annotated[str, typer.Argument(help='The action\'s name, e.g. "snatch weight lifting".', show_default=False)],
    movement: Annotated[list[str], typer.Option(
        "--movement", "-m", help='A body movement it involves, as the graph names them: "<part> <state>[ <object>]", '
        'e.g. "right hand hold barbell". Repeat for each.', show_default=False)],
    graph: GraphOption = None,
) -> None:
    """Add an action known only through the graph: an Action node with INVOLVES edges to its body
    movements (created when new). `classify --movement-weight W` then scores it without retraining."""
    from kgtoolkit.actions import add_action
    from kgtoolkit.graph import open_graph

    with open_graph(graph) as store:
        added = add_action(store, name, movement)
    state = "already existed; INVOLVES edges merged" if added.existed else "added"
    console.print(escape(f"{added.id} ({added.name}) {state}: {len(added.movements)} movements "
                         f"({len(added.new_movements)} new to the graph)"))


def main() -> None:
    try:
        # without standalone mode, click returns the code of a typer.Exit instead of raising it
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except KgToolkitError as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as error:  # usage errors: typer >= 0.29 raises those of its own copy of click
        import click

        if isinstance(error, (click.ClickException, typer.TyperException)) and hasattr(error, "show"):
            error.show()
            sys.exit(error.exit_code)
        raise
