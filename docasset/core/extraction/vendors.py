"""The vendor registry (master data) and how a document is matched to one of its vendors.

A :class:`Vendor` is who issued documents, identified by the stable keys it prints
(``docasset.core.extraction.vendor_keys``): its canonical company name, every key it was seen
or imported with (with the corrections that confirmed each), its :class:`Branch` es (an
address belongs to a branch, keyed by the phones printed with it or by the address itself,
never to the chain) and the dates of its corrected documents (a date far from them is checked:
``docasset.core.extraction.dates``).

:func:`build_registry` is a pure function of the :class:`Observation` s (one per corrected
document, or per vendor a manager imported): learned observations sharing a registration
number (``tax_id``, ``company_no``) or the same name (letters and digits) are one vendor;
imported vendors join a learned one only under the same name. Nothing is merged silently:
:attr:`Registry.conflicts` lists every key two vendors claim (a shared phone, an import
disagreeing with learned data) and every vendor whose corrections typed different names.

:func:`match_vendor` finds a document's vendor: the strongest key level that matches decides
(registrations, then phones, then domains, then the name in the header lines, but never a
vendor whose registration of the same kind differs from the one printed); two vendors at
that level is an ambiguous match (routed to review, ``vendor_ambiguous``), never a guess.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from docasset.core.extraction.vendor_keys import (
    STRENGTH,
    VendorKey,
    extract_keys,
    name_key,
)

NAME_LINES = 8  # a vendor's name is printed in the first lines
MATCH_SCORE = 90.0  # fuzzy match of a name or an address, as the correction memory's
STRONG = 3  # key strength that identifies a vendor (registrations)


@dataclass(frozen=True)
class Observation:
    """One corrected document's vendor facts (or one imported vendor record)."""

    correction_id: str  # the correction (or ``import:<file>#<n>``)
    doc_id: str
    company: str
    address: str | None = None
    date: str | None = None  # ISO date of the document
    keys: tuple[str, ...] = ()  # ``kind:value`` idents
    annotator: str = ""
    at: str = ""
    source: str = "learned"  # learned | imported
    vendor_id: str | None = None  # imported: the manager's id for the vendor, if given


@dataclass
class Branch:
    """A vendor's branch: its address (the most confirmed variant) and phones."""

    id: str
    address: str
    variants: dict[str, int] = field(default_factory=dict)  # typed address -> confirmations
    phones: set[str] = field(default_factory=set)
    corrections: list[str] = field(default_factory=list)


@dataclass
class Vendor:
    """A vendor: canonical name, keys with their provenance, branches, dates seen."""

    id: str
    name: str
    names: dict[str, int] = field(default_factory=dict)  # typed name -> confirmations
    keys: dict[str, list[str]] = field(default_factory=dict)  # ident -> correction ids
    branches: list[Branch] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)

    @property
    def confirmations(self) -> int:
        """Corrected documents (and imports) that confirmed the vendor."""
        return len(self.corrections)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "names": self.names,
            "confirmations": self.confirmations,
            "sources": sorted(self.sources),
            "keys": {k: len(v) for k, v in sorted(self.keys.items())},
            "branches": [
                {
                    "id": b.id,
                    "address": b.address,
                    "variants": b.variants,
                    "phones": sorted(b.phones),
                    "confirmations": len(b.corrections),
                }
                for b in self.branches
            ],
            "dates": sorted(self.dates),
            "corrections": self.corrections,
        }


@dataclass(frozen=True)
class Conflict:
    """Something the registry will not decide alone: ``kind`` shared_key (two vendors claim
    ``key``), import_disagrees (an imported vendor's key is a learned vendor's under another
    name) or names_differ (one vendor's corrections typed different names)."""

    kind: str
    key: str
    vendors: tuple[str, ...]
    detail: str = ""


@dataclass
class Registry:
    """Vendors by id, the key index (ident -> vendor ids) and the conflicts."""

    vendors: dict[str, Vendor] = field(default_factory=dict)
    index: dict[str, set[str]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass(frozen=True)
class VendorMatch:
    """A document's vendor: ``vendor_id`` and the ``key`` that matched (``kind:value``), the
    recognised ``branch_id``/``address`` if any; ``ambiguous``: the vendors that matched
    equally (then ``vendor_id`` is None)."""

    vendor_id: str | None
    name: str | None
    key: str
    support: int = 0  # the vendor's confirmations
    branch_id: str | None = None
    address: str | None = None
    address_support: int = 0
    branch_key: str | None = None  # phone ident, or "address" when recognised by its text
    ambiguous: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()


def _alnum(value: str) -> str:
    return "".join(name_key(value).split())


def vendor_id_for(name: str) -> str:
    """A learned vendor's stable id: from its first name's letters and digits."""
    return "v" + hashlib.sha256(_alnum(name).encode()).hexdigest()[:10]


def _best(counts: dict[str, int], order: list[str]) -> str:
    """The most confirmed value, the latest typed on ties."""
    last = {v: i for i, v in enumerate(order)}
    return max(counts, key=lambda v: (counts[v], last.get(v, -1)))


def _groups(obs: list[Observation]) -> list[list[Observation]]:
    """Learned observations linked by a registration key or the same name (union-find)."""
    parent = list(range(len(obs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, o in enumerate(obs):
        links = [f"name:{_alnum(o.company)}"]
        links += [k for k in o.keys if STRENGTH.get(k.partition(":")[0], 0) >= STRONG]
        for link in links:
            if link in first:
                parent[find(i)] = find(first[link])
            else:
                first[link] = i
    groups: dict[int, list[Observation]] = {}
    for i, o in enumerate(obs):
        groups.setdefault(find(i), []).append(o)
    return list(groups.values())


def _add(v: Vendor, o: Observation) -> None:
    v.names[o.company] = v.names.get(o.company, 0) + 1
    v.corrections.append(o.correction_id)
    v.sources.add(o.source)
    if o.date:
        v.dates.append(o.date)
    for k in o.keys:
        v.keys.setdefault(k, []).append(o.correction_id)
    phones = {k for k in o.keys if k.startswith("phone:")}
    if o.address:
        akey = _alnum(o.address)
        branch = next(
            (b for b in v.branches if any(_alnum(a) == akey for a in b.variants)), None
        ) or next((b for b in v.branches if b.phones & phones), None)
        if branch is None:
            branch = Branch(f"{v.id}-b{len(v.branches) + 1}", o.address)
            v.branches.append(branch)
        branch.variants[o.address] = branch.variants.get(o.address, 0) + 1
        branch.phones |= phones
        branch.corrections.append(o.correction_id)


def build_registry(observations: list[Observation]) -> Registry:
    """The registry the observations give (learned ones first, then imports in order)."""
    learned = [o for o in observations if o.source != "imported"]
    imported = [o for o in observations if o.source == "imported"]
    reg = Registry()
    for group in _groups(learned):
        v = Vendor(vendor_id_for(group[0].company), group[0].company)
        for o in group:
            _add(v, o)
        v.name = _best(v.names, [o.company for o in group])
        reg.vendors[v.id] = v
    by_name = {_alnum(n): v.id for v in reg.vendors.values() for n in v.names}
    for o in imported:
        vid = o.vendor_id or by_name.get(_alnum(o.company)) or vendor_id_for(o.company)
        if vid not in reg.vendors:
            reg.vendors[vid] = Vendor(vid, o.company)
            by_name[_alnum(o.company)] = vid
        _add(reg.vendors[vid], o)
        reg.vendors[vid].name = o.company  # a manager's name is the canonical one
    for v in reg.vendors.values():
        for b in v.branches:
            b.address = _best(b.variants, list(b.variants))
        for k in v.keys:
            reg.index.setdefault(k, set()).add(v.id)
        if len({_alnum(n) for n in v.names}) > 1:
            names = ", ".join(sorted(v.names))[:200]
            reg.conflicts.append(Conflict("names_differ", f"name:{v.id}", (v.id,), names))
    for k, vids in sorted(reg.index.items()):
        if len(vids) > 1:
            srcs = {s for vid in vids for s in reg.vendors[vid].sources}
            kind = "import_disagrees" if "imported" in srcs and "learned" in srcs else "shared_key"
            names = "; ".join(f"{vid} {reg.vendors[vid].name}" for vid in sorted(vids))
            reg.conflicts.append(Conflict(kind, k, tuple(sorted(vids)), names))
    return reg


def _header(text: str) -> str:
    return name_key(" ".join(text.split("\n")[:NAME_LINES]))


def _by_name(text: str, reg: Registry) -> tuple[set[str], float]:
    """Vendors whose name appears in the header lines (fuzzy >= 90), with the best score."""
    header = _header(text)
    best: set[str] = set()
    top = MATCH_SCORE
    for v in reg.vendors.values():
        score = max((fuzz.partial_ratio(name_key(n), header) for n in v.names), default=0.0)
        if score > top:
            best, top = {v.id}, score
        elif score == top:
            best.add(v.id)
    return best, top


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _branch(text: str, v: Vendor, keys: list[VendorKey]) -> tuple[Branch | None, str | None]:
    """The document's branch of ``v``: by a phone only one branch has, else by an address
    variant printed in the text (>= 90, with the same digits: another branch's differ)."""
    phones = {k.ident for k in keys if k.kind == "phone"}
    for p in phones:
        owners = [b for b in v.branches if p in b.phones]
        if len(owners) == 1:
            return owners[0], p
    flat = text.upper().replace("\n", " ")
    found: list[tuple[float, Branch]] = []
    for b in v.branches:
        for a in b.variants:
            res = fuzz.partial_ratio_alignment(a.upper(), flat)
            if res is None or res.score < MATCH_SCORE:
                continue
            if _digits(a) == _digits(flat[res.dest_start : res.dest_end]):
                found.append((res.score, b))
    if not found:
        return None, None
    top = max(s for s, _ in found)
    best = {b.id: b for s, b in found if s == top}
    return (next(iter(best.values())), "address") if len(best) == 1 else (None, None)


def match_vendor(
    text: str, reg: Registry, keys: list[VendorKey] | None = None, by_name: bool = True
) -> VendorMatch | None:
    """The document's vendor (module docstring), or None when no key or name matches;
    ``by_name`` False: by its keys only (a type keyed by a header identifier, whose vendors'
    names are short call signs that a header's words may contain: "KOB" in "KOBE")."""
    if not reg.vendors:
        return None
    keys = extract_keys(text) if keys is None else keys
    for level in sorted({k.strength for k in keys if k.strength > 0}, reverse=True):
        hits = [
            (k, reg.index[k.ident]) for k in keys if k.strength == level and k.ident in reg.index
        ]
        vids = {vid for _, owners in hits for vid in owners}
        if len(vids) > 1:
            return VendorMatch(None, None, hits[0][0].ident, ambiguous=tuple(sorted(vids)))
        if vids:
            return _matched(text, reg.vendors[vids.pop()], hits[0][0].ident, keys)
    if not by_name:
        return None
    vids = {v for v in _by_name(text, reg)[0] if not _other_registration(reg.vendors[v], keys)}
    if len(vids) > 1:
        return VendorMatch(None, None, "name", ambiguous=tuple(sorted(vids)))
    if vids:
        v = reg.vendors[vids.pop()]
        return _matched(text, v, f"name:{name_key(v.name)}", keys)
    return None


def _other_registration(v: Vendor, keys: list[VendorKey]) -> bool:
    """Whether the document prints a registration of a kind ``v`` has, but not ``v``'s: a
    namesake (a franchise's other company), not this vendor."""
    mine = {k.ident for k in keys if k.strength >= STRONG}
    kinds = {k.kind for k in keys if k.strength >= STRONG}
    theirs = {k for k in v.keys if STRENGTH.get(k.partition(":")[0], 0) >= STRONG}
    return any(k.partition(":")[0] in kinds for k in theirs) and not (theirs & mine)


def _matched(text: str, v: Vendor, key: str, keys: list[VendorKey]) -> VendorMatch:
    branch, how = _branch(text, v, keys)
    return VendorMatch(
        v.id,
        v.name,
        key,
        v.confirmations,
        branch.id if branch else None,
        branch.address if branch else None,
        len(branch.corrections) if branch else 0,
        how,
        dates=tuple(v.dates),
    )


def key_counts(observations: list[Observation]) -> Counter[str]:
    """How many observations carry each key kind (for reports)."""
    return Counter(k.partition(":")[0] for o in observations for k in o.keys)
