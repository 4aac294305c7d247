"""An IO manager that stores one value per (asset, run, partition), written atomically.

Dagster's built-in file IO managers refuse outputs that cover several partitions; every
asset here runs over a whole partition range at once and returns `{partition_key: value}`.
Values are small manifests (references, boxes, text): images live in the page store.

Values live under `<asset>/<run_id>/<partition>.pkl`: two runs over one partition never
read each other's half-finished values. An input is read from the run that produced it:
the current run, the parent run of a re-execution (Dagster tells the input's upstream run
id), or, for an upstream asset outside the run's selection, the run of the partition's
latest materialization in the instance. Values written before run scoping
(`<asset>/<partition>.pkl`) are the last fallback.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    ConfigurableIOManager,
    DagsterInstance,
    DagsterInvariantViolationError,
    InputContext,
    OutputContext,
)

from pdf_assets.core.config import default_data_dir
from pdf_assets.core.folders import check_key


class PartitionedValueIOManager(ConfigurableIOManager):
    """Pickles `{partition_key: value}` outputs to `<base_dir>/<asset>/<run_id>/<partition>.pkl`."""

    base_dir: str | None = None  # default: <PDF_ASSETS_DATA_DIR>/values

    def _root(self) -> Path:
        return Path(self.base_dir) if self.base_dir else default_data_dir() / "values"

    def _path(self, asset_path: Sequence[str], partition: str, run_id: str | None) -> Path:
        folder = self._root().joinpath(*asset_path)
        if run_id is not None:
            if Path(run_id).name != run_id or run_id in {".", ".."}:
                raise ValueError(f"not a run id: {run_id!r}")
            folder = folder / run_id
        return folder / f"{check_key(partition)}.pkl"  # a key never walks out

    def handle_output(self, context: OutputContext, obj: dict[str, object]) -> None:
        if not isinstance(obj, dict):
            raise TypeError(f"{context.asset_key.to_user_string()} must return {{partition_key: value}}")
        expected = set(context.asset_partition_keys)
        missing = expected - set(obj)
        if missing:
            raise ValueError(f"{context.asset_key.to_user_string()} returned no value for {sorted(missing)}")
        for key in sorted(expected):
            self._write(self._path(context.asset_key.path, key, context.run_id), obj[key])

    def load_input(self, context: InputContext) -> dict[str, object]:
        upstream_run = _upstream_run_id(context)
        values: dict[str, object] = {}
        for key in context.asset_partition_keys:
            path = self._find(context, key, upstream_run)
            with path.open("rb") as fh:
                values[key] = pickle.load(fh)
        return values

    def _find(self, context: InputContext, key: str, upstream_run: str | None) -> Path:
        """The value of the run that produced it (see the module docstring for the order)."""
        candidates: list[str | None] = [upstream_run] if upstream_run else []
        try:
            instance: DagsterInstance | None = context.instance
        except DagsterInvariantViolationError:  # a context built without an instance
            instance = None
        return self._first(context.asset_key, key, [*candidates, _materialized_by(instance, context.asset_key, key)])

    def _first(self, asset_key: AssetKey, key: str, candidates: Sequence[str | None]) -> Path:
        tried = []
        for run_id in dict.fromkeys([*candidates, None]):  # in order, without repeats
            path = self._path(asset_key.path, key, run_id)
            if path.exists():
                return path
            tried.append(str(path))
        raise FileNotFoundError(
            f"no stored value for {asset_key.to_user_string()} partition {key!r} "
            f"(looked at {', '.join(tried)}): materialize it first"
        )

    def load_latest(self, instance: DagsterInstance, asset_key: AssetKey, keys: Sequence[str]) -> dict[str, object]:
        """Each partition's value from its latest materialization: what a step that produces
        this asset in other runs reads when a subset run leaves it out (`defs.assets`)."""
        values: dict[str, object] = {}
        for key in keys:
            with self._first(asset_key, key, [_materialized_by(instance, asset_key, key)]).open("rb") as fh:
                values[key] = pickle.load(fh)
        return values

    @staticmethod
    def _write(path: Path, value: object) -> None:
        """Write to a temp file in the same folder, then rename: readers never see half a value."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _upstream_run_id(context: InputContext) -> str | None:
    """The run whose step produced this input (this run, or a re-execution's parent), if any."""
    upstream = context.upstream_output
    if upstream is None:
        return None
    try:
        return upstream.run_id
    except DagsterInvariantViolationError:  # the upstream is not a step of any run
        return None


def _materialized_by(instance: DagsterInstance | None, asset_key: AssetKey, key: str) -> str | None:
    """The run of the partition's latest materialization (an upstream outside the selection)."""
    if instance is None:
        return None
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=1
    ).records
    return records[0].run_id if records else None
