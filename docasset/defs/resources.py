"""Resources: the working directory, the model registry, the correction memory and the IO
managers (the settings are in ``settings.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field
from upath import UPath

from docasset.core.batches import BatchFrames
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
# Input metadata: an unpartitioned input that may not exist yet loads as None (absent, not
# empty: the consumer says what it cannot assess).
OPTIONAL = "docasset/optional"


class _PolarsParquet(dg.UPathIOManager):
    extension: str = ".parquet"

    def __init__(self, root: UPath) -> None:
        super().__init__(base_path=root)
        self.root = root

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
        # Inputs mapped to every batch get a lazy {batch: frame} mapping (BatchFrames): the
        # asset reads only the batches it needs, so its cost does not grow with the history.
        if (context.definition_metadata or {}).get(ALL_PARTITIONS):
            base = self.root / self.get_asset_relative_path(context)
            keys = context.asset_partition_keys
            return BatchFrames(
                {k: Path(f"{self.make_safe_partition_path(base, k)}{self.extension}") for k in keys}
            )
        return super().load_partitions(context)

    def load_input(self, context: dg.InputContext):
        if (context.definition_metadata or {}).get(ALL_PARTITIONS) and not (
            context.has_asset_partitions and context.asset_partition_keys
        ):
            return BatchFrames({})  # no partition exists yet: an empty mapping, not None
        if (context.definition_metadata or {}).get(OPTIONAL) and not context.has_asset_partitions:
            path = self.root / self.get_asset_relative_path(context)
            if not self.path_exists(path.with_name(path.name + self.extension)):
                return None
        return super().load_input(context)


class PolarsParquetIOManager(dg.ConfigurableIOManagerFactory):
    """Stores polars frames as Parquet under ``base_dir/<asset>/<partition>.parquet``."""

    base_dir: str = Field(description="Directory of the stored frames.")

    def create_io_manager(self, context: dg.InitResourceContext) -> _PolarsParquet:
        return _PolarsParquet(UPath(self.base_dir))
