"""DePlot's linearized data table -> `ChartData`, and `ChartData` -> a pandas DataFrame.

DePlot (a Pix2Struct model) answers with one string such as::

    TITLE | Sales by year <0x0A> Year | Sales <0x0A> 2019 | 10 <0x0A> 2020 | 12

Rows are separated by the literal token `<0x0A>` (the byte-fallback spelling of a newline
that the tokenizer decodes verbatim) or by real newlines, cells by `|`. The first row is an
optional `TITLE | ...`, then the header, then the data rows. Generated text is not always
well formed (truncated at the token limit, ragged rows, no table at all), so the parser
never raises: it keeps the raw text and reports `parse_ok=False` when the table is not a
clean rectangle.
"""

from __future__ import annotations

import re

import pandas as pd

from pdf_assets.core.types import ChartData

_ROW_SEPARATOR = re.compile(r"\s*(?:<0x0A>|\r?\n)\s*", re.IGNORECASE)
_TITLE_PREFIX = re.compile(r"^\s*TITLE\s*\|", re.IGNORECASE)
_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")


def _split_row(line: str) -> tuple[str, ...]:
    return tuple(cell.strip() for cell in line.split("|"))


def parse_deplot(text: str) -> ChartData:
    """Parse DePlot output; malformed output keeps its raw text with `parse_ok=False`."""
    lines = [line for line in _ROW_SEPARATOR.split(text.strip()) if line.strip()]
    title: str | None = None
    if lines and _TITLE_PREFIX.match(lines[0]):
        title = _TITLE_PREFIX.sub("", lines[0], count=1).strip() or None
        lines = lines[1:]
    if not lines or not any("|" in line for line in lines):
        return ChartData(raw_text=text, title=title, parse_ok=False)
    header = _split_row(lines[0])
    rows = [_split_row(line) for line in lines[1:]]
    width = max([len(header), *(len(r) for r in rows)])
    ragged = any(len(r) != width for r in [header, *rows])
    # Ragged tables are padded rather than truncated: a cut-off last row or a missing header
    # cell should not lose the values that were read.
    header = _pad(header, width)
    padded = tuple(_pad(r, width) for r in rows)
    return ChartData(raw_text=text, title=title, header=header, rows=padded, parse_ok=bool(rows) and not ragged)


def _pad(row: tuple[str, ...], width: int) -> tuple[str, ...]:
    return row + ("",) * (width - len(row))


def _unique_columns(header: tuple[str, ...]) -> list[str]:
    """DataFrame columns must be addressable: empty names get a position, repeats a suffix."""
    seen: dict[str, int] = {}
    names: list[str] = []
    for i, name in enumerate(header):
        base = name or f"column_{i}"
        count = seen.get(base, 0)
        seen[base] = count + 1
        names.append(base if count == 0 else f"{base}.{count}")
    return names


def _as_number(value: str) -> float | None:
    cleaned = value.replace(",", "").replace("%", "").replace("$", "").strip()
    return float(cleaned) if _NUMBER.match(cleaned) else None


def chart_to_frame(chart: ChartData) -> pd.DataFrame:
    """The chart's table; columns whose every non-empty value is a number become floats.

    Numbers keep their meaning, not their formatting: "1,200" and "12%" become 1200.0 and
    12.0 (the unit stays in the header or in `raw_text`).
    """
    columns = _unique_columns(chart.header)
    frame = pd.DataFrame([list(r) for r in chart.rows], columns=columns, dtype="string")
    for name in columns:
        values = [v for v in frame[name].tolist() if isinstance(v, str) and v.strip()]
        numbers = [_as_number(v) for v in values]
        if values and all(n is not None for n in numbers):
            frame[name] = [(_as_number(v) if isinstance(v, str) and v.strip() else None) for v in frame[name]]
            frame[name] = frame[name].astype("Float64")
    return frame
