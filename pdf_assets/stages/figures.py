"""Figures: the saved crop, its caption, and chart data where a chart model is configured.

The chart model is slow and only charts have data to extract, so by default a cheap gate
(`stages.chart_gate`) picks the figures that go to it; the others keep their crop and
caption with `chart=None`. The figures stage option `charts_only=false` sends every
figure to the model instead. It is read here, whatever the backend, and every backend
family accepts it (see `core.config.STAGE_OPTIONS`) without handing it to a model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from pdf_assets.core.batching import StageRun
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.parallel import map_by_group
from pdf_assets.core.types import ChartData, Crop, FigureResult, TextResult
from pdf_assets.stages.chart_gate import ChartVerdict, classify_crops
from pdf_assets.stages.collect import collect_crops
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.manifests import CategorizedRegions, FigureManifest, TextManifest

logger = logging.getLogger(__name__)

# A caption further than this from its figure (in points) belongs to something else.
CAPTION_MAX_GAP_PT = 72.0
CHARTS_ONLY = "charts_only"  # figures stage option: send only what the chart gate calls charts
GATE_ENGINE = "chart_gate"  # the engine of figures the gate kept from the chart model

Captions = Sequence[tuple[TextResult, tuple[float, float, float, float]]]  # caption text and its box


def _gap(figure: Crop, top: float, bottom: float) -> float:
    """Vertical distance between the figure and a caption's [top, bottom] (0 if they overlap)."""
    fig = figure.region.box
    if top >= fig.y1:
        return top - fig.y1
    if bottom <= fig.y0:
        return fig.y0 - bottom
    return 0.0


def link_caption(figure: Crop, captions: Captions) -> str | None:
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


def charts_only(spec: ModelSpec) -> bool:
    """The figures stage's `charts_only` option (default true); anything but a boolean is an error."""
    return spec.bool_option(CHARTS_ONLY, True)


# Figures per worker job, and the count below which the gate runs inline.
GATE_CHUNK = 32


def gate_verdicts(crops: Sequence[Crop]) -> list[ChartVerdict]:
    """The gate's verdict per crop; many figures are judged on the worker processes, a PDF's
    figures together (the gate opens each PDF once per job)."""
    return map_by_group(classify_crops, crops, lambda crop: crop.pdf_path, chunk=GATE_CHUNK, inline_below=GATE_CHUNK)


def split_charts(crops: Sequence[Crop], gate: bool) -> tuple[list[Crop], list[Crop]]:
    """(figures for the chart model, figures kept from it); without the gate every figure goes."""
    if not gate or not crops:
        return list(crops), []
    started = time.perf_counter()
    verdicts = gate_verdicts(crops)
    for crop, verdict in zip(crops, verdicts, strict=True):
        kind = "chart" if verdict.is_chart else "not a chart"
        logger.debug("%s: %s (%s) %s", crop.region.key.slug(), kind, verdict.reason, verdict.scores)
    charts = [c for c, v in zip(crops, verdicts, strict=True) if v.is_chart]
    others = [c for c, v in zip(crops, verdicts, strict=True) if not v.is_chart]
    ms = 1000 * (time.perf_counter() - started) / len(crops)
    logger.info("chart gate: %d of %d figures are charts (%.1f ms per figure)", len(charts), len(crops), ms)
    return charts, others


def _figure(crop: Crop, captions: Captions, chart: ChartData | None, engine: str) -> FigureResult:
    region = crop.region
    return FigureResult(region.key, region.partition, crop.image_path, link_caption(crop, captions), chart, engine)


def extract_figures(
    categorized: Mapping[str, CategorizedRegions],
    texts: Mapping[str, TextManifest],
    engine: InferenceEngine,
) -> dict[str, FigureManifest]:
    """One chart stage over the run's charts (or every figure), captions linked from the text results.

    Results keep the order of the figures; figures the gate kept from the model have
    `chart=None` and engine `chart_gate`, and the stage's metrics count only the model's items.
    """
    boxes = {r.key: r.box.as_tuple() for m in categorized.values() for r in m.regions}
    captions = [(t, boxes[t.key]) for m in texts.values() for t in m.results if t.label == "caption" and t.key in boxes]
    crops = [c for m in categorized.values() for c in m.figures]
    charts, others = split_charts(crops, charts_only(engine.spec("figures")))
    run: StageRun[ChartData] = engine.run("figures", charts)
    name = run.metrics.backend or engine.spec("figures").backend
    collected = collect_crops("figures", charts, run, lambda crop, chart: _figure(crop, captions, chart, name))
    for crop in others:
        collected.results[crop.region.partition].append(_figure(crop, captions, None, GATE_ENGINE))
    order = {(c.region.partition, c.region.key): i for i, c in enumerate(crops)}
    return {
        key: FigureManifest(
            key,
            tuple(sorted(collected.results_of(key), key=lambda r: order[(r.partition, r.key)])),
            collected.failures_of(key),
            (run.metrics,),
        )
        for key in categorized
    }
