"""No-download default backends: PyMuPDF layout and tables, RapidOCR text.

Everything here runs on the CPU from weights that ship inside the installed packages
(`pymupdf.layout`'s ONNX model, RapidOCR's PP-OCR models), so a fresh install works
offline. The registry calls `devices_for` and `load`; nothing loads at import time.

Options read from `ModelSpec.options`:
- `threads`: onnxruntime intra-op threads for RapidOCR (default: onnxruntime decides);
- `min_px_per_pt`: crops below this resolution are upscaled before OCR (default 2.0);
- `max_path_items` (tables): vector drawing items a page may have before its table
  regions fail fast instead of stalling the run (default 20000).
"""

from __future__ import annotations

import logging
from typing import cast

from pdf_assets.backends.devices import validate_device
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ConfigError
from pdf_assets.core.model import BatchModel

logger = logging.getLogger(__name__)

AnyModel = BatchModel[object, object, object, object]


def devices_for(spec: ModelSpec) -> list[str]:
    """Always one CPU replica: none of these models has a GPU path worth taking."""
    validate_device(spec.device)
    if spec.device not in ("auto", "cpu"):
        logger.info("embedded %s backend runs on the CPU; ignoring device %r", spec.stage, spec.device)
    return ["cpu"]


#: `threads`: onnxruntime threads per engine; `min_px_per_pt`: crops below this scale are upscaled;
#: `max_path_items`: the tables stage's cap on a page's vector drawing items
OPTIONS = ("threads", "min_px_per_pt", "max_path_items")


def _threads(spec: ModelSpec) -> int | None:
    value = spec.int_option("threads", 0)
    if value < 0:
        raise ConfigError(f"option threads of the {spec.stage} stage must be >= 0")
    return value or None


def load(spec: ModelSpec, device: str) -> AnyModel:
    """Build the stage's model; imports are local so unused engines never load."""
    if device != "cpu":
        raise ConfigError(f"embedded backends run on the CPU only, not {device!r}")
    spec.reject_unknown_options(OPTIONS)
    min_px = spec.float_option("min_px_per_pt", 2.0)
    if spec.stage == "layout":
        from pdf_assets.backends.embedded.layout import EmbeddedLayoutModel
        from pdf_assets.backends.embedded.ocr import make_engine

        model: object = EmbeddedLayoutModel(make_engine(_threads(spec)))
    elif spec.stage == "ocr":
        from pdf_assets.backends.embedded.ocr import RapidOcrModel, make_engine

        model = RapidOcrModel(make_engine(_threads(spec)), min_px_per_pt=min_px)
    elif spec.stage == "tables":
        from pdf_assets.backends.embedded.tables import DEFAULT_MAX_PATH_ITEMS, EmbeddedTableModel

        max_items = spec.int_option("max_path_items", DEFAULT_MAX_PATH_ITEMS)
        if max_items < 1:
            raise ConfigError("option max_path_items of the tables stage must be >= 1")
        model = EmbeddedTableModel(threads=_threads(spec), min_px_per_pt=min_px, max_path_items=max_items)
    elif spec.stage == "figures":
        from pdf_assets.backends.embedded.figures import NoChartModel

        model = NoChartModel()
    else:
        raise ConfigError(f"the embedded backend has no model for stage {spec.stage!r}")
    return cast(AnyModel, model)
