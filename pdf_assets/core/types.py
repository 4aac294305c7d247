"""Domain types shared by every layer.

All values are frozen dataclasses so they are hashable, cheap to pickle between the
render worker processes and the Dagster IO manager, and cannot be mutated by a stage
that only ought to read them. Boxes are always in PDF points with the origin at the
top-left of the page (PyMuPDF's convention); pixel boxes only live inside backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class RegionKind(str, Enum):
    """The three buckets that decide which model a region goes to."""

    TEXT = "text"
    FIGURE = "figure"
    TABLE = "table"


# Canonical region labels. Backends map their own vocabularies onto these.
LABELS: tuple[str, ...] = (
    "text",
    "title",
    "section_header",
    "list_item",
    "table",
    "figure",
    "caption",
    "page_header",
    "page_footer",
    "formula",
    "footnote",
    "code",
)


def kind_of_label(label: str) -> RegionKind:
    """Bucket a canonical label: tables and figures get their own models, the rest is text."""
    if label == "table":
        return RegionKind.TABLE
    if label == "figure":
        return RegionKind.FIGURE
    return RegionKind.TEXT


class Centred:
    """For records of text-layer words and glyphs that carry `x0, y0, x1, y1` (points) as
    fields of their own: their centre, which decides the cell, column or label they belong to."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass(frozen=True)
class Box:
    """Axis-aligned rectangle (x0, y0) top-left to (x1, y1) bottom-right."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return max(0.0, self.x1 - self.x0)

    @property
    def height(self) -> float:
        return max(0.0, self.y1 - self.y0)

    @property
    def area(self) -> float:
        return self.width * self.height

    def scaled(self, factor: float) -> Box:
        """The same box in another unit (points -> pixels at `factor` px/pt)."""
        return Box(self.x0 * factor, self.y0 * factor, self.x1 * factor, self.y1 * factor)

    def pixel_bounds(self, px_per_pt: float) -> tuple[int, int, int, int]:
        """The box in whole image pixels at `px_per_pt` (corners truncated), at least one
        pixel wide and high: the area a crop of this box holds."""
        px = self.scaled(px_per_pt)
        x0, y0 = int(px.x0), int(px.y0)
        return x0, y0, max(int(px.x1), x0 + 1), max(int(px.y1), y0 + 1)

    def clipped(self, width: float, height: float) -> Box:
        """Clamp into [0, width] x [0, height] so crops never leave the page."""
        return Box(
            min(max(self.x0, 0.0), width),
            min(max(self.y0, 0.0), height),
            min(max(self.x1, 0.0), width),
            min(max(self.y1, 0.0), height),
        )

    def intersection(self, other: Box) -> float:
        """Area shared with `other` (0 when disjoint)."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return w * h if w > 0 and h > 0 else 0.0

    def union(self, *others: Box) -> Box:
        """The smallest box holding this one and every one of `others`."""
        boxes = (self, *others)
        x0, y0 = min(b.x0 for b in boxes), min(b.y0 for b in boxes)
        return Box(x0, y0, max(b.x1 for b in boxes), max(b.y1 for b in boxes))

    def touches(self, other: Box, gap: float = 0.0) -> bool:
        """Overlapping, sharing an edge, or at most `gap` apart on both axes."""
        return (
            self.x0 <= other.x1 + gap
            and other.x0 <= self.x1 + gap
            and self.y0 <= other.y1 + gap
            and other.y0 <= self.y1 + gap
        )

    def iou(self, other: Box) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


# Flags a document can carry, stored with it: how it was read and what is missing.
DOCUMENT_FLAGS: tuple[str, ...] = (
    "encrypted",  # opened with a password
    "repaired",  # MuPDF repaired a broken file to read it (content may be missing)
    "pages_empty",  # some pages have neither a text layer nor any detected region
    "downscaled",  # a page was rendered below the configured resolution (size cap)
    "timeout",  # a per-document time limit cut the work short
)


@dataclass(frozen=True)
class DocumentInfo:
    """One PDF of a partition. `error` is set (and `pages` is 0) when it could not be read.

    `doc_id` names this file in this folder and nothing else (the key of its pages, regions
    and crops), so two identical files, or one file in two folders, never share rows or
    files; `sha256` is the content hash that does say when two documents are the same bytes.
    """

    doc_id: str
    partition: str
    path: str
    pages: int
    error: str | None = None
    sha256: str = ""
    flags: tuple[str, ...] = ()  # from DOCUMENT_FLAGS


@dataclass(frozen=True)
class PageRef:
    """A rendered page: where its image lives and how to map pixels back to points."""

    doc_id: str
    partition: str
    pdf_path: str
    page_no: int  # 0-based
    width_pt: float
    height_pt: float
    image_path: str
    px_per_pt: float
    text_chars: int  # characters in the PDF's text layer; 0 means image-only

    @property
    def has_text_layer(self) -> bool:
        return self.text_chars > 0

    @property
    def key(self) -> tuple[str, int]:
        return (self.doc_id, self.page_no)


@dataclass(frozen=True)
class DetectedRegion:
    """What a layout backend returns: a label from LABELS, a box in points and a score."""

    label: str
    box: Box
    score: float


@dataclass(frozen=True)
class RegionKey:
    doc_id: str
    page_no: int
    index: int  # reading-order index on the page

    def slug(self) -> str:
        return f"{self.doc_id[:16]}-p{self.page_no:04d}-r{self.index:03d}"


@dataclass(frozen=True)
class Region:
    key: RegionKey
    partition: str
    label: str
    kind: RegionKind
    box: Box
    score: float


@dataclass(frozen=True)
class Crop:
    """A region cut out of its stored page image, ready for a model stage."""

    region: Region
    pdf_path: str
    image_path: str
    px_per_pt: float  # the crop image's scale, pixels per PDF point
    width_px: int
    height_px: int
    text_layer: bool  # the page has a text layer worth trusting
    page_image: str = ""  # the stored page image the crop is cut from
    padded_box: Box | None = None  # the cut-out area in page points (region box plus padding, clipped)
    cut: bool = True  # False until `image_path` is written (text read from the text layer needs no image)


@dataclass(frozen=True)
class OcrText:
    """A text backend's answer for one crop."""

    text: str
    confidence: float


@dataclass(frozen=True)
class TextResult:
    key: RegionKey
    partition: str
    label: str
    text: str
    source: str  # "text_layer" | "ocr"
    confidence: float
    engine: str


@dataclass(frozen=True)
class TableCell:
    row: int
    col: int
    text: str
    row_span: int = 1
    col_span: int = 1
    is_header: bool = False


@dataclass(frozen=True)
class TableStructure:
    """A table backend's answer: a grid of cells with spans (anchor cell holds the span)."""

    n_rows: int
    n_cols: int
    cells: tuple[TableCell, ...]


@dataclass(frozen=True)
class TableResult:
    key: RegionKey
    partition: str
    n_rows: int
    n_cols: int
    cells: tuple[TableCell, ...]
    csv: str
    markdown: str
    html: str
    engine: str


@dataclass(frozen=True)
class ChartData:
    """A chart turned into data. `parse_ok` is False when the model's text was malformed."""

    raw_text: str
    title: str | None = None
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    parse_ok: bool = True


@dataclass(frozen=True)
class FigureResult:
    key: RegionKey
    partition: str
    crop_path: str
    caption: str | None
    chart: ChartData | None
    engine: str


@dataclass(frozen=True)
class ItemFailure:
    """One item that a stage could not process; the rest of the stage carries on.

    `doc_id` and `region` tie the failure to what it hit, so a document with failures is
    stored as `partial` and a failed region's row says so; `recovered` says what was kept
    instead (e.g. "text_layer" or "ocr": the region's text), None when nothing was.
    """

    stage: str
    item: str  # a human-readable id: region slug, page key or file path
    error: str
    partition: str | None = None
    doc_id: str | None = None
    region: RegionKey | None = None
    recovered: str | None = None


@dataclass
class StageMetrics:
    """What a stage did, for asset metadata, the DB and benchmarks."""

    stage: str
    backend: str = ""
    device: str = "cpu"
    items: int = 0
    batches: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    oom_retries: int = 0
    failures: int = 0
    seconds: float = 0.0
    peak_memory_bytes: int = 0

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        sizes = self.batch_sizes
        return {
            "stage": self.stage,
            "backend": self.backend,
            "device": self.device,
            "items": self.items,
            "batches": self.batches,
            "max_batch_size": max(sizes) if sizes else 0,
            "min_batch_size": min(sizes) if sizes else 0,
            "oom_retries": self.oom_retries,
            "failures": self.failures,
            "seconds": round(self.seconds, 4),
            "items_per_s": round(self.items_per_s, 3),
            "peak_memory_bytes": self.peak_memory_bytes,
        }
