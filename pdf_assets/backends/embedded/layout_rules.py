"""Regions after the PyMuPDF layout model: whole pictures with their labels inside, one list item each.

The model's figure boxes go wrong in three ways on born-digital pages, each fixed by a rule
that needs only the page's boxes (plain numbers here, read from the page by `layout.py`):

* A picture drawn as several stacked images comes back as one figure per strip (a screenshot
  in six slices). Figures whose boxes touch or overlap (gap under `STRIP_GAP_PT`) and share
  their extent on the other axis are one picture: they are merged.
* A placed image that overlaps its caption can be dropped altogether. A large embedded image
  that no figure or table covers becomes a figure, trimmed so that the text regions it
  overlaps at its edges (its caption) stay outside; one with text regions inside it is a
  background and stays out. Likewise a cluster of vector artwork (a logo) that no region
  touches becomes a figure.
* A chart's own words (legend entries, tick labels, axis group labels) come back as separate
  text regions, often labelled page_header, page_footer or caption. The figure box first grows
  to the vector drawings it touches; then text regions inside it, numbers just beside it, and
  rows of several short text regions side by side just beside it are the figure's: the box
  grows over them and they are dropped. A text starting like a caption ("Figure 3") is
  never absorbed.

And one rule for lists: a list_item region that holds several items (lines starting with a list
marker: a bullet glyph or an enumerator) is split into one region per item, as each item is
one element of the document.

Reading order is the model's: a merged or grown figure keeps the place of its first part, and
an added figure goes before the first region below it that it overlaps horizontally.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pdf_assets.core.types import Box, DetectedRegion

STRIP_GAP_PT = 4.0
SAME_EXTENT = 0.03  # of the figure's width (or height): edges this close line up
MIN_IMAGE_PT = 40.0
MIN_IMAGE_SHARE = 0.015  # of the page area
MAX_IMAGE_SHARE = 0.8  # larger images are page backgrounds (scans under a text layer)
COVERED = 0.5  # an image this much under figures or tables is already found
MAX_GROWTH = 1.5  # a figure box grown to drawings may not grow more than this in area
INSIDE = 0.7  # a text region this much inside a figure is the figure's
SHORT = 0.4  # of the figure's width: a label, not a paragraph
ADDED_FIGURE_SCORE = 0.5

_CAPTION_START = re.compile(r"^\s*(?:fig(?:ure)?\.?|table|chart|graph|listing|example)\s*[A-Z]?\d", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*[-+\u2212]?[$\u20ac\u00a3]?\d+(?:[.,]\d+)*\s*%?\s*$")

TextOf = Callable[[Box], str]


def _inside_share(inner: Box, outer: Box) -> float:
    return inner.intersection(outer) / inner.area if inner.area > 0 else 0.0


def _strips(a: Box, b: Box) -> bool:
    """Two boxes that are slices of one picture: touching, and lined up along the cut."""
    tol_x = SAME_EXTENT * max(a.width, b.width) + 1
    tol_y = SAME_EXTENT * max(a.height, b.height) + 1
    stacked = abs(a.x0 - b.x0) <= tol_x and abs(a.x1 - b.x1) <= tol_x
    stacked = stacked and max(a.y0, b.y0) - min(a.y1, b.y1) <= STRIP_GAP_PT
    side = abs(a.y0 - b.y0) <= tol_y and abs(a.y1 - b.y1) <= tol_y
    side = side and max(a.x0, b.x0) - min(a.x1, b.x1) <= STRIP_GAP_PT
    return stacked or side


def merge_strips(regions: Sequence[DetectedRegion]) -> list[DetectedRegion]:
    """Figures that are slices of one picture merged into the first slice's place."""
    out = list(regions)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(out):
            j = next((j for j in range(i + 1, len(out)) if _pair(a, out[j])), None)
            if a.label == "figure" and j is not None:
                b = out.pop(j)
                out[i] = DetectedRegion("figure", a.box.union(b.box), max(a.score, b.score))
                merged = True
                break
    return out


def _pair(a: DetectedRegion, b: DetectedRegion) -> bool:
    return a.label == b.label == "figure" and _strips(a.box, b.box)


def add_missing_images(regions: Sequence[DetectedRegion], images: Sequence[Box], page: Box) -> list[DetectedRegion]:
    """Large embedded images no figure or table covers, as figures clear of the text they overlap."""
    out = list(regions)
    for image in images:
        image = Box(max(image.x0, 0), max(image.y0, 0), min(image.x1, page.x1), min(image.y1, page.y1))
        big = image.width >= MIN_IMAGE_PT and image.height >= MIN_IMAGE_PT
        if not big or not MIN_IMAGE_SHARE * page.area <= image.area <= MAX_IMAGE_SHARE * page.area:
            continue
        covered = sum(image.intersection(r.box) for r in out if r.label in ("figure", "table"))
        if covered >= COVERED * image.area:
            continue
        texts = [r.box for r in out if r.label not in ("figure", "table")]
        box = _clear_of_text(image, texts)
        if any(_inside_share(t, box) >= COVERED for t in texts):
            continue  # text printed over the image: a background, not a picture
        if box.width >= MIN_IMAGE_PT and box.height >= MIN_IMAGE_PT:
            at = next((i for i, r in enumerate(out) if r.box.y0 >= box.y0 and _overlaps_x(r.box, box)), len(out))
            out.insert(at, DetectedRegion("figure", box, ADDED_FIGURE_SCORE))
    return out


def _overlaps_x(a: Box, b: Box) -> bool:
    return min(a.x1, b.x1) > max(a.x0, b.x0)


def _clear_of_text(box: Box, texts: Sequence[Box]) -> Box:
    """`box` cut back at its top or bottom edge to leave out the text regions straddling it."""
    x0, y0, x1, y1 = box.as_tuple()
    for text in texts:
        if not _overlaps_x(text, box) or text.intersection(box) <= 0:
            continue
        if text.y1 >= y1 - STRIP_GAP_PT and text.y0 > (y0 + y1) / 2:
            y1 = min(y1, text.y0 - 1)
        elif text.y0 <= y0 + STRIP_GAP_PT and text.y1 < (y0 + y1) / 2:
            y0 = max(y0, text.y1 + 1)
    return Box(x0, y0, x1, max(y0, y1))


def grow_to_drawings(figure: Box, drawings: Sequence[Box], blocked: Sequence[Box], page: Box) -> Box:
    """The figure box grown to the vector drawings it touches (none that touches a table)."""
    grown = figure
    # Drawings off the page (tiling pattern cells, clipped-away art) are no part of the figure.
    on_page = [d for d in drawings if page.x0 <= d.x0 and page.y0 <= d.y0 and d.x1 <= page.x1 and d.y1 <= page.y1]
    for _ in range(4):
        touching = [
            d
            for d in on_page
            if d.area < 0.9 * page.area and d.touches(grown) and not any(d.touches(t) for t in blocked)
        ]
        new = grown
        for d in touching:
            new = new.union(d)
        if new == grown:
            break
        grown = new
    return grown if grown.area <= MAX_GROWTH * max(figure.area, 1.0) else figure


def _adjacent(text: Box, figure: Box, reach: float) -> bool:
    """Beside the figure (above or below within `reach`), inside its horizontal span."""
    span = figure.x0 - 0.05 * figure.width <= text.x0 and text.x1 <= figure.x1 + 0.05 * figure.width
    gap = max(figure.y0 - text.y1, text.y0 - figure.y1, 0.0)
    return span and gap <= reach


def _row_mates(i: int, texts: Sequence[Box]) -> list[int]:
    """Other text boxes on the same line as texts[i], side by side."""
    a = texts[i]
    return [
        j
        for j, b in enumerate(texts)
        if j != i and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5 * min(a.height, b.height) and not _overlaps_x(a, b)
    ]


def _absorbed(figure: Box, texts: Sequence[Box], words: Sequence[str]) -> set[int]:
    """Indexes of the text regions that belong to the figure, in its current box."""
    found: set[int] = set()
    for i, text in enumerate(texts):
        if _CAPTION_START.match(words[i]):
            continue
        if _inside_share(text, figure) >= INSIDE:
            found.add(i)
            continue
        short = text.width < SHORT * figure.width
        if short and _NUMBER.match(words[i]) and _adjacent(text, figure, text.height):
            found.add(i)
        elif short and _adjacent(text, figure, 2 * text.height):
            mates = [j for j in _row_mates(i, texts) if texts[j].width < SHORT * figure.width]
            if mates and all(not _CAPTION_START.match(words[j]) for j in mates):
                found.add(i)
    return found


def absorb_figure_text(
    regions: Sequence[DetectedRegion], drawings: Sequence[Box], page: Box, text_of: TextOf
) -> list[DetectedRegion]:
    """Each figure grown to its drawings and over its own labels, which leave the region list."""
    out = list(regions)
    cache: dict[Box, str] = {}

    def cached(box: Box) -> str:
        if box not in cache:
            cache[box] = text_of(box)
        return cache[box]

    i = 0
    while i < len(out):
        if out[i].label == "figure":
            out, i = _absorb_into(out, i, drawings, page, cached)
        i += 1
    return out


def _absorb_into(
    regions: list[DetectedRegion], i: int, drawings: Sequence[Box], page: Box, text_of: TextOf
) -> tuple[list[DetectedRegion], int]:
    """(regions with figure `i` grown and its labels dropped, the figure's new index)."""
    figure = regions[i]
    tables = [r.box for r in regions if r.label == "table"]
    box = grow_to_drawings(figure.box, drawings, tables, page)
    while True:
        others = [j for j, r in enumerate(regions) if r.label not in ("figure", "table")]
        texts = [regions[j].box for j in others]
        taken = _absorbed(box, texts, [text_of(t) for t in texts])
        if not taken:
            break
        for k in taken:
            box = box.union(texts[k])
        drop = {others[k] for k in taken}
        i -= sum(1 for j in drop if j < i)
        regions = [r for j, r in enumerate(regions) if j not in drop]
    regions[i] = DetectedRegion("figure", box, figure.score)
    return regions, i


_ENUMERATOR = re.compile(r"^(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]$")
_CLIP = (max, max, min, min)  # a box kept inside another, coordinate by coordinate
Line = tuple[Box, str]  # a text line's box and its first span's text
LinesOf = Callable[[Box], list[Line]]


def is_bullet(token: str) -> bool:
    """A list marker: a short symbol (a bullet glyph, often in a symbol font whose codes read as
    control characters or a stray letter with one) or an enumerator such as "2." or "b)"."""
    token = token.strip()
    if not token or len(token) > 4:
        return False
    if _ENUMERATOR.match(token):
        return True
    odd = any(not ch.isprintable() for ch in token)
    return len(token) <= 2 and (odd or not any(ch.isalnum() for ch in token))


def split_list_items(regions: Sequence[DetectedRegion], lines_of: LinesOf) -> list[DetectedRegion]:
    """A list_item region holding several items (lines that start with a list marker) becomes
    one region per item, in place."""
    out: list[DetectedRegion] = []
    for region in regions:
        items = _items(region, lines_of(region.box)) if region.label == "list_item" else []
        out += items if len(items) >= 2 else [region]
    return out


def _items(region: DetectedRegion, lines: Sequence[Line]) -> list[DetectedRegion]:
    starts = sorted(box.y0 for box, text in lines if is_bullet(text))
    if len(starts) < 2:
        return []
    groups: list[list[Box]] = [[] for _ in starts]
    for box, _ in lines:
        cy = (box.y0 + box.y1) / 2
        at = max((i for i, y in enumerate(starts) if y <= cy), default=0)
        groups[at].append(box)
    out = []
    for group in groups:
        if group:
            box = group[0]
            for other in group[1:]:
                box = box.union(other)
            clipped = Box(*(f(a, b) for f, a, b in zip(_CLIP, box.as_tuple(), region.box.as_tuple(), strict=True)))
            out.append(DetectedRegion("list_item", clipped, region.score))
    return out


MIN_DRAWING_PT = 12.0


def add_vector_figures(regions: Sequence[DetectedRegion], clusters: Sequence[Box]) -> list[DetectedRegion]:
    """Clusters of vector drawings that look like artwork (logos, icons; see `layout.py`) and
    that no region touches, as figures: the layout model reads text and images well but can
    miss a small drawing with no text in it."""
    out = list(regions)
    for box in clusters:
        if box.width < MIN_DRAWING_PT or box.height < MIN_DRAWING_PT:
            continue
        if any(box.touches(r.box) for r in out):
            continue
        at = next((i for i, r in enumerate(out) if r.box.y0 >= box.y0 and _overlaps_x(r.box, box)), len(out))
        out.insert(at, DetectedRegion("figure", box, ADDED_FIGURE_SCORE))
    return out
