"""Labelled folders, and OCR/extraction over plain files outside Dagster (CLI, evals)."""
