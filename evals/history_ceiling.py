"""What vendor history can accept on a labelled stream, at exact-match correctness.

    python -m evals.history_ceiling --dataset DIR [--bootstrap DIR]

Documents arrive in folder order (after the ``--bootstrap`` folder's, whose keys seed the
history). A document is a *repeat* when an earlier document had the same vendor (its company
key's letters and digits). For each stable field, the share of repeats whose key equals a value
typed for that vendor before (ignoring case and spacing: how fields are scored) is the most a
vendor history can accept there without an error; ``alnum`` ignores punctuation too. The
``field_automation_ceiling`` is the share of fields accepted when every date and total is
accepted and company and address are accepted only on repeats, whenever the history holds the
right value: what field-level routing can reach at 100 % accuracy if the model never accepts a
new vendor's company or address.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from docasset.core.datasets.labelled import LabelledDoc, read_labelled_folder
from docasset.core.extraction.history import alnum, squash
from docasset.errors import LabelledDataError

STABLE = ("company", "address")
OTHER = ("date", "total")


def history_ceiling(
    stream: list[LabelledDoc], seed: list[LabelledDoc] | None = None
) -> dict[str, Any]:
    """The figures of the module docstring for ``stream`` (history seeded by ``seed``)."""
    seed = seed or []
    typed: dict[str, dict[str, set[str]]] = {}  # vendor -> field -> squashed values typed
    typed_alnum: dict[str, dict[str, set[str]]] = {}
    repeats = 0
    same = dict.fromkeys(STABLE, 0)
    same_alnum = dict.fromkeys(STABLE, 0)
    for i, d in enumerate([*seed, *stream]):
        vendor = alnum(d.fields.get("company", ""))
        if i >= len(seed) and vendor in typed:
            repeats += 1
            for f in STABLE:
                same[f] += squash(d.fields.get(f, "")) in typed[vendor][f]
                same_alnum[f] += alnum(d.fields.get(f, "")) in typed_alnum[vendor][f]
        for f in STABLE:
            typed.setdefault(vendor, {}).setdefault(f, set()).add(squash(d.fields.get(f, "")))
            typed_alnum.setdefault(vendor, {}).setdefault(f, set()).add(alnum(d.fields.get(f, "")))
    n = len(stream)
    fields = n * (len(STABLE) + len(OTHER))
    return {
        "documents": n,
        "repeats": repeats,
        "repeat_share": round(repeats / n, 4) if n else None,
        "typed_as_before": {f: round(same[f] / repeats, 4) if repeats else None for f in STABLE},
        "typed_as_before_alnum": {
            f: round(same_alnum[f] / repeats, 4) if repeats else None for f in STABLE
        },
        "field_automation_ceiling": (
            round((n * len(OTHER) + sum(same.values())) / fields, 4) if fields else None
        ),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.history_ceiling", description=__doc__)
    p.add_argument("--dataset", required=True, help="labelled folder, in arrival order")
    p.add_argument("--bootstrap", help="labelled folder whose keys seed the history")
    a = p.parse_args(argv)
    try:
        seed = read_labelled_folder(Path(a.bootstrap)) if a.bootstrap else []
        stream = read_labelled_folder(Path(a.dataset))
    except LabelledDataError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(json.dumps(history_ceiling(stream, seed), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
