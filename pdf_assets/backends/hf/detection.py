"""A transformers object detector bound to one device: shared by layout and Table Transformer.

Works with any `AutoModelForObjectDetection` checkpoint whose image processor offers
`post_process_object_detection` (DETR, Deformable DETR, Conditional DETR, RT-DETR v1/v2,
Table Transformer). Images are encoded on the CPU (`encode`), the forward pass moves only
the stacked tensors to the device (`detect`), and decoding happens on CPU float32 copies
(`decode`), so the three phases map one-to-one onto the batch runner's phases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForObjectDetection, BaseImageProcessor, PreTrainedModel

from pdf_assets.backends.hf.loading import image_processor_backend, pretrained
from pdf_assets.backends.torch_base import torch_dtype
from pdf_assets.core.config import ModelSpec


@dataclass
class DetectionBatch:
    pixel_values: torch.Tensor
    pixel_mask: torch.Tensor | None
    sizes: list[tuple[int, int]]  # (height, width) of each input image, for rescaling boxes


@dataclass
class DetectionRaw:
    """CPU float32 copies of the two heads; `post_process_object_detection` reads these names."""

    logits: torch.Tensor
    pred_boxes: torch.Tensor
    sizes: list[tuple[int, int]]


@dataclass(frozen=True)
class Detection:
    score: float
    label_id: int
    label: str  # the checkpoint's own label name
    box: tuple[float, float, float, float]  # pixels of the input image


class Detector:
    """Model + image processor on one device."""

    def __init__(self, model: PreTrainedModel, processor: BaseImageProcessor, device: str) -> None:
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device
        self.dtype = next(model.parameters()).dtype
        self.id2label = {int(k): str(v) for k, v in model.config.id2label.items()}

    def encode(self, images: Sequence[Image.Image]) -> DetectionBatch:
        """Resize, normalise and pad on the CPU; pinned on CUDA for non-blocking copies.

        DETR-style models predict boxes relative to the unpadded image, so padding a batch of
        different page sizes is safe; the runner's cost sort keeps the padding small anyway.
        """
        encoded = self.processor(images=list(images), return_tensors="pt")
        pixel_values = encoded["pixel_values"]
        pixel_mask = encoded.get("pixel_mask")
        if self.device.startswith("cuda"):
            pixel_values = pixel_values.pin_memory()
            pixel_mask = pixel_mask.pin_memory() if pixel_mask is not None else None
        return DetectionBatch(pixel_values, pixel_mask, [(im.height, im.width) for im in images])

    def detect(self, batch: DetectionBatch) -> DetectionRaw:
        inputs: dict[str, torch.Tensor] = {
            "pixel_values": batch.pixel_values.to(self.device, dtype=self.dtype, non_blocking=True)
        }
        if batch.pixel_mask is not None:
            inputs["pixel_mask"] = batch.pixel_mask.to(self.device, non_blocking=True)
        with torch.inference_mode():
            out = self.model(**inputs)
        return DetectionRaw(out.logits.float().cpu(), out.pred_boxes.float().cpu(), batch.sizes)

    def decode(self, raw: DetectionRaw, threshold: float) -> list[list[Detection]]:
        """Per image: detections above `threshold`, boxes in the input image's pixels."""
        results = self.processor.post_process_object_detection(raw, threshold=threshold, target_sizes=raw.sizes)
        decoded: list[list[Detection]] = []
        for result in results:
            decoded.append(
                [
                    Detection(float(s), int(lab), self.id2label.get(int(lab), str(int(lab))), tuple(float(v) for v in b))
                    for s, lab, b in zip(result["scores"], result["labels"], result["boxes"], strict=True)
                ]
            )
        return decoded


def load_detector(spec: ModelSpec, device: str) -> Detector:
    """The checkpoint's detection model and its (fast where available) image processor."""
    model = pretrained(
        AutoModelForObjectDetection.from_pretrained, spec, "weights", dtype=torch_dtype(spec.dtype, device)
    )
    processor = pretrained(AutoImageProcessor.from_pretrained, spec, "image processor", backend=image_processor_backend())
    return Detector(model, processor, device)


def open_rgb(path: str) -> Image.Image:
    """Read an image fully (the file handle closes at once) as RGB."""
    with Image.open(path) as image:
        return image.convert("RGB")
