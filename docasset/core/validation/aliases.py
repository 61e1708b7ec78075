"""Customer identity: canonical spellings of a customer field learned from corrections.

An advertiser is printed "MIKE BLOOMBERG 2020, INC" on one station's order and
"MikeBloomberg2020Inc-D" on another's. When operators correct such a field they type the
name; :func:`learn_aliases` turns (printed, typed) pairs into an alias table (alias key ->
canonical spelling: the spelling typed most often for that name) that
:func:`with_aliases` merges into the document type, where
:func:`~docasset.core.extraction.fields.canonical` reads it. A pair is an alias only when
both sides name the same party (similar enough, :data:`MIN_SIMILARITY`); otherwise the
correction fixed a wrong extraction, which teaches no alias. Aliases written in the doc
type's YAML win over learned ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

from rapidfuzz import fuzz

from docasset.core.extraction.fields import DocType, alias_key
from docasset.errors import SchemaError

MIN_SIMILARITY = 85.0  # token-set similarity (0-100) of two spellings of one name


def same_party(a: str, b: str) -> bool:
    """Whether two spellings name the same party: equal alias keys, one key inside the other
    ("mikebloomberg2020" in "mikebloomberg2020inc"), or token-set similar."""
    ka, kb = alias_key(a), alias_key(b)
    if not ka or not kb:
        return False
    if ka == kb or (min(len(ka), len(kb)) >= 6 and (ka in kb or kb in ka)):
        return True
    return fuzz.token_set_ratio(a.casefold(), b.casefold()) >= MIN_SIMILARITY


def learn_aliases(pairs: Iterable[tuple[str | None, str]]) -> dict[str, str]:
    """Alias key -> canonical spelling from (printed value, operator-typed value) pairs of one
    customer field; the canonical spelling of a name is the one typed most often (ties: the
    first typed)."""
    typed: Counter[str] = Counter()
    groups: list[list[str]] = []  # spellings of one party, typed and printed
    for printed, corrected in pairs:
        if not corrected or not corrected.strip():
            continue
        corrected = corrected.strip()
        typed[corrected] += 1
        names = [corrected] + (
            [printed.strip()] if printed and same_party(printed, corrected) else []
        )
        home = next((g for g in groups if any(same_party(corrected, s) for s in g)), None)
        if home is None:
            groups.append(names)
        else:
            home.extend(n for n in names if n not in home)
    table: dict[str, str] = {}
    for g in groups:
        canon = max((s for s in g if typed[s]), key=lambda s: typed[s])
        for s in g:
            table.setdefault(alias_key(s), canon)
    return table


def with_aliases(doctype: DocType, field_name: str, learned: dict[str, str]) -> DocType:
    """``doctype`` with ``learned`` aliases of ``field_name`` (its YAML aliases win)."""
    if field_name not in doctype.names:
        raise SchemaError(f"document type {doctype.name!r} has no field {field_name!r}")
    current = dict(doctype.aliases)
    own = {alias_key(c): c for c in learned.values()}  # a canonical spelling names itself
    merged = {**own, **learned, **dict(current.get(field_name, ()))}
    current[field_name] = tuple(sorted(merged.items()))
    return replace(doctype, aliases=tuple(sorted(current.items())))
