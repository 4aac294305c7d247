"""Text-layer text that no layout region covers, kept as extra text regions.

A layout model can miss text: a page it sees as one figure (a scan whose text layer is
still there, a vector chart), or paragraphs it skipped. Only regions reach the text stage,
so that text was lost while the document looked fine. Categorize now reads the words of
every page with a text layer and, where a page has no text region or where the words no
region covers are a fair share of its text, adds text regions (label "text", score 0: no
model saw them) over those words. Words inside a table box count as covered (the table, or
its fallback text, keeps them). Words inside a figure box count as covered only where the
page has text regions: there they are the figure's own labels; on a page with no text
region at all (a scan with a text layer seen as one picture, a vector chart) the text
layer is all the page's text, and it is kept.

The added regions follow the layout's regions on the page (indices n, n+1, ... in reading
order among themselves): the layout's own indices, and so the keys and crop names the
layouts asset already published, never change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pdf_assets.core.parallel import map_by_group
from pdf_assets.core.pdf import open_pdf
from pdf_assets.core.types import Box, PageRef, Region, RegionKey, RegionKind

logger = logging.getLogger(__name__)

# Uncovered words are kept when they are at least this share of the page's text-layer
# characters (or the page has no text region at all), and at least this many characters.
UNCOVERED_SHARE = 0.1
MIN_UNCOVERED_CHARS = 3
REMAINDER_LABEL = "text"
# Pages per worker job, and the count below which the reads run inline.
PAGES_PER_JOB = 32
MIN_PARALLEL_PAGES = 16


@dataclass(frozen=True)
class Word:
    """A text-layer word: its box in points, and its block and line in MuPDF's reading order."""

    box: Box
    chars: int  # non-space characters
    block: int
    line: int


def read_words(pages: list[PageRef]) -> list[list[Word]]:
    """The words of some pages of one PDF (a worker job; never raises: no words for a PDF
    that cannot be read, whose pages then keep what the layout found)."""
    try:
        with open_pdf(pages[0].pdf_path) as doc:
            return [
                [
                    Word(Box(x0, y0, x1, y1), sum(1 for ch in text if not ch.isspace()), block, line)
                    for x0, y0, x1, y1, text, block, line, _ in doc[p.page_no].get_text("words")
                ]
                for p in pages
            ]
    except Exception as exc:  # noqa: BLE001 - a page without words keeps its layout regions only
        logger.warning("words of %s unreadable (%s); no remainder regions", pages[0].pdf_path, exc)
        return [[] for _ in pages]


def _covered(word: Word, boxes: Sequence[Box]) -> bool:
    cx, cy = (word.box.x0 + word.box.x1) / 2, (word.box.y0 + word.box.y1) / 2
    return any(b.x0 <= cx <= b.x1 and b.y0 <= cy <= b.y1 for b in boxes)


def uncovered_pieces(words: Sequence[Word], boxes: Sequence[Box]) -> list[list[Word]]:
    """Runs of uncovered words: whole uncovered lines of a block join one run; a line that
    is partly covered ends the run and its uncovered words stand alone (so a piece's box
    never reaches over covered text, whose region reads it already)."""
    pieces: list[list[Word]] = []
    run: list[Word] = []
    key: tuple[int, int] | None = None
    line: list[tuple[Word, bool]] = []

    def close_line() -> None:
        nonlocal run
        free = [w for w, covered in line if not covered]
        if len(free) == len(line):
            run += free
            return
        if run:
            pieces.append(run)
        if free:
            pieces.append(free)
        run = []

    for word in words:
        if key is not None and (word.block, word.line) != key:
            close_line()
            if word.block != key[0] and run:
                pieces.append(run)
                run = []
            line = []
        key = (word.block, word.line)
        line.append((word, _covered(word, boxes)))
    if line:
        close_line()
    if run:
        pieces.append(run)
    return pieces


def remainder_boxes(page: PageRef, regions: Sequence[Region], words: Sequence[Word]) -> list[Box]:
    """Boxes over the page's uncovered words, when they are worth regions of their own."""
    total = sum(w.chars for w in words)
    if total < MIN_UNCOVERED_CHARS:
        return []
    has_text = any(r.kind is RegionKind.TEXT for r in regions)
    covering = [r.box for r in regions if has_text or r.kind is not RegionKind.FIGURE]
    pieces = uncovered_pieces(words, covering)
    uncovered = sum(w.chars for piece in pieces for w in piece)
    if uncovered < MIN_UNCOVERED_CHARS or (has_text and uncovered < UNCOVERED_SHARE * total):
        return []
    spans = [piece[0].box.union(*(w.box for w in piece[1:])) for piece in pieces]
    boxes = merge_overlapping([box.clipped(page.width_pt, page.height_pt) for box in spans])
    return sorted((b for b in boxes if b.area > 0), key=lambda b: (round(b.y0), b.x0))


def merge_overlapping(boxes: Sequence[Box]) -> list[Box]:
    """Boxes that overlap become their union: the text stage reads a box's whole clip, so
    two overlapping boxes (drop-shadowed or overprinted text) would read the same letters twice."""
    merged: list[Box] = []
    for box in boxes:
        while True:
            hit = next((i for i, other in enumerate(merged) if other.intersection(box) > 0), None)
            if hit is None:
                break
            other = merged.pop(hit)
            box = box.union(other)
        merged.append(box)
    return merged


def remainder_regions(page: PageRef, regions: Sequence[Region], words: Sequence[Word]) -> list[Region]:
    """Text regions over the uncovered words, numbered after the page's layout regions."""
    start = max((r.key.index for r in regions), default=-1) + 1
    return [
        Region(
            RegionKey(page.doc_id, page.page_no, start + i), page.partition, REMAINDER_LABEL, RegionKind.TEXT, box, 0.0
        )
        for i, box in enumerate(remainder_boxes(page, regions, words))
    ]


def remainders_of(jobs: list[tuple[PageRef, list[Region]]]) -> list[list[Region]]:
    """The remainder regions of some pages of one PDF (a worker job). The words stay in the
    worker: shipping every word of a large run back, and testing each against the page's
    boxes in this process, took longer than reading them."""
    words = read_words([page for page, _ in jobs])
    return [remainder_regions(page, regions, w) for (page, regions), w in zip(jobs, words, strict=True)]


def add_remainders(work: Sequence[tuple[PageRef, list[Region]]]) -> list[list[Region]]:
    """Each page's regions plus its remainder regions, found on the worker processes for
    every page with a text layer (a PDF's pages together)."""
    layered = [i for i, (page, _) in enumerate(work) if page.has_text_layer]
    added = map_by_group(
        remainders_of,
        [work[i] for i in layered],
        lambda job: job[0].pdf_path,
        chunk=PAGES_PER_JOB,
        inline_below=MIN_PARALLEL_PAGES,
    )
    by_page = dict(zip(layered, added, strict=True))
    out: list[list[Region]] = []
    for i, (page, regions) in enumerate(work):
        extra = by_page.get(i, [])
        if extra:
            logger.debug("%s p%d: %d remainder text regions", page.doc_id, page.page_no, len(extra))
        out.append([*regions, *extra])
    return out
