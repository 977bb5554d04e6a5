"""kgtoolkit as `pip install` leaves it: a wheel built from the checkout's tracked files, installed
(not editable) into a fresh virtual environment that sees the already installed dependencies
(nothing is downloaded), run from a folder outside the checkout: `kgtoolkit schema apply` against
the suite's Neo4j, and `kgtoolkit train --config tiny-scratch` (a config shipped in the package) on a
tiny synthetic graph."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from kgtoolkit.graph.embedded import EmbeddedGraphStore
from kgtoolkit.ingest import IngestOptions, ingest
from kgtoolkit.synth import generate

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DATA = ("kgtoolkit/graph/schema/constraints.cypher", "kgtoolkit/graph/schema/indexes.cypher",
                "kgtoolkit/server/docker-compose.yml", "kgtoolkit/configs/tiny.yaml",
                "kgtoolkit/configs/tiny-scratch.yaml", "kgtoolkit/configs/vit-b-16.yaml",
                "kgtoolkit/configs/kg-clip-paper.yaml", "kgtoolkit/model_configs/kg-tiny.json",
                "kgtoolkit/model_configs/kg-tiny-rn.json", "kgtoolkit/server/KgToolkitNeo4j.java")


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}"
    return result


def _clean_checkout(target: Path) -> Path:
    """The tracked files of the checkout (links kept as links), as a fresh clone would have them."""
    listed = _run(["git", "-C", REPO, "ls-files", "-z"]).stdout.split("\0")
    for name in filter(None, listed):
        source, copy = REPO / name, target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, copy)
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    checkout = _clean_checkout(root / "checkout")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
          "--wheel-dir", root / "dist", checkout])
    (found,) = (root / "dist").glob("kgtoolkit-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment with the wheel installed and, through a .pth line, the test environment's
    site-packages for the dependencies (not its .pth files: the editable install stays out)."""
    env = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", env])
    python = env / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_kgtoolkit_test_dependencies.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel])
    return env


def _outside_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KGTOOLKIT_GRAPH", "VIRTUAL_ENV")}
    return {**env, "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}


def test_the_wheel_ships_the_schema_the_compose_file_and_the_configs(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in PACKAGE_DATA if name not in names]
    assert not missing, f"{wheel.name} lacks {missing}"


def test_the_installed_package_is_the_wheel_not_the_checkout(venv: Path, tmp_path: Path):
    out = _run([venv / "bin" / "python", "-c", "import kgtoolkit, sys; print(kgtoolkit.__file__)"],
               cwd=tmp_path, env=_outside_env(tmp_path)).stdout.strip()
    assert Path(out).is_relative_to(venv) and not Path(out).is_relative_to(REPO), out


def test_installed_schema_apply_creates_the_constraints_on_neo4j(venv: Path, neo4j_store, neo4j_uri: str,
                                                                   tmp_path: Path):
    for row in neo4j_store.cypher("SHOW CONSTRAINTS YIELD name RETURN name"):
        neo4j_store.cypher(f"DROP CONSTRAINT `{row['name']}` IF EXISTS", write=True)
    for row in neo4j_store.cypher("SHOW INDEXES YIELD name, type WHERE type IN ['RANGE', 'TEXT'] RETURN name"):
        neo4j_store.cypher(f"DROP INDEX `{row['name']}` IF EXISTS", write=True)
    out = _run([venv / "bin" / "kgtoolkit", "schema", "apply", "--graph", neo4j_uri], cwd=tmp_path,
               env=_outside_env(tmp_path)).stdout
    from kgtoolkit.schema import schema_statements

    statements = schema_statements()
    assert f"{len(statements)} schema statements applied, {len(statements)} constraints/indexes created" in out
    constraints = {r["label"]: r["properties"] for r in neo4j_store.cypher(
        "SHOW CONSTRAINTS YIELD labelsOrTypes, properties, type WHERE type CONTAINS 'UNIQUENESS' "
        "RETURN labelsOrTypes[0] AS label, properties")}
    assert constraints == {label: ["id"] for label in ("Video", "Action", "BodyPart", "Object", "BodyMovement")}


def test_installed_train_with_the_packaged_tiny_config(venv: Path, tmp_path: Path):
    generate(tmp_path / "ktps", classes=3, train_per_class=4, test_per_class=1, frames=8, size=64, seed=5)
    with EmbeddedGraphStore(tmp_path / "graph") as store:
        ingest(tmp_path / "ktps", store, IngestOptions(workers=1))
    work = tmp_path / "elsewhere"
    work.mkdir()
    fast = ["optim.epochs=2", "optim.graph_warmup_epochs=1", "optim.batch_size=4", "optim.ab_batch_size=8",
            "data.workers=0", "data.frames=4", "eval_batch_size=8"]
    args = [venv / "bin" / "kgtoolkit", "train", "--config", "tiny-scratch", "--graph", tmp_path / "graph", "--out", "run"]
    for item in fast:
        args += ["--set", item]
    out = _run(args, cwd=work, env=_outside_env(tmp_path)).stdout
    run = work / "run"
    for name in ("config.yaml", "id_maps.json", "checkpoints/best.pt", "checkpoints/last.pt", "metrics.jsonl",
                 "test_metrics.json", "run.json"):
        assert (run / name).is_file(), name
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [0, 1]
    assert "kg-tiny" in (run / "config.yaml").read_text()  # the packaged tiny config, resolved
    assert json.loads((run / "run.json").read_text())["status"] == "done"
    assert "embeddings written to" in out
