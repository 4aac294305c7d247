"""The hf backends loaded from tiny checkpoints through the registry, run on rendered pages."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from pdf_assets.backends.hf.deplot import header_font_bytes, render_header
from pdf_assets.backends.hf.lines import line_images, segment_lines
from pdf_assets.backends.hf.loading import pretrained
from pdf_assets.backends.hf.reference import reference_summary
from pdf_assets.backends.hf.words import crop_origin_pt
from pdf_assets.backends.registry import clear_cache, load_models
from pdf_assets.core.chart_parse import parse_deplot
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ConfigError, ModelLoadError
from pdf_assets.core.types import LABELS, Box, ChartData, OcrText, TableStructure
from tests.backends.conftest import FIGURE_BOX, PARAGRAPH, TABLE_BOX, TABLE_ROWS, TEXT_BOX, Sample


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> Iterator[None]:
    """Each test loads its own models: the registry's cache is process-wide."""
    clear_cache()
    yield
    clear_cache()


def spec(stage: str, model: Path | str, **options: str) -> ModelSpec:
    return ModelSpec(
        stage=stage, backend="hf", model=str(model), device="cpu", dtype="fp32", options=tuple(sorted(options.items()))
    )


def assert_grid_covered_once(table: TableStructure) -> None:
    seen: dict[tuple[int, int], int] = {}
    for cell in table.cells:
        for r in range(cell.row, cell.row + cell.row_span):
            for c in range(cell.col, cell.col + cell.col_span):
                seen[(r, c)] = seen.get((r, c), 0) + 1
    assert seen == {(r, c): 1 for r in range(table.n_rows) for c in range(table.n_cols)}


# --- layout -------------------------------------------------------------------------------


def test_layout_regions_have_canonical_labels_and_lie_on_the_page(tiny_models: dict[str, Path], sample: Sample) -> None:
    (model,) = load_models(spec("layout", tiny_models["layout"], threshold="0", nms_iou="1"))
    small = sample.page
    pages = model.run([small, small])
    assert len(pages) == 2
    regions = pages[0]
    assert regions, "threshold 0 keeps every query"
    assert regions == pages[1], "the same page gives the same regions inside one batch"
    for region in regions:
        assert region.label in LABELS
        assert 0 <= region.box.x0 < region.box.x1 <= small.width_pt
        assert 0 <= region.box.y0 < region.box.y1 <= small.height_pt


def test_layout_nms_and_threshold_options(tiny_models: dict[str, Path], sample: Sample) -> None:
    (loose,) = load_models(spec("layout", tiny_models["layout"], threshold="0", nms_iou="1"))
    (strict,) = load_models(spec("layout", tiny_models["layout"], threshold="0", nms_iou="0.3"))
    (none,) = load_models(spec("layout", tiny_models["layout"], threshold="1.01"))
    all_regions = loose.run([sample.page])[0]
    kept = strict.run([sample.page])[0]
    assert len(kept) <= len(all_regions)
    assert all(a.box.iou(b.box) <= 0.3 for i, a in enumerate(kept) for b in kept[i + 1 :])
    assert max(kept, key=lambda r: r.score).score == max(r.score for r in all_regions)
    assert none.run([sample.page]) == [[]]


# --- OCR ----------------------------------------------------------------------------------


def test_segment_lines_finds_each_rendered_line(sample: Sample) -> None:
    crop = sample.crop(TEXT_BOX, "text", 1)
    with Image.open(crop.image_path) as image:
        boxes = segment_lines(image)
        lines = line_images(image)
    assert len(boxes) == len(PARAGRAPH)
    assert all(a.y1 <= b.y0 + 4 for a, b in itertools.pairwise(boxes)), "margins overlap at most"
    assert [im.size for im in lines] == [(int(b.width), int(b.height)) for b in boxes]


def test_segment_lines_of_a_blank_image_is_empty() -> None:
    assert segment_lines(Image.new("RGB", (50, 30), "white")) == []


def test_trocr_reads_one_text_per_crop_with_lines_joined(tiny_models: dict[str, Path], sample: Sample) -> None:
    (model,) = load_models(spec("ocr", tiny_models["ocr"], max_new_tokens="6"))
    crops = [
        sample.crop(TEXT_BOX, "text", 1),
        sample.crop(Box(250, 20, 300, 30), "text", 3),  # blank area: no line at all
    ]
    out = model.run(crops)
    assert all(isinstance(o, OcrText) for o in out)
    assert len(out[0].text.split("\n")) == len(PARAGRAPH)
    assert out[1] == OcrText("", 0.0)
    assert 0 < out[0].confidence <= 1
    assert model.cost(crops[0]) >= 1


# --- tables -------------------------------------------------------------------------------


def test_tatr_text_layer_words_all_land_in_a_consistent_grid(tiny_models: dict[str, Path], sample: Sample) -> None:
    (model,) = load_models(spec("tables", tiny_models["tables"], threshold="0"))
    crop = sample.crop(TABLE_BOX, "table", 4)
    (table,) = model.run([crop])
    assert table.n_rows >= 1 and table.n_cols >= 1
    assert_grid_covered_once(table)
    words = sorted(" ".join(c.text for c in table.cells).split())
    assert words == sorted(w for row in TABLE_ROWS for w in row)


def test_tatr_falls_back_to_ocr_without_text_layer(tiny_models: dict[str, Path], sample: Sample) -> None:
    (model,) = load_models(spec("tables", tiny_models["tables"], threshold="0"))
    (empty,) = load_models(spec("tables", tiny_models["tables"], threshold="0", ocr="none"))
    crop = sample.crop(TABLE_BOX, "table", 4, text_layer=False)
    (table,) = model.run([crop])
    assert_grid_covered_once(table)
    found = set(" ".join(c.text for c in table.cells).split())
    assert {"Region", "North", "South"} <= found
    assert all(c.text == "" for c in empty.run([crop])[0].cells)


def test_crop_origin_matches_the_padded_crop(sample: Sample) -> None:
    crop = sample.crop(TABLE_BOX, "table", 4)
    ox, oy = crop_origin_pt(crop)
    assert abs(ox - (TABLE_BOX.x0 - 2)) < 1 and abs(oy - (TABLE_BOX.y0 - 2)) < 1
    estimated = crop_origin_pt(replace(crop, padded_box=None))  # crops built without a padded box
    assert abs(estimated[0] - ox) < 1 and abs(estimated[1] - oy) < 1
    with pymupdf.open(sample.pdf) as doc:
        assert doc[0].get_text("words", clip=pymupdf.Rect(ox, oy, ox + 40, oy + 20))[0][4] == "Region"


# --- figures ------------------------------------------------------------------------------


def test_deplot_returns_chart_data_for_every_figure(tiny_models: dict[str, Path], sample: Sample) -> None:
    (model,) = load_models(spec("figures", tiny_models["figures"], max_new_tokens="8"))
    crops = [sample.crop(FIGURE_BOX, "figure", 5), sample.crop(TABLE_BOX, "figure", 6)]
    charts = model.run(crops)
    assert [type(c) for c in charts] == [ChartData, ChartData]
    for chart in charts:
        assert chart == parse_deplot(chart.raw_text), "the model's text is kept and parsed as is"
        assert all(len(row) == len(chart.header) for row in chart.rows)


def test_classifier_routes_only_chart_labels_to_deplot(tiny_models: dict[str, Path], sample: Sample) -> None:
    crops = [sample.crop(FIGURE_BOX, "figure", 5), sample.crop(TABLE_BOX, "figure", 6)]
    common = {"max_new_tokens": "4", "classifier": str(tiny_models["figure_classifier"])}
    (every,) = load_models(spec("figures", tiny_models["figures"], chart_labels="chart,photo", **common))
    (nothing,) = load_models(spec("figures", tiny_models["figures"], chart_labels="diagram", **common))
    (charts,) = load_models(spec("figures", tiny_models["figures"], chart_labels="chart", **common))
    (photos,) = load_models(spec("figures", tiny_models["figures"], chart_labels="photo", **common))
    assert all(isinstance(c, ChartData) for c in every.run(crops))
    assert nothing.run(crops) == [None, None]
    as_chart = [c is not None for c in charts.run(crops)]
    as_photo = [c is not None for c in photos.run(crops)]
    assert [a != b for a, b in zip(as_chart, as_photo, strict=True)] == [True, True]


def test_header_render_puts_prompt_above_the_figure() -> None:
    figure = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(figure).rectangle((10, 10, 50, 190), fill="black")
    font = ImageFont.truetype(io.BytesIO(header_font_bytes(None)), size=36)
    out = render_header(figure, "Generate underlying data table of the figure below:", font)
    assert out.width >= figure.width and out.height > figure.height
    banner = out.crop((0, 0, out.width, out.height - int(figure.height * out.width / figure.width)))
    assert np.asarray(banner.convert("L")).min() < 128, "the prompt is drawn in the banner"


# --- configuration ------------------------------------------------------------------------


def test_missing_checkpoint_raises_model_load_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="example-org/no-such-layout-model") as info:
        load_models(spec("layout", "example-org/no-such-layout-model"))
    assert "local folder" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="empty"):
        load_models(spec("ocr", tmp_path / "empty"))
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_models(spec("figures", tmp_path / "mistyped"))


def test_a_missing_optional_library_is_named(tiny_models: dict[str, Path]) -> None:
    def needs_timm(model: str, **kwargs: object) -> None:
        raise ImportError("TimmBackbone requires the timm library")

    with pytest.raises(ModelLoadError, match="pip install timm") as info:
        pretrained(needs_timm, spec("tables", tiny_models["tables"]), "weights")
    assert str(tiny_models["tables"]) in str(info.value)


def test_unknown_option_is_rejected(tiny_models: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="treshold"):
        load_models(spec("layout", tiny_models["layout"], treshold="0.3"))


# --- reference architectures --------------------------------------------------------------


def test_reference_models_have_the_published_sizes() -> None:
    """Within 2% of the parameter counts published for the production checkpoints."""
    published = {"layout": 41.5e6, "ocr": 334e6, "tables": 28.8e6, "figures": 282e6}
    summary = reference_summary()
    for stage, size in published.items():
        assert abs(int(summary[stage]["parameters"]) - size) / size < 0.02, stage
