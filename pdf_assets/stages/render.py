"""Render every page of every PDF of a run in parallel worker processes.

Images go to a page store on disk; the stage returns small references (`PageRef`) so the
Dagster value stays a manifest. A PDF that cannot be opened or rendered becomes a
`DocumentInfo` with its error: the rest of its folder carries on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pymupdf

from pdf_assets.core.folders import folder_fingerprint, list_pdfs
from pdf_assets.core.parallel import process_map
from pdf_assets.core.types import DocumentInfo, PageRef, StageMetrics
from pdf_assets.stages.manifests import PagesManifest

logger = logging.getLogger(__name__)

DEFAULT_DPI = 144

# Page images are scratch inputs for the models, read back once or twice: lossless, but
# encoded for speed. PNG's per-row filter search is what makes the default encoder slow
# (about 3x the render itself); with no filter and zlib level 1 the encode is 3-4x faster
# and the file is about the same size, since rendered pages are mostly flat colour.
_PNG_FAST = [
    cv2.IMWRITE_PNG_COMPRESSION,
    1,
    *([cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE] if hasattr(cv2, "IMWRITE_PNG_FILTER") else []),
]


# Pages above this many pixels at the render resolution are rendered smaller, to this size.
# Letter, A4 and A3 pages at 144 dpi stay well under it (1.9-3.9 MP); a poster-sized scan
# (a 25 x 31 in letter: 16.7 MP) would otherwise cost every stage several ordinary pages.
DEFAULT_MAX_PAGE_PIXELS = 8_000_000


@dataclass(frozen=True)
class RenderJob:
    partition: str
    pdf_path: str
    store: str  # page store root
    dpi: int = DEFAULT_DPI
    max_pixels: int = DEFAULT_MAX_PAGE_PIXELS  # 0: no cap


@dataclass(frozen=True)
class RenderedDocument:
    document: DocumentInfo
    pages: tuple[PageRef, ...]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open(path: Path) -> pymupdf.Document:
    """Open a PDF; an encrypted one is tried with the empty password, else rejected clearly."""
    doc = pymupdf.open(path)
    if doc.needs_pass and not doc.authenticate(""):
        doc.close()
        raise ValueError("PDF is encrypted and needs a password")
    if doc.page_count == 0:
        doc.close()
        raise ValueError("PDF has no pages")
    return doc


def render_document(job: RenderJob) -> RenderedDocument:
    """Render one PDF (runs in a worker process); never raises for a bad PDF."""
    path = Path(job.pdf_path)
    try:
        doc_id = sha256_of(path)
    except OSError as exc:
        return RenderedDocument(DocumentInfo("", job.partition, str(path.resolve()), 0, f"unreadable: {exc}"), ())
    try:
        with _open(path) as doc:
            pages = tuple(_render_page(doc, i, doc_id, job) for i in range(doc.page_count))
    except Exception as exc:  # noqa: BLE001 - any MuPDF failure is a document-level error
        logger.warning("cannot render %s: %s", path, exc)
        return RenderedDocument(
            DocumentInfo(doc_id, job.partition, str(path.resolve()), 0, f"{type(exc).__name__}: {exc}"), ()
        )
    return RenderedDocument(DocumentInfo(doc_id, job.partition, str(path.resolve()), len(pages)), pages)


def _pixmap(page: pymupdf.Page, job: RenderJob) -> pymupdf.Pixmap:
    """The page at `job.dpi`, or smaller where that would exceed `job.max_pixels` (the page's
    `px_per_pt` records the scale either way, so boxes in points stay exact)."""
    scale = job.dpi / 72.0
    area = page.rect.width * page.rect.height * scale * scale
    if not job.max_pixels or area <= job.max_pixels:
        return page.get_pixmap(dpi=job.dpi, alpha=False)
    scale *= (job.max_pixels / area) ** 0.5
    logger.info(
        "page %d of %s is %.1f MP at %d dpi: rendered at %.0f dpi",
        page.number + 1,
        job.pdf_path,
        area / 1e6,
        job.dpi,
        72 * scale,
    )
    return page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False)


def _render_page(doc: pymupdf.Document, page_no: int, doc_id: str, job: RenderJob) -> PageRef:
    page = doc[page_no]
    out = Path(job.store) / doc_id[:2] / doc_id / f"{page_no:04d}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    pix = _pixmap(page, job)
    save_pixmap(pix, out)
    text_chars = len(page.get_text("text").strip())
    # PyMuPDF's page.rect already accounts for /Rotate, matching the rendered pixmap.
    rect = page.rect
    return PageRef(
        doc_id=doc_id,
        partition=job.partition,
        pdf_path=str(Path(job.pdf_path).resolve()),
        page_no=page_no,
        width_pt=float(rect.width),
        height_pt=float(rect.height),
        image_path=str(out.resolve()),
        px_per_pt=pix.width / float(rect.width),
        text_chars=text_chars,
    )


def save_pixmap(pix: pymupdf.Pixmap, out: Path) -> None:
    """Write an RGB or grey pixmap as a PNG, atomically (a reader never sees half a file)."""
    rows = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.stride)
    pixels: cv2.typing.MatLike = rows[:, : pix.width * pix.n].reshape(pix.height, pix.width, pix.n)
    if pix.n == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    write_png(pixels, out)


def write_png(pixels: cv2.typing.MatLike, out: Path) -> None:
    """Encode OpenCV pixels (BGR or grey) with the fast lossless settings and write them
    atomically: a reader never sees half a file. Page images and crops both go through here."""
    ok, encoded = cv2.imencode(".png", pixels, _PNG_FAST)
    if not ok:
        raise OSError(f"could not encode the image {out}")
    partial = out.with_name(f".{out.name}.{os.getpid()}.part")
    partial.write_bytes(encoded.tobytes())
    os.replace(partial, out)


def render_all(
    jobs: Sequence[RenderJob],
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[RenderedDocument]:
    """Render all jobs on the shared worker processes (input order kept); one worker renders inline."""
    results: list[RenderedDocument] = []
    for i, res in enumerate(process_map(render_document, jobs, workers), 1):
        results.append(res)
        if progress:
            progress("pages", i, len(jobs))
    return results


def render_partitions(
    folders: Mapping[str, Path],
    store: Path,
    dpi: int = DEFAULT_DPI,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    max_pixels: int = DEFAULT_MAX_PAGE_PIXELS,
) -> dict[str, PagesManifest]:
    """Render the PDFs of every partition of the run on the worker processes."""
    started = time.perf_counter()
    jobs = [
        RenderJob(key, str(pdf), str(store), dpi, max_pixels)
        for key, folder in folders.items()
        for pdf in list_pdfs(folder)
    ]
    rendered = render_all(jobs, workers, progress)
    metrics = StageMetrics(
        stage="pages",
        backend="pymupdf",
        items=sum(len(r.pages) for r in rendered),
        batches=len(jobs),
        failures=sum(1 for r in rendered if r.document.error),
        seconds=time.perf_counter() - started,
    )
    return {
        key: PagesManifest(
            partition=key,
            folder=str(folder),
            fingerprint=folder_fingerprint(folder),
            documents=tuple(r.document for r in rendered if r.document.partition == key),
            pages=tuple(p for r in rendered if r.document.partition == key for p in r.pages),
            metrics=(metrics,),
        )
        for key, folder in folders.items()
    }
