"""Chart data read from vector drawings: bar and line charts drawn here with PyMuPDF."""

from __future__ import annotations

import csv
from pathlib import Path

import pymupdf
import pytest

from pdf_assets.core.chart_parse import parse_deplot
from pdf_assets.core.types import Box, Crop, Region, RegionKey, RegionKind
from pdf_assets.core.vector_chart import Mark, Word, fit_axis, parse_number, read_chart
from pdf_assets.stages.vector_charts import read_crops, read_figure

COLOURS = ((0.2, 0.4, 0.8), (0.9, 0.5, 0.1), (0.3, 0.7, 0.3))
SERIES = ("Alpha", "Beta", "Gamma")
CATEGORIES = ("North", "South", "East", "West")
# values[category][series], deliberately not round so a wrong scale shows
VALUES = ((12.5, 40.2, 33.3), (57.1, 8.4, 21.0), (75.6, 66.6, 49.9), (3.2, 90.1, 60.7))
LEFT, TOP, RIGHT, BOTTOM = 80.0, 80.0, 520.0, 380.0  # plot area; y from 0 at BOTTOM to 100 at TOP


def _y(value: float) -> float:
    return BOTTOM - (BOTTOM - TOP) * value / 100


def _axes(page: pymupdf.Page) -> None:
    page.draw_line((LEFT, TOP), (LEFT, BOTTOM), color=(0, 0, 0))
    page.draw_line((LEFT, BOTTOM), (RIGHT, BOTTOM), color=(0, 0, 0))
    for value in range(0, 101, 20):
        page.draw_line((LEFT - 4, _y(value)), (LEFT, _y(value)), color=(0, 0, 0))
        text = str(value)
        page.insert_text((LEFT - 8 - 5.6 * len(text), _y(value) + 3.5), text, fontsize=10)


def _legend(page: pymupdf.Page, swatch: str) -> None:
    for i, (name, colour) in enumerate(zip(SERIES, COLOURS, strict=True)):
        x = LEFT + 20 + 130 * i
        if swatch == "rect":
            page.draw_rect(pymupdf.Rect(x, 40, x + 20, 50), color=None, fill=colour)
        else:
            page.draw_line((x, 45), (x + 20, 45), color=colour, width=2)
        page.insert_text((x + 26, 49), name, fontsize=10)


def bar_chart(path: Path, *, value_labels: bool = False) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=500)
    _axes(page)
    _legend(page, "rect")
    group_w, bar_w = (RIGHT - LEFT) / len(CATEGORIES), 25.0
    for c, (category, values) in enumerate(zip(CATEGORIES, VALUES, strict=True)):
        x = LEFT + c * group_w + (group_w - 3 * bar_w) / 2
        for s, value in enumerate(values):
            rect = pymupdf.Rect(x + s * bar_w, _y(value), x + (s + 1) * bar_w, BOTTOM)
            page.draw_rect(rect, color=None, fill=COLOURS[s])
            if value_labels:
                page.insert_text((rect.x0 + 2, rect.y0 - 3), f"{value:.1f}", fontsize=7)
        page.insert_text((x + 1.5 * bar_w - 2.8 * len(category), BOTTOM + 16), category, fontsize=10)
    page.insert_text((LEFT, 460), "Figure 7: Sales by region and product line, all quarters.", fontsize=10)
    doc.save(path)
    return path


def line_chart(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=500)
    _axes(page)
    _legend(page, "line")
    xs = [LEFT + 40 + i * 120 for i in range(len(CATEGORIES))]
    for s, colour in enumerate(COLOURS):
        page.draw_polyline([(x, _y(VALUES[c][s])) for c, x in enumerate(xs)], color=colour, width=1.5)
    for x, category in zip(xs, CATEGORIES, strict=True):
        page.insert_text((x - 2.8 * len(category), BOTTOM + 16), category, fontsize=10)
    doc.save(path)
    return path


def diagram(path: Path) -> Path:
    """Boxes and arrows with words: a drawing, not a chart."""
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=500)
    for i, name in enumerate(("Client", "Server 2", "Database", "Cache 1")):
        rect = pymupdf.Rect(80 + 110 * i, 150, 160 + 110 * i, 200)
        page.draw_rect(rect, color=(0, 0, 0), fill=(0.9, 0.9, 0.9))
        page.insert_text((rect.x0 + 8, 180), name, fontsize=10)
        page.draw_line((rect.x1, 175), (rect.x1 + 30, 175), color=(0, 0, 0))
    doc.save(path)
    return path


def _numbers(chart_rows: tuple[tuple[str, ...], ...]) -> list[list[float]]:
    return [[float(v) for v in row[1:]] for row in chart_rows]


PLOT = Box(LEFT - 40, TOP - 10, RIGHT + 10, BOTTOM + 30)  # a layout box that misses the legend


def test_grouped_bars_give_categories_series_and_values(tmp_path: Path) -> None:
    with pymupdf.open(bar_chart(tmp_path / "bars.pdf")) as doc:
        reading = read_figure(doc[0], PLOT)
    chart = reading.chart
    assert chart is not None, reading.reason
    assert chart.header == ("category", *SERIES)
    assert [row[0] for row in chart.rows] == list(CATEGORIES)
    for got, want in zip(_numbers(chart.rows), VALUES, strict=True):
        assert got == pytest.approx(list(want), abs=0.15)
    assert parse_deplot(chart.raw_text).rows == chart.rows  # stored and parsed like DePlot's tables


def test_printed_value_labels_are_taken_verbatim(tmp_path: Path) -> None:
    with pymupdf.open(bar_chart(tmp_path / "bars.pdf", value_labels=True)) as doc:
        chart = read_figure(doc[0], PLOT).chart
    assert chart is not None
    assert [list(row[1:]) for row in chart.rows] == [[f"{v:.1f}" for v in values] for values in VALUES]


def test_line_chart_is_sampled_at_the_category_labels(tmp_path: Path) -> None:
    with pymupdf.open(line_chart(tmp_path / "lines.pdf")) as doc:
        reading = read_figure(doc[0], PLOT)
    chart = reading.chart
    assert chart is not None, reading.reason
    assert chart.header == ("category", *SERIES)
    assert [row[0] for row in chart.rows] == list(CATEGORIES)
    for got, want in zip(_numbers(chart.rows), VALUES, strict=True):
        assert got == pytest.approx(list(want), abs=0.5)


def test_a_diagram_is_refused(tmp_path: Path) -> None:
    with pymupdf.open(diagram(tmp_path / "diagram.pdf")) as doc:
        reading = read_figure(doc[0], Box(60, 130, 560, 220))
    assert reading.chart is None
    assert "axis" in reading.reason


def test_bars_without_a_numeric_axis_are_refused() -> None:
    marks = [Mark("rect", ((10.0 + 20 * i, 50.0 - 10 * i), (25.0 + 20 * i, 100.0)), "fill=a") for i in range(4)]
    words = [Word(10 + 20 * i, 105, 25 + 20 * i, 115, f"Q{i}") for i in range(4)]
    reading = read_chart(words, marks)
    assert reading.chart is None
    assert reading.reason == "no axis with numeric ticks"


def test_axis_fit_rejects_labels_that_are_not_a_scale() -> None:
    assert fit_axis([(100.0, "0"), (50.0, "10"), (0.0, "20")]) is not None
    assert fit_axis([(100.0, "0"), (50.0, "17"), (0.0, "20")]) is None  # not linear
    assert fit_axis([(100.0, "0"), (50.0, "10")]) is None  # too few ticks


@pytest.mark.parametrize(("text", "value"), [("1,200", 1200.0), ("12%", 12.0), ("\u22125", -5.0), ("0,5", 0.5)])
def test_parse_number(text: str, value: float) -> None:
    assert parse_number(text) == value


def test_read_crops_skips_pages_without_a_text_layer(tmp_path: Path) -> None:
    pdf = bar_chart(tmp_path / "bars.pdf")
    region = Region(RegionKey("doc", 0, 0), "part", "figure", RegionKind.FIGURE, PLOT, 1.0)
    crops = [Crop(region, str(pdf), "", 2.0, 1, 1, True), Crop(region, str(pdf), "", 2.0, 1, 1, False)]
    charts = read_crops(crops)
    assert charts[0] is not None and charts[1] is None


@pytest.mark.corpus
def test_dsv3_performance_values_series_and_categories(corpus: Path) -> None:
    """The corpus' vector grouped bar chart: at least 80% of its 36 values within 1%."""
    with (corpus / "groundtruth" / "dsv3_performance.chartdata.csv").open() as f:
        header, *truth = list(csv.reader(f))
    with pymupdf.open(corpus / "pdfs" / "dsv3_performance.pdf") as doc:
        # the box the embedded layout model gives this chart: legend and top tick left out
        chart = read_figure(doc[0], Box(7.2, 88.0, 1112.5, 618.9)).chart
    assert chart is not None
    assert list(chart.header[1:]) == header[2:]
    assert all(row[0].startswith(want[0]) for row, want in zip(chart.rows, truth, strict=True))
    pairs = [
        (float(got), float(value))
        for row, want in zip(chart.rows, truth, strict=True)
        for got, value in zip(row[1:], want[2:], strict=True)
    ]
    close = sum(abs(g - w) <= 0.01 * abs(w) for g, w in pairs)
    assert len(pairs) == 36 and close / 36 >= 0.8
