"""Document types as configuration: field schemas, normalizers and validators.

A document type is a YAML file in ``docasset/doctypes/`` (or any path). Each field has a
name, an NER label, ``required`` and a type; the type picks the normalizer (dates to ISO 8601,
amounts to a plain decimal string) and the validators (plausible date, parseable amount, ...).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import yaml

from docasset.errors import SchemaError

DOCTYPE_DIR = Path(__file__).resolve().parents[2] / "doctypes"
FIELD_TYPES = ("text", "date", "amount", "identifier", "currency", "iban")

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NUMERIC_DATE = re.compile(r"^(\d{1,4})[./\-](\d{1,2})[./\-](\d{1,4})$")
_DMY_TEXT = re.compile(rf"^(\d{{1,2}})[\s\-./]*({_MONTH_RE})[a-z]*[\s\-./,]*(\d{{2,4}})$", re.I)
_MDY_TEXT = re.compile(
    rf"^({_MONTH_RE})[a-z]*[\s\-./]*(\d{{1,2}})(?:st|nd|rd|th)?[\s,\-./]*(\d{{2,4}})$", re.I
)
_AMOUNT_CHARS = re.compile(r"[^0-9.,\-]")
_CURRENCIES = {"EUR", "USD", "GBP", "MYR", "RM", "CHF", "SGD", "JPY", "CAD", "AUD"}
MIN_YEAR, MAX_YEAR = 1990, 2035


# What a field is for, beyond its type: the per-type plug-in point of the receipt-era rules.
# seller: the vendor's name (layout candidates on the head lines, legal-form repair, the
# vendor history key); address: the seller's address (layout); total: the payable amount
# (TOTAL keyword anchors, arithmetic checks); customer: the buyer's name (aliases learned
# from corrections, ``DocType.aliases``).
ROLES = ("seller", "address", "total", "customer")
DATE_ORDERS = ("dmy", "mdy")
RANGE_PARTS = ("start", "end")


@dataclass(frozen=True)
class FieldSpec:
    """One extractable field of a document type.

    ``role`` (:data:`ROLES`) picks the rule candidates beyond the type's; ``keywords`` are the
    printed labels after which the value follows ("Contract #", "Advertiser"); ``date_order``
    reads an ambiguous numeric date (``dmy`` 03/02 is 3 February, ``mdy`` 2 March);
    ``range_part`` (``start``/``end``) takes that part of a printed range
    ("02/19/20 - 02/25/20" fills two fields); ``not_keywords`` are printed labels that begin
    with a keyword but head another value ("Advertiser Code" beside "Advertiser"): their row
    holds no value of this field."""

    name: str
    label: str
    required: bool
    type: str
    role: str | None = None
    keywords: tuple[str, ...] = ()
    date_order: str = "dmy"
    range_part: str | None = None
    not_keywords: tuple[str, ...] = ()


VENDOR_KEYS = ("name", "pattern", "header_lines", "stop_words")
KEY_GROUP = "key"  # the pattern's named group that is the vendor key (else the whole match)


@dataclass(frozen=True)
class HeaderVendor:
    """A type's vendor identifier printed in the document header (YAML ``vendor:``), e.g. a US
    station's call sign on an ad order: the first match of ``pattern`` (case-sensitive)
    in the document's first ``header_lines`` lines that is not one of ``stop_words`` (upper-case
    words the pattern also matches: ``WITH``, ``WEEK``). The named group ``key``, when the
    pattern has one, is the vendor key ("KCNC" of "KCNC-TV"); ``name`` says what it is
    (``station``) in the review."""

    name: str
    pattern: str
    header_lines: int = 12
    stop_words: tuple[str, ...] = ()

    @property
    def regex(self) -> re.Pattern[str]:
        return _compiled(self.pattern)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class DocType:
    """A document type: its fields and cross-field sum rules."""

    name: str
    fields: tuple[FieldSpec, ...]
    sum_rules: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    # field -> {alias key (``alias_key``) -> canonical value}: customer spellings from the YAML
    # and learned from corrections (``docasset.core.validation.aliases``).
    aliases: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = field(default=())
    # The vendor identifier read from the header (None: the vendor keys printed anywhere,
    # ``vendor_keys.extract_keys``, as on receipts).
    vendor: HeaderVendor | None = None

    def role_fields(self, role: str) -> list[str]:
        """Names of the fields with ``role`` (:data:`ROLES`)."""
        return [f.name for f in self.fields if f.role == role]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def labels(self) -> dict[str, str]:
        """NER label -> field name."""
        return {f.label: f.name for f in self.fields}

    def spec(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise SchemaError(f"document type {self.name!r} has no field {name!r}")


def parse_doctype(data: dict, source: str) -> DocType:
    """Build a :class:`DocType` from parsed YAML, raising ``SchemaError`` on any defect."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise SchemaError(f"{source}: a document type needs a 'name'")
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SchemaError(f"{source}: 'fields' must be a non-empty list")
    order = data.get("date_order", "dmy")
    if order not in DATE_ORDERS:
        raise SchemaError(f"{source}: date_order must be one of {DATE_ORDERS}, not {order!r}")
    specs = [_field_spec(f, i, str(order), source) for i, f in enumerate(raw_fields)]
    names = [s.name for s in specs]
    if len(set(names)) != len(names) or len({s.label for s in specs}) != len(specs):
        raise SchemaError(f"{source}: field names and labels must be unique")
    rules: list[tuple[str, tuple[str, ...]]] = []
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise SchemaError(f"{source}: 'rules' must be a list of {{sum: {{field: [fields]}}}}")
    for i, rule in enumerate(raw_rules):
        sums = rule.get("sum") if isinstance(rule, dict) else None
        if not isinstance(sums, dict) or not sums:
            raise SchemaError(
                f"{source}: rule #{i} must be {{sum: {{field: [fields]}}}}, got {rule!r}"
            )
        for target, parts in sums.items():
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise SchemaError(f"{source}: sum rule {target!r} must list field names")
            if target not in names or any(p not in names for p in parts):
                raise SchemaError(f"{source}: sum rule {target} = {parts} names unknown fields")
            rules.append((target, tuple(parts)))
    aliases = []
    for fname, table in (data.get("aliases") or {}).items():
        if fname not in names or not isinstance(table, dict):
            raise SchemaError(f"{source}: aliases of {fname!r}: unknown field or not a mapping")
        pairs = [(alias_key(str(a)), str(canon)) for canon, al in table.items() for a in al or []]
        pairs += [(alias_key(str(canon)), str(canon)) for canon in table]
        aliases.append((str(fname), tuple(sorted(set(pairs)))))
    vendor = _header_vendor(data["vendor"], source) if data.get("vendor") is not None else None
    return DocType(data["name"], tuple(specs), tuple(rules), tuple(aliases), vendor)


def _header_vendor(raw: object, source: str) -> HeaderVendor:
    """The YAML ``vendor:`` block (:class:`HeaderVendor`; raises ``SchemaError`` on any defect)."""
    where = f"{source}: vendor"
    if not isinstance(raw, dict) or not isinstance(raw.get("pattern"), str):
        raise SchemaError(f"{where} must be a mapping with a 'pattern' (a regular expression)")
    unknown = set(raw) - set(VENDOR_KEYS)
    if unknown:
        raise SchemaError(f"{where} has unknown keys {sorted(unknown)} (allowed: {VENDOR_KEYS})")
    pattern = raw["pattern"]
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise SchemaError(f"{where}: pattern {pattern!r} is no regular expression ({exc})") from exc
    if regex.fullmatch(""):
        raise SchemaError(f"{where}: pattern {pattern!r} matches the empty string")
    if regex.groupindex and KEY_GROUP not in regex.groupindex:
        groups = sorted(regex.groupindex)
        raise SchemaError(f"{where}: the key is the group named {KEY_GROUP!r}, not {groups}")
    lines = raw.get("header_lines", 12)
    if isinstance(lines, bool) or not isinstance(lines, int) or lines < 1:
        raise SchemaError(f"{where}: header_lines must be a positive integer, not {lines!r}")
    stops = raw.get("stop_words") or []
    if not isinstance(stops, list) or not all(isinstance(w, str) and w.strip() for w in stops):
        raise SchemaError(f"{where}: stop_words must be a list of strings")
    name = raw.get("name", "vendor")
    if not isinstance(name, str) or not name.strip():
        raise SchemaError(f"{where}: name must be a word (what the identifier is: station)")
    return HeaderVendor(name.strip(), pattern, lines, tuple(w.strip() for w in stops))


def _field_spec(f: object, i: int, order: str, source: str) -> FieldSpec:
    """One field of a document type's YAML (raises ``SchemaError`` on any defect)."""
    if not isinstance(f, dict) or not {"name", "label", "type"} <= f.keys():
        raise SchemaError(f"{source}: field #{i} needs name, label and type")
    name = str(f["name"])
    if f["type"] not in FIELD_TYPES:
        raise SchemaError(f"{source}: field {name!r} has unknown type {f['type']!r}")
    unknown = set(f) - {
        "name",
        "label",
        "type",
        "required",
        "role",
        "keywords",
        "date_order",
        "range",
        "not_keywords",
    }
    if unknown:
        raise SchemaError(f"{source}: field {name!r} has unknown keys {sorted(unknown)}")
    role = f.get("role")
    if role is not None and role not in ROLES:
        raise SchemaError(f"{source}: field {name!r}: role must be one of {ROLES}, not {role!r}")
    keywords = f.get("keywords") or []
    not_keywords = f.get("not_keywords") or []
    for key, words in (("keywords", keywords), ("not_keywords", not_keywords)):
        if not isinstance(words, list) or not all(isinstance(k, str) and k.strip() for k in words):
            raise SchemaError(f"{source}: field {name!r}: {key} must be a list of strings")
    field_order = f.get("date_order", order)
    if field_order not in DATE_ORDERS:
        raise SchemaError(f"{source}: field {name!r}: date_order must be one of {DATE_ORDERS}")
    part = f.get("range")
    if part is not None and (part not in RANGE_PARTS or f["type"] != "date"):
        raise SchemaError(f"{source}: field {name!r}: range is start or end, on a date field")
    return FieldSpec(
        name,
        str(f["label"]),
        bool(f.get("required")),
        f["type"],
        role,
        tuple(keywords),
        str(field_order),
        part,
        tuple(not_keywords),
    )


def doctype_to_dict(doctype: DocType) -> dict:
    """The YAML form of a document type (what :func:`parse_doctype` reads back)."""
    fields = []
    for f in doctype.fields:
        d: dict[str, object] = {"name": f.name, "label": f.label, "required": f.required}
        d["type"] = f.type
        if f.role:
            d["role"] = f.role
        if f.keywords:
            d["keywords"] = list(f.keywords)
        d["date_order"] = f.date_order
        if f.range_part:
            d["range"] = f.range_part
        if f.not_keywords:
            d["not_keywords"] = list(f.not_keywords)
        fields.append(d)
    out: dict[str, object] = {"name": doctype.name, "fields": fields}
    if doctype.sum_rules:
        out["rules"] = [{"sum": {t: list(parts)}} for t, parts in doctype.sum_rules]
    if doctype.vendor is not None:
        v = doctype.vendor
        out["vendor"] = {
            "name": v.name,
            "pattern": v.pattern,
            "header_lines": v.header_lines,
            "stop_words": list(v.stop_words),
        }
    if doctype.aliases:
        out["aliases"] = {
            name: {
                c: sorted(k for k, c2 in table if c2 == c) for c in sorted({c for _, c in table})
            }
            for name, table in doctype.aliases
        }
    return out


def alias_key(value: str) -> str:
    """The form two spellings of a name share to be aliases: NFKC, case-folded, without
    whitespace and punctuation ("MIKE BLOOMBERG 2020, INC" -> "mikebloomberg2020inc")."""
    return _text_key(value)


def canonical(doctype: DocType, field_name: str, value: str | None) -> str | None:
    """The canonical spelling of ``value`` under the type's aliases (itself when unknown)."""
    if value is None:
        return None
    table = dict(dict(doctype.aliases).get(field_name, ()))
    return table.get(alias_key(value), value)


@cache
def load_doctype(name_or_path: str) -> DocType:
    """Load a shipped document type by name (``receipt``, ``invoice``) or a YAML path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = DOCTYPE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in DOCTYPE_DIR.glob("*.yaml"))
        raise SchemaError(f"unknown document type {name_or_path!r} (shipped: {shipped})")
    try:
        # safe_load: a !!python tag is refused (ConstructorError), never run
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        why = getattr(exc, "problem", None) or type(exc).__name__
        raise SchemaError(f"{path}: not a readable YAML document type{at}: {why}") from exc
    return parse_doctype(data, str(path))


def collapse(text: str) -> str:
    """Whitespace runs to one space, stripped."""
    return " ".join(text.split())


def _year(y: int) -> int:
    return y + 2000 if y < 100 else y


def _make_date(y: int, m: int, d: int) -> date | None:
    try:
        out = date(_year(y), m, d)
    except ValueError:
        return None
    return out if MIN_YEAR <= out.year <= MAX_YEAR else None


def parse_date(value: str, order: str = "dmy") -> date | None:
    """Parse a printed date; ambiguous numeric dates day-first (``order`` ``dmy``, the
    receipts we see) or month-first (``mdy``, US documents)."""
    v = collapse(value).strip(" .,:;").lower()
    v = re.sub(r"\s*\d{1,2}:\d{2}(:\d{2})?\s*([ap]m)?$", "", v)  # a trailing time
    if m := _NUMERIC_DATE.match(v):
        a, b, c = (int(x) for x in m.groups())
        if len(m.group(1)) == 4:
            return _make_date(a, b, c)
        if a > 12 >= b:
            return _make_date(c, b, a)
        if b > 12 >= a:
            return _make_date(c, a, b)
        return _make_date(c, a, b) if order == "mdy" else _make_date(c, b, a)
    if re.fullmatch(r"\d{8}", v):
        # Compact forms: ISO-like yyyymmdd first, then day-first ddmmyyyy.
        iso = _make_date(int(v[:4]), int(v[4:6]), int(v[6:])) if v[:2] in ("19", "20") else None
        return iso or _make_date(int(v[4:]), int(v[2:4]), int(v[:2]))
    if m := _DMY_TEXT.match(v):
        return _make_date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    if m := _MDY_TEXT.match(v):
        mon = m.group(1).lower()
        return _make_date(int(m.group(3)), _MONTHS[mon], int(m.group(2)))
    return None


def parse_amount(value: str) -> Decimal | None:
    """Parse a printed amount (``1,234.50``, ``1.234,50``, ``RM 9.00``) to a Decimal."""
    v = _AMOUNT_CHARS.sub("", value.replace(" ", ""))
    if not v or not any(c.isdigit() for c in v):
        return None
    if "," in v and "." in v:
        # The later separator is the decimal one.
        v = (
            v.replace(",", "")
            if v.rfind(".") > v.rfind(",")
            else v.replace(".", "").replace(",", ".")
        )
    elif "," in v:
        head, _, tail = v.rpartition(",")
        v = v.replace(",", "") if len(tail) == 3 and head else head.replace(",", "") + "." + tail
    try:
        out = Decimal(v)
    except InvalidOperation:
        return None
    return out if out.is_finite() else None


def normalize(spec: FieldSpec, value: str | None) -> str | None:
    """The canonical form of a value: ISO date, plain decimal, collapsed upper-case text."""
    if value is None:
        return None
    if spec.type == "date":
        d = parse_date(value, spec.date_order)
        return d.isoformat() if d else None
    if spec.type == "amount":
        a = parse_amount(value)
        return f"{a:.2f}" if a is not None else None
    if spec.type in ("identifier", "iban", "currency"):
        return re.sub(r"\s+", "", value).upper() or None
    return collapse(value).upper() or None


def _iban_ok(v: str) -> bool:
    s = re.sub(r"\s+", "", v).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", s):
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


def validate_field(spec: FieldSpec, value: str | None) -> list[str]:
    """Problems with one value (empty list when valid). Missing values are not checked here."""
    if value is None:
        return []
    if not collapse(value):
        return [f"{spec.name}: empty"]
    if spec.type == "date" and parse_date(value, spec.date_order) is None:
        return [f"{spec.name}: not a plausible date ({value!r})"]
    if spec.type == "amount":
        a = parse_amount(value)
        if a is None:
            return [f"{spec.name}: not an amount ({value!r})"]
        if a < 0:
            return [f"{spec.name}: negative amount ({value!r})"]
    if spec.type == "currency" and normalize(spec, value) not in _CURRENCIES:
        return [f"{spec.name}: unknown currency ({value!r})"]
    if spec.type == "iban" and not _iban_ok(value):
        return [f"{spec.name}: IBAN checksum fails ({value!r})"]
    return []


def sum_rule_problems(doctype: DocType, values: dict[str, str | None]) -> list[tuple[str, str]]:
    """(target field, detail) of every failed cross-field sum rule (``total = subtotal + tax``)
    whose fields are all present."""
    problems: list[tuple[str, str]] = []
    for target, parts in doctype.sum_rules:
        nums = [parse_amount(v) if (v := values.get(n)) else None for n in (target, *parts)]
        present = [x for x in nums if x is not None]
        if len(present) == len(nums):
            total, *rest = present
            added = sum(rest, Decimal(0))
            if abs(total - added) > Decimal("0.011"):
                problems.append((target, f"{total} != {' + '.join(parts)} ({added})"))
    return problems


def validate_document(doctype: DocType, values: dict[str, str | None]) -> list[str]:
    """Per-field problems plus cross-field sum rules (``total = subtotal + tax``)."""
    problems: list[str] = []
    for spec in doctype.fields:
        problems += validate_field(spec, values.get(spec.name))
    return problems + [f"{t}: {d}" for t, d in sum_rule_problems(doctype, values)]


def _text_key(value: str) -> str:
    """A text value with Unicode NFKC, case folding, and no whitespace or punctuation."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return "".join(c for c in folded if not (c.isspace() or unicodedata.category(c)[0] in "PS"))


def equivalent(spec: FieldSpec, predicted: str | None, truth: str | None) -> bool:
    """Field equivalence, the one definition every figure uses (evaluation, gate, simulation,
    health, history matching, QA): amounts by value, dates by calendar date, identifiers
    ignoring case and whitespace, text after NFKC and case folding, ignoring whitespace and
    punctuation. Two absent values are equivalent; absent and present are not."""
    if predicted is None or truth is None:
        return predicted is None and truth is None
    if spec.type in ("date", "amount"):
        p, t = normalize(spec, predicted), normalize(spec, truth)
        if p is not None and t is not None:
            return p == t
    if spec.type in ("identifier", "iban", "currency"):
        return normalize(spec, predicted) == normalize(spec, truth)
    return _text_key(predicted) == _text_key(truth)


def strict_match(spec: FieldSpec, predicted: str | None, truth: str | None) -> bool:
    """Strict exact match, reported beside :func:`equivalent`: the same characters once
    surrounding whitespace is stripped (the ``spec`` is unused but keeps the signatures alike)."""
    del spec
    if predicted is None or truth is None:
        return predicted is None and truth is None
    return predicted.strip() == truth.strip()


# The former name of :func:`equivalent`; every caller now uses the per-type equivalence.
values_match = equivalent
