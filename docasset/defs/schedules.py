"""Schedules: daily production health; weekly retraining as a backstop to the sensor."""

from __future__ import annotations

import dagster as dg

from docasset.defs.jobs import health_job, retrain_job

# The day partitions include today (end_offset=1) so health can be looked at during the day;
# the schedule materializes each day at 23:55, when its window is (nearly) complete.
daily_health = dg.build_schedule_from_partitioned_job(
    health_job, hour_of_day=23, minute_of_hour=55, default_status=dg.DefaultScheduleStatus.RUNNING
)
weekly_retrain = dg.ScheduleDefinition(
    name="weekly_retrain",
    job=retrain_job,
    cron_schedule="0 3 * * 1",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Backstop: retrain every Monday 03:00 even if the sensor did not fire.",
)
