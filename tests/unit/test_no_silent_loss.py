"""No silent loss: failed regions keep their box text, uncovered text gets regions, and a
garbled text layer goes to OCR instead of into the database."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pdf_assets.backends.registry import clear_cache
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.types import Box, PageRef, Region, RegionKey, RegionKind, kind_of_label
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.garbled import looks_garbled
from pdf_assets.stages.layout import categorize, detect_layouts
from pdf_assets.stages.manifests import CategorizedRegions, LayoutManifest, PagesManifest
from pdf_assets.stages.remainder import merge_overlapping
from pdf_assets.stages.render import render_partitions
from pdf_assets.stages.tables import extract_tables
from pdf_assets.stages.text import extract_text, usable_text

PARAGRAPH = (
    "Quarterly shipments rose in every region. The northern depot cleared its backlog "
    "before the holidays, and the southern depot opened a second loading bay in March."
)
BOTTOM = "Remarks kept below the chart: figures are provisional until the audit closes."
PARAGRAPH_BOX = Box(72, 100, 523, 170)
FIGURE_BOX = Box(72, 300, 523, 560)


@pytest.fixture
def fresh_models() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def _engine(**tables: str) -> InferenceEngine:
    specs = {
        "layout": ModelSpec("layout", backend="fake"),
        "ocr": ModelSpec("ocr", backend="fake"),
        "tables": ModelSpec("tables", backend="fake", options=tuple(sorted(tables.items()))),
    }
    return InferenceEngine(specs, progress=None)


def _born_digital(path: Path) -> None:
    """A paragraph, a chart-like drawing with a label inside it, and a remark below it."""
    with pymupdf.open() as doc:
        page = doc.new_page(width=595, height=842)
        page.insert_textbox(pymupdf.Rect(*PARAGRAPH_BOX.as_tuple()), PARAGRAPH, fontsize=11, fontname="helv")
        page.draw_rect(pymupdf.Rect(*FIGURE_BOX.as_tuple()), color=(0, 0, 0), fill=(0.8, 0.8, 0.9))
        page.insert_text((100, 330), "axis label", fontsize=9)
        page.insert_textbox(pymupdf.Rect(72, 600, 523, 660), BOTTOM, fontsize=11, fontname="helv")
        doc.save(path)


def _scanned(path: Path) -> None:
    """The paragraph as pixels only: no text layer."""
    image = Image.new("RGB", (1190, 300), "white")
    ImageDraw.Draw(image).text((20, 40), PARAGRAPH[:60], fill="black", font=ImageFont.load_default(size=28))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    with pymupdf.open() as doc:
        page = doc.new_page(width=595, height=842)
        page.insert_image(pymupdf.Rect(0, 80, 595, 230), stream=buffer.getvalue())
        doc.save(path)


def _pages(tmp_path: Path, make: object) -> PagesManifest:
    folder = tmp_path / "inbox" / "part"
    folder.mkdir(parents=True)
    make(folder / "doc.pdf")  # type: ignore[operator]
    return render_partitions({"part": folder}, tmp_path / "pages", dpi=72, workers=1)["part"]


def _layout(page: PageRef, *labelled: tuple[str, Box]) -> LayoutManifest:
    regions = tuple(
        Region(RegionKey(page.doc_id, page.page_no, i), page.partition, label, kind_of_label(label), box, 0.9)
        for i, (label, box) in enumerate(labelled)
    )
    return LayoutManifest(page.partition, regions)


def _categorized(tmp_path: Path, pages: PagesManifest, *labelled: tuple[str, Box]) -> CategorizedRegions:
    layouts = {"part": _layout(pages.pages[0], *labelled)}
    return categorize(layouts, {"part": pages}, tmp_path / "crops")["part"]


def _words(text: str) -> set[str]:
    return {w.strip(".,:") for w in text.split()}


# --- a region its stage failed on keeps its box text -------------------------------------


@pytest.mark.usefixtures("fresh_models")
def test_a_paragraph_labelled_table_keeps_its_text_layer_text(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _born_digital)
    categorized = _categorized(tmp_path, pages, ("table", PARAGRAPH_BOX), ("table", Box(72, 600, 523, 660)))
    failing = categorized.tables[0].region.key.slug()
    manifest = extract_tables({"part": categorized}, _engine(fail_on=failing))["part"]

    assert len(manifest.results) == 1  # the other table went through
    (failure,) = manifest.failures
    key = categorized.tables[0].region.key
    assert (failure.stage, failure.doc_id, failure.region, failure.recovered) == (
        "tables",
        key.doc_id,
        key,
        "text_layer",
    )
    # No silent loss: every failed region's box text is in the output, as that region's text.
    texts = {t.key: t for t in manifest.texts}
    with pymupdf.open(pages.pages[0].pdf_path) as doc:
        for f in manifest.failures:
            assert f.region is not None
            box = next(r.box for r in categorized.regions if r.key == f.region)
            expected = doc[f.region.page_no].get_text("text", clip=pymupdf.Rect(box.as_tuple()))
            assert _words(expected) and _words(expected) <= _words(texts[f.region].text)
            assert texts[f.region].source == "text_layer" and texts[f.region].label == "table"


@pytest.mark.usefixtures("fresh_models")
def test_a_failed_region_without_a_text_layer_is_read_by_ocr(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _scanned)
    assert not pages.pages[0].has_text_layer
    categorized = _categorized(tmp_path, pages, ("table", Box(0, 80, 595, 230)))
    manifest = extract_tables({"part": categorized}, _engine(fail_on="-r000"))["part"]
    (failure,) = manifest.failures
    (text,) = manifest.texts
    key = categorized.tables[0].region.key
    assert (failure.recovered, failure.region) == ("ocr", key)
    assert (text.key, text.source, text.text) == (key, "ocr", f"text {key.slug()}")  # the fake OCR's answer
    assert [m.stage for m in manifest.metrics] == ["tables", "ocr_fallback"]


@pytest.mark.usefixtures("fresh_models")
def test_tables_that_succeed_need_no_fallback(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _born_digital)
    categorized = _categorized(tmp_path, pages, ("table", PARAGRAPH_BOX))
    manifest = extract_tables({"part": categorized}, _engine())["part"]
    assert len(manifest.results) == 1 and not manifest.failures and not manifest.texts
    assert [m.stage for m in manifest.metrics] == ["tables"]


@pytest.mark.usefixtures("fresh_models")
def test_layout_failures_name_their_document(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _born_digital)
    engine = InferenceEngine({"layout": ModelSpec("layout", backend="fake", options=(("fail_on", ":0"),))})
    (failure,) = detect_layouts({"part": pages}, engine)["part"].failures
    assert failure.doc_id == pages.pages[0].doc_id and failure.stage == "layout"


@pytest.mark.usefixtures("fresh_models")
def test_a_page_image_that_cannot_be_cut_keeps_its_text_layer_regions(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _born_digital)
    Path(pages.pages[0].image_path).unlink()
    categorized = _categorized(tmp_path, pages, ("text", PARAGRAPH_BOX), ("figure", FIGURE_BOX))
    (failure,) = categorized.failures  # the figure needed pixels; the text region did not
    figure = categorized.regions[1]
    assert (failure.stage, failure.region, failure.doc_id) == ("categorize", figure.key, figure.key.doc_id)
    assert not categorized.figures and categorized.text
    manifest = extract_text({"part": categorized}, _engine())["part"]
    assert _words(PARAGRAPH) <= _words(" ".join(t.text for t in manifest.results))


# --- text no region covers gets regions of its own ---------------------------------------


@pytest.mark.usefixtures("fresh_models")
def test_a_figure_only_page_keeps_its_whole_text_layer(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _born_digital)
    categorized = _categorized(tmp_path, pages, ("figure", FIGURE_BOX))
    added = [r for r in categorized.regions if r.key.index > 0]
    assert categorized.regions[0].label == "figure" and categorized.regions[0].key.index == 0
    assert added and all((r.label, r.kind, r.score) == ("text", RegionKind.TEXT, 0.0) for r in added)
    assert [r.key.index for r in added] == list(range(1, len(added) + 1))
    assert [r.box.y0 for r in added] == sorted(r.box.y0 for r in added)  # reading order: top to bottom

    manifest = extract_text({"part": categorized}, _engine())["part"]
    kept = " ".join(t.text for t in manifest.results)
    assert _words(PARAGRAPH) <= _words(kept) and _words(BOTTOM) <= _words(kept)
    assert "axis label" in kept  # no text region on the page: the figure's text is the page's text
    assert {t.source for t in manifest.results} == {"text_layer"}


@pytest.mark.usefixtures("fresh_models")
def test_text_no_region_covers_is_kept_and_figure_labels_stay_with_the_figure(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _born_digital)
    categorized = _categorized(tmp_path, pages, ("text", PARAGRAPH_BOX), ("figure", FIGURE_BOX))
    added = [r for r in categorized.regions if r.key.index > 1]
    assert [r.key.index for r in categorized.regions[:2]] == [0, 1]
    assert added and not any(r.box.intersection(FIGURE_BOX) > 0 for r in added)
    manifest = extract_text({"part": categorized}, _engine())["part"]
    kept = " ".join(t.text for t in manifest.results)
    assert _words(PARAGRAPH) <= _words(kept) and _words(BOTTOM) <= _words(kept)
    assert "axis" not in kept


def test_a_page_without_any_region_keeps_its_text_layer(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _born_digital)
    categorized = _categorized(tmp_path, pages)
    assert categorized.text and all(c.region.label == "text" for c in categorized.text)
    assert sum(c.region.box.intersection(PARAGRAPH_BOX) > 0 for c in categorized.text) >= 1


def test_covered_text_adds_no_region(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _born_digital)
    labelled = (("text", PARAGRAPH_BOX), ("figure", FIGURE_BOX), ("text", Box(72, 600, 523, 660)))
    categorized = _categorized(tmp_path, pages, *labelled)
    assert [r.key.index for r in categorized.regions] == [0, 1, 2]


def test_a_scanned_page_gets_no_remainder(tmp_path: Path) -> None:
    pages = _pages(tmp_path, _scanned)
    categorized = _categorized(tmp_path, pages, ("figure", Box(0, 80, 595, 230)))
    assert [r.label for r in categorized.regions] == ["figure"]


def test_overlapping_remainder_boxes_merge_so_no_letter_is_read_twice() -> None:
    shadowed = [Box(10, 10, 50, 20), Box(11, 11, 51, 21), Box(40, 15, 90, 20)]
    apart = Box(10, 40, 50, 50)
    assert merge_overlapping([*shadowed, apart]) == [Box(10, 10, 90, 21), apart]


# --- garbled text layers ------------------------------------------------------------------

GARBLED = [
    "]üìÜüéê •ìê °ê£ë†£ûÜüéê †ë ∞†¶£ èÜ•ÜáÜ§ê †°ê£Ü•î†ü§",
    "rÜñê ÜèßÜü•Üíê †ë Üééê§§ •† Ü Æ†£óèÆîèê §†¶£éê †ë êØ°ê£•î§ê",
    "Les rÃ©sultats de lâ€™Ã©tude sont prÃ©sentÃ©s dans le tableau suivant.",  # UTF-8 read as cp1252
]
CLEAN = [
    "Row and column access control (RCAC) places access control at the table level.",
    "Die Größe der Straße wurde überprüft; Ärger über Übermaß blieb aus.",
    "L'élève a préféré étudier à la bibliothèque où règne un calme exceptionnel.",
    "Ça coûte 12,50 € — naïve façade, crème brûlée, Noël à Zürich.",
    "if (x <= y && y != 0) { z = x / y; } // a+b=c; $var->call(); arr[i] = {'k': 1}",
    "12.5 13.7 98.1 0.965 0.969 1,234,567 45% 3.2e-5 -17 +4",
    "Q1 | 12.0 | 13.5 | 17.2\nQ2 | 11.4 | 14.0 | 16.8\nTotal | 23.4 | 27.5 | 34.0",
    "• Database performance § 3.1 † see note ¶ 4 — 25 °C, 100 km², © IBM 2014",
    "We\u2019re the experts in IBM DB2® for i; we\u2019ve built confident, satisfied clients.",
    "Tiếng Việt có dấu: người được học ở trường.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "日本語のテキスト、漢字とかな。",
]


@pytest.mark.parametrize("text", GARBLED)
def test_garbled_text_is_not_usable(text: str) -> None:
    assert looks_garbled(text) and not usable_text(text)


@pytest.mark.parametrize("text", CLEAN)
def test_real_text_is_usable(text: str) -> None:
    assert not looks_garbled(text) and usable_text(text)


@pytest.mark.corpus
def test_the_redp5110_highlights_box_is_garbled_and_the_rest_is_not(corpus: Path) -> None:
    """Page 3 of redp5110 has a custom-encoded font; every other block of the file is real text."""
    with pymupdf.open(corpus / "pdfs" / "redp5110_sampled.pdf") as doc:
        blocks = [(p.number, b[4]) for p in doc for b in p.get_text("blocks") if b[6] == 0]
    garbled = [(n, text) for n, text in blocks if looks_garbled(text)]
    assert len(garbled) >= 5 and {n for n, _ in garbled} == {2}
    assert any("°ê£ë†£ûÜüéê" in text for _, text in garbled)
    assert len(blocks) - len(garbled) > 100  # the rest stays trusted
