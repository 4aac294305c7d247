"""Figure regions after the embedded layout model: strips merged, lost images found, labels inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdf_assets.backends.embedded.layout import refine_figures
from pdf_assets.backends.embedded.layout_rules import (
    absorb_figure_text,
    add_missing_images,
    add_vector_figures,
    is_bullet,
    merge_strips,
    split_list_items,
)
from pdf_assets.backends.labels import canonical_label
from pdf_assets.core.types import Box, DetectedRegion

PAGE = Box(0, 0, 612, 792)


def _r(label: str, *box: float) -> DetectedRegion:
    return DetectedRegion(label, Box(*box), 1.0)


def test_stacked_strips_of_one_picture_merge_and_the_caption_stays_out() -> None:
    strips = [_r("figure", 129, 380 + 54 * i, 539, 380 + 54 * i + 55.5) for i in range(6)]
    caption = _r("caption", 137, 712, 316, 720)
    out = merge_strips([_r("text", 137, 300, 547, 360), *strips, caption])
    assert [r.label for r in out] == ["text", "figure", "caption"]
    assert out[1].box == Box(129, 380, 539, 380 + 54 * 5 + 55.5)


def test_figures_side_by_side_with_a_gap_or_other_widths_stay_apart() -> None:
    apart = [_r("figure", 50, 100, 250, 300), _r("figure", 300, 100, 500, 300)]  # a 50 pt gap
    assert len(merge_strips(apart)) == 2
    narrow = [_r("figure", 50, 100, 500, 300), _r("figure", 50, 301, 200, 400)]  # not the same width
    assert len(merge_strips(narrow)) == 2


def test_an_image_no_region_covers_becomes_a_figure_clear_of_its_caption() -> None:
    regions = [_r("text", 136, 380, 540, 414), _r("caption", 65, 649, 347, 657.5), _r("page_footer", 65, 755, 334, 764)]
    out = add_missing_images(regions, [Box(61, 427.7, 531.6, 657.5)], PAGE)
    assert [r.label for r in out] == ["text", "figure", "caption", "page_footer"]
    assert out[1].box.y1 < 649 and out[1].box.y0 == 427.7


def test_an_image_under_text_or_already_found_adds_nothing() -> None:
    background = [_r("text", 100, 300, 400, 400)]
    assert add_missing_images(background, [Box(50, 250, 550, 600)], PAGE) == background
    found = [_r("figure", 60, 100, 540, 300)]
    assert add_missing_images(found, [Box(61, 101, 539, 299)], PAGE) == found
    assert add_missing_images([], [Box(10, 10, 30, 30)], PAGE) == []  # an icon


def test_a_charts_legend_ticks_and_axis_labels_belong_to_the_figure() -> None:
    texts = {
        (60, 12, 150, 25): "DeepSeek-V3",
        (210, 12, 320, 25): "Qwen2.5",
        (26, 45, 52, 55.6): "100",
        (100, 623, 190, 635): "MMLU-Pro",
        (260, 623, 390, 637): "GPQA-Diamond",
        (134, 645, 157, 654): "(EM)",
        (300, 645, 348, 654): "(Pass@1)",
        (100, 700, 500, 712): "Figure 1: Benchmark performance of the models.",
    }
    regions = [_r("page_header", *box) for box in list(texts)[:3]]
    regions += [_r("figure", 20, 88, 560, 619)]
    regions += [_r("caption", *box) for box in list(texts)[3:5]] + [_r("page_footer", *box) for box in list(texts)[5:7]]
    regions += [_r("caption", *list(texts)[7])]
    drawings = [Box(62, 50, 560, 613)]  # the plot frame reaches above the layout's box
    out = absorb_figure_text(regions, drawings, PAGE, lambda box: texts.get(box.as_tuple(), ""))  # type: ignore[call-overload]
    assert [r.label for r in out] == ["figure", "caption"]
    figure = out[0].box
    assert figure.y0 <= 12 and figure.y1 >= 654 and figure.x0 <= 26
    assert out[1].box.y0 == 700  # the real caption is not swallowed


def test_body_text_beside_a_figure_is_not_absorbed() -> None:
    regions = [_r("figure", 100, 100, 500, 300), _r("text", 100, 310, 500, 360), _r("page_header", 100, 40, 500, 50)]
    out = absorb_figure_text(regions, [], PAGE, lambda box: "Some words of a paragraph")
    assert out == regions


@pytest.mark.corpus
def test_corpus_figures_come_whole_with_their_labels(corpus: Path) -> None:
    """dsv3: the chart is one figure and its legend no page header; redp5110: the screenshot in six
    strips is one figure, and the screenshot that overlaps its caption is found."""
    import pymupdf.layout  # installs the layout model

    def regions(name: str, page_no: int) -> list[DetectedRegion]:
        with pymupdf.open(corpus / "pdfs" / name) as doc:
            page = doc[page_no]
            page.get_layout(filter_img_bboxes=True)
            found = [DetectedRegion(canonical_label(str(r[4])), Box(*r[:4]), 1.0) for r in page.layout_information]
            return refine_figures(found, page)

    chart = regions("dsv3_performance.pdf", 0)
    assert [r.label for r in chart] == ["figure"]
    strips = [r for r in regions("redp5110_sampled.pdf", 6) if r.label == "figure"]
    assert len(strips) == 1 and strips[0].box.iou(Box(136.0, 375.1, 547.2, 689.5)) > 0.9
    found = [r for r in regions("redp5110_sampled.pdf", 13) if r.label == "figure"]
    assert any(r.box.iou(Box(63.1, 427.4, 531.1, 646.5)) > 0.9 for r in found)


def test_a_list_region_holding_several_items_is_split_per_item() -> None:
    lines = [
        (Box(280, 469, 402, 477), "r\x01 "),  # first spans: a symbol-font bullet
        (Box(280, 479, 425, 487), "r\x01 "),
        (Box(290, 489, 392, 497), "and skills transfer"),  # a wrapped line of the second item
        (Box(280, 500, 340, 507), "\u2022"),  # a bullet glyph as its own line...
        (Box(292, 500, 400, 507), "Web Query"),  # ...beside its text
    ]
    regions = [_r("text", 280, 400, 500, 460), _r("list_item", 280, 469, 504, 508)]
    out = split_list_items(regions, lambda box: lines if box.y0 == 469 else [])
    assert [r.label for r in out] == ["text", "list_item", "list_item", "list_item"]
    assert [(r.box.y0, r.box.y1) for r in out[1:]] == [(469, 477), (479, 497), (500, 507)]


def test_one_item_or_plain_text_stays_whole() -> None:
    one = [(Box(137, 136, 142, 145), "\x02"), (Box(151, 135, 521, 145), "First"), (Box(151, 148, 547, 157), "second")]
    regions = [_r("list_item", 136, 135, 548, 158)]
    assert split_list_items(regions, lambda box: one) == regions
    assert [is_bullet(t) for t in ("2.", "b)", "-", "\u2013", "r\x01", "X", "In", "2024")] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_drawn_artwork_no_region_touches_becomes_a_figure() -> None:
    regions = [_r("page_header", 280, 25, 434, 58), _r("text", 60, 100, 550, 200)]
    clusters = [Box(515, 27, 585, 54), Box(300, 30, 320, 50), Box(60, 300, 65, 305)]  # a logo, on a header, a dot
    out = add_vector_figures(regions, clusters)
    assert [(r.label, r.box) for r in out] == [
        ("page_header", Box(280, 25, 434, 58)),
        ("figure", Box(515, 27, 585, 54)),
        ("text", Box(60, 100, 550, 200)),
    ]


def test_box_union_holds_every_box_and_touches_counts_edges_and_gaps() -> None:
    a, b, c = Box(0, 0, 10, 10), Box(12, 5, 20, 8), Box(-3, 4, 1, 30)
    assert a.union() == a
    assert a.union(b, c) == Box(-3, 0, 20, 30)
    assert a.touches(Box(10, 10, 11, 11))  # a shared corner
    assert not a.touches(b)
    assert a.touches(b, gap=2.0) and b.touches(a, gap=2.0)
    assert not a.touches(b, gap=1.9)
