"""Which weights and how to load them: defaults, revisions, dtype, options, load errors.

Every `from_pretrained` of the hf family goes through `pretrained()` so that a missing
checkpoint always ends in the same `ModelLoadError` that names the model and says how to
provide it, whichever class failed (config, weights, processor, tokenizer).

Defaults (used when `ModelSpec.model` is None) are well-known public checkpoints. Their
revision defaults to "main", which moves: pin `revision` to a commit hash in production so
a re-run reads the same weights.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ModelLoadError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MODELS: Mapping[str, str] = {
    # A DETR (ResNet-50) fine-tuned on DocLayNet's 11 classes.
    "layout": "cmarkea/detr-layout-detection",
    "ocr": "microsoft/trocr-base-printed",
    "tables": "microsoft/table-transformer-structure-recognition-v1.1-all",
    "figures": "google/deplot",
}
DEFAULT_REVISION = "main"

# Spec options each stage understands; anything else is a typo and is rejected.
KNOWN_OPTIONS: Mapping[str, frozenset[str]] = {
    "layout": frozenset({"threshold", "nms_iou"}),
    "ocr": frozenset({"max_new_tokens", "min_new_tokens", "num_beams"}),
    "tables": frozenset({"threshold", "ocr"}),
    "figures": frozenset(
        {
            "max_new_tokens",
            "min_new_tokens",
            "max_patches",
            "prompt",
            "font_path",
            "classifier",
            "classifier_revision",
            "chart_labels",
        }
    ),
}


def model_source(spec: ModelSpec) -> tuple[str, str | None]:
    """(hub id or local folder, revision); a local folder has no revision.

    Anything spelled like a path (absolute, `./`, `../`, `~`) must be an existing folder: a
    mistyped folder would otherwise be looked up as a hub id and fail with a confusing error.
    """
    model = spec.model or DEFAULT_MODELS[spec.stage]
    folder = Path(model).expanduser()
    if folder.is_dir():
        return str(folder), None
    if folder.is_absolute() or model.startswith((".", "~")):
        raise ModelLoadError(f"hf {spec.stage} model folder {model!r} does not exist")
    if spec.revision is None:
        logger.warning("%s model %s has no pinned revision; using %r", spec.stage, model, DEFAULT_REVISION)
    return model, spec.revision or DEFAULT_REVISION


def check_options(spec: ModelSpec) -> None:
    spec.reject_unknown_options(KNOWN_OPTIONS[spec.stage])


def _how_to_provide(model: str, revision: str | None, local_files_only: bool) -> str:
    if revision is None:
        return f"Check that the folder {model!r} holds a checkpoint written by save_pretrained"
    hint = (
        f"Download it once with network access (e.g. `hf download {model} --revision {revision}`) "
        f"or point `model` at a local folder written by save_pretrained"
    )
    if local_files_only:
        hint += "; local_files_only is on, so only the local cache was searched"
    return hint


def pretrained(loader: Callable[..., T], spec: ModelSpec, what: str, **kwargs: object) -> T:
    """`loader(model, revision=..., local_files_only=..., **kwargs)` with one clear error.

    OSError covers a missing cache entry or folder (huggingface_hub's errors derive from
    it); ValueError an unrecognised or incomplete config; ImportError a checkpoint that needs
    an optional library (DETR checkpoints saved with a timm backbone need `timm`).
    """
    model, revision = model_source(spec)
    try:
        return loader(model, revision=revision, local_files_only=spec.local_files_only, **kwargs)
    except ImportError as exc:
        raise ModelLoadError(
            f"the {what} of hf {spec.stage} model {model!r} needs a library that is not installed: "
            f"{str(exc).strip().rstrip('.')}. "
            "DETR-family checkpoints saved with a timm backbone (Table Transformer, most DETR layout models) "
            "need `pip install timm`"
        ) from exc
    except (OSError, ValueError, KeyError) as exc:
        at = f" at revision {revision}" if revision else ""
        reason = str(exc).strip().rstrip(".")
        raise ModelLoadError(
            f"could not load the {what} of hf {spec.stage} model {model!r}{at}: {reason}. "
            + _how_to_provide(model, revision, spec.local_files_only)
        ) from exc


def image_processor_backend() -> str:
    """Prefer the fast torchvision image processors; fall back to PIL without torchvision."""
    return "torchvision" if importlib.util.find_spec("torchvision") is not None else "pil"


def is_fast_processor(processor: object) -> bool:
    """Whether the processor is torchvision-based (it then accepts `device=`); the base class
    moved between transformers 5 releases, so both homes are checked."""
    bases: list[type] = []
    try:
        from transformers.image_processing_backends import TorchvisionBackend

        bases.append(TorchvisionBackend)
    except ImportError:
        pass
    try:
        # Gone from newer releases; `unused-ignore` too, as older ones have it.
        from transformers.image_processing_utils_fast import (  # type: ignore[import-not-found, unused-ignore]
            BaseImageProcessorFast,
        )

        bases.append(BaseImageProcessorFast)
    except ImportError:
        pass
    return any(isinstance(processor, base) for base in bases)
