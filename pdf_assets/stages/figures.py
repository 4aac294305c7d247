"""Figures: the saved crop, its caption, and chart data.

Born-digital charts are read first from their vector drawing (`stages.vector_charts`, engine
`vector`): exact, on the CPU, whatever the backend. The other figures go on to the chart
model. That model is slow and only charts have data to extract, so by default a cheap gate
(`stages.chart_gate`) picks the figures that go to it; the others keep their crop and
caption with `chart=None`. The figures stage option `charts_only=false` sends every
figure to the model instead. It is read here, whatever the backend, and every backend
family accepts it (see `core.config.STAGE_OPTIONS`) without handing it to a model.

A figure's caption is a region labelled caption, or a text region that starts like one
("Figure 3", "Fig. 2"), next to the figure and not inside its box; a row of several captions
side by side under a chart is its axis labels, not a caption.
"""

from __future__ import annotations

import logging
import re
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
from pdf_assets.stages.vector_charts import ENGINE as VECTOR_ENGINE
from pdf_assets.stages.vector_charts import read_vector_charts

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


_FIGURE_CAPTION = re.compile(r"^\s*(?:fig(?:ure)?\.?|chart|graph|plate)\s*[A-Z]?\d", re.IGNORECASE)
_OTHER_CAPTION = re.compile(r"^\s*(?:table|tab\.|listing|example)\s*[A-Z]?\d", re.IGNORECASE)


def _in_row(box: tuple[float, float, float, float], others: Captions) -> bool:
    """Whether another caption shares this one's line: side-by-side captions are axis labels."""
    for _, (x0, y0, x1, y1) in others:
        if (x0, y0, x1, y1) == box:
            continue
        overlap = min(y1, box[3]) - max(y0, box[1])
        if overlap > 0.5 * min(y1 - y0, box[3] - box[1]) and (x1 <= box[0] or x0 >= box[2]):
            return True
    return False


def link_caption(figure: Crop, captions: Captions) -> str | None:
    """The figure's caption: the nearest one on the same page that overlaps it horizontally,
    "Figure N"-style texts first; never text inside the figure's box, nor a caption of
    another kind ("Table 2 ...") or a label in a row of them."""
    fig = figure.region.box
    key = figure.region.key
    page = [c for c in captions if (c[0].key.doc_id, c[0].key.page_no) == (key.doc_id, key.page_no)]
    labelled = [c for c in page if c[0].label == "caption"]
    best: tuple[int, float, str] | None = None
    for text, (x0, y0, x1, y1) in page:
        if min(x1, fig.x1) <= max(x0, fig.x0) or _OTHER_CAPTION.match(text.text):
            continue
        if fig.x0 <= (x0 + x1) / 2 <= fig.x1 and fig.y0 <= (y0 + y1) / 2 <= fig.y1:
            continue
        named = bool(_FIGURE_CAPTION.match(text.text))
        if not named and (text.label != "caption" or _in_row((x0, y0, x1, y1), labelled)):
            continue
        rank = (0 if named else 1, _gap(figure, y0, y1), text.text)
        if rank[1] <= CAPTION_MAX_GAP_PT and (best is None or rank < best):
            best = rank
    return best[2] if best else None


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


def _caption_candidates(categorized: Mapping[str, CategorizedRegions], texts: Mapping[str, TextManifest]) -> Captions:
    """Text results that may caption a figure, with their boxes."""
    boxes = {r.key: r.box.as_tuple() for m in categorized.values() for r in m.regions}
    return [
        (t, boxes[t.key])
        for m in texts.values()
        for t in m.results
        if t.key in boxes and (t.label == "caption" or _FIGURE_CAPTION.match(t.text))
    ]


def read_vector(crops: Sequence[Crop]) -> tuple[list[tuple[Crop, ChartData]], list[Crop]]:
    """(figures read from their vector drawing with their data, the others)."""
    if not crops:
        return [], []
    started = time.perf_counter()
    charts = read_vector_charts(crops)
    read = [(c, chart) for c, chart in zip(crops, charts, strict=True) if chart is not None]
    rest = [c for c, chart in zip(crops, charts, strict=True) if chart is None]
    ms = 1000 * (time.perf_counter() - started) / len(crops)
    logger.info(
        "vector charts: %d of %d figures read from their drawing (%.1f ms per figure)", len(read), len(crops), ms
    )
    return read, rest


def extract_figures(
    categorized: Mapping[str, CategorizedRegions],
    texts: Mapping[str, TextManifest],
    engine: InferenceEngine,
) -> dict[str, FigureManifest]:
    """Vector charts first, then one chart stage over the run's other charts (or every other
    figure), captions linked from the text results.

    Results keep the order of the figures; figures read from their drawing have engine
    `vector`, figures the gate kept from the model have `chart=None` and engine `chart_gate`,
    and the stage's metrics count only the model's items.
    """
    captions = _caption_candidates(categorized, texts)
    crops = [c for m in categorized.values() for c in m.figures]
    vector, rest = read_vector(crops)
    charts, others = split_charts(rest, charts_only(engine.spec("figures")))
    run: StageRun[ChartData] = engine.run("figures", charts)
    name = run.metrics.backend or engine.spec("figures").backend
    collected = collect_crops("figures", charts, run, lambda crop, chart: _figure(crop, captions, chart, name))
    for crop in others:
        collected.results[crop.region.partition].append(_figure(crop, captions, None, GATE_ENGINE))
    for crop, chart in vector:
        collected.results[crop.region.partition].append(_figure(crop, captions, chart, VECTOR_ENGINE))
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
