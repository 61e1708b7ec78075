"""The one report renderer (blocks to Markdown/HTML) and the one plotting style (PNG, Agg)."""
