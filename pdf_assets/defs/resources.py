"""The one resource every model stage runs through.

It maps Dagster config onto the inference core's typed settings (backend, weights,
device, dtype, batch size per stage). Models are loaded lazily on first use and cached
per process, so with the in-process executor every stage of a run shares them.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import Config, ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field

from pdf_assets.backends.devices import validate_device
from pdf_assets.backends.registry import check_specs
from pdf_assets.core.config import BatchPolicy, ModelSpec, database_url_for, default_data_dir, default_inbox
from pdf_assets.core.errors import ConfigError
from pdf_assets.core.folders import folder_for_key
from pdf_assets.core.pdf import set_passwords
from pdf_assets.defs.partitions import check_bindings, recorded_folders
from pdf_assets.stages.engine import DEFAULT_BATCH, InferenceEngine
from pdf_assets.stages.render import DEFAULT_MAX_PAGE_PIXELS, DEFAULT_RENDER_TIMEOUT_S, RenderSettings

ENV_DB_URL = "PDF_ASSETS_DB_URL"
ENV_BACKEND = "PDF_ASSETS_BACKEND"
ENV_DEVICE = "PDF_ASSETS_DEVICE"


def default_backend() -> str:
    """Every stage's backend unless set otherwise: `PDF_ASSETS_BACKEND`, else `embedded`."""
    return os.environ.get(ENV_BACKEND) or "embedded"


def default_device() -> str:
    """Every stage's device unless set otherwise: `PDF_ASSETS_DEVICE`, else `auto`."""
    return os.environ.get(ENV_DEVICE) or "auto"


class StageConfig(Config):
    """Settings of one model stage."""

    backend: str = Field(default="embedded", description="embedded (no downloads) | hf | fake")
    model: str | None = Field(default=None, description="hub id or local folder (hf backend)")
    revision: str | None = Field(default=None, description="pinned revision of a hub model")
    device: str = Field(default="auto", description="auto | cpu | cuda | cuda:N | cuda:all")
    dtype: str = Field(default="auto", description="auto | fp32 | fp16 | bf16")
    batch_size: int | None = Field(default=None, description="items per batch (stage default if unset)")
    local_files_only: bool = Field(default=True, description="never reach a model hub at run time")
    max_memory_gib: float | None = Field(default=None, description="device memory budget for the stage")
    max_memory_fraction: float | None = Field(default=None, description="or as a fraction of device memory")
    prefetch: int = Field(default=2, description="batches prepared ahead while the device works")
    min_batch_size: int = Field(default=1, description="never halve an out-of-memory batch below this")
    grow_after: int = Field(default=4, description="clean batches after an out-of-memory halving before growing")
    sort_by_cost: bool = Field(default=True, description="batch items of similar size (less padding)")
    options: dict[str, str] = Field(default_factory=dict, description="backend-specific options")

    def to_spec(self, stage: str) -> ModelSpec:
        return ModelSpec(
            stage=stage,
            backend=self.backend,
            model=self.model,
            revision=self.revision,
            device=validate_device(self.device),
            dtype=self.dtype,
            local_files_only=self.local_files_only,
            options=tuple(sorted(self.options.items())),
        )

    def to_policy(self, stage: str) -> BatchPolicy:
        return BatchPolicy(
            batch_size=self.batch_size or DEFAULT_BATCH[stage],
            prefetch=self.prefetch,
            min_batch_size=self.min_batch_size,
            grow_after=self.grow_after,
            sort_by_cost=self.sort_by_cost,
            max_memory_gib=self.max_memory_gib,
            max_memory_fraction=self.max_memory_fraction,
        )


class PdfAssetsResource(ConfigurableResource):
    """Where data lives and how each model stage runs (backend, device, batch size)."""

    data_dir: str | None = Field(default=None, description="page store, crops, values (env PDF_ASSETS_DATA_DIR)")
    inbox: str | None = Field(default=None, description="folder of PDF folders (env PDF_ASSETS_INBOX)")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL (env PDF_ASSETS_DB_URL; SQLite default)")
    folder_paths: dict[str, str] = Field(
        default_factory=dict, description="partition key -> folder, for folders outside the inbox (CLI `run`)"
    )
    render_dpi: int = Field(default=144, description="page image resolution")
    render_workers: int | None = Field(default=None, description="render processes (default: CPU count)")
    render_max_pixels: int = Field(
        default=DEFAULT_MAX_PAGE_PIXELS,
        description="pages larger than this many pixels at render_dpi are rendered smaller (0: no cap)",
    )
    render_timeout_s: float = Field(
        default=DEFAULT_RENDER_TIMEOUT_S,
        description="seconds one PDF may take to render before it becomes an error document (0: no limit)",
    )
    passwords: list[str] = Field(
        default_factory=list,
        description="passwords tried on encrypted PDFs after the empty one (also env PDF_ASSETS_PASSWORDS, one a line)",
    )
    stream_layout: bool = Field(
        default=True,
        description="run layout on rendered pages while later PDFs still render (same outputs, less wall time)",
    )
    sensor_settle_s: float = Field(
        default=30.0, description="a folder is picked up only when none of its files changed for this long"
    )
    max_failed_share: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="a model stage with a larger share of failed items fails its blocking check",
    )
    layout: StageConfig = Field(default_factory=StageConfig)
    ocr: StageConfig = Field(default_factory=StageConfig)
    tables: StageConfig = Field(default_factory=StageConfig)
    figures: StageConfig = Field(default_factory=StageConfig)

    @classmethod
    def from_env(cls) -> PdfAssetsResource:
        """Defaults for the code location: `PDF_ASSETS_BACKEND` / `PDF_ASSETS_DEVICE` pick every
        stage's backend and device (embedded / auto unless set); paths come from their own
        variables when the resource resolves them."""
        stage = StageConfig(backend=default_backend(), device=default_device())
        settle = float(os.environ.get("PDF_ASSETS_SENSOR_SETTLE_S", "30"))
        # The database URL may hold a password: given as an EnvVar, the UI shows the variable's
        # name, never its value, and the value is read when a run starts.
        db_url = EnvVar(ENV_DB_URL) if os.environ.get(ENV_DB_URL) else None
        return cls(layout=stage, ocr=stage, tables=stage, figures=stage, sensor_settle_s=settle, db_url=db_url)

    def data_path(self) -> Path:
        return Path(self.data_dir).resolve() if self.data_dir else default_data_dir()

    def inbox_path(self) -> Path:
        return Path(self.inbox).resolve() if self.inbox else default_inbox()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Every PDF opened in this run (render, text layer, tables, chart gate, their worker
        processes) tries the configured passwords; and every stage's settings are checked
        before the first step (a device this machine lacks would otherwise fail only its own
        stage, after rendering and layout had run)."""
        set_passwords(self.passwords)
        problems = check_specs(config.to_spec(stage) for stage, config in self.stage_configs().items())
        if problems:
            raise ConfigError("stage settings that cannot work here: " + "; ".join(problems))

    def folder_path(self, key: str) -> Path:
        """The folder behind a partition: an explicit mapping first, else the inbox (refusing
        a key that is not a key, or whose folder lies outside the inbox), else the folder the
        database recorded for the key (a folder outside the inbox, registered by the CLI)."""
        if key in self.folder_paths:
            return Path(self.folder_paths[key]).resolve()
        folder = folder_for_key(self.inbox_path(), key)
        recorded = recorded_folders(self.database_url()).get(key)
        if recorded is None:
            return folder
        if folder.is_dir():
            check_bindings({key: folder}, {key: recorded})
            return folder
        return Path(recorded)

    def render_settings(self) -> RenderSettings:
        """The render stage's settings: resolution, processes, size cap, limits and secrets."""
        return RenderSettings(
            self.render_dpi,
            self.render_workers,
            self.render_max_pixels,
            self.render_timeout_s,
            tuple(self.passwords),
            (self.inbox_path(),),
        )

    def database_url(self) -> str:
        """`db_url`, else `PDF_ASSETS_DB_URL`, else SQLite in this resource's data folder."""
        return database_url_for(self.db_url, self.data_dir)

    def stage_configs(self) -> dict[str, StageConfig]:
        return {"layout": self.layout, "ocr": self.ocr, "tables": self.tables, "figures": self.figures}

    def engine(self) -> InferenceEngine:
        """An engine over the process-wide model cache (cheap: nothing loads until a stage runs)."""
        configs = self.stage_configs()
        return InferenceEngine(
            specs={s: c.to_spec(s) for s, c in configs.items()},
            policies={s: c.to_policy(s) for s, c in configs.items()},
        )
