"""Chart data read from a figure's vector drawing (`core.vector_chart`), on the CPU, no model.

A born-digital chart's bars and lines are PDF paths and its labels real text, so its data can
be read exactly instead of guessed from pixels. This module reads a figure's paths
(`page.get_cdrawings()`, PyMuPDF's fast listing) and words from its PDF page and hands them
to the pure geometry in `core.vector_chart`. It runs in the figures stage before any chart
model: what it reads needs no model, what it refuses (raster charts, diagrams, photos) goes on
to the chart gate and the chart model as before.

The layout model's figure box often cuts a chart short (a legend above the plot, the top tick
label, axis titles): the box is grown to the drawings it touches, then by `MARGIN_SHARE` of its
size for the labels around them; `core.vector_chart` decides which of those words are labels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pymupdf

from pdf_assets.core.chart_marks import Mark, Word
from pdf_assets.core.parallel import map_by_group
from pdf_assets.core.pdf import open_pdf
from pdf_assets.core.types import Box, ChartData, Crop
from pdf_assets.core.vector_chart import ChartReading, read_chart

logger = logging.getLogger(__name__)

ENGINE = "vector"  # the engine recorded on figures whose data was read from their drawing
MARGIN_SHARE = 0.1  # labels are looked for this share of the chart's size around its drawing
MIN_MARGIN_PT = 24.0
MAX_GROWTH = 2.0  # a figure box that would more than double by growing keeps its own size
MIN_PATHS = 4
MAX_PATHS = 20_000  # a page drawn with more paths is a map or an illustration, and slow to read
CHUNK = 32

Point = tuple[float, float]


def _colour(value: Sequence[float] | None) -> str:
    return ",".join(f"{c:.3f}" for c in value) if value else "-"


def _style(path: dict[str, Any]) -> str:
    """How a path is painted: fill, stroke colour (when stroked) and dash pattern."""
    stroke = _colour(path.get("color")) if "s" in str(path.get("type", "")) else "-"
    return f"fill={_colour(path.get('fill'))} stroke={stroke} dashes={path.get('dashes') or ''}"


def _xy(point: Any) -> Point:
    """A point as PyMuPDF gives it (a Point, or a tuple in the faster C listing)."""
    return (float(point[0]), float(point[1]))


def _chains(items: Sequence[tuple[Any, ...]]) -> list[list[Point]]:
    """Consecutive line and curve items joined end to start into vertex lists."""
    chains: list[list[Point]] = []
    for item in items:
        if item[0] not in ("l", "c"):
            continue
        start, end = _xy(item[1]), _xy(item[-1])
        if chains and abs(chains[-1][-1][0] - start[0]) < 0.01 and abs(chains[-1][-1][1] - start[1]) < 0.01:
            chains[-1].append(end)
        else:
            chains.append([start, end])
    return chains


def _is_box(points: Sequence[Point]) -> bool:
    """A closed chain of 4 axis-aligned sides: a rectangle drawn with lines."""
    if len(points) not in (4, 5) or (len(points) == 5 and points[0] != points[-1]):
        return False
    pairs = zip(points, [*points[1:], points[0]], strict=True)
    return all(abs(a[0] - b[0]) < 0.01 or abs(a[1] - b[1]) < 0.01 for a, b in pairs)


def marks_of(path: dict[str, Any]) -> list[Mark]:
    """One PyMuPDF drawing as marks: its rectangles (also quads and closed boxes) and polylines."""
    style = _style(path)
    marks: list[Mark] = []
    for item in path["items"]:
        if item[0] in ("re", "qu"):
            rect = pymupdf.Quad(item[1]).rect if item[0] == "qu" else pymupdf.Rect(item[1])
            x0, y0, x1, y1 = float(rect.x0), float(rect.y0), float(rect.x1), float(rect.y1)
            marks.append(Mark("rect", ((x0, y0), (x1, y1)), style))
    for chain in _chains(path["items"]):
        if _is_box(chain):
            xs, ys = [p[0] for p in chain], [p[1] for p in chain]
            marks.append(Mark("rect", ((min(xs), min(ys)), (max(xs), max(ys))), style))
        else:
            marks.append(Mark("line", tuple(chain), style))
    return marks


def chart_area(box: Box, drawings: Sequence[Box], page: Box) -> Box:
    """The figure box grown to the drawings it touches (until none is left), plus a margin."""
    grown = box
    for _ in range(4):
        touching = [d for d in drawings if d.area < 0.9 * page.area and d.touches(grown)]
        new = grown.union(*touching)
        if new == grown:
            break
        grown = new
    if grown.area > MAX_GROWTH * max(box.area, 1.0):
        grown = box
    mx = max(MIN_MARGIN_PT, MARGIN_SHARE * grown.width)
    my = max(MIN_MARGIN_PT, MARGIN_SHARE * grown.height)
    return Box(grown.x0 - mx, grown.y0 - my, grown.x1 + mx, grown.y1 + my).clipped(page.x1, page.y1)


def read_figure(page: pymupdf.Page, box: Box, drawings: list[dict[str, Any]] | None = None) -> ChartReading:
    """The chart data of the figure at `box` on `page` (points), or why there is none."""
    paths = drawings if drawings is not None else page.get_cdrawings()
    if len(paths) > MAX_PATHS:
        return ChartReading(None, f"{len(paths)} vector paths: a map or an illustration, not a chart")
    bounds = Box(*page.rect)
    area = chart_area(box, [Box(*p["rect"]) for p in paths], bounds)
    inside = [p for p in paths if Box(*p["rect"]).touches(area) and Box(*p["rect"]).area < 0.9 * bounds.area]
    if len(inside) < MIN_PATHS:
        return ChartReading(None, f"only {len(inside)} vector paths")
    marks = [m for p in inside for m in marks_of(p) if m.box.touches(area)]
    words = [
        Word(float(w[0]), float(w[1]), float(w[2]), float(w[3]), str(w[4]))
        for w in page.get_text("words")
        if area.x0 <= (w[0] + w[2]) / 2 <= area.x1 and area.y0 <= (w[1] + w[3]) / 2 <= area.y1
    ]
    return read_chart(words, marks)


def read_crops(crops: Sequence[Crop]) -> list[ChartData | None]:
    """Chart data per crop (None where the drawing is no chart); one PDF, opened once.

    Never raises: a figure that cannot be read is left to the chart model.
    """
    out: list[ChartData | None] = [None] * len(crops)
    readable = [i for i, c in enumerate(crops) if c.text_layer and c.pdf_path]
    if not readable:
        return out
    try:
        doc = open_pdf(crops[readable[0]].pdf_path)
    except Exception as exc:  # noqa: BLE001 - the chart model can still read the pixels
        logger.warning("vector charts: cannot open %s (%s)", crops[readable[0]].pdf_path, exc)
        return out
    drawings: dict[int, list[dict[str, Any]]] = {}
    try:
        for i in readable:
            region = crops[i].region
            try:
                page = doc[region.key.page_no]
                if region.key.page_no not in drawings:
                    drawings[region.key.page_no] = page.get_cdrawings()
                reading = read_figure(page, region.box, drawings[region.key.page_no])
            except Exception as exc:  # noqa: BLE001 - one bad figure never stops the stage
                logger.warning("vector charts: %s failed (%s: %s)", region.key.slug(), type(exc).__name__, exc)
                continue
            logger.debug("vector charts: %s: %s", region.key.slug(), reading.reason)
            out[i] = reading.chart
    finally:
        doc.close()
    return out


def read_vector_charts(crops: Sequence[Crop]) -> list[ChartData | None]:
    """`read_crops` over the worker processes, a PDF's figures together (as the chart gate)."""
    return map_by_group(read_crops, crops, lambda crop: crop.pdf_path, chunk=CHUNK, inline_below=CHUNK)
