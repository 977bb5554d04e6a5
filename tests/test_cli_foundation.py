"""The CLI over the foundation: --help, schema apply, stats, and the local Neo4j lifecycle."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from kgtoolkit.server.local import free_port

KGTOOLKIT = [sys.executable, "-m", "kgtoolkit"]


def run(*args: str, env: dict | None = None, cwd: Path | None = None, check: bool = True):
    result = subprocess.run([*KGTOOLKIT, *args], capture_output=True, text=True, env=env, cwd=cwd,
                            timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"kgtoolkit {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def test_help_lists_every_command_with_its_line():
    out = run("--help").stdout
    for command in ("db", "schema", "stats"):
        assert command in out
    assert "Count the graph's nodes per label" in out


def test_schema_apply_and_stats_on_the_embedded_store(tmp_path: Path):
    graph = tmp_path / "g"
    first = run("schema", "apply", "--graph", str(graph)).stdout
    second = run("schema", "apply", "--graph", str(graph)).stdout
    assert "created" in first and "all existed already" in second
    counts = json.loads(run("stats", "--graph", str(graph), "--json").stdout)
    assert counts["nodes"]["Video"] == 0 and set(counts["relationships"]) >= {"SHOWS", "EXHIBITS", "INVOLVES"}


def test_cypher_error_on_embedded_is_one_clear_line(tmp_path: Path):
    result = run("stats", "--graph", "ftp://nowhere", check=False)
    assert result.returncode == 2
    assert "bolt://" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, says", [
    (("stats", "--bogus"), "No such option: --bogus"),
    (("synth", "out", "--classes", "many"), "Invalid value for '--classes'"),
    (("no-such-command",), "No such command"),
])
def test_usage_errors_are_a_message_and_exit_2_not_a_traceback(args, says):
    result = run(*args, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert says in result.stderr and "--help" in result.stderr


@pytest.mark.neo4j
def test_db_lifecycle_and_schema_apply_twice(tmp_path: Path, neo4j_uri: str):
    """`db up && db status && schema apply && schema apply && db down` on a server of its own."""
    port, http_port = free_port(), free_port()
    password = secrets.token_urlsafe(12)
    env = {**os.environ, "NEO4J_PASSWORD": password, "KGTOOLKIT_NEO4J_HOME": str(tmp_path / "home"),
           "KGTOOLKIT_NEO4J_PORT": str(port), "KGTOOLKIT_NEO4J_HTTP_PORT": str(http_port)}
    env.pop("KGTOOLKIT_GRAPH", None)
    try:
        up = run("db", "up", "--java", env=env)
        assert f"bolt://127.0.0.1:{port}" in up.stdout and "5.26." in up.stdout
        status = run("db", "status", env=env).stdout
        assert "Neo4j 5.26." in status and f"bolt://127.0.0.1:{port}" in status
        browser = f"http://127.0.0.1:{http_port}/browser/"
        assert browser in up.stdout and browser in status
        with urllib.request.urlopen(browser, timeout=10) as page:  # the Browser's own page, from its jar
            assert "<title>Neo4j Browser</title>" in page.read().decode()
        first = run("schema", "apply", "--graph", f"bolt://127.0.0.1:{port}", env=env).stdout
        second = run("schema", "apply", "--graph", f"bolt://127.0.0.1:{port}", env=env).stdout
        assert "all existed already" not in first and "0 constraints/indexes created" in second
        for output in (up.stdout, up.stderr, status, first, second):
            assert password not in output
    finally:
        down = run("db", "down", env=env)
    assert "stopped" in down.stdout
    assert run("db", "status", env=env, check=False).returncode == 3
