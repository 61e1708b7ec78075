"""Running the ``dg`` command line as CI does, against a given instance and workdir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run_dg(dagster_home: Path, docasset_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``dg ARGS`` from the repo root with ``DAGSTER_HOME``/``DOCASSET_HOME`` set (the venv
    activated, its Dagster first on the path, as ``run.sh`` has it)."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "DOCASSET_HOME": str(docasset_home),
        "VIRTUAL_ENV": str(BIN.parent),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [str(BIN / "dg"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
