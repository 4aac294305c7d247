"""Chart data from a chart's vector drawing: bars and lines read against their labelled axis.

A born-digital chart (matplotlib, Excel, ...) keeps what a chart model would have to guess:
every bar is a rectangle, every data line a polyline, and tick, category, legend and value
labels are real text. This module turns those shapes and words (PDF points, top-left origin,
read from the page by `stages.vector_charts`) into a `ChartData`, with no model and no PDF
library, so it is tested on plain numbers.

How a chart is read:

* Value axis: at least `MIN_TICKS` numeric words in one column (aligned on their right edge
  or on their centre) whose values are a linear function of their height on the page
  (least squares, residual under `MAX_FIT_ERROR` of the range). A tick label's centre is
  snapped to a tick mark or gridline beside it when there is one. No such axis: no chart.
* Bars: rectangles with one horizontal edge on the baseline (value 0, or the axis bottom when
  0 is off the scale); the other edge gives the value. Bars that touch (or nearly) form a
  group (an x category); within a group, each bar's style (fill, stroke, dashes) is a series.
  A printed value label just beyond a bar's end replaces the measured value when they agree.
* Lines (when there are no bars): polylines spanning a quarter of the plot; each is sampled at
  the x labels of the first line under the plot (a label's centre, moved to a data vertex
  within a quarter of the label spacing), linearly between vertices.
* Category names: the words under the plot, in lines that sit within one group each.
* Legend: a small swatch in a series' style with words on its right; the legend order
  (rows, then left to right) is the order of the series columns. The text side lives in
  `core.chart_marks`.

The result has `header` = ("category", series...) and one row per x category, left to right:
the orientation of DePlot's tables, and `raw_text` is the same table linearised like DePlot's
output, so both readers store and parse alike. Stacked bars, horizontal bars, pies and
log scales are not read (the reading is refused or partial, never an error).
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pdf_assets.core.chart_marks import Mark, Word, category_names, label_lines, legend, parse_number, phrases, spans
from pdf_assets.core.types import Box, ChartData

MIN_TICKS = 3
MAX_FIT_ERROR = 0.02  # of the axis' value range
ALIGN_PT = 3.0  # tick labels of one axis line up this closely
EDGE_PT = 1.5  # a bar's edge this close to the baseline stands on it
MAX_BAR_SHARE = 0.5  # a rectangle wider than this share of the plot is a background or frame
LABEL_AGREEMENT = 0.03  # of the axis range: a printed value this close to the bar's is the bar's


@dataclass(frozen=True)
class Axis:
    """value = slope * coordinate + offset, from tick labels at `ticks` (coordinate, label)."""

    slope: float
    offset: float
    ticks: tuple[tuple[float, str], ...]
    decimals: int
    edge: float = 0.0  # the right edge of the tick labels: the plot starts beyond it

    def value(self, at: float) -> float:
        return self.slope * at + self.offset

    def coordinate(self, value: float) -> float:
        return (value - self.offset) / self.slope

    @property
    def span(self) -> tuple[float, float]:
        coords = [t[0] for t in self.ticks]
        return min(coords), max(coords)

    @property
    def value_range(self) -> float:
        lo, hi = self.span
        return abs(self.value(hi) - self.value(lo))


@dataclass(frozen=True)
class ChartReading:
    """The data read from a drawing, or None with the reason it was refused."""

    chart: ChartData | None
    reason: str


@dataclass(frozen=True)
class _Bar:
    box: Box
    style: str
    value: float
    end: float  # the y of the bar's value end


def _decimals(text: str) -> int:
    match = re.search(r"[.,](\d+)\D*$", text)
    return len(match.group(1)) if match else 0


def fit_axis(labels: Sequence[tuple[float, str]]) -> Axis | None:
    """The linear map from coordinate to value through (coordinate, label) pairs, if it fits."""
    points = [(c, v) for c, t in labels if (v := parse_number(t)) is not None]
    if len(points) < MIN_TICKS or len({round(c, 1) for c, _ in points}) < len(points):
        return None
    mean_c = sum(c for c, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    var = sum((c - mean_c) ** 2 for c, _ in points)
    if var == 0:
        return None
    slope = sum((c - mean_c) * (v - mean_v) for c, v in points) / var
    offset = mean_v - slope * mean_c
    values = [v for _, v in points]
    spread = max(values) - min(values)
    if slope == 0 or spread == 0:
        return None
    if max(abs(slope * c + offset - v) for c, v in points) > MAX_FIT_ERROR * spread:
        return None
    decimals = max(_decimals(t) for _, t in labels)
    return Axis(slope, offset, tuple(sorted(labels)), decimals)


def _columns(words: Sequence[Word]) -> list[list[Word]]:
    """Numeric words grouped by a shared right edge, or by a shared centre."""
    numeric = [w for w in words if parse_number(w.text) is not None]
    groups: list[list[Word]] = []
    keys: tuple[Callable[[Word], float], ...] = (lambda w: w.x1, lambda w: w.cx)
    for key in keys:
        for word in sorted(numeric, key=key):
            for group in groups:
                if abs(key(group[-1]) - key(word)) <= ALIGN_PT and group[-1] is not word:
                    group.append(word)
                    break
            else:
                groups.append([word])
    return [g for g in groups if len(g) >= MIN_TICKS]


def _snap(word: Word, marks: Sequence[Mark]) -> float:
    """The y of the tick mark or gridline beside a tick label, else the label's centre."""
    best: tuple[float, float] | None = None
    for mark in marks:
        box = mark.box
        if box.height > 0.5 or box.width < 2:
            continue
        near = box.x0 - 20 <= word.x1 <= box.x1 + 2 or box.x0 - 2 <= word.x0 <= box.x1 + 20
        dist = abs(box.y0 - word.cy)
        if near and dist <= word.height / 2 and (best is None or dist < best[0]):
            best = (dist, box.y0)
    return best[1] if best else word.cy


def value_axis(words: Sequence[Word], marks: Sequence[Mark]) -> Axis | None:
    """The best vertical value axis: the column of numeric labels with most ticks that fits."""
    best: Axis | None = None
    for column in _columns(words):
        column = sorted({(w.cy, w.text): w for w in column}.values(), key=lambda w: w.cy)
        axis = fit_axis([(_snap(w, marks), w.text) for w in column])
        if axis is not None and axis.slope < 0 and (best is None or len(axis.ticks) > len(best.ticks)):
            best = replace(axis, edge=max(w.x1 for w in column))
    return best


def _baseline(axis: Axis) -> float:
    """The y bars stand on: value 0 when on the scale, else the bottom of the axis."""
    lo, hi = axis.span
    zero = axis.coordinate(0.0)
    return zero if lo - EDGE_PT <= zero <= hi + EDGE_PT else hi


def find_bars(marks: Sequence[Mark], axis: Axis, plot_left: float) -> list[_Bar]:
    """Rectangles standing on the baseline inside the axis' span, left to right."""
    base = _baseline(axis)
    lo, hi = axis.span
    rects = [m for m in marks if m.kind == "rect" and m.box.x0 >= plot_left - EDGE_PT]
    width = max((m.box.x1 for m in rects), default=plot_left) - plot_left
    bars: list[_Bar] = []
    for mark in rects:
        box = mark.box
        if box.width < 1 or box.width > MAX_BAR_SHARE * width or box.y0 < lo - EDGE_PT or box.y1 > hi + EDGE_PT:
            continue
        if abs(box.y1 - base) <= EDGE_PT and box.y0 < base - 0.1:
            end = box.y0
        elif abs(box.y0 - base) <= EDGE_PT and box.y1 > base + 0.1:
            end = box.y1
        else:
            continue
        bars.append(_Bar(box, mark.style, axis.value(end), end))
    return sorted(bars, key=lambda b: b.box.x0)


def group_bars(bars: Sequence[_Bar]) -> list[list[_Bar]]:
    """Touching bars form a group; a group holding one style twice is no group (a histogram)."""
    if not bars:
        return []
    gap = 0.5 * statistics.median(b.box.width for b in bars)
    groups: list[list[_Bar]] = [[bars[0]]]
    for bar in bars[1:]:
        if bar.box.x0 - groups[-1][-1].box.x1 <= gap:
            groups[-1].append(bar)
        else:
            groups.append([bar])
    if any(len({b.style for b in g}) < len(g) for g in groups):
        return [[b] for b in bars]
    return groups


def _format(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _value_label(bar: _Bar, numbers: Sequence[Word], axis: Axis) -> str | None:
    """The printed value just beyond the bar's end, when it agrees with the bar's length."""
    best: tuple[float, str] | None = None
    for word in numbers:
        if not bar.box.x0 - 1 <= word.cx <= bar.box.x1 + 1:
            continue
        dist = abs((word.y1 if bar.end < bar.box.y1 else word.y0) - bar.end)
        value = parse_number(word.text)
        agrees = value is not None and abs(value - bar.value) <= LABEL_AGREEMENT * axis.value_range
        if agrees and dist <= 1.5 * word.height and (best is None or dist < best[0]):
            best = (dist, word.text)
    return best[1] if best else None


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> ChartData:
    raw = " <0x0A> ".join(" | ".join(cells) for cells in [header, *rows])
    return ChartData(raw_text=raw, header=tuple(header), rows=tuple(tuple(r) for r in rows))


def _series_names(order: Sequence[str], names: dict[str, str]) -> tuple[list[str], list[str]]:
    """Series styles in legend order when the legend names them all, else in drawing order."""
    if names and all(s in names for s in order):
        styles = list(names)
        return styles, [names[s] for s in styles]
    return list(order), [names.get(s, f"series {i + 1}") for i, s in enumerate(order)]


def read_bars(words: Sequence[Word], marks: Sequence[Mark], axis: Axis, plot_left: float) -> ChartReading:
    bars = find_bars(marks, axis, plot_left)
    groups = group_bars(bars)
    if len(bars) < 2:
        return ChartReading(None, "no bars on the axis")
    order = list(dict.fromkeys(b.style for g in groups for b in g))
    data = [m for m in marks if m.kind == "rect" and any(m.box == b.box for b in bars)]
    styles, names = _series_names(order, legend(marks, words, order, data))
    extents = [(g[0].box.x0, g[-1].box.x1) for g in groups]
    lines = label_lines(words, max(axis.span[1], max(b.box.y1 for b in bars)))
    categories = category_names(lines, spans(extents))
    numbers = [w for w in words if parse_number(w.text) is not None]
    rows = []
    for i, (group, category) in enumerate(zip(groups, categories, strict=True)):
        cells = {b.style: _value_label(b, numbers, axis) or _format(b.value, axis.decimals + 1) for b in group}
        rows.append([category or f"group {i + 1}", *(cells.get(s, "") for s in styles)])
    return ChartReading(_table(["category", *names], rows), f"{len(bars)} bars in {len(groups)} groups")


def _sample(points: Sequence[tuple[float, float]], x: float, tol: float) -> float | None:
    """The polyline's y at `x` (linear between vertices); an `x` up to `tol` beyond an end
    (a label's centre is not exactly its tick) takes the end's y; None further out."""
    x = min(max(x, points[0][0]), points[-1][0]) if points[0][0] - tol <= x <= points[-1][0] + tol else x
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            return y0 if x1 - x0 < 1e-6 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return None


def _near(values: Sequence[float], x: float, tol: float) -> bool:
    return any(abs(v - x) <= tol for v in values)


def read_lines(words: Sequence[Word], marks: Sequence[Mark], axis: Axis, plot_left: float) -> ChartReading:
    lo, hi = axis.span
    polylines = [
        m
        for m in marks
        if m.kind == "line"
        and m.box.x0 >= plot_left - EDGE_PT
        and m.box.y0 >= lo - 2 * EDGE_PT
        and m.box.y1 <= hi + 2 * EDGE_PT
        and m.box.height > 0.5
        and m.box.width > 0.5
    ]
    if not polylines:
        return ChartReading(None, "no bars or data lines on the axis")
    width = max(m.box.x1 for m in polylines) - min(m.box.x0 for m in polylines)
    polylines = [m for m in polylines if m.box.width >= 0.25 * width]
    lines = label_lines(words, hi)
    ticks = [p for line in lines[:1] for p in phrases(line)]
    if len(ticks) < 2:
        return ChartReading(None, "data lines without x labels")
    order = list(dict.fromkeys(m.style for m in polylines))
    styles, names = _series_names(order, legend(marks, words, order, polylines))
    centres = [(t[0].x0 + t[-1].x1) / 2 for t in ticks]
    tol = 0.25 * min(b - a for a, b in itertools.pairwise(centres))
    vertices = sorted({p[0] for m in polylines for p in m.points})
    # A data point is a vertex: a label's centre near one means that vertex's x.
    centres = [min(vertices, key=lambda v: abs(v - x)) if _near(vertices, x, tol) else x for x in centres]
    rows = []
    for tick, x in zip(ticks, centres, strict=True):
        cells = []
        for style in styles:
            ys = [y for m in polylines if m.style == style if (y := _sample(sorted(m.points), x, tol)) is not None]
            cells.append(_format(axis.value(ys[0]), axis.decimals + 1) if ys else "")
        rows.append([" ".join(w.text for w in tick), *cells])
    return ChartReading(_table(["category", *names], rows), f"{len(polylines)} data lines at {len(ticks)} x labels")


def read_chart(words: Sequence[Word], marks: Sequence[Mark]) -> ChartReading:
    """The chart drawn by `marks` and labelled by `words`, or the reason it is not one."""
    axis = value_axis(words, marks)
    if axis is None:
        return ChartReading(None, "no axis with numeric ticks")
    reading = read_bars(words, marks, axis, axis.edge)
    if reading.chart is None:
        reading = read_lines(words, marks, axis, axis.edge)
    return reading
