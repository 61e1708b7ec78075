"""The code location the scale-out test serves: docasset's definitions with test settings.

No inbox settle time, and three files per batch, so the inbox sensor's first tick claims the
test's fifteen files as five batches (five runs in one tick). Everything else is the product.
"""

from __future__ import annotations

from docasset.definitions import build_definitions
from docasset.defs.settings import Settings

FILES_PER_BATCH = 3

defs = build_definitions(
    settings=Settings(inbox={"settle_seconds": 0.0, "batch_max_files": FILES_PER_BATCH})
)
