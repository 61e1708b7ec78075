"""Tunables: config dataclass fields that carry their own description and range.

Every threshold of the core is a field of a frozen config dataclass declared with
:func:`tunable`, so its default, its description and (for numbers) its allowed range live in
one place; ``docasset.defs.settings`` builds the Dagster ``Settings`` sections from these
dataclasses (nothing is declared twice) and :func:`check` validates every value at load, with
the setting's name in the error: ``max_bad_scan_share -1`` or ``batch_max_files 0`` is a
:class:`~docasset.errors.ConfigError`, never a pipeline that silently does nothing.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import field
from typing import Any, Literal, get_args, get_origin

from docasset.errors import ConfigError

DOC = "docasset.doc"
RANGE = "docasset.range"
BOUNDS = ("ge", "gt", "le", "lt")


def tunable(
    default: Any,
    doc: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A dataclass field with a default, a description (for Settings and the UI) and, for a
    number, its allowed range (``ge``/``gt``/``le``/``lt``: at least, above, at most, below)."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    return field(default=default, metadata={DOC: doc, RANGE: bounds})


def bounds(cls: type, name: str) -> dict[str, float]:
    """The range declared for field ``name`` of config dataclass ``cls`` (empty: none)."""
    return dict(next(f for f in dataclasses.fields(cls) if f.name == name).metadata.get(RANGE, {}))


def _range_text(b: dict[str, float]) -> str:
    words = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return " and ".join(f"{words[k]} {b[k]:g}" for k in BOUNDS if k in b)


def problem(value: Any, kind: Any, b: dict[str, float]) -> str | None:
    """Why ``value`` is not a valid setting of type ``kind`` within bounds ``b`` (None: it is)."""
    if get_origin(kind) is Literal:
        choices = get_args(kind)
        return None if value in choices else f"must be one of {list(choices)}, got {value!r}"
    if kind is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {value!r}"
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {value!r}"
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
    elif kind is str:
        return None if isinstance(value, str) else f"must be text, got {value!r}"
    else:
        return None
    ok = (
        ("ge" not in b or value >= b["ge"])
        and ("gt" not in b or value > b["gt"])
        and ("le" not in b or value <= b["le"])
        and ("lt" not in b or value < b["lt"])
    )
    return None if ok else f"must be {_range_text(b)}, got {value!r}"


def check(config: Any, section: str = "") -> Any:
    """``config`` (a config dataclass instance) if every field has its type and lies in its
    range, else :class:`ConfigError` naming each wrong setting (``section.field``)."""
    cls = type(config)
    hints = typing.get_type_hints(cls)
    wrong = []
    for f in dataclasses.fields(cls):
        why = problem(getattr(config, f.name), hints[f.name], f.metadata.get(RANGE, {}))
        if why:
            wrong.append(f"{section + '.' if section else ''}{f.name} {why}")
    prefix = section + "." if section else ""
    for a, b in getattr(cls, "ORDERED", ()):  # a warning threshold below its error, ...
        if not wrong and getattr(config, a) > getattr(config, b):
            wrong.append(
                f"{prefix}{a} must be <= {prefix}{b}, got {getattr(config, a)!r} > "
                f"{getattr(config, b)!r}"
            )
    if wrong:
        raise ConfigError("invalid settings: " + "; ".join(wrong))
    return config


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
