"""OCR with TrOCR (`VisionEncoderDecoderModel`): text crops -> `OcrText`.

TrOCR reads one text line per image, but the batch runner's items are crops (paragraphs,
titles, captions). `preprocess` therefore splits every crop of a batch into lines (the
projection profile, see `lines.py`) and the whole
batch's lines go through one padded `generate` call; `postprocess` joins each crop's lines
back with newlines. `cost` estimates the line count so a batch holds crops of similar size
and the line batch stays close to the runner's intent.

Confidence is the mean over a crop's lines of exp(mean token log-probability), which is the
per-token geometric-mean probability: comparable across lines of different length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from transformers import AutoProcessor, PreTrainedModel, ProcessorMixin, VisionEncoderDecoderModel

from pdf_assets.backends.hf.detection import open_rgb
from pdf_assets.backends.hf.lines import line_images
from pdf_assets.backends.hf.loading import is_fast_processor, pretrained
from pdf_assets.backends.hf.staging import adopt, side_stream, to_device
from pdf_assets.backends.torch_base import TorchBatchModel, torch_dtype
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.types import Crop, OcrText

# A printed line is about this tall in points (10-11 pt type with leading); used for `cost` only.
LINE_HEIGHT_PT = 14.0


@dataclass(frozen=True)
class Generation:
    """Decoding settings; fixing min = max makes timings independent of the text read."""

    max_new_tokens: int = 64
    min_new_tokens: int = 0
    num_beams: int = 1


@dataclass
class LineBatch:
    pixel_values: torch.Tensor | None  # None when no crop of the batch has a line
    counts: list[int]  # lines per crop, in item order
    ready: torch.cuda.Event | None = None  # set when prepared on the upload stream


@dataclass
class LineRaw:
    sequences: torch.Tensor | None
    token_logprobs: torch.Tensor | None
    counts: list[int]


class TrOcrModel(TorchBatchModel[Crop, LineBatch, LineRaw, OcrText]):
    """Crops -> text, all lines of a batch decoded together."""

    name = "hf.trocr"

    def __init__(self, model: PreTrainedModel, processor: ProcessorMixin, device: str, generation: Generation) -> None:
        # PreTrainedModel.to is wrapped by functools.wraps, whose stub loses the bound self.
        self.model = model.to(device).eval()  # type: ignore[arg-type]
        self.processor = processor
        self.device = device
        self.dtype = next(model.parameters()).dtype
        self.generation = generation
        self.pad_token_id = model.generation_config.pad_token_id
        # Resizing hundreds of differently sized lines is the CPU's bottleneck: with a fast
        # processor on a GPU it runs there, on the upload stream (see staging.py).
        self.upload = side_stream(device, is_fast_processor(getattr(processor, "image_processor", None)))

    def cost(self, item: Crop) -> float:
        return max(1.0, item.height_px / (LINE_HEIGHT_PT * max(item.px_per_pt, 1e-6)))

    def preprocess(self, items: Sequence[Crop]) -> LineBatch:
        lines: list[Image.Image] = []
        counts: list[int] = []
        for crop in items:
            crop_lines = line_images(open_rgb(crop.image_path))
            lines.extend(crop_lines)
            counts.append(len(crop_lines))
        if not lines:
            return LineBatch(None, counts)
        if self.upload is not None:
            return self._upload_ahead(lines, counts)
        pixel_values = self.processor(images=lines, return_tensors="pt").pixel_values
        if self.device.startswith("cuda"):
            pixel_values = pixel_values.pin_memory()
        return LineBatch(pixel_values, counts)

    def _upload_ahead(self, lines: list[Image.Image], counts: list[int]) -> LineBatch:
        arrays = [np.asarray(line) for line in lines]

        def prepare() -> torch.Tensor:
            images = to_device(arrays, self.device)
            encoded = self.processor(images=images, device=self.device, return_tensors="pt")
            return encoded.pixel_values.to(dtype=self.dtype)

        assert self.upload is not None
        pixel_values, ready = self.upload.run(prepare)
        return LineBatch(pixel_values, counts, ready)

    def forward(self, batch: LineBatch) -> LineRaw:
        if batch.pixel_values is None:
            return LineRaw(None, None, batch.counts)
        adopt(self.device, batch.ready, (batch.pixel_values,))
        pixel_values = batch.pixel_values.to(self.device, dtype=self.dtype, non_blocking=True)
        with torch.inference_mode():
            out = self.model.generate(
                pixel_values=pixel_values,
                max_new_tokens=self.generation.max_new_tokens,
                min_new_tokens=self.generation.min_new_tokens,
                use_cache=True,
                num_beams=self.generation.num_beams,
                output_scores=True,
                return_dict_in_generate=True,
            )
            scores = self.model.compute_transition_scores(
                out.sequences, out.scores, getattr(out, "beam_indices", None), normalize_logits=True
            )
        return LineRaw(out.sequences.cpu(), scores.float().cpu(), batch.counts)

    def _line_confidences(self, raw: LineRaw) -> list[float]:
        assert raw.sequences is not None and raw.token_logprobs is not None
        # The first position is the decoder start token, which has no score.
        generated = raw.sequences[:, -raw.token_logprobs.shape[1] :]
        valid = torch.isfinite(raw.token_logprobs)
        if self.pad_token_id is not None:
            valid &= generated != self.pad_token_id
        logprobs = torch.where(valid, raw.token_logprobs, torch.zeros_like(raw.token_logprobs))
        mean = logprobs.sum(dim=1) / valid.sum(dim=1).clamp(min=1)
        return [float(v) if n else 0.0 for v, n in zip(mean.exp().tolist(), valid.sum(dim=1).tolist(), strict=True)]

    def postprocess(self, raw: LineRaw, items: Sequence[Crop]) -> list[OcrText]:
        if raw.sequences is None:
            return [OcrText("", 0.0) for _ in items]
        texts = [t.strip() for t in self.processor.batch_decode(raw.sequences, skip_special_tokens=True)]
        confidences = self._line_confidences(raw)
        out: list[OcrText] = []
        start = 0
        for count in raw.counts:
            lines, conf = texts[start : start + count], confidences[start : start + count]
            start += count
            out.append(OcrText("\n".join(lines), sum(conf) / len(conf) if conf else 0.0))
        return out


def load_trocr(spec: ModelSpec, device: str) -> TrOcrModel:
    model = pretrained(
        VisionEncoderDecoderModel.from_pretrained, spec, "weights", dtype=torch_dtype(spec.dtype, device)
    )
    processor = pretrained(AutoProcessor.from_pretrained, spec, "processor")
    generation = Generation(
        max_new_tokens=spec.int_option("max_new_tokens", 64),
        min_new_tokens=spec.int_option("min_new_tokens", 0),
        num_beams=spec.int_option("num_beams", 1),
    )
    return TrOcrModel(model, processor, device, generation)
