"""Resources: the working directory, the model registry, the correction memory, the vendor
registry and the IO managers (the settings are in ``settings.py``, Label Studio in
``label_studio.py``).

Every resource is configured with the working directory: the deployed definitions give it as
``dg.EnvVar("DOCASSET_HOME")`` (resolved when a run or a tick starts, never at import), and the
registry, the memory and the stored frames live below it. (A plain field rather than a nested
``DocassetHome``: nested resources must be opened as context managers, which sensors' contexts
and ``dg.build_sensor_context`` users would then all need.) ``resources_for`` builds the same set
for a given directory (tests, the demo, ``docasset ingest``, the simulation)."""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from dagster_polars import PolarsParquetIOManager
from pydantic import Field
from upath import UPath

from docasset.core.batches import BatchFrames, rematerialize
from docasset.core.crash import crashpoint
from docasset.core.files import confined, parquet_errors
from docasset.core.recovery import record_run_process
from docasset.core.training.registry import Registry
from docasset.core.validation.memory import CorrectionMemory
from docasset.core.validation.vendor_store import VendorStore
from docasset.core.workdir import Workdir, check_home
from docasset.errors import StoreError, UnsafePathError

HOME_ENV = "DOCASSET_HOME"
HOME_DOC = f"Working directory (the deployment: env {HOME_ENV})."


def storage(home: str) -> str:
    """Where the IO managers keep asset values in working directory ``home`` (an empty one
    is a ``ConfigError``, never the current directory)."""
    return str(check_home(home) / "storage")


class DocassetHome(dg.ConfigurableResource):
    """Where one deployment keeps its files: inbox, archive, corrections, models, reports,
    stored frames."""

    root: str = Field(description=HOME_DOC)

    def workdir(self) -> Workdir:
        return Workdir(check_home(self.root))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Which process executes this run's steps: how a run left STARTED by a killed process
        # is recognized as dead (docasset.defs.recovery), run monitoring or not.
        if context.run_id:
            record_run_process(check_home(self.root), context.run_id)


class ModelRegistry(dg.ConfigurableResource):
    """The model registry: versions with their training provenance, and the aliases
    (``production``, ``candidate``) that training, evaluation, prediction and the retraining
    sensor read and move (the home's models/)."""

    home: str = Field(description=HOME_DOC)

    def store(self) -> Registry:
        return Registry(Workdir(check_home(self.home)).models)


class MemoryStore(dg.ConfigurableResource):
    """The correction memory (vendor history): the corrections asset teaches it, predictions
    recall from it (the home's memory/)."""

    home: str = Field(description=HOME_DOC)

    def store(self) -> CorrectionMemory:
        return CorrectionMemory(Workdir(check_home(self.home)).memory)


class VendorRegistryStore(dg.ConfigurableResource):
    """The vendor registry's store (the home's vendors/): the ``vendor_registry`` asset learns
    it from corrections and managers import into it; predictions read it (a resource, not an
    input: the registry is downstream of the corrections of earlier predictions)."""

    home: str = Field(description=HOME_DOC)

    def store(self) -> VendorStore:
        return VendorStore(Workdir(Path(self.home)).vendors)


ALL_PARTITIONS = "docasset/all_partitions"
# Input metadata: an unpartitioned input that may not exist yet loads as None (absent, not
# empty: the consumer says what it cannot assess).
OPTIONAL = "docasset/optional"


def _asset(context: dg.InputContext) -> str:
    return context.asset_key.to_user_string()


def _materialized(context: dg.InputContext, keys: Sequence[str]) -> set[str]:
    """The partitions of the input's asset the instance recorded as materialized (their
    files must exist); all of ``keys`` when the context has no instance."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:
        return set(keys)
    return set(instance.get_materialized_partitions(context.asset_key)) & set(keys)


class FramesIOManager(PolarsParquetIOManager):
    """``dagster-polars``' Parquet IO manager under the home's storage/
    (``<asset>/<partition>.parquet``), with two additions the graph relies on:

    - inputs mapped to every batch (``ALL_PARTITIONS`` metadata) get a lazy ``BatchFrames``
      (batch -> frame, read on demand), so an asset's cost does not grow with the history;
    - an ``OPTIONAL`` unpartitioned input that was never materialized loads as None.

    Local files are written to a temporary name and renamed, so a crash never leaves half a
    Parquet file where a reader expects a whole one. A partition key is part of the path:
    nothing is read or written outside the storage directory (``confined``). A stored frame
    that is missing (though materialized) or damaged is a ``StoreError`` naming the file and
    the command that writes it again (``docs/damaged-state.md``), never an empty frame."""

    home: str = Field(default="", description=HOME_DOC + " Unused when base_dir is set.")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        super().setup_for_execution(context)
        if self.base_dir is None:
            self._base_path = UPath(storage(self.home))

    def write_df_to_path(self, context: dg.OutputContext, df: pl.DataFrame, path: UPath) -> None:
        if path.protocol not in ("", "file", "local"):
            super().write_df_to_path(context, df, path)
            return
        local = self._confined(Path(path.path))
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(local.name + ".tmp")
        super().write_df_to_path(context, df, UPath(str(tmp)))
        os.replace(tmp, local)
        crashpoint(f"{context.asset_key.to_user_string()}_after_write")

    def get_metadata(
        self, context: dg.OutputContext, obj: pl.DataFrame | pl.LazyFrame | None
    ) -> dict[str, dg.MetadataValue]:
        # The schema and the row count only: dagster-polars' default also computes per-column
        # statistics and a sample, which cost more than many of our assets.
        if not isinstance(obj, pl.DataFrame):
            return {}
        return {
            "dagster/row_count": dg.MetadataValue.int(obj.height),
            "dagster/column_schema": dg.TableSchemaMetadataValue(
                dg.TableSchema(columns=[dg.TableColumn(n, str(t)) for n, t in obj.schema.items()])
            ),
        }

    def _confined(self, local: Path) -> Path:
        root = Path(self._base_path.path)
        return confined(root, os.path.relpath(local, root))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        key = Path(path.path).stem if context.has_asset_partitions else None
        recovery = rematerialize(_asset(context), key)
        if path.protocol not in ("", "file", "local"):
            return super().load_from_path(context, path)
        local = self._confined(Path(path.path))
        optional = type(None) in typing.get_args(context.dagster_type.typing_type)
        if not optional and not local.exists():
            raise StoreError(str(local), "missing", recovery)
        with parquet_errors(local, recovery):
            return super().load_from_path(context, path)

    def load_partitions(self, context: dg.InputContext) -> Any:
        if (context.definition_metadata or {}).get(ALL_PARTITIONS):
            base = self._base_path / self.get_asset_relative_path(context)
            keys = context.asset_partition_keys
            done = _materialized(context, keys)
            paths: dict[str, Path] = {}
            for k in keys:
                try:
                    paths[k] = self._confined(
                        Path(f"{self.make_safe_partition_path(base, k)}{self.extension}")
                    )
                except UnsafePathError:
                    if k in done:
                        raise
                    # A key someone typed (its runs fail before writing): it holds nothing.
            return BatchFrames(paths, done, _asset(context))
        return super().load_partitions(context)

    def load_input(self, context: dg.InputContext) -> Any:
        meta = context.definition_metadata or {}
        if meta.get(ALL_PARTITIONS) and not (
            context.has_asset_partitions and context.asset_partition_keys
        ):
            return BatchFrames({})  # no partition exists yet: an empty mapping, not None
        if meta.get(OPTIONAL) and not context.has_asset_partitions:
            path = self._base_path / self.get_asset_relative_path(context)
            if not path.with_name(path.name + (self.extension or "")).exists():
                return None
        return super().load_input(context)


class PickleIOManager(dg.ConfigurableIOManagerFactory):
    """Every other asset value (models' descriptors, reports, curated sets) pickled under the
    home's storage/."""

    home: str = Field(description=HOME_DOC)

    def create_io_manager(self, context: dg.InitResourceContext) -> dg.IOManager:
        return dg.FilesystemIOManager(base_dir=storage(self.home)).create_io_manager(context)


def resources_for(home: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The resources every definitions set shares, all below working directory ``home`` (a
    path, or a ``dg.EnvVar``), plus ``extra`` (settings, OCR engine, Label Studio)."""
    return {
        "home": DocassetHome(root=home),
        "registry": ModelRegistry(home=home),
        "memory": MemoryStore(home=home),
        "vendor_registry_store": VendorRegistryStore(home=home),
        "io_manager": PickleIOManager(home=home),
        "frames_io": FramesIOManager(home=home),
        **extra,
    }
