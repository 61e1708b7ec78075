"""A versioned model store on local disk with ``production`` and ``candidate`` aliases.

Layout under the root directory:

- ``versions/<version>/``: the :class:`ModelBundle` (spaCy ``pipeline/`` with its
  ``config.cfg``, ``model.json`` with calibration and thresholds) and ``version.json``
  (training-set version, config, parent, creation time, training metrics); written to a temp
  directory and renamed into place, never modified afterwards. The evaluation adds
  ``metrics.json`` (golden-set figures) and ``report.{md,html,json}`` next to it.
- ``aliases.json``: alias -> version, replaced atomically.
- ``aliases.log.jsonl``: every alias move (from, to, kind, reason, actor, time), appended.
  It is the record: a missing ``aliases.json`` is rebuilt from it (with a warning), so a lost
  file never reads as "no production model".

Alias moves and version numbering happen under an exclusive file lock, so two processes
never lose each other's move or register the same version number.

An alias only ever points at a valid version (:meth:`Registry.validate`): a name of the form
``v0001`` (no path, so nothing outside the registry), a real directory holding
``version.json`` and ``model.json`` that parse, the pipeline's ``config.cfg`` and
``meta.json``, and a pipeline that loads. Every problem is a :class:`ModelError` saying what
is wrong with which version, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from docasset.core.crash import crashpoint
from docasset.core.extraction.extract import MODEL_META, PIPELINE_DIR, ModelBundle
from docasset.core.files import append_line, atomic_write, locked, read_json, read_jsonl
from docasset.core.recovery import process_start
from docasset.errors import ModelError, StoreError

log = logging.getLogger("docasset")

ALIASES = ("production", "candidate")
MOVE_KINDS = ("promote", "manual", "rollback")
REQUIRED_INFO = ("training_set_version",)
METRICS_FILE = "metrics.json"
VERSION_NAME = re.compile(r"v\d{4,}")  # what register() names versions; nothing else is one
REQUIRED_FILES = (
    "version.json",
    MODEL_META,
    f"{PIPELINE_DIR}/config.cfg",
    f"{PIPELINE_DIR}/meta.json",
)


def _json_file(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelError(
            f"{what}: {path.name} is unreadable ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(data, dict):
        raise ModelError(f"{what}: {path.name} is not a JSON object")
    return data


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version; ``info`` is ``version.json`` plus ``metrics`` (if any)."""

    version: str
    path: Path
    info: dict[str, Any]
    problem: str | None = None  # why the version is unusable (versions() lists it anyway)


TMP_VERSION = ".tmp-v-"  # + the writer's pid: a version being written
STALE_TMP_SECONDS = 3600.0  # temp entries without a pid (older docasset): a write never takes this


def sweep_stale_versions(root: Path, now: float | None = None) -> list[str]:
    """Delete the temp directories (and files) of registry writes whose writer is gone: a
    version being written (``.tmp-v-<pid>-*``) whose process no longer exists, or any other
    ``.tmp-*`` entry older than an hour. Returns their names."""
    swept = []
    now = time.time() if now is None else now
    for p in root.glob(".tmp-*"):
        name = p.name
        if name.startswith(TMP_VERSION):
            pid = name[len(TMP_VERSION) :].split("-", 1)[0]
            stale = pid.isdigit() and process_start(int(pid)) is None
        else:
            try:
                stale = now - p.lstat().st_mtime >= STALE_TMP_SECONDS
            except FileNotFoundError:
                continue
        if not stale:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        swept.append(name)
    return swept


# Loaded bundles of this process (a run worker, the code server, ``docasset ingest``): a
# spaCy pipeline costs ~0.4 CPU-s to load, more than the rest of a one-document run's own
# work, and every run and the OCR review predicate read the same production version. Keyed by
# the version directory and the (path, size, mtime, inode) of every file it loads, so a version
# re-created or damaged in place is loaded afresh; the few most recent are kept.
_CACHE_SIZE = 4
_CACHE: OrderedDict[tuple[object, ...], ModelBundle] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _fingerprint(path: Path) -> tuple[object, ...]:
    """What the bundle is loaded from (``model.json`` and the pipeline; not the evaluation's
    metrics and reports written beside them later)."""
    files = [str(path / MODEL_META)] if (path / MODEL_META).is_file() else []
    for d, _, names in os.walk(path / PIPELINE_DIR):
        files += [os.path.join(d, n) for n in names]
    stats = []
    for f in sorted(files):
        st = os.stat(f)
        stats.append((f, st.st_size, st.st_mtime_ns, st.st_ino))
    return (str(path.resolve()), *stats)


def _cached_load(path: Path, version: str) -> ModelBundle:
    """The bundle of a version, loaded once per process while its files stay the same.

    Callers share the returned bundle: they read it and never modify it, and hold its
    ``lock`` while its spaCy pipeline runs (a pipeline is not safe for concurrent calls)."""
    key = (version, *_fingerprint(path))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        bundle = ModelBundle.load(path, version)
        _CACHE[key] = bundle
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return bundle


class Registry:
    """The model registry rooted at a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "versions").mkdir(parents=True, exist_ok=True)
        self.swept = sweep_stale_versions(root)
        self._holding = False  # this object holds the registry lock (it is not re-entrant)

    @property
    def _aliases_path(self) -> Path:
        return self.root / "aliases.json"

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with locked(self.root / ".lock"):
            self._holding = True
            try:
                yield
            finally:
                self._holding = False

    @property
    def _log_path(self) -> Path:
        return self.root / "aliases.log.jsonl"

    def aliases(self) -> dict[str, str]:
        """Alias -> version. ``aliases.json`` missing while the alias log records moves: the
        aliases are rebuilt from the log (its last move of each alias), written back, and a
        warning says so; damaged: a :class:`StoreError` saying to delete it (it is rebuilt)."""
        p = self._aliases_path
        if not p.is_file():
            replayed = self._replay()
            if replayed:
                log.warning(
                    "%s is missing: rebuilt from %s (%s)",
                    p,
                    self._log_path.name,
                    ", ".join(f"{a}={v}" for a, v in sorted(replayed.items())),
                )
                if self._holding:
                    self._write_aliases(replayed)
                else:
                    with self._lock():
                        if not p.is_file():
                            self._write_aliases(replayed)
            return replayed
        data = read_json(p, f"delete {p}: it is rebuilt from {self._log_path}")
        if not isinstance(data, dict):
            raise StoreError(
                str(p), "not a JSON object", f"delete {p}: it is rebuilt from {self._log_path}"
            )
        return {str(k): str(v) for k, v in data.items()}

    def _replay(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for e in self.history():
            out[e["alias"]] = str(e["to"])
        return out

    def _write_aliases(self, aliases: dict[str, str]) -> None:
        atomic_write(self._aliases_path, json.dumps(aliases, indent=1, sort_keys=True).encode())

    def _dir(self, version: str) -> Path:
        if not isinstance(version, str) or not VERSION_NAME.fullmatch(version):
            raise ModelError(f"{version!r} is not a model version name (v0001, v0002, ...)")
        d = self.root / "versions" / version
        if d.is_symlink() or not d.is_dir() or not (d / "version.json").is_file():
            raise ModelError(f"model version {version!r} not found in {self.root}")
        return d

    def _read(self, d: Path) -> ModelVersion:
        info = _json_file(d / "version.json", f"model version {d.name}")
        metrics = d / METRICS_FILE
        if metrics.is_file():
            info["metrics"] = _json_file(metrics, f"model version {d.name}")
        return ModelVersion(d.name, d, info)

    def versions(self) -> list[ModelVersion]:
        """Every version directory, oldest first; an unusable one is listed with its problem."""
        out = []
        for d in sorted((self.root / "versions").iterdir()):
            if not VERSION_NAME.fullmatch(d.name) or not d.is_dir():
                continue
            try:
                out.append(self._read(d))
            except ModelError as exc:
                out.append(ModelVersion(d.name, d, {}, str(exc)))
        return out

    def get(self, version: str) -> ModelVersion:
        return self._read(self._dir(version))

    def validate(self, version: str, load: bool = True) -> ModelVersion:
        """The version if it is usable: name, files present, metadata parseable and (``load``)
        the pipeline loads; else :class:`ModelError` naming what is wrong."""
        mv = self.get(version)
        missing = [f for f in REQUIRED_FILES if not (mv.path / f).is_file()]
        if missing:
            raise ModelError(f"model version {version} is incomplete: missing {', '.join(missing)}")
        meta = _json_file(mv.path / MODEL_META, f"model version {version}")
        lacking = [k for k in ("doc_type", "calibration", "thresholds") if k not in meta]
        if lacking:
            raise ModelError(f"model version {version}: {MODEL_META} lacks {', '.join(lacking)}")
        if load:
            self._load(mv)
        return mv

    @staticmethod
    def _load(mv: ModelVersion) -> ModelBundle:
        try:
            return _cached_load(mv.path, mv.version)
        except ModelError:
            raise
        # spaCy and the bundle raise many types for a damaged pipeline; all mean "unusable".
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise ModelError(
                f"model version {mv.version} does not load ({type(exc).__name__}: {exc})"
            ) from exc

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
        return self._load(mv) if mv else None

    def register(self, bundle: ModelBundle, info: dict[str, Any]) -> ModelVersion:
        """Store a new version (written to a temp dir, then renamed into place).

        ``info`` must name the ``training_set_version`` the model was trained on; the rest
        (training metrics, run id, training ``config``) is kept as given. The parent is the
        production version at registration time."""
        missing = [k for k in REQUIRED_INFO if not info.get(k)]
        if missing:
            raise ModelError(f"cannot register a model without {', '.join(missing)}")
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f"{TMP_VERSION}{os.getpid()}-"))
        try:
            bundle.save(tmp)
            crashpoint("registry_write")
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
        self.validate(version)
        with self._lock():
            aliases = self.aliases()
            previous = aliases.get(alias)
            aliases[alias] = version
            self._write_aliases(aliases)
            entry = {
                "at": datetime.now(UTC).isoformat(),
                "alias": alias,
                "from": previous,
                "to": version,
                "kind": kind,
                "reason": reason,
                "actor": actor,
            }
            append_line(self._log_path, json.dumps(entry))

    def history(self) -> list[dict[str, Any]]:
        """Every alias move, oldest first (a torn last line is left out with a warning; a
        damaged line elsewhere is a :class:`StoreError`)."""
        p = self._log_path
        recovery = f"restore {p} from a backup, or delete its damaged line"
        out = []
        for n, e in enumerate(read_jsonl(p, recovery), 1):
            if not (isinstance(e, dict) and isinstance(e.get("alias"), str) and "to" in e):
                raise StoreError(str(p), f"record {n} is not an alias move", recovery)
            out.append(e)
        return out

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
        lineage = [v for v in self.production_lineage() if VERSION_NAME.fullmatch(v)]
        if len(lineage) < 2:
            raise ModelError("no earlier production version to roll back to")
        target = lineage[-2]
        self.set_alias("production", target, reason, actor, kind="rollback")
        return target
