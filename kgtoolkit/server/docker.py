"""Neo4j through Docker Compose, where a Docker engine answers (docker-compose.yml at the repo root)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from kgtoolkit.errors import ServerError

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def docker_engine_available(timeout: float = 5.0) -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def compose(*args: str) -> str:
    if not COMPOSE_FILE.exists():
        raise ServerError(f"{COMPOSE_FILE} is missing: run from a checkout of the kgtoolkit repository")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), *args], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise ServerError(f"docker compose {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout
