"""Named crash points for the crash-injection tests: ``DOCASSET_CRASH_AT=<point>`` kills the
process (``os._exit(137)``, as ``kill -9`` would: no cleanup, no ``finally``) the first time
the code reaches that point. Unset (production), :func:`crashpoint` is one dict lookup.

The points (``POINTS``) sit where a crash leaves the most half-done state: during OCR, after
the documents-index claim, mid file-away, before and after the predictions write, in the
review export, mid corrections import and mid registry write.
"""

from __future__ import annotations

import os

CRASH_ENV = "DOCASSET_CRASH_AT"
CRASH_EXIT = 137  # what a shell reports for a process killed by SIGKILL
POINTS = (
    "ocr",  # after the first document of a batch was read
    "index_claim",  # a document claimed in the documents index, its ledger line not written
    "file_away",  # the first entry of a batch filed away, the others still in the batch
    "predictions_before_write",  # predictions computed, not stored
    "predictions_after_write",  # predictions stored, the run not told
    "review_export",  # the review queue written, its materialization not recorded
    "corrections_import",  # a corrections segment stored, its file not archived
    "registry_write",  # a model version's files written to a temp dir, not renamed into place
)


def crashpoint(name: str) -> None:
    """Exit the process at once when ``DOCASSET_CRASH_AT`` names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os._exit(CRASH_EXIT)
