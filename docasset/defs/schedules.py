"""Schedules: daily production health; weekly retraining as a backstop to the sensor."""

from __future__ import annotations

import dagster as dg

from docasset.defs.jobs import health_job, retrain_job

daily_health = dg.build_schedule_from_partitioned_job(
    health_job, hour_of_day=6, default_status=dg.DefaultScheduleStatus.RUNNING
)
weekly_retrain = dg.ScheduleDefinition(
    name="weekly_retrain",
    job=retrain_job,
    cron_schedule="0 3 * * 1",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Backstop: retrain every Monday 03:00 even if the sensor did not fire.",
)
