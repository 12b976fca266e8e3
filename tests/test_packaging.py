"""The wheel holds every module, and imports flow one way (DESIGN.md)."""

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ["engine", "models", "priors", "data", "experiments"]
# which bayespatial subpackages each layer may import
ALLOWED = {
    "data": {"data"},
    "engine": {"engine"},
    "priors": {"priors", "engine", "data"},
    "models": {"models", "priors", "engine", "data"},
    "experiments": {"experiments", "models", "priors", "engine", "data"},
}


def _modules():
    for sub in SUBPACKAGES:
        for path in sorted((ROOT / sub).glob("*.py")):
            yield sub, path


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize(("sub", "path"), list(_modules()), ids=lambda v: getattr(v, "name", v))
def test_import_direction(sub, path):
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "bayespatial" and len(parts) > 1 and parts[1] in ALLOWED:
            assert parts[1] in ALLOWED[sub], f"{path.name} ({sub}) imports {name}"
        assert parts[0] not in SUBPACKAGES, (
            f"{path.name}: bare import {name}; use bayespatial.{name}"
        )
        if sub == "data":
            assert parts[0] not in ("jax", "jaxlib", "numpyro"), f"data/{path.name} imports {name}"


def test_wheel_contains_every_module(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("bayespatial-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"bayespatial/{p.name}" for p in ROOT.glob("*.py")}
    expected |= {f"bayespatial/{sub}/{path.name}" for sub, path in _modules()}
    expected |= {"bayespatial/data/nat_panel.csv.gz", "bayespatial/data/nat_queen.gal"}
    assert expected <= names, sorted(expected - names)
