"""Dagster code: one module per stage plus resources, sensors, schedules and jobs.

Assets here are thin wrappers over ``docasset.core`` (which never imports Dagster).
"""

# Note: ``context`` parameters are left unannotated on purpose. With
# ``from __future__ import annotations`` the annotation is a string, which Dagster rejects.
