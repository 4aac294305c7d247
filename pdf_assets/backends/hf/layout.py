"""Layout detection with any transformers object-detection checkpoint (e.g. DETR on DocLayNet).

Items are rendered pages (`PageRef`); each comes back as `DetectedRegion`s with canonical
labels (see `mapping.LABEL_MAP`), boxes in PDF points clipped to the page, after a score
threshold (`threshold`, default 0.5) and class-agnostic NMS (`nms_iou`, default 0.5;
1 disables it).
"""

from __future__ import annotations

from collections.abc import Sequence

from pdf_assets.backends.hf.detection import DetectionBatch, DetectionRaw, Detector, load_detector
from pdf_assets.backends.hf.mapping import to_regions
from pdf_assets.backends.labels import canonical_label
from pdf_assets.backends.torch_base import TorchBatchModel
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.types import DetectedRegion, PageRef


class HfLayoutModel(TorchBatchModel[PageRef, DetectionBatch, DetectionRaw, list[DetectedRegion]]):
    """Pages -> regions; one replica per device."""

    name = "hf.layout"

    def __init__(self, detector: Detector, threshold: float = 0.5, nms_iou: float = 0.5) -> None:
        self.detector = detector
        self.device = detector.device
        self.threshold = threshold
        self.nms_iou = nms_iou
        # Checkpoint class ids -> canonical labels, resolved once (unknown names log once here).
        self.labels = {i: canonical_label(name) for i, name in detector.id2label.items()}

    def cost(self, item: PageRef) -> float:
        return self.detector.shape_cost(item.height_pt * item.px_per_pt, item.width_pt * item.px_per_pt)

    def preprocess(self, items: Sequence[PageRef]) -> DetectionBatch:
        return self.detector.encode_paths([page.image_path for page in items])

    def forward(self, batch: DetectionBatch) -> DetectionRaw:
        return self.detector.detect(batch)

    def postprocess(self, raw: DetectionRaw, items: Sequence[PageRef]) -> list[list[DetectedRegion]]:
        out: list[list[DetectedRegion]] = []
        for page, detections in zip(items, self.detector.decode(raw, self.threshold), strict=True):
            out.append(
                to_regions(
                    [d.score for d in detections],
                    [d.label_id for d in detections],
                    [d.box for d in detections],
                    self.labels,
                    (page.px_per_pt, page.width_pt, page.height_pt),
                    self.nms_iou,
                )
            )
        return out


def load_layout(spec: ModelSpec, device: str) -> HfLayoutModel:
    return HfLayoutModel(
        load_detector(spec, device),
        threshold=spec.float_option("threshold", 0.5),
        nms_iou=spec.float_option("nms_iou", 0.5),
    )
