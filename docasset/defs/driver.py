"""Drive the real asset graph without a daemon: tick sensors, execute their run requests.

The demo, the end-to-end tests and the production simulation use this so that every run is a
real Dagster run on the given instance (visible in ``dagster dev`` afterwards), exactly as the
daemon would launch it, only synchronously. Cursors persist in the working directory, and run
keys already used on the instance are skipped, as the daemon does.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg


class LocalDriver:
    """Ticks sensors and launches jobs in-process on one Dagster instance."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        defs: dg.Definitions,
        state_dir: Path,
        log_level: str = "WARNING",
    ) -> None:
        self.instance = instance
        self.log_level = log_level
        self.defs = defs
        self._cursor_file = state_dir / "sensor-cursors.json"

    def _cursors(self) -> dict[str, str]:
        return (
            json.loads(self._cursor_file.read_text("utf-8")) if self._cursor_file.is_file() else {}
        )

    def _save_cursor(self, name: str, cursor: str) -> None:
        cursors = self._cursors()
        cursors[name] = cursor
        self._cursor_file.write_text(json.dumps(cursors, indent=1), "utf-8")

    def tick(
        self, sensor_name: str, run_config: dict | None = None
    ) -> list[dg.ExecuteInProcessResult]:
        """Evaluate one sensor tick and run what it requests; returns the run results.

        ``run_config`` fills in requests that carry none (as a launchpad user would)."""
        sensor = self.defs.resolve_sensor_def(sensor_name)
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self._cursors().get(sensor_name),
            definitions=self.defs,
            sensor_name=sensor_name,
            resources=dict(self.defs.resources or {}),
            # With a ref, the context resolves requests for partitions the tick itself adds.
            instance_ref=self.instance.get_ref() if self.instance.is_persistent else None,
        ) as context:
            data = sensor.evaluate_tick(context)
        for req in data.dynamic_partitions_requests or []:
            if isinstance(req, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(
                    req.partitions_def_name, list(req.partition_keys)
                )
        if data.cursor is not None:
            self._save_cursor(sensor_name, data.cursor)
        results = []
        for rr in data.run_requests or []:
            if rr.run_key and self.instance.get_runs(
                filters=dg.RunsFilter(tags={"dagster/run_key": rr.run_key}), limit=1
            ):
                continue  # the daemon never launches one run key twice
            tags = {**(rr.tags or {}), "dagster/sensor_name": sensor_name}
            if rr.run_key:
                tags["dagster/run_key"] = rr.run_key
            job_name = rr.job_name or sensor.job_name
            if job_name is None:
                raise dg.DagsterInvariantViolationError(
                    f"sensor {sensor_name} requested a run without a job"
                )
            config = dict(rr.run_config) if rr.run_config else run_config
            results.append(self.run(job_name, rr.partition_key, config, tags))
        return results

    def run(
        self,
        job_name: str,
        partition_key: str | None = None,
        run_config: dict | None = None,
        tags: dict[str, str] | None = None,
    ) -> dg.ExecuteInProcessResult:
        """Execute a job of the definitions in-process (failures are returned, not raised)."""
        job = self.defs.resolve_job_def(job_name)
        config = {
            "loggers": {"console": {"config": {"log_level": self.log_level}}},
            **(run_config or {}),
        }
        return job.execute_in_process(
            instance=self.instance,
            partition_key=partition_key,
            run_config=config,
            tags=tags,
            raise_on_error=False,
        )
