"""A versioned model store on local disk with ``production`` and ``candidate`` aliases.

Layout under the root directory:

- ``versions/<version>/``: the :class:`ModelBundle` (spaCy ``pipeline/`` with its
  ``config.cfg``, ``model.json`` with calibration and thresholds) and ``version.json``
  (training-set version, config, parent, creation time, training metrics); written to a temp
  directory and renamed into place, never modified afterwards. The evaluation adds
  ``metrics.json`` (golden-set figures) and ``report.{md,html,json}`` next to it.
- ``aliases.json``: alias -> version, replaced atomically.
- ``aliases.log.jsonl``: every alias move (from, to, kind, reason, actor, time), appended.

Alias moves and version numbering happen under an exclusive file lock, so two processes
never lose each other's move or register the same version number.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docasset.core.extraction.extract import ModelBundle
from docasset.core.files import append_line, atomic_write
from docasset.errors import ModelError

ALIASES = ("production", "candidate")
MOVE_KINDS = ("promote", "manual", "rollback")
REQUIRED_INFO = ("training_set_version",)
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version; ``info`` is ``version.json`` plus ``metrics`` (if any)."""

    version: str
    path: Path
    info: dict[str, Any]


class Registry:
    """The model registry rooted at a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "versions").mkdir(parents=True, exist_ok=True)

    @property
    def _aliases_path(self) -> Path:
        return self.root / "aliases.json"

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.root / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def aliases(self) -> dict[str, str]:
        p = self._aliases_path
        return json.loads(p.read_text("utf-8")) if p.is_file() else {}

    def _read(self, d: Path) -> ModelVersion:
        info = json.loads((d / "version.json").read_text("utf-8"))
        metrics = d / METRICS_FILE
        if metrics.is_file():
            info["metrics"] = json.loads(metrics.read_text("utf-8"))
        return ModelVersion(d.name, d, info)

    def versions(self) -> list[ModelVersion]:
        return [
            self._read(d)
            for d in sorted((self.root / "versions").iterdir())
            if (d / "version.json").is_file()
        ]

    def get(self, version: str) -> ModelVersion:
        d = self.root / "versions" / version
        if not (d / "version.json").is_file():
            raise ModelError(f"model version {version!r} not found in {self.root}")
        return self._read(d)

    def resolve(self, alias: str) -> ModelVersion | None:
        """The version an alias points to, or None when unset."""
        v = self.aliases().get(alias)
        return self.get(v) if v else None

    def load(self, alias_or_version: str) -> ModelBundle | None:
        """Load a bundle by alias or version id; None when the alias is unset."""
        mv = (
            self.resolve(alias_or_version)
            if alias_or_version in ALIASES
            else self.get(alias_or_version)
        )
        return ModelBundle.load(mv.path, mv.version) if mv else None

    def register(self, bundle: ModelBundle, info: dict[str, Any]) -> ModelVersion:
        """Store a new version (written to a temp dir, then renamed into place).

        ``info`` must name the ``training_set_version`` the model was trained on; the rest
        (training metrics, run id, training ``config``) is kept as given. The parent is the
        production version at registration time."""
        missing = [k for k in REQUIRED_INFO if not info.get(k)]
        if missing:
            raise ModelError(f"cannot register a model without {', '.join(missing)}")
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".tmp-"))
        try:
            bundle.save(tmp)
            with self._lock():
                existing = [v.name for v in (self.root / "versions").iterdir()]
                n = 1 + max((int(v[1:]) for v in existing if v[1:].isdigit()), default=0)
                version = f"v{n:04d}"
                meta = {
                    **info,
                    "version": version,
                    "created_at": datetime.now(UTC).isoformat(),
                    "doc_type": bundle.doctype.name,
                    "parent": self.aliases().get("production"),
                    "config": {
                        **(info.get("config") or {}),
                        "thresholds": bundle.thresholds,
                        "pipeline_config": "pipeline/config.cfg",
                    },
                }
                (tmp / "version.json").write_text(
                    json.dumps(meta, indent=2, sort_keys=True, default=str), "utf-8"
                )
                os.replace(tmp, self.root / "versions" / version)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        bundle.version = version
        return self.get(version)

    def record_metrics(self, version: str, metrics: dict[str, Any]) -> None:
        """Store a version's evaluation figures (``metrics.json``, replaced atomically; the
        version's own files stay untouched)."""
        mv = self.get(version)
        atomic_write(mv.path / METRICS_FILE, json.dumps(metrics, indent=2, sort_keys=True).encode())

    def set_alias(
        self,
        alias: str,
        version: str,
        reason: str,
        actor: str = "docasset",
        kind: str = "promote",
    ) -> None:
        """Point an alias at a version (atomic) and log the move.

        ``kind``: ``promote`` (the gate passed), ``manual`` (an operator's override) or
        ``rollback``."""
        if alias not in ALIASES:
            raise ModelError(f"unknown alias {alias!r}; use one of {ALIASES}")
        if kind not in MOVE_KINDS:
            raise ModelError(f"unknown alias move kind {kind!r}; use one of {MOVE_KINDS}")
        self.get(version)
        with self._lock():
            aliases = self.aliases()
            previous = aliases.get(alias)
            aliases[alias] = version
            atomic_write(self._aliases_path, json.dumps(aliases, indent=1, sort_keys=True).encode())
            entry = {
                "at": datetime.now(UTC).isoformat(),
                "alias": alias,
                "from": previous,
                "to": version,
                "kind": kind,
                "reason": reason,
                "actor": actor,
            }
            append_line(self.root / "aliases.log.jsonl", json.dumps(entry))

    def history(self) -> list[dict[str, Any]]:
        p = self.root / "aliases.log.jsonl"
        return (
            [json.loads(x) for x in p.read_text("utf-8").splitlines() if x.strip()]
            if p.is_file()
            else []
        )

    def production_lineage(self) -> list[str]:
        """Production versions in force, oldest first: each move pushes, a rollback pops."""
        stack: list[str] = []
        for e in self.history():
            if e["alias"] != "production":
                continue
            if e.get("kind") == "rollback" and stack:
                stack.pop()
            if not stack or stack[-1] != e["to"]:
                stack.append(e["to"])
        return stack

    def rollback(self, reason: str = "rollback", actor: str = "docasset") -> str:
        """Point ``production`` back at the version in force before the current one (repeated
        rollbacks walk further back rather than toggling between two versions)."""
        lineage = self.production_lineage()
        if len(lineage) < 2:
            raise ModelError("no earlier production version to roll back to")
        target = lineage[-2]
        self.set_alias("production", target, reason, actor, kind="rollback")
        return target
