"""LocalDriver on a real Postgres instance: runs reuse pooled storage connections.

Without a pool, Dagster's Postgres storage opens a connection (a new server process) for every
query and every stored event; ``evals.bench_run_cost`` measured that as most of a
one-document run's CPU. The server logs each connection, so the test counts them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from docasset.defs.driver import LocalDriver


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (run.sh installs postgresql)")
    return str(found[-1])


def _as_owner(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: the cluster belongs to the postgres user then.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Cluster:
    def __init__(self, base: Path) -> None:
        self.base, self.data, self.log = base, base / "data", base / "server.log"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    def connections(self) -> int:
        """Connections the server has authorized so far (``log_connections``)."""
        return self.log.read_text().count("connection authorized")

    def instance_yaml(self, home: Path) -> Path:
        home.mkdir()
        url = f"postgresql+psycopg2://postgres@/postgres?host={self.base}&port={self.port}"
        (home / "dagster.yaml").write_text(
            f'telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_url: "{url}"\n'
        )
        return home


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="docasset-pg-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    c = Cluster(base)
    init = [_pg_bin("initdb"), "-D", str(c.data), "-A", "trust", "-U", "postgres"]
    subprocess.run(_as_owner(init), check=True, capture_output=True, timeout=120)
    opts = f"-p {c.port} -k {base} -c listen_addresses='' -c log_connections=on"
    start = [_pg_bin("pg_ctl"), "-D", str(c.data), "-o", opts, "-l", str(c.log), "-w", "start"]
    subprocess.run(_as_owner(start), check=True, capture_output=True, timeout=120)
    try:
        yield c
    finally:
        stop = [_pg_bin("pg_ctl"), "-D", str(c.data), "-m", "immediate", "stop"]
        subprocess.run(_as_owner(stop), capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


@dg.asset(partitions_def=dg.DynamicPartitionsDefinition(name="batches"))
def numbers(context) -> int:  # type: ignore[no-untyped-def]
    return len(context.partition_key)


@dg.asset(partitions_def=dg.DynamicPartitionsDefinition(name="batches"))
def doubled(numbers: int) -> int:
    return 2 * numbers


DEFS = dg.Definitions(
    assets=[numbers, doubled],
    jobs=[dg.define_asset_job("small_job", selection=["numbers", "doubled"])],
    resources={"io_manager": dg.InMemoryIOManager()},
)


def _run_once(cluster: Cluster, home: Path, pool: bool) -> tuple[int, int]:
    """(connections opened, events stored) by one two-step partitioned run."""
    with dg.DagsterInstance.from_config(str(cluster.instance_yaml(home))) as instance:
        driver = LocalDriver(instance, DEFS, home, pool_connections=pool)
        instance.add_dynamic_partitions("batches", ["b-0001"])
        before = cluster.connections()
        result = driver.run("small_job", "b-0001")
        opened = cluster.connections() - before
        assert result.success and result.output_for_node("doubled") == 12
        events = len(instance.get_records_for_run(result.run_id, limit=10_000).records)
    return opened, events


def test_a_run_reuses_pooled_connections_and_stores_every_event(
    cluster: Cluster, tmp_path: Path
) -> None:
    unpooled, events_a = _run_once(cluster, tmp_path / "a", pool=False)
    pooled, events_b = _run_once(cluster, tmp_path / "b", pool=True)
    assert events_a == events_b > 10  # the same run, every event stored either way
    assert unpooled >= events_a  # a connection (server process) per stored event at least
    assert pooled <= 5, pooled  # the pool's connection(s), reused across the run
