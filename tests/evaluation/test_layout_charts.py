"""Layout and chart scorers on small hand-made inputs."""

from __future__ import annotations

import pytest

from pdf_assets.core.types import Box
from pdf_assets.evaluation.charts import best_recovered, recovered
from pdf_assets.evaluation.groundtruth import LayoutBox, LayoutTruth
from pdf_assets.evaluation.layout import score_layout


def _b(page: int, kind: str, x0: float, y0: float, x1: float, y1: float) -> LayoutBox:
    return LayoutBox(page, kind, Box(x0, y0, x1, y1))


def test_layout_matches_by_kind_page_and_iou() -> None:
    truth = LayoutTruth(
        (_b(0, "text", 0, 0, 100, 10), _b(0, "table", 0, 20, 100, 80), _b(1, "figure", 0, 0, 50, 50)),
        frozenset({"text", "table", "figure"}),
    )
    predicted = [
        _b(0, "text", 0, 0, 100, 12),  # IoU 0.83: hit
        _b(0, "text", 0, 20, 100, 80),  # right box, wrong kind: miss and false positive
        _b(1, "figure", 0, 0, 50, 20),  # IoU 0.4: miss
        _b(0, "figure", 0, 0, 50, 50),  # right box, wrong page
    ]
    score = score_layout(truth, predicted)
    assert (score.truth, score.predicted, score.matched) == (3, 4, 1)
    assert score.recall == pytest.approx(1 / 3)
    assert score.precision == pytest.approx(1 / 4)
    assert score.by_kind["table"] == (1, 0, 0)


def test_layout_scores_only_the_kinds_the_truth_covers() -> None:
    truth = LayoutTruth((_b(0, "table", 0, 0, 10, 10),), frozenset({"table"}))
    score = score_layout(truth, [_b(0, "table", 0, 0, 10, 10), _b(0, "text", 0, 20, 10, 30)])
    assert (score.recall, score.precision) == (1.0, 1.0)


def test_a_box_matches_once() -> None:
    truth = LayoutTruth((_b(0, "text", 0, 0, 10, 10), _b(0, "text", 0, 0, 10, 10)), frozenset({"text"}))
    assert score_layout(truth, [_b(0, "text", 0, 0, 10, 10)]).matched == 1


TRUTH = [("DeepSeek-V3", "MMLU-Pro", 75.9), ("GPT-4o", "MMLU-Pro", 72.6), ("DeepSeek-V3", "MATH 500", 90.2)]


def test_chart_series_as_columns() -> None:
    chart = {
        "header": ["benchmark", "deepseek-v3", "GPT-4o"],
        "rows": [["MMLU-Pro", "75.9", "72.6"], ["math500", "90.3%", "x"]],
    }
    # 90.3 is within 1% of 90.2; "math500" matches "MATH 500" whitespace- and case-insensitively
    assert recovered(TRUTH, chart) == 3


def test_chart_series_as_rows_and_tolerance() -> None:
    chart = {
        "header": ["model", "MMLU-Pro", "MATH 500"],
        "rows": [["DeepSeek-V3", "75.9", "92"], ["GPT-4o", "72.6", "-"]],
    }
    assert recovered(TRUTH, chart) == 2  # 92 is 2% off 90.2


def test_best_chart_of_a_document() -> None:
    good = {"header": ["x", "DeepSeek-V3"], "rows": [["MMLU-Pro", "75.9"]]}
    assert best_recovered(TRUTH, [{"header": [], "rows": []}, good]) == 1
    assert best_recovered(TRUTH, []) == 0


def test_a_trailing_qualifier_is_optional_but_other_names_must_match() -> None:
    chart = {"header": ["x", "DeepSeek-V3 "], "rows": [["MMLU-Pro (EM)", "75.9"], ["MATH", "90.2"]]}
    assert recovered(TRUTH, chart) == 1  # "MATH" is not "MATH 500"
