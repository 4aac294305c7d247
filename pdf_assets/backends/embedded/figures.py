"""The embedded figure backend: a real batch model that extracts no chart data.

Turning a chart into a data table needs a vision-language model (DePlot in the `hf`
family); the no-download default only keeps figures flowing through the pipeline, so the
figure stage still records crops and captions with `chart=None`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pdf_assets.core.model import BatchModel, pixel_cost
from pdf_assets.core.types import ChartData, Crop


class NoChartModel(BatchModel[Crop, int, int, ChartData | None]):
    """Crop -> None, in O(1): no image is decoded."""

    name = "embedded.no_chart"

    def __init__(self) -> None:
        self.device = "cpu"

    def preprocess(self, items: Sequence[Crop]) -> int:
        return len(items)

    def forward(self, batch: int) -> int:
        return batch

    def postprocess(self, raw: int, items: Sequence[Crop]) -> list[ChartData | None]:
        return [None for _ in range(raw)]

    def cost(self, item: Crop) -> float:
        return pixel_cost(item)
