"""`pdf-assets overlay`: a stored page's layout boxes drawn on its page image.

When a document's Markdown reads out of order or a table comes out as text, the first question
is what the layout stage saw. This answers it from the database alone: each region's box,
coloured by kind and labelled with its reading-order number (region index + 1) and its label,
on the page image the run stored (or, when that scratch file is gone, the page re-rendered from
the PDF). Boxes are stored in PDF points; they are scaled to the image's pixels, so they line up
whatever resolution the image has.

A document is named by its `doc_id`, a unique `doc_id` prefix (6 hex characters or more), or a
unique file name or path suffix (`report.pdf`, `alpha/report.pdf`); see `find_document`.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

import cv2
import numpy as np
import pandas as pd
from sqlalchemy import inspect

from pdf_assets.core.config import default_db_url
from pdf_assets.core.errors import ConfigError, DocumentError
from pdf_assets.storage.db import engine_scope, mask
from pdf_assets.storage.queries import read_frame

Record = dict[str, Any]
Image = cv2.typing.MatLike

#: RGB colour of each region kind's boxes; `OTHER_COLOUR` for any kind not listed.
KIND_COLOURS: dict[str, tuple[int, int, int]] = {
    "text": (0, 114, 178),  # blue
    "table": (0, 158, 115),  # green
    "figure": (213, 94, 0),  # orange
}
OTHER_COLOUR = (204, 121, 167)  # purple
MIN_PREFIX = 6  # hex characters: shorter prefixes of a sha-like id collide too easily
_HEX = re.compile(r"[0-9a-f]+")
_LISTED = 8  # names a message lists before it says "..."


def kind_colour(kind: str) -> tuple[int, int, int]:
    """The RGB colour boxes of `kind` are drawn in (tests and legends read it here)."""
    return KIND_COLOURS.get(kind, OTHER_COLOUR)


def _records(frame: pd.DataFrame) -> list[Record]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _name(doc: Record) -> str:
    """How a message names a document: partition, file name and the start of its doc_id."""
    return f"{doc['partition']}/{PurePath(str(doc['path'])).name} ({str(doc.get('doc_id') or '')[:8]})"


def _names(docs: Sequence[Record]) -> str:
    listed = ", ".join(_name(d) for d in docs[:_LISTED])
    return listed + (f", ... ({len(docs)} in all)" if len(docs) > _LISTED else "")


def _one(matches: list[Record], what: str) -> Record | None:
    """The single match, None for none; more than one is ambiguous, never a guess."""
    if len(matches) > 1:
        raise ConfigError(f"{what} matches {len(matches)} documents: {_names(matches)}; name one of them exactly")
    return matches[0] if matches else None


def _path_matches(docs: Sequence[Record], query: str) -> list[Record]:
    """Documents whose stored path ends with `query`'s parts (a file given by a path that
    exists here is compared whole, once resolved, so `./alpha/x.pdf` works from anywhere)."""
    given = Path(query).expanduser()
    wanted = given.resolve().parts if given.is_file() else PurePath(query).parts
    if not wanted:
        return []
    return [d for d in docs if PurePath(str(d["path"])).parts[-len(wanted) :] == wanted]


def find_document(documents: Sequence[Record], query: str) -> Record:
    """The one stored document `query` names: its exact `doc_id`, else a unique `doc_id` prefix
    of at least `MIN_PREFIX` hex characters, else a unique file name or path suffix. Raises
    `ConfigError` naming the candidates when the query is ambiguous or matches nothing."""
    query = query.strip()
    doc_ids = [(str(d.get("doc_id") or ""), d) for d in documents]
    exact = _one([d for doc_id, d in doc_ids if doc_id == query], f"doc_id {query!r}")
    if exact is not None:
        return exact
    key = query.lower()
    if len(key) >= MIN_PREFIX and _HEX.fullmatch(key):
        prefixed = _one([d for doc_id, d in doc_ids if doc_id.startswith(key)], f"doc_id prefix {query!r}")
        if prefixed is not None:
            return prefixed
    named = _one(_path_matches(documents, query), f"name {query!r}")
    if named is not None:
        return named
    hint = f" (a doc_id prefix needs {MIN_PREFIX} hex characters or more)" if _HEX.fullmatch(key) else ""
    stored = _names(list(documents)) or "none"
    raise ConfigError(f"no stored document matches {query!r}{hint}; stored: {stored}")


def _read(db_url: str, document: str) -> tuple[Record, list[Record], list[Record]]:
    """The named document, its pages (by page number) and their regions (by index)."""
    with engine_scope(db_url, init=False) as engine:
        if not inspect(engine).has_table("documents"):
            raise ConfigError(f"no pipeline database at {mask(engine.url)}: run `pdf-assets run` first")
        doc = find_document(_records(read_frame(engine, "documents")), document)
        pages = read_frame(engine, "pages")
        pages = pages[pages["document_id"] == doc["id"]].sort_values("page_no")
        regions = read_frame(engine, "regions")
        regions = regions[regions["page_id"].isin(list(pages["id"]))].sort_values("idx")
    return doc, _records(pages), _records(regions)


def _selected(doc: Record, pages: list[Record], page: int | None) -> list[Record]:
    """The pages to draw: all of them, or the 1-based `page`; ConfigError when there is none."""
    if not pages:
        why = f"; it could not be read: {doc['error']}" if doc.get("error") else ""
        raise ConfigError(f"{_name(doc)} has no stored pages (status {doc['status']}){why}")
    if page is None:
        return pages
    chosen = [p for p in pages if int(p["page_no"]) + 1 == page]  # stored 0-based
    if not chosen:
        raise ConfigError(f"page {page} is out of range: {_name(doc)} has {len(pages)} stored page(s), from 1")
    return chosen


def _stored_scale(page: Record) -> float | None:
    """The page's pixels per point where the database records it (not every schema does)."""
    value = page.get("px_per_pt")
    try:
        scale = float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return None
    return scale if math.isfinite(scale) and scale > 0 else None


def _render_scale(page: Record) -> float:
    """The scale the render stage picks for this page with its default settings: used only when
    neither the database nor a stored image says what the run used."""
    from pdf_assets.stages.render import page_scale

    return page_scale(float(page["width_pt"]), float(page["height_pt"]))


def _rerender(doc: Record, page: Record, scale: float) -> Image:
    """The page rendered again from the stored PDF path at `scale`, as BGR pixels."""
    import pymupdf

    from pdf_assets.core.pdf import open_pdf

    pdf = Path(str(doc["path"]))
    number = int(page["page_no"]) + 1
    if not pdf.is_file():
        raise ConfigError(f"page {number} of {_name(doc)}: its page image and its PDF {pdf} are both gone")
    try:
        with open_pdf(pdf) as opened:
            pix = opened[int(page["page_no"])].get_pixmap(
                matrix=pymupdf.Matrix(scale, scale), alpha=False, colorspace=pymupdf.csRGB
            )
            png = pix.tobytes("png")
    except (DocumentError, RuntimeError, OSError, IndexError) as exc:  # pymupdf's errors are RuntimeErrors
        raise ConfigError(
            f"page {number} of {_name(doc)}: its page image is gone and {pdf} cannot be rendered: {exc}"
        ) from exc
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ConfigError(f"page {number} of {_name(doc)}: its page image is gone and the re-render did not decode")
    return image


def page_image(doc: Record, page: Record) -> tuple[Image, float]:
    """The page's pixels (BGR) and their scale in pixels per point: the stored image when its file
    still decodes, else the page re-rendered from the PDF at the stored (or default) scale."""
    path = str(page.get("image_path") or "")
    image = cv2.imread(path, cv2.IMREAD_COLOR) if path and Path(path).is_file() else None
    if image is not None:
        return image, _stored_scale(page) or image.shape[1] / float(page["width_pt"])
    scale = _stored_scale(page) or _render_scale(page)
    return _rerender(doc, page, scale), scale


def _label(image: Image, text: str, corner: tuple[int, int], bgr: tuple[int, int, int], scale: float) -> None:
    """`text` on a tag of the box's colour, above the box's top-left corner (inside it when the
    box touches the top of the page), so the number reads without hiding the box's edges."""
    font, size = cv2.FONT_HERSHEY_SIMPLEX, max(0.4, 0.25 * scale)
    (w, h), base = cv2.getTextSize(text, font, size, 1)
    x, y = corner
    top = y - h - base - 2 if y - h - base - 2 >= 0 else y
    cv2.rectangle(image, (x, top), (x + w + 4, top + h + base + 2), bgr, cv2.FILLED)
    cv2.putText(image, text, (x + 2, top + h + 1), font, size, (255, 255, 255), 1, cv2.LINE_AA)


def draw_regions(image: Image, regions: Sequence[Record], scale: float) -> Image:
    """`image` with every region's box and tag drawn on it (in place; also returned)."""
    height, width = image.shape[:2]
    thickness = max(1, round(scale))
    for region in regions:
        red, green, blue = kind_colour(str(region["kind"]))
        bgr = (blue, green, red)
        x0, x1 = (min(max(round(float(region[k]) * scale), 0), width - 1) for k in ("x0", "x1"))
        y0, y1 = (min(max(round(float(region[k]) * scale), 0), height - 1) for k in ("y0", "y1"))
        cv2.rectangle(image, (x0, y0), (x1, y1), bgr, thickness)
        failed = " (failed)" if str(region.get("status") or "ok") == "failed" else ""
        _label(image, f"{int(region['idx']) + 1} {region['label']}{failed}", (x0, y0), bgr, scale)
    return image


def draw_overlay(db_url: str, document: str, page: int | None, out: Path | None) -> list[Path]:
    """Write `<file-stem>-p<NNN>.png` into `out` (default: the current folder) for the 1-based
    `page` of the stored `document` (None: every page); returns the files written. Raises
    `ConfigError` for an unknown or ambiguous document or a page out of range (before writing
    anything), and for a page whose image and PDF are both unusable (pages before it are kept:
    they are correct, and one page at a time keeps memory flat on a long document)."""
    doc, pages, regions = _read(db_url, document)
    chosen = _selected(doc, pages, page)
    by_page: dict[int, list[Record]] = {}
    for region in regions:
        by_page.setdefault(int(region["page_id"]), []).append(region)
    folder = out if out is not None else Path.cwd()
    folder.mkdir(parents=True, exist_ok=True)
    stem = PurePath(str(doc["path"])).stem
    written = []
    for p in chosen:
        image, scale = page_image(doc, p)
        path = folder / f"{stem}-p{int(p['page_no']) + 1:03d}.png"
        if not cv2.imwrite(str(path), draw_regions(image, by_page.get(int(p["id"]), []), scale)):
            raise ConfigError(f"could not write {path}")
        written.append(path)
    return written


def add_overlay_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `pdf-assets overlay` (the CLI module only wires them)."""
    parser.add_argument("document", help="doc_id, a doc_id prefix (6+ hex characters), or a file name or path suffix")
    parser.add_argument("--page", type=int, metavar="N", help="draw only page N (from 1; default: every page)")
    parser.add_argument("--out", metavar="DIR", help="folder for the PNG files (default: the current folder)")
    parser.add_argument(
        "--db-url",
        default=default_db_url(),
        metavar="URL",
        help="SQLAlchemy URL (default: $PDF_ASSETS_DB_URL or SQLite in the data dir)",
    )


def run_overlay(args: argparse.Namespace) -> int:
    """Draw the overlays `args` ask for; 0 with one printed line per file, 2 on a usage error."""
    try:
        written = draw_overlay(args.db_url, args.document, args.page, Path(args.out) if args.out else None)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0
