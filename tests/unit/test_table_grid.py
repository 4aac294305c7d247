"""Table Transformer rows x columns (+ headers, spanning cells, words) -> a cell grid."""

from __future__ import annotations

from pdf_assets.core.table_grid import grid_from_detections
from pdf_assets.core.types import Box, TableCell

# A 3x3 table on a 30-unit grid: rows at y 0-30-60-90, columns at x 0-30-60-90.
ROWS = [Box(0, 0, 90, 30), Box(0, 30, 90, 60), Box(0, 60, 90, 90)]
COLS = [Box(0, 0, 30, 90), Box(30, 0, 60, 90), Box(60, 0, 90, 90)]


def word(x: float, y: float, text: str) -> tuple[Box, str]:
    return (Box(x - 4, y - 3, x + 4, y + 3), text)


def cell(table_cells: tuple[TableCell, ...], row: int, col: int) -> TableCell:
    (found,) = [c for c in table_cells if (c.row, c.col) == (row, col)]
    return found


def test_rows_times_columns_give_every_cell_with_its_words() -> None:
    words = [word(15, 15, "Name"), word(45, 15, "Q1"), word(75, 45, "12"), word(78, 47, "units")]
    table = grid_from_detections(list(reversed(ROWS)), COLS, [], [], words)
    assert (table.n_rows, table.n_cols) == (3, 3)
    assert len(table.cells) == 9
    assert cell(table.cells, 0, 0).text == "Name"
    assert cell(table.cells, 0, 1).text == "Q1"
    assert cell(table.cells, 1, 2).text == "12 units"
    assert cell(table.cells, 2, 2).text == ""


def test_spanning_cell_merges_into_its_top_left_anchor() -> None:
    span = Box(1, 1, 89, 29)  # the first row, all three columns
    tall = Box(1, 31, 29, 89)  # first column, rows 1 and 2
    words = [word(75, 15, "Title"), word(15, 75, "Group")]
    table = grid_from_detections(ROWS, COLS, [], [span, tall], words)
    anchor = cell(table.cells, 0, 0)
    assert (anchor.row_span, anchor.col_span, anchor.text) == (1, 3, "Title")
    side = cell(table.cells, 1, 0)
    assert (side.row_span, side.col_span, side.text) == (2, 1, "Group")
    assert len(table.cells) == 9 - 2 - 1
    assert not [c for c in table.cells if (c.row, c.col) in {(0, 1), (0, 2), (2, 0)}]


def test_overlapping_spans_keep_the_larger_one() -> None:
    table = grid_from_detections(ROWS, COLS, [], [Box(1, 1, 59, 29), Box(1, 1, 89, 59)], [])
    anchor = cell(table.cells, 0, 0)
    assert (anchor.row_span, anchor.col_span) == (2, 3)
    assert len(table.cells) == 9 - 5


def test_header_rows_are_flagged() -> None:
    table = grid_from_detections(ROWS, COLS, [Box(0, 0, 90, 31)], [], [])
    assert {c.is_header for c in table.cells if c.row == 0} == {True}
    assert {c.is_header for c in table.cells if c.row > 0} == {False}


def test_duplicate_row_detections_collapse() -> None:
    table = grid_from_detections([*ROWS, Box(0, 1, 90, 29)], COLS, [], [], [])
    assert table.n_rows == 3


def test_words_outside_every_row_go_to_the_nearest() -> None:
    table = grid_from_detections(ROWS, COLS, [], [], [word(95, 100, "x")])
    assert cell(table.cells, 2, 2).text == "x"


def test_missing_columns_make_one_column_and_nothing_makes_an_empty_table() -> None:
    table = grid_from_detections(ROWS, [], [], [], [word(15, 15, "a"), word(75, 15, "b")])
    assert (table.n_rows, table.n_cols) == (3, 1)
    assert cell(table.cells, 0, 0).text == "a b"
    empty = grid_from_detections([], [], [], [], [])
    assert (empty.n_rows, empty.n_cols, empty.cells) == (0, 0, ())
