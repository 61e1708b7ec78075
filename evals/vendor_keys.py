"""What the vendor registry can do on a labelled stream: keys printed, repeats found, copies right.

    python -m evals.vendor_keys --dataset ../shared/sroie-dev [--ids 000-099] \
        [--ocr-cache FILE] [--show]

Documents arrive in id order; each, once seen, is corrected (its key file is the operator's
typed values) and teaches the registry (``docasset.core.extraction.vendors``) its printed keys
(``docasset.core.extraction.vendor_keys``). For the documents in ``--ids`` (all by default;
the earlier ones still teach), it counts:

- ``strong_key``: documents printing a registration (GST/SST/tax id or company number);
- ``repeat_truth``: documents an earlier document had the same vendor (company letters and
  digits), the most a registry could recognise;
- ``matched``: documents the registry matched to one vendor (by which key kind), ``ambiguous``
  (two vendors matched), and whether copying the vendor's canonical company is right under
  ``fields.equivalent`` (with the strict-match count beside it and a 95 % Wilson interval);
- the same for the address of a recognised branch;
- ``right_dates_flagged``: per date blocker (``docasset.core.extraction.dates``; no arrival
  in a replay), how many of the labelled (right) dates it would send to check: its cost;
  ``rule_date_pick``: the first date the rules find in the text, right or wrong, and whether
  any check flags it (the wrong ones passing are the silent errors left);
- ``*_printed``: those whose registry value is printed in the document's text (letters and
  digits), the agreement ``predictions`` accepts on, and how many of them are right;
  ``*_accepted``: of those, the ones whose vendor (branch) has ``history_min_support``
  confirmations: what the registry alone accepts.

Text: the OCR cache of ``evals.run`` (``--ocr-cache``; an absent file is written by OCR-ing
the folder, slow) or, by default, the folder's own ``box/<id>.csv`` line transcripts (SROIE's
reference OCR: the keys as printed, without our OCR's misreads).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from docasset.core.datasets.labelled import LabelledDoc, read_labelled_folder
from docasset.core.extraction.dates import DateContext, date_checks
from docasset.core.extraction.fields import FieldSpec, equivalent, parse_date, strict_match
from docasset.core.extraction.routing import RoutingConfig
from docasset.core.extraction.rules import rule_candidates
from docasset.core.extraction.vendor_keys import extract_keys
from docasset.core.extraction.vendors import Observation, build_registry, match_vendor
from docasset.errors import DocassetError

MIN_SUPPORT = RoutingConfig.history_min_support  # confirmations before the registry accepts
DATE = FieldSpec("date", "DATE", True, "date")
COMPANY = FieldSpec("company", "COMPANY", True, "text")
ADDRESS = FieldSpec("address", "ADDRESS", True, "text")


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """The 95 % Wilson score interval of ``k`` successes in ``n`` (None when n is 0)."""
    if n == 0:
        return None
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return [round(mid - half, 4), round(mid + half, 4)]


def box_text(root: Path, doc_id: str) -> str:
    """A SROIE ``box/<id>.csv`` transcript as text: its lines' strings, in order."""
    path = root / "box" / f"{doc_id}.csv"
    if not path.is_file():
        raise DocassetError(f"{path}: no box transcript (pass --ocr-cache)")
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        return "\n".join(",".join(row[8:]) for row in csv.reader(fh) if len(row) > 8)


def _alnum(value: str) -> str:
    return "".join(c for c in value.lower() if c.isalnum())


def printed(value: str, text: str) -> bool:
    """Whether the registry's value is printed in the document (letters and digits): the
    agreement with the document's own text that lets predictions trust it."""
    return bool(_alnum(value)) and _alnum(value) in _alnum(text)


def _in_range(doc_id: str, ids: tuple[str, str] | None) -> bool:
    return ids is None or ids[0] <= doc_id <= ids[1]


def vendor_stream(
    docs: list[LabelledDoc], texts: dict[str, str], ids: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The figures of the module docstring (``rows``: one per scored document)."""
    obs: list[Observation] = []
    seen: set[str] = set()
    c: Counter[str] = Counter()
    by_key: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    pick: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    for d in docs:
        if ids is not None and d.id > ids[1]:
            break  # later documents teach nothing the scored ones could see
        text = texts.get(d.id, "")
        keys = extract_keys(text)
        company, address = d.fields.get("company", ""), d.fields.get("address", "")
        if _in_range(d.id, ids):
            c["documents"] += 1
            c["strong_key"] += any(k.strength >= 3 for k in keys)
            c["any_key"] += bool(keys)
            repeat = _alnum(company) in seen
            c["repeat_truth"] += repeat
            m = match_vendor(text, build_registry(obs), keys) if obs else None
            row: dict[str, Any] = {"id": d.id, "repeat": repeat, "keys": [k.ident for k in keys]}
            if m is not None and m.ambiguous:
                c["ambiguous"] += 1
                row["ambiguous"] = list(m.ambiguous)
            elif m is not None:
                c["matched"] += 1
                by_key[m.key.partition(":")[0]] += 1
                right = equivalent(COMPANY, m.name, company)
                c["company_right"] += right
                c["company_strict"] += strict_match(COMPANY, m.name, company)
                c["matched_repeat"] += repeat
                row.update(key=m.key, company=m.name, company_right=right)
                if printed(m.name or "", text):
                    c["company_printed"] += 1
                    c["company_printed_right"] += right
                    if m.support >= MIN_SUPPORT:
                        c["company_accepted"] += 1
                        c["company_accepted_right"] += right
                if m.address is not None:
                    c["branch"] += 1
                    ok = equivalent(ADDRESS, m.address, address)
                    c["address_right"] += ok
                    c["address_strict"] += strict_match(ADDRESS, m.address, address)
                    row.update(branch=m.branch_key, address_right=ok)
                    if printed(m.address, text):
                        c["address_printed"] += 1
                        c["address_printed_right"] += ok
                        if m.address_support >= MIN_SUPPORT:
                            c["address_accepted"] += 1
                            c["address_accepted_right"] += ok
            # The date checks' cost: how many *right* dates (the key's) each would send to check.
            truth_date = d.fields.get("date")
            if truth_date:
                c["dates"] += 1
                ctx = DateContext(vendor_dates=m.dates if m is not None and m.vendor_id else ())
                for b in date_checks("date", truth_date, text, ctx):
                    flagged[b.kind] += 1
                # The date the rules would pick from this text (a proxy for the model's):
                # are the wrong picks the ones the checks send to a person?
                picks = rule_candidates("date", "date", text)
                if picks:
                    ok = equivalent(DATE, picks[0].text, truth_date)
                    hit = bool(date_checks("date", picks[0].text, text, ctx))
                    pick[f"{'right' if ok else 'wrong'}_{'flagged' if hit else 'passed'}"] += 1
            rows.append(row)
        seen.add(_alnum(company))
        day = parse_date(d.fields.get("date", ""))
        obs.append(
            Observation(
                f"c-{d.id}",
                d.id,
                company,
                address or None,
                day.isoformat() if day else None,
                tuple(k.ident for k in keys),
            )
        )
    return {
        **dict(c),
        "matched_by_key": dict(by_key),
        "company_right_ci95": wilson(c["company_right"], c["matched"]),
        "address_right_ci95": wilson(c["address_right"], c["branch"]),
        "company_accepted_right_ci95": wilson(c["company_accepted_right"], c["company_accepted"]),
        "address_accepted_right_ci95": wilson(c["address_accepted_right"], c["address_accepted"]),
        "company_printed_right_ci95": wilson(c["company_printed_right"], c["company_printed"]),
        "address_printed_right_ci95": wilson(c["address_printed_right"], c["address_printed"]),
        "right_dates_flagged": dict(flagged),
        "rule_date_pick": dict(pick),
        "registry_conflicts": Counter(x.kind for x in build_registry(obs).conflicts),
        "rows": rows,
    }


def _ids(arg: str | None) -> tuple[str, str] | None:
    if not arg:
        return None
    lo, _, hi = arg.partition("-")
    return lo, hi or lo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.vendor_keys", description=__doc__)
    p.add_argument("--dataset", required=True, help="labelled folder, in arrival order")
    p.add_argument("--ids", help="score only these ids (e.g. 000-099); earlier ones still teach")
    p.add_argument("--ocr-cache", help="evals.run OCR cache (default: the box/ transcripts)")
    p.add_argument("--ocr-engine", help="engine of an --ocr-cache written now (default setting)")
    p.add_argument("--show", action="store_true", help="print the per-document rows too")
    a = p.parse_args(argv)
    root = Path(a.dataset)
    ids = _ids(a.ids)
    try:
        docs = read_labelled_folder(root)
        if a.ocr_cache:
            from docasset.core.extraction.ocr_escalation import default_engine
            from evals.run import load_ocr

            # Only the documents up to the scored range: later ones are never read.
            upto = [d for d in docs if ids is None or d.id <= ids[1]]
            engine = default_engine(name=a.ocr_engine) if a.ocr_engine else None
            texts = load_ocr(upto, Path(a.ocr_cache), None, engine, a.ocr_engine).texts
        else:
            texts = {d.id: box_text(root, d.id) for d in docs}
    except DocassetError as exc:
        print(exc, file=sys.stderr)
        return 2
    out = vendor_stream(docs, texts, ids)
    if not a.show:
        out.pop("rows")
    print(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
