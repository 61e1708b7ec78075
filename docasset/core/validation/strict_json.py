"""JSON parsing that refuses what ``json.loads`` accepts silently or crashes on.

``loads`` raises :class:`JsonRefused` (a ``ValueError`` with a line number when known) for:
invalid JSON; duplicate keys in an object (``json`` keeps the last one); ``NaN``/``Infinity``
and floats that overflow; integers longer than :data:`MAX_INT_DIGITS` (``json`` raises a bare
``ValueError`` past 4300 digits, and big ints are never a valid value here); nesting deeper
than the parser's recursion limit (``RecursionError``); lone surrogates (``"\\ud800"``: not
encodable as UTF-8, so they could never be stored).
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_INT_DIGITS = 18  # fits in int64; offsets and counts never need more


class JsonRefused(ValueError):
    """Input that is not acceptable JSON; ``line`` is 1-based, 0 when unknown."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}")


class _Refusal(ValueError):
    """Raised by the parser hooks (position unknown there)."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Refusal(f"duplicate key {_short(k)} in an object")
        _check_text(k)
        out[k] = v
    return out


def _int(s: str) -> int:
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refusal(f"integer with {len(s.lstrip('-'))} digits is out of range")
    return int(s)


def _float(s: str) -> float:
    f = float(s)
    if not math.isfinite(f):
        raise _Refusal(f"number {_short(s)} is out of range")
    return f


def _constant(s: str) -> Any:
    raise _Refusal(f"{s} is not a JSON number")


def _check_text(s: str) -> None:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Refusal(f"string with a lone surrogate ({_short(s)})") from exc


def _short(s: str, n: int = 40) -> str:
    text = s if len(s) <= n else s[:n] + "..."
    return ascii(text)


def _strings_ok(value: Any) -> None:
    """Lone surrogates in string values (keys are checked by the object hook)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            _check_text(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def loads(text: str, line: int = 0) -> Any:
    """Parse ``text`` strictly (see the module docstring); ``line``: the line number to report
    for problems whose position the parser does not know (JSONL: the line itself)."""
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
        _strings_ok(value)
    except json.JSONDecodeError as exc:
        at = line + exc.lineno - 1 if line else exc.lineno
        raise JsonRefused(at, f"invalid JSON: {exc.msg}") from None
    except _Refusal as exc:
        raise JsonRefused(line, str(exc)) from None
    except RecursionError:
        raise JsonRefused(line, "JSON nested too deeply") from None
    except ValueError as exc:  # what else the parser raises on hostile numbers
        raise JsonRefused(line, f"invalid JSON: {exc}") from None
    return value
