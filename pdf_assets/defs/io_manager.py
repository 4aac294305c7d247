"""An IO manager that stores one value per (asset, partition), written atomically.

Dagster's built-in file IO managers refuse outputs that cover several partitions; every
asset here runs over a whole partition range at once and returns `{partition_key: value}`.
Values are small manifests (references, boxes, text): images live in the page store.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, OutputContext

from pdf_assets.core.config import default_data_dir
from pdf_assets.core.folders import check_key


class PartitionedValueIOManager(ConfigurableIOManager):
    """Pickles `{partition_key: value}` outputs to `<base_dir>/<asset>/<partition>.pkl`."""

    base_dir: str | None = None  # default: <PDF_ASSETS_DATA_DIR>/values

    def _root(self) -> Path:
        return Path(self.base_dir) if self.base_dir else default_data_dir() / "values"

    def _path(self, asset_path: Sequence[str], partition: str) -> Path:
        return self._root().joinpath(*asset_path) / f"{check_key(partition)}.pkl"  # a key never walks out

    def handle_output(self, context: OutputContext, obj: dict[str, object]) -> None:
        if not isinstance(obj, dict):
            raise TypeError(f"{context.asset_key.to_user_string()} must return {{partition_key: value}}")
        expected = set(context.asset_partition_keys)
        missing = expected - set(obj)
        if missing:
            raise ValueError(f"{context.asset_key.to_user_string()} returned no value for {sorted(missing)}")
        for key in sorted(expected):
            self._write(self._path(context.asset_key.path, key), obj[key])

    def load_input(self, context: InputContext) -> dict[str, object]:
        asset_path = context.asset_key.path
        values: dict[str, object] = {}
        for key in context.asset_partition_keys:
            path = self._path(asset_path, key)
            if not path.exists():
                raise FileNotFoundError(
                    f"no stored value for {context.asset_key.to_user_string()} partition {key!r}: materialize it first"
                )
            with path.open("rb") as fh:
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
