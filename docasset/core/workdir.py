"""The on-disk layout of one docasset deployment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from docasset.errors import ConfigError

HOME_ENV = "DOCASSET_HOME"


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    """The CLI's working directory when ``--home`` is not given: ``$DOCASSET_HOME``, or
    ``./.docasset/work`` when it is unset. Set but empty is a :class:`ConfigError`, as in the
    Dagster definitions (:func:`check_home`): an empty path would mean the process's current
    directory, wherever that happens to be."""
    env = os.environ if environ is None else environ
    if HOME_ENV not in env:
        return Path.cwd() / ".docasset" / "work"
    return check_home(env[HOME_ENV])


def check_home(root: str | os.PathLike[str]) -> Path:
    """``root`` as a path; an empty one is a :class:`ConfigError` (not the current directory)."""
    if not str(root).strip():
        raise ConfigError(
            f"the working directory is empty: set {HOME_ENV} (or the home resource) to a "
            "directory, or unset it for the command line's default ./.docasset/work"
        )
    return Path(root)


@dataclass(frozen=True)
class Workdir:
    """The on-disk layout of one docasset deployment (all paths below ``root``)."""

    root: Path

    def __post_init__(self) -> None:
        for d in (
            self.inbox,
            self.batches,
            self.archive,
            self.quarantine,
            self.index,
            self.corrections_inbox,
            self.corrections_store,
            self.corrections_archive,
            self.corrections_rejected,
            self.models,
            self.reports,
            self.curated,
            self.memory,
        ):
            d.mkdir(parents=True, exist_ok=True)

    inbox = property(lambda self: self.root / "inbox")
    batches = property(lambda self: self.root / "batches")
    archive = property(lambda self: self.root / "archive")
    quarantine = property(lambda self: self.root / "quarantine")
    index = property(lambda self: self.root / "index")
    corrections_inbox = property(lambda self: self.root / "corrections" / "inbox")
    corrections_store = property(lambda self: self.root / "corrections" / "store")
    corrections_archive = property(lambda self: self.root / "corrections" / "archive")
    corrections_rejected = property(lambda self: self.root / "corrections" / "rejected")
    models = property(lambda self: self.root / "models")
    reports = property(lambda self: self.root / "reports")
    curated = property(lambda self: self.root / "curated")
    memory = property(lambda self: self.root / "memory")
    vendors = property(lambda self: self.root / "vendors")
