"""The figures stage: a figure's caption is its real caption, and vector charts skip the model."""

from __future__ import annotations

from pathlib import Path

from pdf_assets.backends.registry import clear_cache
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.types import Box, Crop, Region, RegionKey, RegionKind, TextResult
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.figures import extract_figures, link_caption
from pdf_assets.stages.manifests import CategorizedRegions, TextManifest
from tests.unit.test_vector_charts import PLOT, bar_chart

FIGURE = Box(100, 100, 500, 400)


def _crop(box: Box = FIGURE, pdf: str = "", text_layer: bool = False) -> Crop:
    region = Region(RegionKey("doc", 0, 0), "part", "figure", RegionKind.FIGURE, box, 1.0)
    return Crop(region, pdf, "", 2.0, 1, 1, text_layer)


def _text(index: int, label: str, text: str, box: Box) -> tuple[TextResult, tuple[float, float, float, float]]:
    return TextResult(RegionKey("doc", 0, index), "part", label, text, "text_layer", 1.0, "t"), box.as_tuple()


def test_the_nearest_caption_below_is_linked() -> None:
    captions = [
        _text(1, "caption", "Figure 2: Throughput per core.", Box(100, 410, 400, 420)),
        _text(2, "caption", "Figure 9: Far away.", Box(100, 700, 400, 710)),
    ]
    assert link_caption(_crop(), captions) == "Figure 2: Throughput per core."


def test_text_inside_the_figure_is_never_its_caption() -> None:
    captions = [_text(1, "caption", "Legend: red is up", Box(120, 120, 220, 130))]
    assert link_caption(_crop(), captions) is None


def test_a_row_of_axis_labels_is_not_a_caption() -> None:
    captions = [
        _text(1, "caption", "MMLU (EM)", Box(120, 405, 200, 415)),
        _text(2, "caption", "MATH (EM)", Box(300, 405, 380, 415)),
    ]
    assert link_caption(_crop(), captions) is None
    named = [*captions, _text(3, "text", "Fig. 4 Benchmark scores", Box(100, 430, 400, 440))]
    assert link_caption(_crop(), named) == "Fig. 4 Benchmark scores"


def test_a_table_caption_is_not_a_figure_caption() -> None:
    captions = [_text(1, "caption", "Table 3: Results", Box(100, 410, 400, 420))]
    assert link_caption(_crop(), captions) is None


def test_vector_charts_are_read_in_the_stage_and_skip_the_model(tmp_path: Path) -> None:
    clear_cache()
    pdf = bar_chart(tmp_path / "bars.pdf")
    crop = _crop(PLOT, str(pdf), text_layer=True)
    caption = TextResult(RegionKey("doc", 0, 1), "part", "text", "Figure 7: Sales by region", "text_layer", 1.0, "t")
    caption_region = Region(caption.key, "part", "text", RegionKind.TEXT, Box(80, 450, 500, 462), 1.0)
    categorized = {"part": CategorizedRegions("part", (crop.region, caption_region), (), (crop,), ())}
    texts = {"part": TextManifest("part", (caption,))}
    engine = InferenceEngine({"figures": ModelSpec("figures", backend="fake")}, progress=None)
    (result,) = extract_figures(categorized, texts, engine)["part"].results
    clear_cache()
    assert result.engine == "vector"
    assert result.chart is not None and result.chart.header[0] == "category"
    assert result.caption == "Figure 7: Sales by region"
