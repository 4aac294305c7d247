"""The transformers backend family: layout detection, TrOCR, Table Transformer, DePlot.

The registry imports this package only when a stage selects `backend="hf"`, and calls
`devices_for` then `load` once per device. Model modules (and with them torch and
transformers) are imported inside `load`, so importing the family is cheap.

| stage   | default checkpoint                                           | model class              |
|---------|--------------------------------------------------------------|--------------------------|
| layout  | cmarkea/detr-layout-detection (DETR, DocLayNet labels)       | `layout.HfLayoutModel`   |
| ocr     | microsoft/trocr-base-printed                                 | `trocr.TrOcrModel`       |
| tables  | microsoft/table-transformer-structure-recognition-v1.1-all   | `tatr.TatrModel`         |
| figures | google/deplot                                                | `deplot.DeplotModel`     |

Options per stage (`ModelSpec.options`, unknown keys are rejected):
- layout: `threshold` (0.5), `nms_iou` (0.5; 1 disables class-agnostic NMS)
- ocr: `max_new_tokens` (64), `min_new_tokens` (0), `num_beams` (1)
- tables: `threshold` (0.5), `ocr` (`rapidocr` | `none`) for pages without a text layer
- figures: `max_new_tokens` (512), `min_new_tokens` (0), `max_patches`, `prompt`, `font_path`,
  `classifier` (image-classification checkpoint), `classifier_revision`, `chart_labels`
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from pdf_assets.backends.devices import resolve_devices
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.model import BatchModel

AnyModel = BatchModel[object, object, object, object]

# stage -> (module, loader function); imported on demand so torch loads only when used.
_LOADERS: dict[str, tuple[str, str]] = {
    "layout": ("pdf_assets.backends.hf.layout", "load_layout"),
    "ocr": ("pdf_assets.backends.hf.trocr", "load_trocr"),
    "tables": ("pdf_assets.backends.hf.tatr", "load_tatr"),
    "figures": ("pdf_assets.backends.hf.deplot", "load_deplot"),
}


def devices_for(spec: ModelSpec) -> list[str]:
    """One replica per device of the spec (several only for `cuda:all`)."""
    return resolve_devices(spec.device)


def load(spec: ModelSpec, device: str) -> AnyModel:
    """Load the stage's model on `device`; raises `ModelLoadError` when weights are missing."""
    from pdf_assets.backends.hf.loading import check_options

    check_options(spec)
    module_name, function = _LOADERS[spec.stage]
    loader: Callable[[ModelSpec, str], AnyModel] = getattr(importlib.import_module(module_name), function)
    return loader(spec, device)
