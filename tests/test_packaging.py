"""What ships: the docasset package alone, importing neither ``evals`` nor ``fixtures``, with its
import layers held (the ``[tool.importlinter]`` contracts of ``pyproject.toml``)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import setuptools

ROOT = Path(__file__).resolve().parents[1]


def test_only_docasset_is_installed_as_a_top_level_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = setuptools.find_packages(str(ROOT), include=include)
    assert {p.split(".")[0] for p in packages} == {"docasset"}, packages
    # The demo's simulation support ships with it.
    assert {"docasset.sim", "docasset.sim.synthetic"} <= set(packages)


def test_the_import_contracts_hold() -> None:
    """Stages point down, the core has no Dagster, docasset never imports evals or fixtures."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout and "imports neither evals nor fixtures KEPT" in out.stdout
