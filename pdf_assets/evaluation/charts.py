"""Chart scorer: how many (series, x, value) triples of the truth a chart table recovers.

A chart table is `{"header": [...], "rows": [[...]]}` (the figures' `chart_json`). Its first
column names the rows. Models disagree on orientation, so both readings are tried: series
as columns (header = series, first column = x) and series as rows (first column = series,
header = x); the one that recovers more values counts. Names match case- and
whitespace-insensitively, values within a relative tolerance (1 % by default). A trailing
parenthesised qualifier is optional on either side: a chart whose axis prints
"MMLU-Pro (EM)" names the same category as a truth row "MMLU-Pro" whose metric column is
"EM", so such a name also matches without its qualifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pdf_assets.evaluation.groundtruth import parse_number

TOLERANCE = 0.01


def name_key(name: str) -> str:
    return re.sub(r"\s+", "", name).casefold()


def bare_key(name: str) -> str:
    """`name_key` without a trailing "(...)" qualifier such as a metric or unit."""
    return name_key(re.sub(r"\s*\([^()]*\)\s*$", "", name))


def chart_triples(chart: dict[str, Any], series_in_columns: bool) -> dict[tuple[str, str], float]:
    """(series, x) -> value for one reading of a chart table (keys normalised by `name_key`)."""
    header = [str(h) for h in chart.get("header", [])]
    out: dict[tuple[str, str], float] = {}
    for row in chart.get("rows", []):
        cells = [str(c) for c in row]
        if not cells:
            continue
        for col_name, value in zip(header[1:], cells[1:], strict=False):
            number = parse_number(value)
            if number is None:
                continue
            series, x = (col_name, cells[0]) if series_in_columns else (cells[0], col_name)
            out.setdefault((name_key(series), name_key(x)), number)
            out.setdefault((bare_key(series), bare_key(x)), number)
    return out


def _close(expected: float, got: float, tolerance: float) -> bool:
    return abs(got - expected) <= tolerance * abs(expected) if expected else abs(got) <= tolerance


def recovered(truth: Sequence[tuple[str, str, float]], chart: dict[str, Any], tolerance: float = TOLERANCE) -> int:
    """How many truth triples one chart table recovers, in its better orientation."""
    best = 0
    for orientation in (True, False):
        found = chart_triples(chart, orientation)
        hits = 0
        for series, x, value in truth:
            got = found.get((name_key(series), name_key(x)), found.get((bare_key(series), bare_key(x))))
            hits += got is not None and _close(value, got, tolerance)
        best = max(best, hits)
    return best


def best_recovered(
    truth: Sequence[tuple[str, str, float]], charts: Iterable[dict[str, Any]], tolerance: float = TOLERANCE
) -> int:
    """The best of a document's charts (the figure the truth belongs to is not known)."""
    return max((recovered(truth, c, tolerance) for c in charts), default=0)
