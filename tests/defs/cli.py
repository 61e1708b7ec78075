"""Running the ``dagster`` command line as CI does, against a given instance and workdir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_dagster(
    dagster_home: Path, docasset_home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``dagster ARGS`` from the repo root with ``DAGSTER_HOME``/``DOCASSET_HOME`` set."""
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "DOCASSET_HOME": str(docasset_home)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
