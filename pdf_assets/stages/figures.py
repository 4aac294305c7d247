"""Figures: the saved crop, its caption, and chart data where a chart model is configured."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pdf_assets.core.types import ChartData, Crop, FigureResult, TextResult
from pdf_assets.stages.collect import collect_crops
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.manifests import CategorizedRegions, FigureManifest, TextManifest

# A caption further than this from its figure (in points) belongs to something else.
CAPTION_MAX_GAP_PT = 72.0


def _gap(figure: Crop, top: float, bottom: float) -> float:
    """Vertical distance between the figure and a caption's [top, bottom] (0 if they overlap)."""
    fig = figure.region.box
    if top >= fig.y1:
        return top - fig.y1
    if bottom <= fig.y0:
        return fig.y0 - bottom
    return 0.0


def link_caption(
    figure: Crop, captions: Sequence[tuple[TextResult, tuple[float, float, float, float]]]
) -> str | None:
    """The nearest caption on the same page that overlaps the figure horizontally."""
    fig = figure.region.box
    best: tuple[float, str] | None = None
    for text, (x0, y0, x1, y1) in captions:
        if (text.key.doc_id, text.key.page_no) != (figure.region.key.doc_id, figure.region.key.page_no):
            continue
        if min(x1, fig.x1) <= max(x0, fig.x0):
            continue
        gap = _gap(figure, y0, y1)
        if gap <= CAPTION_MAX_GAP_PT and (best is None or gap < best[0]):
            best = (gap, text.text)
    return best[1] if best else None


def extract_figures(
    categorized: Mapping[str, CategorizedRegions],
    texts: Mapping[str, TextManifest],
    engine: InferenceEngine,
) -> dict[str, FigureManifest]:
    """One chart stage over every figure of the run, captions linked from the text results."""
    boxes = {r.key: r.box.as_tuple() for m in categorized.values() for r in m.regions}
    captions = [
        (t, boxes[t.key]) for m in texts.values() for t in m.results if t.label == "caption" and t.key in boxes
    ]
    crops = [c for m in categorized.values() for c in m.figures]
    run = engine.run("figures", crops)
    name = run.metrics.backend or engine.spec("figures").backend

    def convert(crop: Crop, chart: ChartData | None) -> FigureResult:
        region = crop.region
        return FigureResult(region.key, region.partition, crop.image_path, link_caption(crop, captions), chart, name)

    collected = collect_crops("figures", crops, run, convert)
    return {
        key: FigureManifest(key, collected.results_of(key), collected.failures_of(key), (run.metrics,))
        for key in categorized
    }
