"""The words and shapes of a vector chart, and the labels among them: categories and legend.

`core.vector_chart` reads the data; this module holds what it reads from (`Word`, `Mark`,
both in PDF points, top-left origin) and the text side of a chart: numbers as printed, the
lines of labels under a plot and the category each names, and the legend (a small swatch
in a series' style with the series' name on its right).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pdf_assets.core.types import Box, Centred

MAX_SWATCH_PT = 60.0

_NUMBER = re.compile(r"^[(\[]?([-+\u2212]?[$\u20ac\u00a3]?\d+(?:[.,]\d+)*)[%)\]]?$")


@dataclass(frozen=True)
class Word(Centred):
    """One word of the text layer: its box in points and its text."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True)
class Mark:
    """One drawn shape: a rectangle (`points` = its two corners) or a polyline (its vertices).

    `style` names how it is painted (fill, stroke, dashes): bars and their legend swatch share it.
    """

    kind: str  # "rect" | "line"
    points: tuple[tuple[float, float], ...]
    style: str

    @property
    def box(self) -> Box:
        xs, ys = [p[0] for p in self.points], [p[1] for p in self.points]
        return Box(min(xs), min(ys), max(xs), max(ys))


def parse_number(text: str) -> float | None:
    """A tick or value label as a number ("1,200" -> 1200, "12%" -> 12, "\u22125" -> -5)."""
    match = _NUMBER.match(text.strip())
    if not match:
        return None
    body = match.group(1).replace("\u2212", "-").lstrip("$\u20ac\u00a3").replace("$", "")
    if "," in body and "." not in body and re.fullmatch(r"-?\d{1,3}(,\d{3})+", body) is None:
        body = body.replace(",", ".")  # a decimal comma
    try:
        return float(body.replace(",", ""))
    except ValueError:
        return None


def lines_of(words: Sequence[Word]) -> list[list[Word]]:
    """Words grouped into text lines (shared vertical centre), top to bottom, each left to right."""
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.cy, w.x0)):
        if lines and abs(lines[-1][0].cy - word.cy) <= 0.5 * max(word.height, lines[-1][0].height):
            lines[-1].append(word)
        else:
            lines.append([word])
    return [sorted(line, key=lambda w: w.x0) for line in lines]


def phrases(line: Sequence[Word]) -> list[list[Word]]:
    """A line's words split where the gap is wider than a space (labels side by side)."""
    out: list[list[Word]] = []
    for word in line:
        if out and word.x0 - out[-1][-1].x1 <= 0.6 * word.height:
            out[-1].append(word)
        else:
            out.append([word])
    return out


def label_lines(words: Sequence[Word], top: float) -> list[list[Word]]:
    """The lines of labels just under `top` (the plot's bottom): a first line within two line
    heights of it, then lines no further apart than 1.5 line heights."""
    out: list[list[Word]] = []
    edge = top
    for line in lines_of([w for w in words if w.cy > top]):
        height = statistics.median(w.height for w in line)
        if min(w.y0 for w in line) - edge > (2.0 if not out else 1.5) * height:
            break
        out.append(line)
        edge = max(w.y1 for w in line)
    return out


def category_names(lines: Sequence[Sequence[Word]], spans: Sequence[tuple[float, float]]) -> list[str]:
    """One name per span from the label lines under it; a line with a word across two spans (a
    caption, a paragraph) ends the labels."""
    names: list[list[str]] = [[] for _ in spans]
    for line in lines:
        slots = [next((i for i, (a, b) in enumerate(spans) if a - 1 <= w.x0 and w.x1 <= b + 1), -1) for w in line]
        if -1 in slots:
            break
        for word, slot in zip(line, slots, strict=True):
            names[slot].append(word.text)
    return [" ".join(n) for n in names]


def spans(extents: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Each extent widened to halfway to its neighbours (the outer ones by as much on the outside)."""
    out: list[tuple[float, float]] = []
    for i, (a, b) in enumerate(extents):
        left = (extents[i - 1][1] + a) / 2 if i else None
        right = (b + extents[i + 1][0]) / 2 if i + 1 < len(extents) else None
        pad = (a - left) if left is not None else (right - b) if right is not None else b - a
        out.append((left if left is not None else a - pad, right if right is not None else b + pad))
    return out


def legend(marks: Sequence[Mark], words: Sequence[Word], styles: Sequence[str], data: Sequence[Mark]) -> dict[str, str]:
    """Series style -> name, from small swatches in that style with words on their right."""
    swatches = [
        m
        for m in marks
        if m.style in styles and m not in data and m.box.width <= MAX_SWATCH_PT and m.box.height <= MAX_SWATCH_PT / 2
    ]
    starts = sorted(s.box.x0 for s in swatches)
    found: dict[str, tuple[float, float, str]] = {}
    for swatch in swatches:
        box = swatch.box
        cy = (box.y0 + box.y1) / 2
        row = sorted((w for w in words if abs(w.cy - cy) <= 0.6 * w.height and w.x0 >= box.x1 - 1), key=lambda w: w.x0)
        if not row or row[0].x0 - box.x1 > 2 * row[0].height:
            continue
        stop = min((x for x in starts if x > box.x1), default=float("inf"))
        name = [row[0]]
        for word in row[1:]:
            if word.x0 - name[-1].x1 > 0.8 * word.height or word.x1 > stop:
                break
            name.append(word)
        found.setdefault(swatch.style, (round(cy), box.x0, " ".join(w.text for w in name)))
    return {style: text for style, (_, _, text) in sorted(found.items(), key=lambda kv: kv[1][:2])}
