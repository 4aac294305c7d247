"""The chart gate: charts go to the chart model, logos, photos, maps and screenshots do not."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pdf_assets.backends import embedded, fake
from pdf_assets.backends.hf.loading import check_options
from pdf_assets.backends.registry import clear_cache
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ConfigError
from pdf_assets.core.types import Box, ChartData, Crop, Region, RegionKey, RegionKind
from pdf_assets.stages.chart_gate import classify_crop, classify_crops
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.figures import GATE_ENGINE, extract_figures
from pdf_assets.stages.manifests import CategorizedRegions

SCALE = 2.0  # crop pixels per point, as the default 144 dpi render gives
GRAY, FONT = (90, 90, 90), ImageFont.load_default(size=16)
SERIES = ((68, 114, 196), (237, 125, 49), (112, 173, 71))


def crop_of(image: Path, *, pdf: Path | None = None, box: Box | None = None, page_no: int = 0, index: int = 0) -> Crop:
    """A figure crop of `image`; with `pdf` it sits on that PDF's page (which has a text layer)."""
    with Image.open(image) as im:
        w, h = im.size
    box = box or Box(0, 0, w / SCALE, h / SCALE)
    region = Region(RegionKey(f"doc-{image.stem}", page_no, index), "part", "figure", RegionKind.FIGURE, box, 0.9)
    return Crop(region, str(pdf or ""), str(image), SCALE, w, h, pdf is not None)


def _axes(draw: ImageDraw.ImageDraw, w: int, h: int, ticks: int = 5) -> tuple[int, int, int, int]:
    """An L of axes with numeric tick labels on the y axis; returns the plot area."""
    left, top, right, bottom = 90, 30, w - 30, h - 60
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=GRAY, width=2)
    for i in range(ticks + 1):
        y = bottom - (bottom - top) * i // ticks
        draw.line([(left - 6, y), (left, y)], fill=GRAY, width=2)
        draw.text((left - 48, y - 9), str(20 * i), fill="black", font=FONT)
    return left, top, right, bottom


def bar_chart(path: Path, w: int = 800, h: int = 500) -> Path:
    image = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = _axes(draw, w, h)
    for i, value in enumerate((35, 80, 55, 95, 20, 60)):
        x = left + 30 + i * (right - left - 40) // 6
        draw.rectangle([x, bottom - (bottom - top) * value // 100, x + 60, bottom - 1], fill=SERIES[i % 3])
        draw.text((x + 10, bottom + 12), f"Q{i + 1}", fill="black", font=FONT)
    image.save(path)
    return path


def line_chart(path: Path, w: int = 800, h: int = 500) -> Path:
    image = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = _axes(draw, w, h)
    for i in range(1, 6):  # light grid lines
        y = bottom - (bottom - top) * i // 5
        draw.line([(left + 1, y), (right, y)], fill=(217, 217, 217), width=1)
    rng = np.random.default_rng(1)
    for colour in SERIES:
        ys = np.cumsum(rng.uniform(-30, 40, 8)) + rng.uniform(80, 200)
        points = [(left + 20 + j * (right - left - 40) // 7, int(bottom - y)) for j, y in enumerate(ys)]
        draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
    for j in range(8):
        draw.text((left + 10 + j * (right - left - 40) // 7, bottom + 12), str(2010 + j), fill="black", font=FONT)
    image.save(path)
    return path


def photo(path: Path, w: int = 800, h: int = 500) -> Path:
    """Smooth colour gradients with sensor-like noise: what a photograph looks like to the gate."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    red, green, blue = 120 + 80 * np.sin(xx / 90), 110 + 70 * np.cos(yy / 60), 100 + 60 * np.sin((xx + yy) / 120)
    base = np.stack([red, green, blue], axis=2)
    noise = np.random.default_rng(0).normal(0, 10, (h, w, 3))
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path)
    return path


def logo(path: Path) -> Path:
    image = Image.new("RGB", (120, 60), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([5, 5, 55, 55], fill=SERIES[0])
    draw.text((62, 20), "ACME", fill=SERIES[1], font=FONT)
    image.save(path)
    return path


def window(path: Path, w: int = 800, h: int = 500) -> Path:
    """A screenshot: a framed window with a title bar and lines of text."""
    image = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, w - 1, h - 1], outline=GRAY, width=2)
    draw.rectangle([2, 2, w - 3, 32], fill=(210, 225, 245))
    draw.text((10, 8), "Settings", fill="black", font=FONT)
    for i in range(10):
        draw.text((20, 50 + 40 * i), f"Option {i}: enable the feature for every user", fill="black", font=FONT)
    image.save(path)
    return path


@pytest.mark.parametrize("draw", [bar_chart, line_chart])
def test_drawn_charts_are_charts(tmp_path: Path, draw: Callable[[Path], Path]) -> None:
    verdict = classify_crop(crop_of(draw(tmp_path / "chart.png")))
    assert verdict.is_chart, verdict
    assert verdict.evidence == "pixels" and verdict.scores["axis_corner"] == 1.0


def test_a_photo_a_logo_and_a_window_are_not_charts(tmp_path: Path) -> None:
    images = (photo(tmp_path / "photo.png"), logo(tmp_path / "logo.png"), window(tmp_path / "window.png"))
    pic, small, screen = classify_crops([crop_of(image) for image in images])
    assert not pic.is_chart and pic.scores["white_share"] < 0.45, pic
    assert not small.is_chart and small.evidence == "size", small
    assert not screen.is_chart and "axis corner" in screen.reason, screen


def test_a_figure_the_gate_cannot_read_still_goes_to_the_chart_model(tmp_path: Path) -> None:
    """Losing a chart costs more than one wasted model call; the model stage records the failure."""
    region = Region(RegionKey("doc-gone", 0, 0), "part", "figure", RegionKind.FIGURE, Box(0, 0, 400, 250), 0.9)
    verdict = classify_crop(Crop(region, "", str(tmp_path / "gone.png"), SCALE, 800, 500, False))
    assert verdict.is_chart and verdict.evidence == "error", verdict


def _pdf_crop(tmp_path: Path, name: str, draw_page: Callable[[pymupdf.Page, Path], Box]) -> Crop:
    """A one-page PDF drawn by `draw_page(page, folder) -> box`, with the box rendered as the crop image."""
    pdf = tmp_path / f"{name}.pdf"
    with pymupdf.open() as doc:
        page = doc.new_page(width=500, height=400)
        box = draw_page(page, tmp_path)
        page.insert_text((40, 380), "Figure 1: quarterly results of the example.", fontsize=9)
        pix = page.get_pixmap(clip=pymupdf.Rect(box.as_tuple()), matrix=pymupdf.Matrix(SCALE, SCALE))
        pix.save(tmp_path / f"{name}.png")
        doc.save(pdf)
    return crop_of(tmp_path / f"{name}.png", pdf=pdf, box=box)


def _vector_bars(page: pymupdf.Page, folder: Path) -> Box:
    page.draw_line((80, 40), (80, 300), color=(0.3, 0.3, 0.3))
    page.draw_line((80, 300), (460, 300), color=(0.3, 0.3, 0.3))
    for value in (0, 25, 50, 75, 100):
        page.draw_line((76, 300 - 2.5 * value), (80, 300 - 2.5 * value), color=(0.3, 0.3, 0.3))
        page.insert_text((50, 304 - 2.5 * value), str(value), fontsize=9)
    for i, value in enumerate((40, 90, 65, 75)):
        bar = pymupdf.Rect(100 + 90 * i, 300 - 2.5 * value, 160 + 90 * i, 300)
        page.draw_rect(bar, fill=(0.27, 0.45, 0.77), width=0)
        page.insert_text((115 + 90 * i, 316), f"Q{i + 1}", fontsize=9)
    return Box(40, 30, 470, 325)


def _photo_picture(page: pymupdf.Page, folder: Path) -> Box:
    rect = pymupdf.Rect(50, 40, 450, 290)
    page.insert_image(rect, filename=str(photo(folder / "embedded-photo.png")))
    return Box(*rect)


def test_a_vector_bar_chart_is_read_from_the_text_layer(tmp_path: Path) -> None:
    verdict = classify_crop(_pdf_crop(tmp_path, "bars", _vector_bars))
    assert verdict.is_chart and verdict.evidence == "text_layer", verdict
    assert verdict.scores["numbers"] == 5 and verdict.scores["paths"] >= 6


def test_an_embedded_photo_is_judged_on_its_pixels(tmp_path: Path) -> None:
    verdict = classify_crop(_pdf_crop(tmp_path, "photo", _photo_picture))
    assert not verdict.is_chart and verdict.evidence == "pixels", verdict
    assert verdict.scores["picture_share"] > 0.95


def _corpus_figures(corpus: Path) -> list[tuple[str, int, Box, bool]]:
    """(pdf, page index, box, is a chart): docling's picture boxes, the vector chart's page, the line chart."""
    figures = []
    for name in ("redp5110_sampled", "picture_classification"):
        truth = json.loads((corpus / "groundtruth" / f"{name}.json").read_text())
        for picture in truth["pictures"]:
            prov = picture["prov"][0]
            b, height = prov["bbox"], truth["pages"][str(prov["page_no"])]["size"]["height"]
            chart = name == "picture_classification" and prov["page_no"] == 1  # p.2 is a map
            box = Box(b["l"], height - b["t"], b["r"], height - b["b"])  # docling boxes are bottom-left based
            figures.append((f"{name}.pdf", prov["page_no"] - 1, box, chart))
    with pymupdf.open(corpus / "pdfs" / "dsv3_performance.pdf") as doc:
        figures.append(("dsv3_performance.pdf", 0, Box(*doc[0].rect), True))
    with pymupdf.open(corpus / "pdfs" / "us-030.pdf") as doc:
        biggest = max(doc[2].get_image_info(), key=lambda i: pymupdf.Rect(i["bbox"]).get_area())
        figures.append(("us-030.pdf", 2, Box(*biggest["bbox"]), True))
    return figures


@pytest.mark.corpus
def test_corpus_charts_are_charts_and_maps_photos_logos_screenshots_are_not(corpus: Path, tmp_path: Path) -> None:
    crops, expected = [], []
    for i, (name, page_no, box, chart) in enumerate(_corpus_figures(corpus)):
        with pymupdf.open(corpus / "pdfs" / name) as doc:
            pix = doc[page_no].get_pixmap(clip=pymupdf.Rect(box.as_tuple()), matrix=pymupdf.Matrix(SCALE, SCALE))
        pix.save(tmp_path / f"{i:02d}.png")
        crop = crop_of(tmp_path / f"{i:02d}.png", pdf=corpus / "pdfs" / name, box=box, page_no=page_no, index=i)
        crops.append(crop)
        expected.append(chart)
    verdicts = classify_crops(crops)
    wrong = [
        (Path(c.pdf_path).name, c.region.key.page_no + 1, v.reason)
        for c, v, e in zip(crops, verdicts, expected, strict=True)
        if v.is_chart != e
    ]
    assert not wrong, wrong
    assert sum(expected) == 3 and len(expected) == 21


@pytest.fixture
def fresh_models() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def _categorized(tmp_path: Path) -> dict[str, CategorizedRegions]:
    images = (bar_chart(tmp_path / "a.png"), photo(tmp_path / "b.png"), logo(tmp_path / "c.png"))
    images += (line_chart(tmp_path / "d.png"),)
    crops = tuple(crop_of(image, index=i) for i, image in enumerate(images))
    return {"part": CategorizedRegions("part", tuple(c.region for c in crops), (), crops, ())}


@pytest.mark.usefixtures("fresh_models")
def test_the_figures_stage_sends_only_charts_to_the_model(tmp_path: Path) -> None:
    engine = InferenceEngine({"figures": ModelSpec("figures", backend="fake")}, progress=None)
    manifest = extract_figures(_categorized(tmp_path), {}, engine)["part"]
    assert manifest.metrics[0].items == 2  # the two charts; the photo and the logo stay behind
    results = manifest.results
    assert [r.key.index for r in results] == [0, 1, 2, 3]  # in figure order
    assert [isinstance(r.chart, ChartData) for r in results] == [True, False, False, True]
    assert [r.engine for r in results] == ["fake.figures", GATE_ENGINE, GATE_ENGINE, "fake.figures"]
    assert all(Path(r.crop_path).is_file() for r in results)


@pytest.mark.usefixtures("fresh_models")
def test_charts_only_false_sends_every_figure(tmp_path: Path) -> None:
    spec = ModelSpec("figures", backend="fake", options=(("charts_only", "false"),))
    manifest = extract_figures(_categorized(tmp_path), {}, InferenceEngine({"figures": spec}, progress=None))["part"]
    assert manifest.metrics[0].items == 4
    assert all(isinstance(r.chart, ChartData) for r in manifest.results)
    with pytest.raises(ConfigError, match="charts_only"):
        bad = ModelSpec("figures", backend="fake", options=(("charts_only", "sometimes"),))
        extract_figures(_categorized(tmp_path), {}, InferenceEngine({"figures": bad}, progress=None))


def test_every_backend_family_accepts_charts_only_for_figures_only() -> None:
    """A stage option, not a model option: each family's own validation lets it through for figures."""
    checks = {"embedded": lambda s: embedded.load(s, "cpu"), "hf": check_options, "fake": lambda s: fake.load(s, "cpu")}
    for backend, check in checks.items():
        check(ModelSpec("figures", backend=backend, options=(("charts_only", "false"),)))
        with pytest.raises(ConfigError, match="charts_only"):
            check(ModelSpec("ocr", backend=backend, options=(("charts_only", "false"),)))
