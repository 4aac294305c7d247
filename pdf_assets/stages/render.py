"""Render every page of every PDF of a run in parallel worker processes.

Images go to a page store on disk; the stage returns small references (`PageRef`) so the
Dagster value stays a manifest. A PDF that cannot be opened or rendered becomes a
`DocumentInfo` with its error: the rest of its folder carries on. So does one that takes
longer than the per-document time limit (its worker process is killed), a link that points
outside its folder and the inbox, and an encrypted PDF none of the passwords opens.
Documents also carry flags for what was done to read them (`DOCUMENT_FLAGS`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pymupdf

from pdf_assets.core.errors import DocumentError
from pdf_assets.core.folders import FolderNotFoundError, folder_fingerprint, is_within, list_pdfs
from pdf_assets.core.parallel import killable_imap, process_map
from pdf_assets.core.pdf import configured_passwords, unlock
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


# Whatever the configured cap, no page image is larger than this: just under the size at which
# PIL (used by some model backends to read page images) warns of a decompression bomb (it
# refuses twice that), and a page that large (93 x 93 in at 144 dpi) is better downscaled than lost.
HARD_MAX_PAGE_PIXELS = 88_000_000

# A PDF that keeps MuPDF busy longer than this becomes an error document (`timeout` flag).
DEFAULT_RENDER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RenderJob:
    partition: str
    pdf_path: str
    store: str  # page store root
    dpi: int = DEFAULT_DPI
    max_pixels: int = DEFAULT_MAX_PAGE_PIXELS  # 0: only the hard cap
    folder: str = ""  # the partition's folder: names the document and bounds its links
    roots: tuple[str, ...] = ()  # other folders a link may point into (the inbox)
    passwords: tuple[str, ...] = field(default=(), repr=False)


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


def document_id(partition: str, relative_path: str, sha256: str) -> str:
    """The id of one file in one folder: identical files in one folder, or one file in two
    folders, get different ids (their pages, regions and crops never collide), while the
    same unchanged file keeps its id from run to run."""
    return hashlib.sha256(f"{partition}\0{relative_path}\0{sha256}".encode()).hexdigest()


def _relative(job: RenderJob) -> str:
    path = Path(job.pdf_path)
    if job.folder:
        try:
            return path.absolute().relative_to(Path(job.folder).absolute()).as_posix()
        except ValueError:
            pass
    return path.name


def _link_error(job: RenderJob) -> str | None:
    """Why a linked PDF may not be read (it points outside its folder and the inbox), or None."""
    path = Path(job.pdf_path)
    if not path.is_symlink():
        return None
    roots = [Path(r) for r in (job.folder, *job.roots) if r]
    if any(is_within(path, root) for root in roots):
        return None
    return "link points outside the inbox: refused"


def _open(path: Path, passwords: tuple[str, ...]) -> tuple[pymupdf.Document, bool]:
    """Open a PDF (unlocking it with the passwords) and say whether it was encrypted."""
    doc = pymupdf.open(path)
    encrypted = unlock(doc, passwords)
    if doc.page_count == 0:
        doc.close()
        raise DocumentError("PDF has no pages")
    return doc, encrypted


def _failed(job: RenderJob, sha: str, error: str, flags: tuple[str, ...] = ()) -> RenderedDocument:
    doc_id = document_id(job.partition, _relative(job), sha)
    path = str(Path(job.pdf_path).absolute())
    return RenderedDocument(DocumentInfo(doc_id, job.partition, path, 0, error, sha, flags), ())


def render_document(job: RenderJob) -> RenderedDocument:
    """Render one PDF (runs in a worker process); never raises for a bad PDF."""
    path = Path(job.pdf_path)
    link_error = _link_error(job)
    if link_error:
        return _failed(job, "", link_error)
    try:
        sha = sha256_of(path)
    except OSError as exc:
        return _failed(job, "", f"unreadable: {exc}")
    doc_id = document_id(job.partition, _relative(job), sha)
    try:
        doc, encrypted = _open(path, job.passwords)
        with doc:
            rendered = [_render_page(doc, i, doc_id, job) for i in range(doc.page_count)]
            repaired = bool(doc.is_repaired)
    except Exception as exc:  # noqa: BLE001 - any MuPDF failure is a document-level error
        logger.warning("cannot render %s: %s", path, exc)
        return _failed(job, sha, f"{type(exc).__name__}: {exc}")
    flags = tuple(
        flag
        for flag, present in (
            ("encrypted", encrypted),
            ("repaired", repaired),
            ("pages_empty", any(empty for _, _, empty in rendered)),
            ("downscaled", any(small for _, small, _ in rendered)),
        )
        if present
    )
    pages = tuple(page for page, _, _ in rendered)
    info = DocumentInfo(doc_id, job.partition, str(path.absolute()), len(pages), None, sha, flags)
    return RenderedDocument(info, pages)


def render_stopped(job: RenderJob, message: str, timeout: bool) -> RenderedDocument:
    """The error document for a PDF whose render was stopped (or whose worker died)."""
    path = Path(job.pdf_path)
    try:  # a regular file only: reading a pipe or device could hang this process too
        sha = sha256_of(path) if path.is_file() else ""
    except OSError:
        sha = ""
    if timeout:
        return _failed(job, sha, f"timeout: rendering {message}", ("timeout",))
    return _failed(job, sha, f"render failed: {message}")


def page_scale(
    width_pt: float, height_pt: float, dpi: int = DEFAULT_DPI, max_pixels: int = DEFAULT_MAX_PAGE_PIXELS
) -> float:
    """Pixels per point of a page rendered at `dpi`, or less where that would exceed
    `max_pixels` (0: only the hard cap) or the hard cap."""
    scale = dpi / 72.0
    area = width_pt * height_pt * scale * scale
    cap = min(max_pixels or HARD_MAX_PAGE_PIXELS, HARD_MAX_PAGE_PIXELS)
    return scale if area <= cap else scale * (cap / area) ** 0.5


def _pixmap(page: pymupdf.Page, job: RenderJob) -> tuple[pymupdf.Pixmap, bool]:
    """The page at `job.dpi`, or smaller where that would exceed `job.max_pixels` or the hard
    cap (the page's `px_per_pt` records the scale either way, so boxes in points stay exact);
    and whether it was made smaller."""
    scale = page_scale(page.rect.width, page.rect.height, job.dpi, job.max_pixels)
    if scale >= job.dpi / 72.0:
        return page.get_pixmap(dpi=job.dpi, alpha=False), False
    area = page.rect.width * page.rect.height * (job.dpi / 72.0) ** 2
    logger.info(
        "page %d of %s is %.1f MP at %d dpi: rendered at %.0f dpi",
        page.number + 1,
        job.pdf_path,
        area / 1e6,
        job.dpi,
        72 * scale,
    )
    return page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False), True


def _render_page(doc: pymupdf.Document, page_no: int, doc_id: str, job: RenderJob) -> tuple[PageRef, bool, bool]:
    """The page's reference, whether it was downscaled, and whether it is empty (no text
    layer and a blank image: a truncated file's lost pages look like this)."""
    page = doc[page_no]
    out = Path(job.store) / doc_id[:2] / doc_id / f"{page_no:04d}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    pix, downscaled = _pixmap(page, job)
    save_pixmap(pix, out)
    text_chars = len(page.get_text("text").strip())
    # PyMuPDF's page.rect already accounts for /Rotate, matching the rendered pixmap.
    rect = page.rect
    ref = PageRef(
        doc_id=doc_id,
        partition=job.partition,
        pdf_path=str(Path(job.pdf_path).absolute()),
        page_no=page_no,
        width_pt=float(rect.width),
        height_pt=float(rect.height),
        image_path=str(out.resolve()),
        px_per_pt=pix.width / float(rect.width),
        text_chars=text_chars,
    )
    return ref, downscaled, text_chars == 0 and is_blank(pix)


def _pixels(pix: pymupdf.Pixmap) -> np.ndarray:
    """The pixmap's samples as a height x width x channels array (a view, no copy)."""
    rows = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.stride)
    return rows[:, : pix.width * pix.n].reshape(pix.height, pix.width, pix.n)


def is_blank(pix: pymupdf.Pixmap) -> bool:
    """Every pixel has the first pixel's colour. (PyMuPDF's `Pixmap.is_unicolor` reads the
    samples one by one in Python: half a second for a letter page, more than the render.)"""
    pixels = _pixels(pix)
    return bool((pixels == pixels[0, 0]).all())


def save_pixmap(pix: pymupdf.Pixmap, out: Path) -> None:
    """Write an RGB or grey pixmap as a PNG, atomically (a reader never sees half a file)."""
    pixels: cv2.typing.MatLike = _pixels(pix)
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


def render_stream(
    jobs: Sequence[RenderJob],
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    timeout_s: float = DEFAULT_RENDER_TIMEOUT_S,
) -> Iterator[tuple[int, RenderedDocument]]:
    """`(index into jobs, document)` as each PDF is rendered. With a timeout, each PDF renders
    in a killable worker process and one that runs too long becomes an error document; 0
    means no limit (the shared pool, or inline with one worker)."""
    mapped = (
        killable_imap(render_document, jobs, timeout_s, render_stopped, workers)
        if timeout_s > 0 and jobs
        else enumerate(process_map(render_document, jobs, workers))
    )
    for done, (index, res) in enumerate(mapped, 1):
        if progress:
            progress("pages", done, len(jobs))
        yield index, res


def render_all(
    jobs: Sequence[RenderJob],
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    timeout_s: float = DEFAULT_RENDER_TIMEOUT_S,
) -> list[RenderedDocument]:
    """Render all jobs, in input order (see `render_stream`)."""
    rendered = dict(render_stream(jobs, workers, progress, timeout_s))
    return [rendered[i] for i in range(len(jobs))]


@dataclass(frozen=True)
class RenderSettings:
    """How a run renders its PDFs (the resource's render settings, in one value)."""

    dpi: int = DEFAULT_DPI
    workers: int | None = None
    max_pixels: int = DEFAULT_MAX_PAGE_PIXELS
    timeout_s: float = DEFAULT_RENDER_TIMEOUT_S
    passwords: tuple[str, ...] = field(default=(), repr=False)
    roots: tuple[Path, ...] = ()


def render_jobs(folders: Mapping[str, Path], store: Path, settings: RenderSettings) -> list[RenderJob]:
    """One job per PDF of every partition. A partition whose folder is missing raises
    `FolderNotFoundError` before anything is rendered: a green run with no documents would
    replace the partition's rows with nothing. `passwords` come before the configured ones;
    links may point into `roots` (the inbox) besides their own folder."""
    missing = {key: str(folder) for key, folder in folders.items() if not Path(folder).is_dir()}
    if missing:
        raise FolderNotFoundError(
            "partition folders not found (deleted, renamed, or never registered; the stored rows are kept): "
            + ", ".join(f"{k} -> {v}" for k, v in sorted(missing.items()))
        )
    secrets = configured_passwords(settings.passwords)
    extra = tuple(str(Path(r).absolute()) for r in settings.roots)
    return [
        RenderJob(
            key, str(pdf), str(store), settings.dpi, settings.max_pixels, str(Path(folder).absolute()), extra, secrets
        )
        for key, folder in folders.items()
        for pdf in list_pdfs(folder)
    ]


def pages_manifests(
    folders: Mapping[str, Path], rendered: Sequence[RenderedDocument], seconds: float
) -> dict[str, PagesManifest]:
    """Each partition's documents and pages, in job order, with the stage's metrics."""
    metrics = StageMetrics(
        stage="pages",
        backend="pymupdf",
        items=sum(len(r.pages) for r in rendered),
        batches=len(rendered),
        failures=sum(1 for r in rendered if r.document.error),
        seconds=seconds,
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


def render_partitions(
    folders: Mapping[str, Path],
    store: Path,
    dpi: int = DEFAULT_DPI,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    max_pixels: int = DEFAULT_MAX_PAGE_PIXELS,
    *,
    timeout_s: float = DEFAULT_RENDER_TIMEOUT_S,
    passwords: Sequence[str] = (),
    roots: Sequence[Path] = (),
) -> dict[str, PagesManifest]:
    """Render the PDFs of every partition of the run on the worker processes (see `render_jobs`)."""
    settings = RenderSettings(dpi, workers, max_pixels, timeout_s, tuple(passwords), tuple(Path(r) for r in roots))
    return render_pages(folders, store, settings, progress)


def render_pages(
    folders: Mapping[str, Path],
    store: Path,
    settings: RenderSettings,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, PagesManifest]:
    """`render_partitions` with its settings in one value (the resource's)."""
    started = time.perf_counter()
    rendered = render_all(render_jobs(folders, store, settings), settings.workers, progress, settings.timeout_s)
    return pages_manifests(folders, rendered, time.perf_counter() - started)
