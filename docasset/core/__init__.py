"""Dagster-free domain core: scan intake, OCR and text assembly."""
