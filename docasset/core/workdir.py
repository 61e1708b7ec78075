"""The on-disk layout of one docasset deployment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
