"""Atomic writes: all or nothing, and files the team can read (not mkstemp's 0600)."""

from __future__ import annotations

from pathlib import Path

import pytest

from docasset.core.files import (
    REPORT_MODE,
    append_line,
    atomic_write,
    clean_text,
    confined,
    read_json,
    read_jsonl,
)
from docasset.errors import StoreError, UnsafePathError


def test_atomic_write_makes_group_readable_files_by_default(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    atomic_write(path, b"<p>hi</p>")
    assert path.read_bytes() == b"<p>hi</p>"
    assert path.stat().st_mode & 0o777 == REPORT_MODE == 0o644
    atomic_write(path, b"again")  # replacing keeps the mode
    assert path.read_bytes() == b"again" and path.stat().st_mode & 0o777 == 0o644


def test_atomic_write_honours_an_explicit_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    atomic_write(path, b"{}", mode=0o600)
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.json"]


# --- confined paths (issue 23 defect 5) -----------------------------------------------------


@pytest.mark.parametrize(
    "parts",
    [("../../evil2",), ("/etc/passwd",), ("batches", "../../x.json"), ("a/../../b",), ("",)],
)
def test_confined_refuses_what_leaves_the_home(tmp_path: Path, parts: tuple[str, ...]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(UnsafePathError):
        confined(home, *parts)


def test_confined_follows_no_symlinked_directory_out_but_keeps_a_symlinked_leaf(
    tmp_path: Path,
) -> None:
    home, outside = tmp_path / "home", tmp_path / "outside"
    home.mkdir()
    outside.mkdir()
    (home / "door").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        confined(home, "door", "secret")
    (home / "link.png").symlink_to(outside / "x.png")  # moved or refused as itself
    assert confined(home, "link.png") == home / "link.png"
    assert confined(home, "batches", "b1", "e.png") == home / "batches" / "b1" / "e.png"


# --- text shown on a terminal (issue 23 defect 8) ---------------------------------------------


def test_clean_text_shows_control_characters_instead_of_running_them() -> None:
    assert clean_text("eve\x1b]0;pwned\x07\nforged") == "eve\\x1b]0;pwned\\x07\\nforged"
    assert clean_text("a\u202eb") == "a\\u202eb"  # a bidi override would reverse the line
    assert clean_text("Café 東京") == "Café 東京"
    assert clean_text("x" * 300, limit=10) == "x" * 9 + "…"


# --- append-only logs (issue 23 defect 12) ----------------------------------------------------


def test_a_torn_last_line_is_left_out_with_a_warning_and_damage_elsewhere_is_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    with caplog.at_level("WARNING", logger="docasset"):
        assert read_jsonl(log, "fix it") == [{"a": 1}, {"a": 2}]
    assert "torn last line" in caplog.text
    log.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(StoreError, match=r"log.jsonl: line 2 is damaged .* To recover: fix it"):
        read_jsonl(log, "fix it")
    assert read_jsonl(tmp_path / "absent.jsonl", "x") == []
    with pytest.raises(StoreError, match="missing"):
        read_jsonl(tmp_path / "absent.jsonl", "x", missing_ok=False)


def test_an_append_after_a_torn_line_cuts_it_off_instead_of_gluing_to_it(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text('{"a": 1}\n{"a": ')  # a killed appender
    append_line(log, '{"a": 2}')
    assert read_jsonl(log, "x") == [{"a": 1}, {"a": 2}]
    log.write_text('{"a": ')  # nothing but a torn line
    append_line(log, '{"a": 3}')
    assert log.read_text() == '{"a": 3}\n'


def test_read_json_names_the_file_and_the_recovery(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{torn")
    with pytest.raises(StoreError, match=r"state.json: damaged .* To recover: rebuild"):
        read_json(path, "rebuild")
    with pytest.raises(StoreError, match="missing"):
        read_json(tmp_path / "none.json", "rebuild")
