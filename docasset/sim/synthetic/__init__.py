"""Seeded generator of synthetic scanned documents in the labelled-folder format.

Entry points live in ``docasset.sim.synthetic.generate`` (``generate``, ``GeneratedDoc``,
``vendor_catalogue`` and the CLI); see ``fixtures/README.md``. This package root deliberately
does not import ``docasset.sim.synthetic.generate``: the function and the module share a name,
and ``python -m docasset.sim.synthetic.generate`` warns when its module is imported before it
runs. It ships with docasset because the demo generates its documents with it.
"""

from __future__ import annotations

from docasset.sim.synthetic.docs import INVOICE_KEYS, RECEIPT_KEYS
from docasset.sim.synthetic.text import parse_amount, parse_date
from docasset.sim.synthetic.vendors import get_vendor, vendor_catalogue

__all__ = [
    "INVOICE_KEYS",
    "RECEIPT_KEYS",
    "get_vendor",
    "parse_amount",
    "parse_date",
    "vendor_catalogue",
]
