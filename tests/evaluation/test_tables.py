"""Table scorers on small hand-made grids."""

from __future__ import annotations

import pytest

from pdf_assets.evaluation.groundtruth import Cell, Table, table_from_rows
from pdf_assets.evaluation.tables import cell_f1, lenient_text, match_tables, teds

TRUTH = table_from_rows([["State", "n", "Literacy"], ["", "", "Read &\nWrite"], ["Kerala", "2400", "7.2"]], 0, "t")


def test_identical_tables_score_one() -> None:
    assert cell_f1(TRUTH, TRUTH).f1 == 1.0
    assert teds(TRUTH, TRUTH) == 1.0


def test_strict_collapses_whitespace_and_lenient_removes_it() -> None:
    pred = table_from_rows([["State", "n", "Literacy"], ["", "", "Read&Write"], ["Kerala", "2400", "7.2"]], 0, "p")
    strict = cell_f1(TRUTH, pred)
    assert strict.f1 == pytest.approx(6 / 7)  # 7 non-empty cells each side, 6 equal
    assert cell_f1(TRUTH, pred, lenient_text).f1 == 1.0
    same_words = table_from_rows(
        [["State", "n", "Literacy"], ["", "", "Read & Write"], ["Kerala", "2400", "7.2"]], 0, "p"
    )
    assert cell_f1(TRUTH, same_words).f1 == 1.0


def test_a_wrong_cell_costs_precision_and_recall() -> None:
    pred = table_from_rows([["State", "n", "Literacy"], ["", "", "Read & Write"], ["Kerala", "2401", "7.2"]], 0, "p")
    score = cell_f1(TRUTH, pred)
    assert (score.precision, score.recall) == (pytest.approx(6 / 7), pytest.approx(6 / 7))


def test_an_extra_title_row_is_aligned_away() -> None:
    pred = table_from_rows(
        [["Table 6", "", ""], ["State", "n", "Literacy"], ["", "", "Read & Write"], ["Kerala", "2400", "7.2"]], 0, "p"
    )
    score = cell_f1(TRUTH, pred)
    assert score.shift == (-1, 0)
    assert score.recall == 1.0
    assert score.precision == pytest.approx(7 / 8)


def test_span_text_repeated_in_covered_cells_is_penalised() -> None:
    pred = table_from_rows(
        [["State", "n", "Literacy"], ["State", "n", "Read & Write"], ["Kerala", "2400", "7.2"]], 0, "p"
    )
    assert cell_f1(TRUTH, pred).precision == pytest.approx(7 / 9)


def test_empty_prediction_scores_zero() -> None:
    empty = Table(0, 0, 0, ())
    assert cell_f1(TRUTH, empty).f1 == 0.0


def test_teds_sees_spans_and_content() -> None:
    spanned = Table(0, 2, 2, (Cell(0, 0, "A", 1, 2), Cell(1, 0, "b"), Cell(1, 1, "c")), spans_known=True)
    split = Table(0, 2, 2, (Cell(0, 0, "A"), Cell(0, 1, ""), Cell(1, 0, "b"), Cell(1, 1, "c")), spans_known=True)
    typo = Table(0, 2, 2, (Cell(0, 0, "X", 1, 2), Cell(1, 0, "b"), Cell(1, 1, "c")), spans_known=True)
    assert teds(spanned, spanned) == 1.0
    # 6 nodes (table, 2 tr, 3 td) vs 7: the span differs (rename 1) and one td is inserted (1)
    assert teds(spanned, split) == pytest.approx(1 - 2 / 7)
    assert teds(spanned, typo) == pytest.approx(1 - 1 / 6)


def test_matching_is_one_to_one_and_page_bound() -> None:
    other = table_from_rows([["x", "y"], ["1", "2"]], 0, "o")
    on_page_two = table_from_rows([["x", "y"], ["1", "2"]], 1, "o")
    assert match_tables([TRUTH, other], [other, TRUTH]) == [1, 0]
    assert match_tables([TRUTH, other], [TRUTH]) == [0, None]
    assert match_tables([other], [on_page_two]) == [None]
