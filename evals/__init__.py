"""Measurement scripts that guide configuration choices (not shipped logic)."""
