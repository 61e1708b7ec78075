"""Tunables: config dataclass fields that carry their own description.

Every threshold of the core is a field of a frozen config dataclass declared with
:func:`tunable`, so its default and its description live in one place; ``docasset.defs.settings``
builds the Dagster ``Settings`` sections from these dataclasses (nothing is declared twice).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import field
from typing import Any

DOC = "docasset.doc"


def tunable(default: Any, doc: str) -> Any:
    """A dataclass field with a default and a description (for Settings and the UI)."""
    return field(default=default, metadata={DOC: doc})


def tunables(cls: type) -> list[tuple[str, Any, Any, str]]:
    """``(name, type, default, description)`` of every field of a config dataclass.

    Raises ``TypeError`` when a field has no description: a tunable nobody can explain is a
    bug, not a setting."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        doc = f.metadata.get(DOC)
        if not doc:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with tunable()")
        out.append((f.name, hints[f.name], f.default, doc))
    return out


def is_config(cls: type) -> bool:
    """Whether ``cls`` is a config dataclass (every field declared with :func:`tunable`)."""
    return dataclasses.is_dataclass(cls) and all(DOC in f.metadata for f in dataclasses.fields(cls))
