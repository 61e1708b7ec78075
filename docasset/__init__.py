"""docasset: document extraction run in production as a Dagster asset graph."""

from __future__ import annotations

__version__ = "0.1.0"
