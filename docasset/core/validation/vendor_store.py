"""The vendor registry's store: learned from corrections, importable and exportable by a manager.

Files under the registry directory (the work dir's ``vendors/``), both append-only JSON lines:

- ``observations.jsonl``: one record per corrected document the registry learned (the
  correction id, who typed it and when, the typed company/address/date, and the stable keys
  printed in its OCR text): the provenance of every vendor, key and branch; and one per
  customer field (an advertiser) of a corrected document: the typed and printed spellings
  the customer aliases are learned from;
- ``imports.jsonl``: one record per vendor a manager imported (file, line, actor, time).

The registry itself (``docasset.core.extraction.vendors.build_registry``) is rebuilt from the
two logs: a document corrected again counts once (its latest correction); conflicts are
reported (:attr:`Registry.conflicts`, ``docasset vendors list --conflicts``), never merged.

Import formats (:meth:`VendorStore.import_file`, all or nothing: a malformed row rejects the
file with line-level reasons and imports nothing):

- CSV with a header: ``name`` (required), ``vendor_id``, ``key`` (``kind:value``, e.g.
  ``tax_id:000123456789``), ``address``, ``phone``; one row per key or branch, rows of one
  vendor share its name (or id); what :meth:`export` writes is importable;
- JSON: a list of ``{"name", "id"?, "keys": ["kind:value", ...] | {"kind:value": n},
  "branches": [{"address", "phones": [...]}]}`` (the ``export`` JSON's ``vendors``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from rapidfuzz import fuzz

from docasset.core.extraction.fields import DocType, parse_date
from docasset.core.extraction.layout import LEGAL_FORM_RE
from docasset.core.extraction.vendor_keys import (
    HEADER_ID,
    document_keys,
    normalise,
    parse_ident,
)
from docasset.core.extraction.vendors import Conflict, Observation, Registry, build_registry
from docasset.core.files import append_line, atomic_write
from docasset.core.validation.aliases import (
    MIN_SIMILARITY,
    learn_aliases,
    same_party,
    with_aliases,
)
from docasset.core.validation.corrections import latest_per_document
from docasset.errors import DocassetError

LEARNED = "learned"
CUSTOMER = "customer"  # a customer field's typed value and its printed spelling
CSV_COLUMNS = ("vendor_id", "name", "key", "address", "phone", "confirmations", "sources")


@dataclass(frozen=True)
class ImportResult:
    """What an import added and the conflicts it created (absent before it)."""

    vendors: int
    conflicts: list[Conflict]


class VendorStore:
    """The registry's logs under a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.observations_path = root / "observations.jsonl"
        self.imports_path = root / "imports.jsonl"

    @staticmethod
    def _read(path: Path) -> list[dict[str, Any]]:
        if not path.is_file():
            return []
        return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]

    def observations(self) -> list[Observation]:
        """Learned observations (the latest per document) then imported ones, in order."""
        latest: dict[str, Observation] = {}
        for rec in self._read(self.observations_path):
            if rec.get("op") == "observe":
                latest.pop(rec["doc_id"], None)  # re-inserted last: arrival order of the latest
                latest[rec["doc_id"]] = _obs(rec)
        imported = [_obs(r) for r in self._read(self.imports_path)]
        return [*latest.values(), *imported]

    def registry(self) -> Registry:
        """The registry the logs give now."""
        return build_registry(self.observations())

    def learned(self) -> set[str]:
        """Correction ids the registry has read (whether or not they taught it anything)."""
        return {str(r["correction"]) for r in self._read(self.observations_path)}

    def learn(
        self,
        corrections: pl.DataFrame,
        texts: dict[str, str],
        doctype: DocType | None = None,
    ) -> list[Observation]:
        """Observe the latest unconflicted corrections not read yet whose document's OCR text
        is in ``texts`` (their keys are read from it); the others wait for their text.

        The fields come from the document type's roles (``seller``, ``address``, the first
        date field; without a type the receipt's ``company``/``vendor``, ``address``,
        ``date``); each ``customer`` field's typed value is recorded with its printed spelling
        (:meth:`customer_aliases`), whether or not the type has a seller. A type with a header
        identifier (``vendor:``, an ad order's station) is keyed by it alone
        (``vendor_keys.document_keys``) and, without a seller field, named by its key
        ("KCNC" of "KCNC-TV"): a repeat station is one vendor, learned from the corrections."""
        done = self.learned()
        added: list[Observation] = []
        seller, address, date_field, customers = _roles(doctype)
        for row in latest_per_document(corrections).iter_rows(named=True):
            cid = str(row["correction_id"])
            if cid in done:
                continue
            if row["conflict"] or row["verdict"]:
                append_line(self.observations_path, json.dumps({"op": LEARNED, "correction": cid}))
                continue
            text = texts.get(row["doc_id"])
            if text is None:
                continue
            fields = json.loads(row["fields_json"])
            for name in customers:
                if typed := (fields.get(name) or "").strip():
                    rec = {
                        "op": CUSTOMER,
                        "correction": cid,
                        "doc_id": str(row["doc_id"]),
                        "field": name,
                        "typed": typed,
                        "printed": printed_spelling(text, typed),
                    }
                    append_line(self.observations_path, json.dumps(rec))
            keys = document_keys(doctype, text)
            company = next((fields[k] for k in seller if fields.get(k)), None)
            if not company:
                # the key ("KCNC"), not as printed ("KCNC-TV" here, "KCNC" there): one name
                company = next((k.value for k in keys if k.kind == HEADER_ID), None)
            if not company:
                append_line(self.observations_path, json.dumps({"op": LEARNED, "correction": cid}))
                continue
            raw_day = fields.get(date_field) if date_field else None
            # the field's own order: an ad order's 02/03/20 is 3 February
            order = doctype.spec(date_field).date_order if doctype and date_field else "dmy"
            day = parse_date(raw_day, order) if raw_day else None
            obs = Observation(
                cid,
                str(row["doc_id"]),
                str(company),
                (fields.get(address) or None) if address else None,
                day.isoformat() if day else None,
                tuple(k.ident for k in keys),
                str(row["annotator"] or ""),
                datetime.now(UTC).isoformat(),
            )
            rec = {"op": "observe", "correction": cid, **asdict(obs)}
            append_line(self.observations_path, json.dumps(rec))
            added.append(obs)
        return added

    def customer_pairs(self, field_name: str) -> list[tuple[str | None, str]]:
        """(printed, typed) spellings of a customer field, the latest correction per
        document, in arrival order."""
        latest: dict[str, tuple[str | None, str]] = {}
        for rec in self._read(self.observations_path):
            if rec.get("op") == CUSTOMER and rec.get("field") == field_name:
                latest.pop(rec["doc_id"], None)
                latest[rec["doc_id"]] = (rec.get("printed"), str(rec["typed"]))
        return list(latest.values())

    def customer_aliases(self, doctype: DocType) -> DocType:
        """``doctype`` with the spellings of its customer fields learned from corrections
        (``docasset.core.validation.aliases``; its YAML aliases win): a repeat customer's
        printed spelling gives its canonical name (``fields.canonical``)."""
        for name in doctype.role_fields("customer"):
            learned = learn_aliases(self.customer_pairs(name))
            if learned:
                doctype = with_aliases(doctype, name, learned)
        return doctype

    def import_file(self, path: Path, actor: str) -> ImportResult:
        """Import a manager's CSV or JSON file (module docstring); returns the vendors it
        named and the conflicts it created. Raises ``DocassetError`` naming every bad row."""
        try:
            raw = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DocassetError(f"{path}: unreadable ({exc})") from exc
        records = _parse_json(raw, path) if path.suffix.lower() == ".json" else _parse_csv(raw)
        before = {(c.kind, c.key, c.vendors) for c in self.registry().conflicts}
        now = datetime.now(UTC).isoformat()
        obs = [
            Observation(
                f"import:{path.name}#{i}",
                "",
                rec["name"],
                address,
                None,
                tuple(keys),
                actor,
                now,
                "imported",
                rec.get("id"),
            )
            for i, rec in enumerate(records, start=1)
            for address, keys in _branch_rows(rec)
        ]
        # One write: the rows of one file land together, never half of them.
        append_line(self.imports_path, "\n".join(json.dumps(asdict(o)) for o in obs))
        after = self.registry().conflicts
        new = [c for c in after if (c.kind, c.key, c.vendors) not in before]
        return ImportResult(len(records), new)

    def export(self, path: Path) -> int:
        """Write the registry as CSV (one row per key and per branch) or JSON (by suffix);
        returns the number of vendors."""
        reg = self.registry()
        if path.suffix.lower() == ".json":
            data = {
                "vendors": [v.as_dict() for v in reg.vendors.values()],
                "conflicts": [asdict(c) for c in reg.conflicts],
            }
            atomic_write(path, json.dumps(data, indent=1).encode())
            return len(reg.vendors)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_COLUMNS)
        for v in reg.vendors.values():
            common = [v.id, v.name]
            tail = [v.confirmations, "+".join(sorted(v.sources))]
            for k in sorted(v.keys):
                if not k.startswith("phone:"):
                    w.writerow([*common, k, "", "", *tail])
            for b in v.branches:
                phones = sorted(b.phones) or [""]
                for p in phones:
                    w.writerow([*common, "", b.address, p.partition(":")[2], *tail])
            branch_phones = {p for b in v.branches for p in b.phones}
            for k in sorted(v.keys):
                if k.startswith("phone:") and k not in branch_phones:
                    w.writerow([*common, k, "", "", *tail])
        atomic_write(path, buf.getvalue().encode())
        return len(reg.vendors)


def _roles(doctype: DocType | None) -> tuple[list[str], str | None, str | None, list[str]]:
    """The fields the registry reads: seller names, address, date, customers."""
    if doctype is None:
        return ["company", "vendor"], "address", "date", []
    dates = [f.name for f in doctype.fields if f.type == "date"]
    address = doctype.role_fields("address")
    return (
        doctype.role_fields("seller"),
        address[0] if address else None,
        dates[0] if dates else None,
        doctype.role_fields("customer"),
    )


def printed_spelling(text: str, typed: str) -> str | None:
    """How the document prints the value an operator typed: the text's best fuzzy alignment
    with it when the two name the same party (``aliases.same_party``), else None."""
    res = fuzz.partial_ratio_alignment(typed.casefold(), text.casefold())
    if res is None or res.score < MIN_SIMILARITY:
        return None
    start, end = res.dest_start, res.dest_end
    # Out to whole words, and on over a legal form the operator left out ("..., INC"): at
    # most two more words of the line, never a label ("Agency:").
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    for _ in range(2):
        m = re.match(r"[ \t]+(\S+)", text[end:])
        if m is None or m.group(1).endswith(":") or not LEGAL_FORM_RE.fullmatch(m.group(1)):
            break
        end += m.end()
    printed = text[start:end].strip()
    return printed if printed and same_party(printed, typed) else None


def _obs(rec: dict[str, Any]) -> Observation:
    fields = {k: rec[k] for k in Observation.__dataclass_fields__ if k in rec}
    fields["keys"] = tuple(fields.get("keys", ()))
    return Observation(**fields)


def _key(raw: str, where: str, problems: list[str]) -> str | None:
    try:
        kind, value = parse_ident(raw.strip())
        norm = normalise(kind, value)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None
    if norm is None:
        problems.append(f"{where}: {raw!r} is no {kind} (too short or no digits)")
        return None
    return f"{kind}:{norm}"


def _phone(raw: str, where: str, problems: list[str]) -> str | None:
    return _key(f"phone:{raw}", where, problems)


def _parse_csv(raw: str) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(raw)))
    problems: list[str] = []
    if not rows or "name" not in rows[0]:
        raise DocassetError("vendor CSV needs a header with at least 'name' and a row")
    vendors: dict[str, dict[str, Any]] = {}
    for n, row in enumerate(rows, start=2):
        name = (row.get("name") or "").strip()
        if not name:
            problems.append(f"line {n}: no name")
            continue
        vid = (row.get("vendor_id") or "").strip() or None
        rec = vendors.setdefault(
            vid or name.upper(), {"name": name, "id": vid, "keys": [], "branches": []}
        )
        if (k := (row.get("key") or "").strip()) and (ident := _key(k, f"line {n}", problems)):
            rec["keys"].append(ident)
        address = (row.get("address") or "").strip()
        phone = (row.get("phone") or "").strip()
        p = _phone(phone, f"line {n}", problems) if phone else None
        if address:
            rec["branches"].append({"address": address, "phones": [p] if p else []})
        elif p:
            rec["keys"].append(p)
    if problems:
        raise DocassetError("vendor CSV rejected, nothing imported: " + "; ".join(problems[:20]))
    return list(vendors.values())


def _parse_json(raw: str, path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DocassetError(f"{path}: not JSON ({exc})") from exc
    items = data.get("vendors") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise DocassetError(f"{path}: expected a list of vendors (or {{'vendors': [...]}})")
    problems: list[str] = []
    out = []
    for i, item in enumerate(items):
        where = f"vendor #{i}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            problems.append(f"{where}: needs a 'name'")
            continue
        keys = item.get("keys") or []
        idents = [_key(str(k), where, problems) for k in keys]
        branches = []
        for b in item.get("branches") or []:
            if not isinstance(b, dict) or not isinstance(b.get("address"), str):
                problems.append(f"{where}: a branch needs an 'address'")
                continue
            phones = [
                _key(p if ":" in str(p) else f"phone:{p}", where, problems)
                for p in b.get("phones") or []
            ]
            branches.append({"address": b["address"], "phones": [p for p in phones if p]})
        vid = item.get("id")
        out.append(
            {
                "name": item["name"],
                "id": vid if isinstance(vid, str) else None,
                "keys": [k for k in idents if k],
                "branches": branches,
            }
        )
    if problems:
        raise DocassetError(f"{path} rejected, nothing imported: " + "; ".join(problems[:20]))
    return out


def _branch_rows(rec: dict[str, Any]) -> Iterable[tuple[str | None, list[str]]]:
    """An imported vendor as observations: its keys once, then one per branch."""
    yield None, list(rec["keys"])
    for b in rec["branches"]:
        yield b["address"], list(b["phones"])
