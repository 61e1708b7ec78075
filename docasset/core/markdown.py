"""Markdown tables for reports and Dagster metadata (no pandas/tabulate needed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")


def table(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A Markdown table of ``rows`` restricted to ``columns``."""
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(out)
