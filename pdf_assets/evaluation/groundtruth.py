"""Readers for the shared corpus's ground-truth formats (see the corpus MANIFEST).

Every reader turns a peer project's file into the evaluation's own plain types, so the
scorers never see a file format: pages are 0-based and boxes are PDF points with a
top-left origin, as in `core.types.Box`, whatever convention the source file uses.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pdf_assets.core.types import Box, TableCell

# docling's labels onto the project's region kinds (core.types LABELS -> kind_of_label):
# pictures are figures, tables and the table of contents (`document_index`) are tables,
# every text label (headers, footers, captions, list items, code, formulas...) is text.
DOCLING_KIND: dict[str, str] = {"picture": "figure", "chart": "figure", "table": "table", "document_index": "table"}


# A table cell at its anchor (top-left covered) position, 0-based, spans >= 1: the same
# record the pipeline produces, so truth and prediction compare field by field.
Cell = TableCell


@dataclass(frozen=True)
class Table:
    """A table on a page: truth or prediction alike. `spans_known` says whether the cells'
    spans are real structure (TEDS is only scored against tables where they are)."""

    page: int
    n_rows: int
    n_cols: int
    cells: tuple[Cell, ...]
    source: str = ""
    spans_known: bool = False
    label: str = "table"


@dataclass(frozen=True)
class LayoutBox:
    page: int
    kind: str  # text | table | figure
    box: Box
    label: str = ""


@dataclass(frozen=True)
class LayoutTruth:
    """Annotated boxes and the kinds the annotation covers (ICDAR covers tables only)."""

    boxes: tuple[LayoutBox, ...]
    kinds: frozenset[str]


@dataclass(frozen=True)
class TextRule:
    """One olmOCR-bench rule (present / absent / order) for one page."""

    rule_id: str
    page: int
    type: str
    text: str = ""
    before: str = ""
    after: str = ""
    case_sensitive: bool = True
    max_diffs: int = 0
    first_n: int | None = None
    last_n: int | None = None


def table_from_rows(rows: list[list[str]], page: int, source: str) -> Table:
    """A CSV grid (camelot / unstructured convention: span text in the top-left covered cell,
    the other covered cells empty) as anchor cells of span 1; spans are unknown."""
    width = max((len(r) for r in rows), default=0)
    cells = tuple(Cell(r, c, text) for r, row in enumerate(rows) for c, text in enumerate(row) if text.strip())
    return Table(page=page, n_rows=len(rows), n_cols=width, cells=cells, source=source)


def read_csv_table(path: Path, page: int) -> Table:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return table_from_rows(rows, page, source=path.name)


def _docling_box(bbox: dict[str, Any], page_height: float) -> Box:
    if bbox.get("coord_origin", "BOTTOMLEFT") == "BOTTOMLEFT":
        return Box(bbox["l"], page_height - bbox["t"], bbox["r"], page_height - bbox["b"])
    return Box(bbox["l"], bbox["t"], bbox["r"], bbox["b"])


def _resolve(doc: dict[str, Any], ref: str) -> dict[str, Any]:
    _, collection, index = ref.split("/")
    item: dict[str, Any] = doc[collection][int(index)]
    return item


def walk_docling(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item of `body` depth-first: docling's reading order (groups are walked through)."""
    stack = [ref["$ref"] for ref in reversed(doc["body"].get("children", []))]
    while stack:
        item = _resolve(doc, stack.pop())
        if not item["self_ref"].startswith("#/groups/"):
            yield item
        stack.extend(ref["$ref"] for ref in reversed(item.get("children", [])))


def inside_picture(item: dict[str, Any]) -> bool:
    """Text docling found inside a picture (a diagram's labels, a screenshot's words): part of
    the picture, left out of docling's Markdown and of the page's layout regions; a picture's
    caption is its child too but is a text of the page."""
    parent = (item.get("parent") or {}).get("$ref", "")
    return str(parent).startswith("#/pictures/") and item.get("label") != "caption"


def docling_page_texts(doc: dict[str, Any]) -> dict[int, list[str]]:
    """Body text items per 0-based page in reading order, as docling's Markdown has them:
    furniture (page headers and footers) and text inside pictures left out; table cell text
    is not a text item."""
    pages: dict[int, list[str]] = {}
    for item in walk_docling(doc):
        if not item["self_ref"].startswith("#/texts/") or item.get("content_layer") == "furniture":
            continue
        if inside_picture(item):
            continue
        prov = item.get("prov") or [{"page_no": 1}]
        pages.setdefault(int(prov[0]["page_no"]) - 1, []).append(item.get("text", ""))
    return pages


def docling_tables(doc: dict[str, Any]) -> list[Table]:
    """Tables from `table_cells` (each spanning cell once, start/end offsets, end exclusive)."""
    out = []
    for table in doc.get("tables", []):
        data = table["data"]
        cells = tuple(
            Cell(
                c["start_row_offset_idx"],
                c["start_col_offset_idx"],
                c.get("text", ""),
                max(1, c["end_row_offset_idx"] - c["start_row_offset_idx"]),
                max(1, c["end_col_offset_idx"] - c["start_col_offset_idx"]),
            )
            for c in data.get("table_cells", [])
        )
        page = int(table["prov"][0]["page_no"]) - 1 if table.get("prov") else 0
        out.append(
            Table(page, data["num_rows"], data["num_cols"], cells, "docling", spans_known=True, label=table["label"])
        )
    return out


def docling_layout(doc: dict[str, Any]) -> LayoutTruth:
    """Every text, table and picture box of a docling document, furniture included, text
    inside pictures not (the picture's box covers it)."""
    heights = {int(k) - 1: float(v["size"]["height"]) for k, v in doc.get("pages", {}).items()}
    boxes = []
    for collection in ("texts", "tables", "pictures"):
        for item in doc.get(collection, []):
            if inside_picture(item):
                continue
            kind = DOCLING_KIND.get(item["label"], "text")
            for prov in item.get("prov", []):
                page = int(prov["page_no"]) - 1
                boxes.append(LayoutBox(page, kind, _docling_box(prov["bbox"], heights[page]), item["label"]))
    return LayoutTruth(tuple(boxes), frozenset({"text", "table", "figure"}))


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _icdar_box(element: ET.Element, page_height: float) -> Box:
    bb = element.find("bounding-box")
    if bb is None:
        raise ValueError("ICDAR region without a bounding-box")
    x1, y1, x2, y2 = (float(bb.get(k, "0")) for k in ("x1", "y1", "x2", "y2"))
    return Box(x1, page_height - y2, x2, page_height - y1)


def icdar_regions(path: Path, page_heights: dict[int, float]) -> LayoutTruth:
    """Table regions of an ICDAR 2013 `-reg.xml` (1-based pages, bottom-left origin)."""
    boxes = []
    for region in ET.parse(path).getroot().iter("region"):
        page = int(region.get("page", "1")) - 1
        boxes.append(LayoutBox(page, "table", _icdar_box(region, page_heights.get(page, 792.0)), "table"))
    return LayoutTruth(tuple(boxes), frozenset({"table"}))


def icdar_tables(path: Path) -> list[Table]:
    """Tables of an ICDAR 2013 `-str.xml`: inclusive indices, 0- or 1-based, normalised per
    region by subtracting the smallest start row and column."""
    tables = []
    for region in ET.parse(path).getroot().iter("region"):
        raw = []
        for cell in region.iter("cell"):
            r0, c0 = int(cell.get("start-row", "0")), int(cell.get("start-col", "0"))
            r1, c1 = int(cell.get("end-row", r0)), int(cell.get("end-col", c0))
            raw.append((r0, c0, r1, c1, (cell.findtext("content") or "").strip()))
        if not raw:
            continue
        dr, dc = min(c[0] for c in raw), min(c[1] for c in raw)
        cells = tuple(Cell(r0 - dr, c0 - dc, text, r1 - r0 + 1, c1 - c0 + 1) for r0, c0, r1, c1, text in raw)
        n_rows = max(c.row + c.row_span for c in cells)
        n_cols = max(c.col + c.col_span for c in cells)
        page = int(region.get("page", "1")) - 1
        tables.append(Table(page, n_rows, n_cols, cells, path.name, spans_known=True))
    return tables


def read_olmocr_rules(path: Path) -> list[TextRule]:
    rules = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        rules.append(
            TextRule(
                rule_id=row.get("id", ""),
                page=int(row.get("page", 1)) - 1,
                type=row["type"],
                text=row.get("text", ""),
                before=row.get("before", ""),
                after=row.get("after", ""),
                case_sensitive=bool(row.get("case_sensitive", True)),
                max_diffs=int(row.get("max_diffs", 0)),
                first_n=row.get("first_n"),
                last_n=row.get("last_n"),
            )
        )
    return rules


def read_chart_triples(path: Path) -> list[tuple[str, str, float]]:
    """(series, x, value) from a chart-data CSV: first column x, numeric columns series."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    header, body = rows[0], rows[1:]
    triples = []
    for row in body:
        for name, value in zip(header[1:], row[1:], strict=False):
            number = parse_number(value)
            if number is not None:
                triples.append((name, row[0], number))
    return triples


def parse_number(text: str) -> float | None:
    """A value as printed in a table or chart label ("75.9", "75.9%", "1,234"), else None."""
    cleaned = text.strip().replace(",", "").rstrip("%").strip()
    try:
        return float(cleaned)
    except ValueError:
        return None
