"""Charts -> data tables with DePlot (Pix2Struct), optionally behind an image classifier.

DePlot is a VQA-style Pix2Struct model: the prompt is drawn as a text header above the
figure and the model answers with a linearized table, parsed by
`core.chart_parse.parse_deplot`. transformers' own header rendering fetches a font from
the hub on every call and rejects the `font_bytes` argument, so the header is drawn here
(same geometry as the reference implementation) with `font_path`, else the Arial the hub
cache may already hold, else PyMuPDF's built-in Helvetica (metric-compatible with Arial).

With the `classifier` option (an image-classification checkpoint) only figures whose
predicted label is in `chart_labels` go through DePlot; the others come back as None.
Without it every figure is treated as a chart.
"""

from __future__ import annotations

import io
import logging
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from transformers import (
    AutoImageProcessor,
    AutoModelForImageClassification,
    AutoProcessor,
    BaseImageProcessor,
    Pix2StructForConditionalGeneration,
    PreTrainedModel,
    ProcessorMixin,
)

from pdf_assets.backends.hf.detection import open_rgb
from pdf_assets.backends.hf.loading import image_processor_backend, is_fast_processor, pretrained
from pdf_assets.backends.hf.staging import adopt, side_stream, to_device
from pdf_assets.backends.torch_base import TorchBatchModel, torch_dtype
from pdf_assets.core.chart_parse import parse_deplot
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ConfigError
from pdf_assets.core.model import pixel_cost
from pdf_assets.core.types import ChartData, Crop

logger = logging.getLogger(__name__)

DEFAULT_PROMPT = "Generate underlying data table of the figure below:"
DEFAULT_CHART_WORDS = ("chart", "plot", "graph")


def header_font_bytes(font_path: str | None) -> bytes:
    """The font for the prompt header: explicit path, cached hub Arial, or Helvetica."""
    if font_path:
        try:
            with open(font_path, "rb") as handle:
                return handle.read()
        except OSError as exc:
            raise ConfigError(f"figures option font_path={font_path!r} cannot be read: {exc}") from exc
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache("ybelkada/fonts", "Arial.TTF")
    if isinstance(cached, str):
        with open(cached, "rb") as handle:
            return handle.read()
    import pymupdf

    return bytes(pymupdf.Font("helv").buffer)


def render_header(image: Image.Image, header: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    """The prompt drawn above the image, both scaled to the wider of the two (Pix2Struct's layout)."""
    text = "\n".join(textwrap.TextWrapper(width=80).wrap(text=header))
    _, _, w, h = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    banner = Image.new("RGB", (math.ceil(w) + 10, math.ceil(h) + 10), "white")
    ImageDraw.Draw(banner).text((5, 5), text, fill="black", font=font)
    width = max(banner.width, image.width)
    height = int(image.height * width / image.width)
    banner_height = int(banner.height * width / banner.width)
    out = Image.new("RGB", (width, height + banner_height), "white")
    out.paste(banner.resize((width, banner_height)), (0, 0))
    out.paste(image.resize((width, height)), (0, banner_height))
    return out


@dataclass(frozen=True)
class ChartSettings:
    prompt: str = DEFAULT_PROMPT
    max_new_tokens: int = 512
    min_new_tokens: int = 0
    max_patches: int | None = None  # None: the processor's own setting


@dataclass
class ChartClassifier:
    """An image classifier and the label ids that count as charts."""

    model: PreTrainedModel
    processor: BaseImageProcessor
    chart_ids: frozenset[int]


@dataclass
class FigureBatch:
    flattened_patches: torch.Tensor
    attention_mask: torch.Tensor
    classifier_pixels: torch.Tensor | None
    ready: torch.cuda.Event | None = None  # set when the patches were made on the upload stream


@dataclass
class FigureRaw:
    sequences: torch.Tensor | None  # one row per selected figure
    selected: list[bool]


class DeplotModel(TorchBatchModel[Crop, FigureBatch, FigureRaw, ChartData | None]):
    """Figure crops -> `ChartData` (or None for figures the classifier says are not charts)."""

    name = "hf.deplot"

    def __init__(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        device: str,
        settings: ChartSettings,
        font: bytes,
        classifier: ChartClassifier | None = None,
    ) -> None:
        # PreTrainedModel.to is wrapped by functools.wraps, whose stub loses the bound self.
        self.model = model.to(device).eval()  # type: ignore[arg-type]
        self.processor = processor
        self.device = device
        self.dtype = next(model.parameters()).dtype
        self.settings = settings
        self.font = ImageFont.truetype(io.BytesIO(font), size=36, encoding="UTF-8")
        self.classifier = classifier
        if classifier is not None:
            classifier.model.to(device).eval()  # type: ignore[arg-type]  # as above
        # Patch extraction was a second of CPU per 32 charts: on a GPU it runs there (staging.py).
        self.upload = side_stream(device, is_fast_processor(getattr(processor, "image_processor", None)))

    def cost(self, item: Crop) -> float:
        return pixel_cost(item)

    def preprocess(self, items: Sequence[Crop]) -> FigureBatch:
        images = [open_rgb(crop.image_path) for crop in items]
        rendered = [render_header(im, self.settings.prompt, self.font) for im in images]
        pixels = None
        if self.classifier is not None:
            # Every figure is encoded for DePlot too: which ones are charts is only known on the device.
            pixels = self.classifier.processor(images=images, return_tensors="pt")["pixel_values"]
        if self.upload is not None:
            return self._upload_ahead(rendered, pixels)
        encoded = self._patches(rendered)
        batch = FigureBatch(encoded["flattened_patches"], encoded["attention_mask"], pixels)
        if self.device.startswith("cuda"):
            batch.flattened_patches = batch.flattened_patches.pin_memory()
            batch.attention_mask = batch.attention_mask.pin_memory()
        return batch

    def _patches(
        self, images: Sequence[Image.Image | torch.Tensor], device: str | None = None
    ) -> dict[str, torch.Tensor]:
        """The header is already drawn, so the image processor runs in its non-VQA mode."""
        kwargs: dict[str, object] = {"is_vqa": False}
        if device is not None:
            kwargs["device"] = device
        if self.settings.max_patches is not None:
            kwargs["max_patches"] = self.settings.max_patches
        encoded: dict[str, torch.Tensor] = self.processor.image_processor(images=images, return_tensors="pt", **kwargs)
        return encoded

    def _upload_ahead(self, rendered: list[Image.Image], pixels: torch.Tensor | None) -> FigureBatch:
        arrays = [np.asarray(image) for image in rendered]

        def prepare() -> FigureBatch:
            encoded = self._patches(to_device(arrays, self.device), device=self.device)
            return FigureBatch(encoded["flattened_patches"].to(self.dtype), encoded["attention_mask"], pixels)

        assert self.upload is not None
        batch, ready = self.upload.run(prepare)
        batch.ready = ready
        return batch

    def _select(self, batch: FigureBatch) -> list[bool]:
        if self.classifier is None or batch.classifier_pixels is None:
            return [True] * batch.flattened_patches.shape[0]
        clf = self.classifier.model
        pixels = batch.classifier_pixels.to(self.device, dtype=next(clf.parameters()).dtype)
        predicted = clf(pixel_values=pixels).logits.argmax(dim=-1).tolist()
        return [int(p) in self.classifier.chart_ids for p in predicted]

    def forward(self, batch: FigureBatch) -> FigureRaw:
        adopt(self.device, batch.ready, (batch.flattened_patches, batch.attention_mask))
        with torch.inference_mode():
            selected = self._select(batch)
            if not any(selected):
                return FigureRaw(None, selected)
            index = torch.tensor([i for i, s in enumerate(selected) if s])
            out = self.model.generate(
                flattened_patches=batch.flattened_patches[index].to(self.device, dtype=self.dtype),
                attention_mask=batch.attention_mask[index].to(self.device),
                max_new_tokens=self.settings.max_new_tokens,
                min_new_tokens=self.settings.min_new_tokens,
                use_cache=True,  # some Pix2Struct configs ship use_cache=False: decoding would be quadratic
            )
        return FigureRaw(out.cpu(), selected)

    def postprocess(self, raw: FigureRaw, items: Sequence[Crop]) -> list[ChartData | None]:
        decoded = (
            self.processor.batch_decode(raw.sequences, skip_special_tokens=True) if raw.sequences is not None else []
        )
        texts = iter(decoded)
        return [parse_deplot(next(texts)) if chosen else None for chosen in raw.selected]


def _load_classifier(spec: ModelSpec, device: str) -> ChartClassifier | None:
    name = spec.option("classifier")
    if not name:
        return None
    clf_spec = replace(spec, model=name, revision=spec.option("classifier_revision"), options=())
    model = pretrained(
        AutoModelForImageClassification.from_pretrained,
        clf_spec,
        "classifier weights",
        dtype=torch_dtype(spec.dtype, device),
    )
    processor = pretrained(
        AutoImageProcessor.from_pretrained, clf_spec, "classifier image processor", backend=image_processor_backend()
    )
    wanted = [w.strip().lower() for w in (spec.option("chart_labels") or "").split(",") if w.strip()]
    id2label = {int(i): str(n).lower() for i, n in model.config.id2label.items()}
    if wanted:
        chart_ids = frozenset(i for i, n in id2label.items() if n in wanted)
    else:
        chart_ids = frozenset(i for i, n in id2label.items() if any(w in n for w in DEFAULT_CHART_WORDS))
    if not chart_ids:
        logger.warning(
            "figure classifier %s has no label matching %s: no figure will be read as a chart",
            name,
            wanted or DEFAULT_CHART_WORDS,
        )
    return ChartClassifier(model, processor, chart_ids)


def load_deplot(spec: ModelSpec, device: str) -> DeplotModel:
    model = pretrained(
        Pix2StructForConditionalGeneration.from_pretrained, spec, "weights", dtype=torch_dtype(spec.dtype, device)
    )
    processor = pretrained(AutoProcessor.from_pretrained, spec, "processor")
    max_patches = spec.option("max_patches")
    settings = ChartSettings(
        prompt=spec.option("prompt") or DEFAULT_PROMPT,
        max_new_tokens=spec.int_option("max_new_tokens", 512),
        min_new_tokens=spec.int_option("min_new_tokens", 0),
        max_patches=spec.int_option("max_patches", 0) if max_patches else None,
    )
    return DeplotModel(
        model, processor, device, settings, header_font_bytes(spec.option("font_path")), _load_classifier(spec, device)
    )
