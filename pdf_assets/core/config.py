"""Typed settings: which weights, which runtime, which device, how big a batch.

These are plain frozen dataclasses so the inference core can be configured without
Dagster (CLI, benchmarks, GPU machine); the Dagster resource maps its fields onto them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pdf_assets.core.errors import ConfigError

BACKENDS = ("embedded", "hf", "fake")
STAGES = ("layout", "ocr", "tables", "figures")
DTYPES = ("auto", "fp32", "fp16", "bf16")
# Options a stage reads itself, whatever its backend: every backend family accepts them
# (`reject_unknown_options`) and none reads them. figures `charts_only` (default true): only
# figures the chart gate calls charts go to the chart model.
STAGE_OPTIONS: dict[str, tuple[str, ...]] = {"figures": ("charts_only",)}

N = TypeVar("N", int, float)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class BatchPolicy:
    """How the runner batches one stage."""

    batch_size: int = 8
    min_batch_size: int = 1
    grow_after: int = 4  # clean batches after an OOM before the batch grows again
    prefetch: int = 2  # batches preprocessed ahead on CPU threads while the device works
    sort_by_cost: bool = True
    max_memory_gib: float | None = None  # optional device memory budget for the stage
    max_memory_fraction: float | None = None  # or as a fraction of the device's memory

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.min_batch_size < 1:
            raise ConfigError("batch sizes must be >= 1")
        if self.prefetch < 0:
            raise ConfigError("prefetch must be >= 0")
        if self.min_batch_size > self.batch_size:
            raise ConfigError("min_batch_size must not exceed batch_size")
        if self.max_memory_fraction is not None and not 0 < self.max_memory_fraction <= 1:
            raise ConfigError("max_memory_fraction must be in (0, 1]")


@dataclass(frozen=True)
class ModelSpec:
    """Which backend and weights a stage uses, and where it runs.

    `model` is a hub id or a local folder; hub ids should carry a pinned `revision`.
    `options` are backend-specific knobs as sorted (key, value) pairs so the spec stays
    hashable (it is the model cache's key).
    """

    stage: str
    backend: str = "embedded"
    model: str | None = None
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    local_files_only: bool = True
    options: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ConfigError(f"unknown stage {self.stage!r}; expected one of {STAGES}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r}; expected one of {BACKENDS}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; expected one of {DTYPES}")

    def option(self, key: str, default: str | None = None) -> str | None:
        return dict(self.options).get(key, default)

    def reject_unknown_options(self, known: Iterable[str]) -> None:
        """A misspelt option must fail loudly, not be silently ignored."""
        allowed = set(known) | set(STAGE_OPTIONS.get(self.stage, ()))
        unknown = sorted(set(dict(self.options)) - allowed)
        if unknown:
            raise ConfigError(
                f"unknown option(s) {unknown} for the {self.backend} {self.stage} stage; "
                f"expected some of {sorted(allowed)}"
            )

    def int_option(self, key: str, default: int) -> int:
        """An integer option, or a `ConfigError` naming the stage and backend."""
        value = self.optional_int(key)
        return default if value is None else value

    def optional_int(self, key: str) -> int | None:
        return self._number(key, int, "an integer")

    def float_option(self, key: str, default: float) -> float:
        value = self._number(key, float, "a number")
        return default if value is None else value

    def bool_option(self, key: str, default: bool) -> bool:
        """A yes/no option (true/false, yes/no, on/off, 1/0, any case), or a `ConfigError`."""
        value = self.option(key)
        if value is None:
            return default
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ConfigError(f"option {key}={value!r} of the {self.backend} {self.stage} stage is not true or false")

    def _number(self, key: str, kind: type[N], what: str) -> N | None:
        value = self.option(key)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError as exc:
            raise ConfigError(f"option {key}={value!r} of the {self.backend} {self.stage} stage is not {what}") from exc


def default_data_dir() -> Path:
    """Where page images, crops, the IO manager's values and the SQLite DB live."""
    return Path(os.environ.get("PDF_ASSETS_DATA_DIR", "data")).resolve()


def default_inbox() -> Path:
    return Path(os.environ.get("PDF_ASSETS_INBOX", "inbox")).resolve()


def default_db_url() -> str:
    """`PDF_ASSETS_DB_URL` or a SQLite file in the data folder."""
    return database_url_for(None, None)


def database_url_for(db_url: str | None, data_dir: str | Path | None) -> str:
    """An explicit URL, else `PDF_ASSETS_DB_URL`, else a SQLite file in `data_dir` (default: the
    data folder): moving the data folder moves the SQLite file along with pages and crops."""
    url = db_url or os.environ.get("PDF_ASSETS_DB_URL")
    if url:
        return url
    folder = Path(data_dir).resolve() if data_dir else default_data_dir()
    return f"sqlite:///{folder / 'pdf_assets.db'}"
