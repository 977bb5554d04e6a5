"""The `kgtoolkit` command line: thin Typer commands over plain functions of the package."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from kgtoolkit.errors import KgToolkitError

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

console = Console(soft_wrap=True)
err_console = Console(stderr=True)

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
HomeOption = Annotated[
    Optional[Path],
    typer.Option("--home", envvar="KGTOOLKIT_NEO4J_HOME",
                 help="Server directory: data, logs, pid file (default .kgtoolkit/neo4j).", show_default=False),
]


# --- db ---------------------------------------------------------------------------------------
def _local_server(home: Path | None, port: int | None):
    from kgtoolkit.server.local import LocalNeo4j

    return LocalNeo4j(home, port=port)


@db_app.command("up")
def db_up(port: PortOption = None, home: HomeOption = None,
          java: Annotated[bool, typer.Option("--java", help="Use Java + Maven even if Docker answers.")] = False) -> None:
    """Start Neo4j and wait until it answers a Cypher query."""
    from kgtoolkit.server.docker import compose, docker_engine_available

    if not java and docker_engine_available():
        compose("up", "-d", "--wait")
        console.print("Neo4j is up in Docker (docker-compose.yml): bolt://127.0.0.1:7687")
        return
    server = _local_server(home, port)
    with console.status(f"Starting Neo4j {server.version} (the first start resolves it from Maven Central)..."):
        info = server.up()
    _print_server(info)


@db_app.command("status")
def db_status(port: PortOption = None, home: HomeOption = None) -> None:
    """Say whether the local Neo4j runs, its version, Bolt address and where its password is."""
    server = _local_server(home, port)
    info = server.status()
    if info is None:
        console.print(f"No local Neo4j is running for {server.home}. Start one with `kgtoolkit db up`.")
        raise typer.Exit(3)
    _print_server(info)


@db_app.command("down")
def db_down(port: PortOption = None, home: HomeOption = None) -> None:
    """Stop the local Neo4j cleanly (SIGTERM, then SIGKILL after 60 s)."""
    server = _local_server(home, port)
    console.print("Neo4j stopped." if server.down() else "No local Neo4j was running.")


def _print_server(info) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("version", f"Neo4j {info.version} Community")
    table.add_row("bolt", info.bolt_uri)
    table.add_row("pid", str(info.pid))
    table.add_row("home", info.home)
    if info.password_source.startswith("environment"):
        table.add_row("password", "from NEO4J_PASSWORD")
    else:
        table.add_row("password", f"generated; use: export NEO4J_PASSWORD=\"$(cat {info.password_source})\"")
    table.add_row("use", f"--graph {info.bolt_uri}  (or export KGTOOLKIT_GRAPH={info.bolt_uri})")
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
            + (" (all existed already)" if result.created == 0 else "")
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
    table = Table(title=f"graph {counts['graph']}")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("count", justify="right")
    for label, n in counts["nodes"].items():
        table.add_row("node", label, f"{n:,}")
    for rel, n in counts["relationships"].items():
        table.add_row("relationship", rel, f"{n:,}")
    console.print(table)


def main() -> None:
    try:
        # without standalone mode, click returns the code of a typer.Exit instead of raising it
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except KgToolkitError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as error:  # click usage errors and the like
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise
