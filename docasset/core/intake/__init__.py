"""Stage 1, intake: inbox batches, the ledger, archive and quarantine, scan decoding and
page-quality measures, scan-quality verdicts (``raw_scans``)."""
