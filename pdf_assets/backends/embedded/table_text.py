"""Text-layer glyphs for table cells, read along their own direction.

A table cell's text is rebuilt from single glyphs (`rawdict`), not from PyMuPDF's words:
the finder's own extraction uses tiny glyph boxes, so "7.2" becomes "72\\n." (the dot sits
lower). Glyphs keep the writing direction of their line (`dir`), quantised to quarter
turns. Text turned 90 degrees (a rotated column header, a whole table drawn sideways on
a page) is mapped into its own reading frame before lines are formed: read in page
coordinates, "Women" written upwards comes out as "n\\ne\\nm\\no\\nW".

The reading frame of quarter turn q is the page rotated so that direction q points to
the right: x' runs along the text, y' down the lines. Frames compose, so a glyph turned
once inside a table turned three times is read in frame (1 + 3) % 4.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pymupdf

from pdf_assets.core.types import Centred

Rect = tuple[float, float, float, float]  # points, (x0, y0, x1, y1)

#: unit vectors (along the text, down the lines) of each quarter turn, y pointing down
_AXES: dict[int, tuple[tuple[int, int], tuple[int, int]]] = {
    0: ((1, 0), (0, 1)),
    1: ((0, 1), (-1, 0)),
    2: ((-1, 0), (0, -1)),
    3: ((0, -1), (1, 0)),
}


@dataclass(frozen=True)
class Char(Centred):
    """One glyph of the text layer: its box, font size, baseline and writing direction.

    `turn` is the direction in quarter turns clockwise on the page (0 = left to right,
    1 = top to bottom, 3 = bottom to top); boxes and baselines are in the frame the
    glyph was last mapped into.
    """

    c: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float
    baseline: float
    turn: int = 0


def quarter_turn(direction: Sequence[float]) -> int:
    """A line's `dir` vector (cos, sin; y down) rounded to quarter turns clockwise."""
    return round(math.atan2(direction[1], direction[0]) / (math.pi / 2)) % 4


def rect_in_frame(r: Rect, turn: int) -> Rect:
    """`r` in the reading frame of `turn` (an axis-aligned box stays axis-aligned)."""
    (ux, uy), (vx, vy) = _AXES[turn % 4]
    xs = [x * ux + y * uy for x, y in ((r[0], r[1]), (r[2], r[3]))]
    ys = [x * vx + y * vy for x, y in ((r[0], r[1]), (r[2], r[3]))]
    return (min(xs), min(ys), max(xs), max(ys))


def char_in_frame(ch: Char, turn: int, origin_x: float, origin_y: float) -> Char:
    """`ch` mapped into frame `turn`; `origin` is its baseline point in the current frame."""
    if turn % 4 == 0:
        return ch
    x0, y0, x1, y1 = rect_in_frame((ch.x0, ch.y0, ch.x1, ch.y1), turn)
    (ux, uy), (vx, vy) = _AXES[turn % 4]
    new_turn = (ch.turn - turn) % 4
    along, across = origin_x * ux + origin_y * uy, origin_x * vx + origin_y * vy
    base = across if new_turn in (0, 2) else along
    return replace(ch, x0=x0, y0=y0, x1=x1, y1=y1, baseline=base, turn=new_turn)


def _origin(ch: Char) -> tuple[float, float]:
    """A baseline point of `ch` in its current frame, recovered from box and baseline."""
    # The baseline runs along the glyph's own direction; its position across it is stored.
    if ch.turn == 0:
        return ch.x0, ch.baseline
    if ch.turn == 2:
        return ch.x1, ch.baseline
    return (ch.baseline, ch.y0) if ch.turn == 1 else (ch.baseline, ch.y1)


def to_frame(chars: Sequence[Char], turn: int) -> list[Char]:
    """Every glyph mapped into the frame of `turn`; turns stay relative to that frame."""
    if turn % 4 == 0:
        return list(chars)
    return [char_in_frame(ch, turn, *_origin(ch)) for ch in chars]


def dominant_turn(chars: Sequence[Char]) -> int:
    """The direction most non-blank glyphs are written in (0 for no glyphs)."""
    counts = Counter(ch.turn for ch in chars if ch.c.strip())
    return counts.most_common(1)[0][0] if counts else 0


def page_chars(page: pymupdf.Page, clip: Rect) -> list[Char]:
    """Every character inside `clip` with its box, font size, baseline and direction.

    The baseline is stored across the writing direction (y for horizontal text, x for
    vertical text), which is the coordinate lines are grouped by in the glyph's frame.
    """
    chars: list[Char] = []
    raw = page.get_text("rawdict", clip=pymupdf.Rect(clip))
    for block in raw.get("blocks", []):
        for line in block.get("lines", []):
            turn = quarter_turn(line.get("dir", (1.0, 0.0)))
            for span in line["spans"]:
                for ch in span["chars"]:
                    x0, y0, x1, y1 = ch["bbox"]
                    ox, oy = ch["origin"]
                    base = float(oy) if turn in (0, 2) else float(ox)
                    chars.append(Char(ch["c"], x0, y0, x1, y1, float(span["size"]), base, turn))
    return chars


def upright(chars: Sequence[Char]) -> list[Char]:
    """Glyphs in the frame of their dominant direction, ready to be read left to right."""
    turn = dominant_turn(chars)
    return to_frame(chars, turn) if turn else list(chars)


def text_lines(chars: Sequence[Char]) -> list[list[Char]]:
    """Chars grouped into visual lines: same baseline, or vertical ranges overlapping by half."""
    lines: list[list[Char]] = []
    for ch in sorted(chars, key=lambda c: (c.baseline, c.x0)):
        if lines:
            ref = lines[-1][0]
            overlap = min(ch.y1, ref.y1) - max(ch.y0, ref.y0)
            low = min(ch.y1 - ch.y0, ref.y1 - ref.y0)
            if abs(ch.baseline - ref.baseline) <= 0.3 * ref.size or (low > 0 and overlap >= 0.5 * low):
                lines[-1].append(ch)
                continue
        lines.append([ch])
    return [sorted(line, key=lambda c: c.x0) for line in lines]


def line_text(line: Sequence[Char]) -> str:
    """One line's text: spaces from space glyphs or gaps over 0.25 em."""
    parts: list[str] = []
    prev: Char | None = None
    pending = False
    for ch in line:
        if not ch.c.strip():
            pending = True
            continue
        if prev is not None and (pending or ch.x0 - prev.x1 > 0.25 * max(ch.size, 1.0)):
            parts.append(" ")
        parts.append(ch.c)
        prev, pending = ch, False
    return "".join(parts)


def cell_text(chars: Sequence[Char]) -> str:
    """Text of one cell from its glyphs, read in the cell's dominant direction.

    The lines of a multi-line cell are joined with a newline (CSV keeps it; the text
    normalisers turn it into a space).
    """
    lines = [line_text(line) for line in text_lines(upright(chars))]
    return "\n".join(line for line in lines if line)
