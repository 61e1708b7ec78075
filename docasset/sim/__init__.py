"""Simulated production for the demo, the tests and the evaluation harness: the seeded synthetic
document generator (``synthetic``), simulated operators writing corrections from ground truth
(``operators``) and the week-by-week replay through the real graph (``simulation``).

It stands in for the world around docasset (documents arriving, people correcting them), never
for the pipeline: everything here drives the real Dagster graph. Nothing in ``docasset.core`` or
``docasset.defs`` imports it (the import contract in ``pyproject.toml`` checks).
"""
