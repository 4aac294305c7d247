"""A transformers object detector bound to one device: shared by layout and Table Transformer.

Works with any `AutoModelForObjectDetection` checkpoint whose image processor offers
`post_process_object_detection` (DETR, Deformable DETR, Conditional DETR, RT-DETR v1/v2,
Table Transformer). Images are encoded on the CPU (`encode`), the forward pass moves only
the stacked tensors to the device (`detect`), and decoding happens on CPU float32 copies
(`decode`), so the three phases map one-to-one onto the batch runner's phases.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForObjectDetection, PreTrainedModel

from pdf_assets.backends.hf.loading import image_processor_backend, is_fast_processor, pretrained
from pdf_assets.backends.hf.staging import adopt, side_stream, to_device
from pdf_assets.backends.torch_base import apply_cudnn_autotune, torch_dtype
from pdf_assets.core.config import ModelSpec


class DetectionProcessor(Protocol):
    """The two calls of a DETR-family image processor that the detector uses (`device` and
    tensor images only for torchvision-based processors)."""

    def __call__(
        self, images: list[Image.Image] | list[torch.Tensor], return_tensors: str, device: str | None = None
    ) -> dict[str, torch.Tensor]: ...

    def post_process_object_detection(
        self, outputs: DetectionRaw, threshold: float, target_sizes: list[tuple[int, int]]
    ) -> list[dict[str, torch.Tensor]]: ...


@dataclass
class DetectionBatch:
    pixel_values: torch.Tensor | None  # processed on the CPU, or None when `images` go to the device
    pixel_mask: torch.Tensor | None
    sizes: list[tuple[int, int]]  # (height, width) of each input image, for rescaling boxes
    images: list[torch.Tensor] | None = None  # uint8 CHW pages, resized/normalised on the device
    ready: torch.cuda.Event | None = None  # set when `pixel_values` were prepared on the upload stream


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

    def __init__(self, model: PreTrainedModel, processor: DetectionProcessor, device: str) -> None:
        # PreTrainedModel.to is wrapped by functools.wraps, whose stub loses the bound self.
        self.model = model.to(device).eval()  # type: ignore[arg-type]
        if device.startswith("cuda"):
            # Convolutional backbones run markedly faster channels-last.
            self.model = self.model.to(memory_format=torch.channels_last)
            apply_cudnn_autotune()
        self.processor = processor
        self.buckets = ShapeBuckets.for_processor(processor)
        self.device = device
        self.dtype = next(model.parameters()).dtype
        self.id2label = {int(k): str(v) for k, v in (model.config.id2label or {}).items()}
        # Fast (torchvision) processors resize and normalise on the device: on a GPU that
        # removes the CPU bottleneck that otherwise caps batched throughput.
        self.device_preprocess = device.startswith("cuda") and is_fast_processor(processor)
        # Upload-ahead (see staging.py): the next batch is copied and processed on a side stream.
        self.upload = side_stream(device, self.device_preprocess)

    def shape_cost(self, height_px: float, width_px: float) -> float:
        """Sort key for the runner: the bucketed model-input area, ties broken by shape.

        Items of one bucket end up next to each other, so a batch rarely mixes shapes, and
        the largest inputs still come first (an out-of-memory error shows up early).
        """
        height, width = self.buckets.input_shape(height_px, width_px)
        return float(height * width) + height / (height + width + 1.0)

    def encode_paths(self, paths: Sequence[str]) -> DetectionBatch:
        """Decode a batch of stored images and prepare it for the model.

        With a fast processor on a GPU only decoding happens on the CPU: with upload-ahead the
        pages then go to the device and through the processor here, on the side stream;
        without it resizing, normalising and padding run on the device in `detect`. Otherwise
        the processor runs here on the CPU and the result is pinned for a non-blocking copy.
        DETR-style models predict boxes relative to the unpadded image, so padding pages of
        different sizes into one batch is safe; the runner's cost sort keeps that padding small.
        """
        if self.upload is not None:
            return self._upload_ahead(read_rgb_pinned(paths))
        if self.device_preprocess:
            arrays = read_rgb_arrays(paths)
            tensors = [torch.from_numpy(a).permute(2, 0, 1) for a in arrays]
            return DetectionBatch(None, None, [(a.shape[0], a.shape[1]) for a in arrays], tensors)
        images = open_all(paths)
        encoded = self.processor(images=images, return_tensors="pt")
        pixel_values, pixel_mask = self.buckets.pad(encoded["pixel_values"], encoded.get("pixel_mask"))
        if self.device.startswith("cuda"):
            pixel_values = pixel_values.pin_memory()
            pixel_mask = pixel_mask.pin_memory() if pixel_mask is not None else None
        return DetectionBatch(pixel_values, pixel_mask, [(im.height, im.width) for im in images])

    def _on_device(self, batch: DetectionBatch) -> DetectionBatch:
        """Run the image processor on the device for a batch of raw uint8 pages."""
        if batch.images is None:
            return batch
        images = [t.to(self.device, non_blocking=True) for t in batch.images]
        encoded = self.processor(images=images, device=self.device, return_tensors="pt")
        pixel_values, pixel_mask = self.buckets.pad(encoded["pixel_values"], encoded.get("pixel_mask"))
        return DetectionBatch(pixel_values, pixel_mask, batch.sizes)

    def _upload_ahead(self, pages: list[torch.Tensor]) -> DetectionBatch:
        """Copy and preprocess pinned HWC pages on the side stream; `detect` waits for it."""
        assert self.upload is not None
        sizes = [(int(p.shape[0]), int(p.shape[1])) for p in pages]

        def prepare() -> DetectionBatch:
            staged = self._on_device(DetectionBatch(None, None, sizes, to_device(pages, self.device)))
            assert staged.pixel_values is not None
            pixel_values = staged.pixel_values.to(dtype=self.dtype).contiguous(memory_format=torch.channels_last)
            return DetectionBatch(pixel_values, staged.pixel_mask, sizes)

        batch, ready = self.upload.run(prepare)
        batch.ready = ready
        return batch

    def detect(self, batch: DetectionBatch) -> DetectionRaw:
        if self.device.startswith("cuda"):
            # Replica threads each drive their own GPU: make it the current device so no
            # helper tensor lands on cuda:0 and forces cross-device copies.
            with torch.cuda.device(self.device):
                return self._detect(batch)
        return self._detect(batch)

    def _detect(self, batch: DetectionBatch) -> DetectionRaw:
        adopt(self.device, batch.ready, (batch.pixel_values, batch.pixel_mask))
        batch = self._on_device(batch)
        assert batch.pixel_values is not None
        inputs: dict[str, torch.Tensor] = {
            "pixel_values": batch.pixel_values.to(self.device, dtype=self.dtype, non_blocking=True).contiguous(
                memory_format=torch.channels_last if self.device.startswith("cuda") else torch.contiguous_format
            )
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
            detections: list[Detection] = []
            for score, label, box in zip(result["scores"], result["labels"], result["boxes"], strict=True):
                x0, y0, x1, y1 = (float(v) for v in box)
                name = self.id2label.get(int(label), str(int(label)))
                detections.append(Detection(float(score), int(label), name, (x0, y0, x1, y1)))
            decoded.append(detections)
        return decoded


@dataclass(frozen=True)
class ShapeBuckets:
    """Pads a batch's model input up to a multiple of `multiple` pixels on each side.

    The image processor pads a batch to its largest page, so pages of many sizes give a new
    input shape almost every batch, and every new shape costs the convolutions a new kernel
    choice (a full autotuning pass with cuDNN's benchmark mode). Rounding the padded size up
    keeps a collection to a handful of shapes. DETR-family models read the pixel mask, so
    the extra padding is the same kind of padding a larger page in the batch would add; it
    is applied only where the processor returns a mask. `multiple` 0 turns it off.
    """

    multiple: int
    shortest_edge: int | None = None
    longest_edge: int | None = None

    @classmethod
    def for_processor(cls, processor: object, multiple: int | None = None) -> ShapeBuckets:
        size = getattr(processor, "size", None)
        get = size.get if isinstance(size, dict) else lambda key: getattr(size, key, None)
        step = PAD_MULTIPLE if multiple is None else multiple
        return cls(step, get("shortest_edge"), get("longest_edge"))

    def round_up(self, value: int) -> int:
        return -(-value // self.multiple) * self.multiple if self.multiple > 0 else value

    def input_shape(self, height: float, width: float) -> tuple[int, int]:
        """The bucketed (height, width) the processor's resize gives an image of this size."""
        if self.shortest_edge and self.longest_edge and height > 0 and width > 0:
            short, long = min(height, width), max(height, width)
            scale = min(self.shortest_edge / short, self.longest_edge / long)
            height, width = height * scale, width * scale
        return self.round_up(round(height)), self.round_up(round(width))

    def pad(
        self, pixel_values: torch.Tensor, pixel_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if pixel_mask is None or self.multiple <= 0:
            return pixel_values, pixel_mask
        height, width = pixel_values.shape[-2:]
        extra_h, extra_w = self.round_up(height) - height, self.round_up(width) - width
        if not extra_h and not extra_w:
            return pixel_values, pixel_mask
        return F.pad(pixel_values, (0, extra_w, 0, extra_h)), F.pad(pixel_mask, (0, extra_w, 0, extra_h))


# Pixels of the model input that padded batch shapes are rounded up to (PDF_ASSETS_PAD_MULTIPLE).
PAD_MULTIPLE = int(os.environ.get("PDF_ASSETS_PAD_MULTIPLE", "64"))


def load_detector(spec: ModelSpec, device: str) -> Detector:
    """The checkpoint's detection model and its (fast where available) image processor."""
    model = pretrained(
        AutoModelForObjectDetection.from_pretrained, spec, "weights", dtype=torch_dtype(spec.dtype, device)
    )
    processor: DetectionProcessor = pretrained(
        AutoImageProcessor.from_pretrained, spec, "image processor", backend=image_processor_backend()
    )
    return Detector(model, processor, device)


def open_rgb(path: str) -> Image.Image:
    """Read an image fully (the file handle closes at once) as RGB."""
    with Image.open(path) as image:
        return image.convert("RGB")


# A replica worker process gets its share of the cores through PDF_ASSETS_DECODE_THREADS.
_DECODE_THREADS = int(os.environ.get("PDF_ASSETS_DECODE_THREADS", "0")) or min(32, os.cpu_count() or 4)
_DECODERS = ThreadPoolExecutor(max_workers=_DECODE_THREADS, thread_name_prefix="pdf-assets-decode")


def open_all(paths: Sequence[str]) -> list[Image.Image]:
    """Decode a batch of PNGs on several threads (zlib and PIL release the GIL), in order."""
    return list(_DECODERS.map(open_rgb, paths))


def _read_rgb_array(path: str) -> np.ndarray:
    """OpenCV decodes PNG about twice as fast as PIL and releases the GIL while doing it."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        return np.asarray(open_rgb(path))
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_rgb_arrays(paths: Sequence[str]) -> list[np.ndarray]:
    """HWC uint8 RGB arrays of a batch of stored images, decoded in parallel, in order."""
    return list(_DECODERS.map(_read_rgb_array, paths))


def _read_rgb_pinned(path: str) -> torch.Tensor:
    """Decode straight into page-locked memory: the colour conversion writes there, so the
    page is copied once on the CPU and then by DMA."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        return torch.from_numpy(np.array(open_rgb(path))).pin_memory()
    pinned = torch.empty(image.shape, dtype=torch.uint8, pin_memory=True)
    cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=pinned.numpy())
    return pinned


def read_rgb_pinned(paths: Sequence[str]) -> list[torch.Tensor]:
    """HWC uint8 RGB pinned tensors of a batch of stored images, decoded in parallel, in order."""
    return list(_DECODERS.map(_read_rgb_pinned, paths))
