"""Neo4j through Docker Compose, where a Docker engine answers: the compose file is package data
(kgtoolkit/server/docker-compose.yml, linked from the repository root), so an installed kgtoolkit has it."""

from __future__ import annotations

import shutil
import subprocess
from importlib.resources import as_file, files

from kgtoolkit.errors import ServerError

COMPOSE_FILE = files("kgtoolkit.server") / "docker-compose.yml"


def docker_engine_available(timeout: float = 5.0) -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def compose(*args: str) -> str:
    if not COMPOSE_FILE.is_file():
        raise ServerError(f"{COMPOSE_FILE} is missing: reinstall kgtoolkit (the package ships it)")
    with as_file(COMPOSE_FILE) as path:
        result = subprocess.run(["docker", "compose", "-f", str(path), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ServerError(f"docker compose {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout
