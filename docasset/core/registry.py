"""A versioned model store on local disk with ``production`` and ``candidate`` aliases.

Layout: ``<root>/versions/<version>/`` (the :class:`ModelBundle` plus ``version.json`` with
training-set hash, metrics, parent and creation time), ``<root>/aliases.json`` (alias ->
version, replaced atomically) and ``<root>/aliases.log.jsonl`` (every alias move, appended).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docasset.core.extract import ModelBundle
from docasset.core.files import append_line, atomic_write
from docasset.errors import ModelError

ALIASES = ("production", "candidate")


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version."""

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

    def aliases(self) -> dict[str, str]:
        p = self._aliases_path
        return json.loads(p.read_text("utf-8")) if p.is_file() else {}

    def versions(self) -> list[ModelVersion]:
        out = []
        for d in sorted((self.root / "versions").iterdir()):
            info = d / "version.json"
            if info.is_file():
                out.append(ModelVersion(d.name, d, json.loads(info.read_text("utf-8"))))
        return out

    def get(self, version: str) -> ModelVersion:
        d = self.root / "versions" / version
        if not (d / "version.json").is_file():
            raise ModelError(f"model version {version!r} not found in {self.root}")
        return ModelVersion(version, d, json.loads((d / "version.json").read_text("utf-8")))

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
        """Store a new version (written to a temp dir, then renamed into place)."""
        existing = [v.version for v in self.versions()]
        n = 1 + max((int(v[1:]) for v in existing if v[1:].isdigit()), default=0)
        version = f"v{n:04d}"
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".tmp-"))
        try:
            bundle.save(tmp)
            meta = {
                "version": version,
                "created_at": datetime.now(UTC).isoformat(),
                "doc_type": bundle.doctype.name,
                "parent": self.aliases().get("production"),
                **info,
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

    def set_alias(self, alias: str, version: str, reason: str, actor: str = "docasset") -> None:
        """Point an alias at a version (atomic) and log the move."""
        if alias not in ALIASES:
            raise ModelError(f"unknown alias {alias!r}; use one of {ALIASES}")
        self.get(version)
        aliases = self.aliases()
        previous = aliases.get(alias)
        aliases[alias] = version
        atomic_write(self._aliases_path, json.dumps(aliases, indent=1, sort_keys=True).encode())
        entry = {
            "at": datetime.now(UTC).isoformat(),
            "alias": alias,
            "from": previous,
            "to": version,
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

    def rollback(self, reason: str = "rollback") -> str:
        """Point ``production`` back at the version it pointed to before its last move."""
        moves = [e for e in self.history() if e["alias"] == "production"]
        if not moves or not moves[-1]["from"]:
            raise ModelError("no earlier production version to roll back to")
        target = moves[-1]["from"]
        self.set_alias("production", target, reason)
        return target
