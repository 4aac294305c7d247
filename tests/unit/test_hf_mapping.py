"""Checkpoint labels -> canonical labels, pixel boxes -> points, class-agnostic NMS."""

from __future__ import annotations

import logging

import pytest

from pdf_assets.backends.hf.mapping import box_px_to_pt, nms, reading_order, to_regions
from pdf_assets.backends.labels import canonical_label
from pdf_assets.core.types import LABELS, Box, DetectedRegion

DOCLAYNET = [
    "Caption",
    "Footnote",
    "Formula",
    "List-item",
    "Page-footer",
    "Page-header",
    "Picture",
    "Section-header",
    "Table",
    "Text",
    "Title",
]


def test_doclaynet_labels_map_onto_canonical_labels() -> None:
    table = {i: canonical_label(name) for i, name in enumerate(DOCLAYNET)}  # as the layout model maps them
    assert set(table.values()) <= set(LABELS)
    assert table[3] == "list_item" and table[6] == "figure" and table[7] == "section_header"
    assert table[4] == "page_footer" and table[5] == "page_header"


def test_spelling_variants_and_canonical_names_are_recognised() -> None:
    assert canonical_label("list_item") == "list_item"
    assert canonical_label("SECTION HEADER") == "section_header"
    assert canonical_label("figure") == "figure"
    assert canonical_label("Page_Footer") == "page_footer"


def test_unknown_label_becomes_text_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert canonical_label("Sticker-note") == "text"
        assert canonical_label("Sticker-note") == "text"
    assert sum("Sticker-note" in r.message for r in caplog.records) == 1


def test_pixel_boxes_scale_to_points_and_clip_to_the_page() -> None:
    assert box_px_to_pt((100, 50, 300, 150), 2.0, 612, 792) == Box(50, 25, 150, 75)
    assert box_px_to_pt((1000, -20, 1400, 100), 2.0, 612, 792) == Box(500, 0, 612, 50)
    assert box_px_to_pt((1300, 10, 1400, 20), 2.0, 612, 792) is None, "entirely off the page"


def test_nms_keeps_the_best_of_overlapping_boxes_whatever_the_label() -> None:
    a = DetectedRegion("text", Box(0, 0, 100, 50), 0.9)
    b = DetectedRegion("list_item", Box(2, 1, 100, 52), 0.8)
    c = DetectedRegion("table", Box(0, 60, 100, 100), 0.7)
    assert nms([b, c, a], 0.5) == [a, c]
    assert nms([b, c, a], 1.0) == [a, b, c]


def test_to_regions_combines_labels_scaling_and_nms() -> None:
    regions = to_regions(
        [0.9, 0.6, 0.8],
        [9, 3, 8],
        [(0, 0, 200, 100), (0, 0, 200, 98), (0, 200, 200, 400)],
        {9: "text", 3: "list_item", 8: "table"},
        (2.0, 612.0, 792.0),
        0.5,
    )
    assert regions == [
        DetectedRegion("text", Box(0, 0, 100, 50), 0.9),
        DetectedRegion("table", Box(0, 100, 100, 200), 0.8),
    ]


def _region(name: str, x0: float, y0: float, x1: float, y1: float) -> DetectedRegion:
    return DetectedRegion("text", Box(x0, y0, x1, y1), float(len(name)) / 10)  # scores unrelated to order


def test_reading_order_reads_columns_left_first_with_full_width_items_by_height() -> None:
    """A two-column page: title, two columns, a full-width figure, two more columns, a footer."""
    page = {
        "title": (50, 40, 560, 70),
        "left-1": (50, 90, 295, 200),
        "left-2": (50, 210, 295, 300),
        "right-1": (315, 90, 560, 180),
        "right-2": (315, 190, 560, 305),
        "figure": (60, 320, 550, 500),
        "left-3": (50, 520, 295, 700),
        "right-3": (315, 520, 560, 600),
        "note": (330, 610, 560, 640),
        "footer-page-no": (500, 760, 560, 770),
    }
    regions = [_region(name, *box) for name, box in page.items()]
    shuffled = sorted(regions, key=lambda r: -r.score)  # a detector's score order
    ordered = reading_order(shuffled, 612.0)
    names = {r.box: name for name, r in zip(page, regions, strict=True)}
    assert [names[r.box] for r in ordered] == list(page)


def test_single_column_pages_read_top_to_bottom_and_to_regions_returns_reading_order() -> None:
    regions = to_regions(
        [0.5, 0.9, 0.7],
        [1, 1, 1],
        [(100, 600, 1100, 700), (100, 100, 1100, 300), (100, 350, 1100, 550)],
        {1: "text"},
        (2.0, 612.0, 792.0),
        1.0,
    )
    assert [r.box.y0 for r in regions] == [50, 175, 300]
