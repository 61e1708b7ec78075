"""Resources: the working directory, the model registry, the correction memory and the IO
managers (the settings are in ``settings.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field
from upath import UPath

from docasset.core.training.registry import Registry
from docasset.core.validation.memory import CorrectionMemory
from docasset.core.workdir import Workdir

DEFAULT_HOME = os.environ.get("DOCASSET_HOME", str(Path.cwd() / ".docasset" / "work"))


class DocassetHome(dg.ConfigurableResource):
    """Where one deployment keeps its files: inbox, archive, corrections, models, reports."""

    root: str = Field(default=DEFAULT_HOME, description="Working directory (env DOCASSET_HOME).")

    def workdir(self) -> Workdir:
        return Workdir(Path(self.root))


class ModelRegistry(dg.ConfigurableResource):
    """The model registry: versions with their training provenance, and the aliases
    (``production``, ``candidate``) that training, evaluation, prediction and the retraining
    sensor read and move."""

    root: str = Field(description="Registry directory (the work dir's models/).")

    def store(self) -> Registry:
        return Registry(Path(self.root))


class MemoryStore(dg.ConfigurableResource):
    """The correction memory (vendor history): the corrections asset teaches it, predictions
    recall from it."""

    root: str = Field(description="Memory directory (the work dir's memory/).")

    def store(self) -> CorrectionMemory:
        return CorrectionMemory(Path(self.root))


ALL_PARTITIONS = "docasset/all_partitions"


class _PolarsParquet(dg.UPathIOManager):
    extension: str = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: pl.DataFrame, path: UPath) -> None:
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(
                f"{context.asset_key}: the parquet IO manager stores polars frames, got {type(obj)}"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        obj.write_parquet(str(tmp))
        os.replace(str(tmp), str(path))

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pl.DataFrame:
        return pl.read_parquet(str(path))

    def load_partitions(self, context: dg.InputContext):
        # Inputs mapped to all partitions always get a {partition: frame} dict, even when only
        # one partition exists yet (Dagster's default would hand over the bare frame then).
        out = super().load_partitions(context)
        if (context.definition_metadata or {}).get(ALL_PARTITIONS) and isinstance(
            out, pl.DataFrame
        ):
            return {context.asset_partition_keys[0]: out}
        return out

    def load_input(self, context: dg.InputContext):
        out = super().load_input(context)
        if out is None and (context.definition_metadata or {}).get(ALL_PARTITIONS):
            return {}  # no partition exists yet: an empty mapping, not None
        return out


class PolarsParquetIOManager(dg.ConfigurableIOManagerFactory):
    """Stores polars frames as Parquet under ``base_dir/<asset>/<partition>.parquet``."""

    base_dir: str = Field(description="Directory of the stored frames.")

    def create_io_manager(self, context: dg.InitResourceContext) -> _PolarsParquet:
        return _PolarsParquet(base_path=UPath(self.base_dir))
