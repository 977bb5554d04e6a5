"""The dependency policy: pyproject.toml declares version ranges (what the code needs), constraints.txt
pins the tested set exactly. The pinned set must satisfy every range, and the ranges alone (no
constraints) must resolve: the built wheel goes through `pip install --dry-run --report`, which
reads package metadata from PyPI and downloads no wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]


def declared() -> dict[str, list[Requirement]]:
    """"runtime", and each extra, -> its requirements as pyproject.toml declares them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"runtime": project["dependencies"], **project.get("optional-dependencies", {})}
    return {name: [Requirement(r) for r in reqs] for name, reqs in groups.items()}


def pins() -> dict[str, Version]:
    """constraints.txt: canonical name -> pinned version (every line must be `name==version`)."""
    out: dict[str, Version] = {}
    for number, line in enumerate((REPO / "constraints.txt").read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"constraints.txt:{number}: {line!r} is not an exact pin"
        out[canonicalize_name(requirement.name)] = Version(specs[0].version)
    return out


def test_pyproject_declares_ranges_not_pins():
    for group, requirements in declared().items():
        for requirement in requirements:
            operators = {s.operator for s in requirement.specifier}
            assert "==" not in operators and "===" not in operators, f"{group}: {requirement} pins a version"
            assert ">=" in operators, f"{group}: {requirement} has no lower bound"
            if group == "runtime":
                assert "<" in operators, f"{group}: {requirement} has no upper bound (next major version)"
    torch = next(r for r in declared()["runtime"] if r.name == "torch")
    assert str(torch.specifier) in (">=2.4,<3", "<3,>=2.4")


def test_the_pinned_set_satisfies_every_range():
    pinned = pins()
    for group, requirements in declared().items():
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in pinned, f"{group}: {requirement.name} is not pinned in constraints.txt"
            assert requirement.specifier.contains(pinned[name], prereleases=True), (
                f"{group}: constraints.txt pins {requirement.name}=={pinned[name]}, outside {requirement.specifier}")


def test_the_installed_set_is_the_pinned_set():
    """The environment the tests run in is the one constraints.txt describes (for the declared packages)."""
    from importlib.metadata import PackageNotFoundError, version

    pinned = pins()
    for requirement in declared()["runtime"] + declared()["test"]:
        try:
            installed = Version(version(requirement.name))
        except PackageNotFoundError:
            pytest.fail(f"{requirement.name} is not installed: run ./scripts/bootstrap")
        assert installed == pinned[canonicalize_name(requirement.name)], requirement.name


def _build_wheel(out: Path) -> Path:
    """Build kgtoolkit's wheel from a copy of the sources (the checkout itself stays untouched)."""
    import shutil

    source = out / "src"
    shutil.copytree(REPO / "kgtoolkit", source / "kgtoolkit", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out / "dist"),
                    str(source)], check=True, capture_output=True, text=True, timeout=600)
    return next((out / "dist").glob("kgtoolkit-*.whl"))


@pytest.mark.slow
def test_the_ranges_resolve_without_constraints(tmp_path):
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [line.split(":", 1)[1].strip() for line in archive.read(metadata).decode().splitlines()
                    if line.startswith("Requires-Dist:")]
    runtime = {canonicalize_name(r.name): r for r in declared()["runtime"]}
    in_wheel = {canonicalize_name(Requirement(r).name): Requirement(r) for r in requires if "extra ==" not in r}
    assert {n: str(r.specifier) for n, r in in_wheel.items()} == {n: str(r.specifier) for n, r in runtime.items()}

    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:",
               "--quiet", "--timeout", "60", "--retries", "3", "--report", str(report), str(wheel)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (
        f"the declared ranges do not resolve without constraints.txt (or PyPI is unreachable):\n{result.stderr[-3000:]}")
    chosen = {canonicalize_name(item["metadata"]["name"]): Version(item["metadata"]["version"])
              for item in json.loads(report.read_text())["install"]}
    for name, requirement in runtime.items():
        assert name in chosen, f"{name} was not resolved"
        assert requirement.specifier.contains(chosen[name], prereleases=True), f"{name} {chosen[name]}"
    assert chosen["kgtoolkit"] == Version("0.1.0")
