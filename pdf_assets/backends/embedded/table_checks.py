"""Not really a table": regions the layout model calls tables that hold something else.

A table of contents has two aligned columns and turns into hundreds of cells; a boxed
paragraph (an infobox) has a ruled frame and turns into one cell holding all its text.
Both are better served as text, so the backend raises `NotATableError` and the tables
stage falls back to the region's text instead of storing a table nobody can use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pdf_assets.core.errors import NotATableError

#: dot leaders: four or more dots, possibly spaced (". . . ." or "....")
LEADER = re.compile(r"(?:\.\s?){4,}")
#: a table of contents: at least this many lines with leaders, and this share of all lines
MIN_LEADER_LINES = 3
MIN_LEADER_SHARE = 0.25
#: a text box: one cell with more than this many characters holding this share of the text
TEXT_BOX_CHARS = 200
TEXT_BOX_SHARE = 0.6


class TableNotFoundError(NotATableError):
    """No table grid could be recovered for a region (recorded as an item failure)."""


def reject_contents(lines: Iterable[str]) -> None:
    """Raise NotATableError when the region's lines read like a table of contents."""
    texts = [t for t in (line.strip() for line in lines) if t]
    leaders = sum(1 for t in texts if LEADER.search(t))
    if leaders >= MIN_LEADER_LINES and leaders >= MIN_LEADER_SHARE * len(texts):
        raise NotATableError(f"{leaders} of {len(texts)} lines end in dot leaders: a table of contents, not a table")


def reject_grid(rows: Sequence[int], cols: Sequence[int], texts: Sequence[str]) -> None:
    """Raise NotATableError for a grid that is one row, one column or one big cell.

    `rows`, `cols` and `texts` describe the grid's cells (anchor row, anchor column, text).
    """
    filled = [(r, c, t.strip()) for r, c, t in zip(rows, cols, texts, strict=True) if t.strip()]
    n_rows, n_cols = len({r for r, _, _ in filled}), len({c for _, c, _ in filled})
    if n_rows < 2 or n_cols < 2:
        raise NotATableError(f"text in {n_rows} row(s) and {n_cols} column(s) only: not a table")
    total = sum(len(t) for _, _, t in filled)
    longest = max(len(t) for _, _, t in filled)
    if longest > TEXT_BOX_CHARS and longest > TEXT_BOX_SHARE * total:
        raise NotATableError(f"one cell holds {longest} of {total} characters: a text box, not a table")
