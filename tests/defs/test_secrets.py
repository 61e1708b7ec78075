"""Secrets are never readable by other local users: not on a command line, not in a file
created world-readable (issue 23 defects 6 and 7)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from docasset.core import files
from docasset.core.files import PRIVATE_MODE, atomic_write
from docasset.core.validation.ls_server import launch

ROOT = Path(__file__).resolve().parents[2]


def test_the_label_studio_admin_password_is_not_on_the_command_line(tmp_path: Path) -> None:
    cmd, env = launch(
        Path("/x/label-studio"), tmp_path, tmp_path, "127.0.0.1", 8080, "a@b.c", "S3cret-pw"
    )
    assert not any("S3cret-pw" in part for part in cmd)  # ps shows argv to everyone
    assert "--password" not in cmd and "--username" not in cmd
    assert env["LABEL_STUDIO_PASSWORD"] == "S3cret-pw" and env["LABEL_STUDIO_USERNAME"] == "a@b.c"


def test_a_private_file_is_owner_only_before_its_content_is_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[int] = []
    real = os.replace

    def spy(src: str, dst: object) -> None:  # the content is written: what may others read?
        modes.append(os.stat(src).st_mode & 0o777)
        real(src, dst)

    monkeypatch.setattr(files.os, "replace", spy)
    path = tmp_path / "credentials.json"
    path.write_text("{}")
    path.chmod(0o644)  # an older, world-readable one is replaced, not reused
    atomic_write(path, b'{"token": "t"}', mode=PRIVATE_MODE)
    assert modes == [0o600] and path.stat().st_mode & 0o777 == 0o600


def test_stack_env_file_is_written_owner_only(tmp_path: Path) -> None:
    env_file = tmp_path / "env.sh"
    env_file.write_text("old\n")
    env_file.chmod(0o644)  # left by an older stack.sh
    script = f"""
set -euo pipefail
umask 022
eval "$(sed -n '/^write_env() {{/,/^}}/p' {ROOT}/deploy/stack.sh)"
ROOT={ROOT} STACK_DIR={tmp_path} ENV_FILE={env_file}
DOCASSET_PG_PASSWORD=pg-s3cret write_env
"""
    subprocess.run(["bash", "-c", script], check=True, timeout=30)
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert 'DOCASSET_PG_PASSWORD="pg-s3cret"' in env_file.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["env.sh"]  # no temp file left
