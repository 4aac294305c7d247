"""What a pipeline run wrote, read back from the database into plain per-document values.

The evaluation scores the database (the product), not the pipeline's internals, so it keeps
working while stages change. Columns other schema versions may add (document flags, failure
document ids) are read when present and ignored when not.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import pandas as pd

from pdf_assets.core.types import Box
from pdf_assets.evaluation.groundtruth import Cell, Table
from pdf_assets.storage.db import engine_scope
from pdf_assets.storage.queries import stored_frames

FRAMES = ("documents", "pages", "regions", "texts", "tables", "figures", "failures")


@dataclass(frozen=True)
class RegionOut:
    page: int
    index: int
    label: str
    kind: str
    box: Box
    text: str | None = None
    text_source: str | None = None
    table: Table | None = None
    caption: str | None = None
    chart: dict[str, Any] | None = None


@dataclass(frozen=True)
class FailureOut:
    stage: str
    item: str
    error: str
    recovered: str | None = None


@dataclass
class DocOutput:
    """One document as stored: status, pages (width, height) and regions in reading order."""

    name: str
    status: str
    error: str | None
    pages: list[tuple[float, float]] = field(default_factory=list)
    page_text_chars: list[int] = field(default_factory=list)
    flags: tuple[str, ...] = ()
    regions: list[RegionOut] = field(default_factory=list)
    failures: list[FailureOut] = field(default_factory=list)

    def tables(self) -> list[Table]:
        return [r.table for r in self.regions if r.table is not None]

    def page_texts(self, skip_labels: frozenset[str] = frozenset(), kinds: frozenset[str] | None = None) -> list[str]:
        """Each page's region texts joined in reading order (one list entry per page), from
        regions of `kinds` only when given (a table region may hold text kept instead of cells)."""
        pages: list[list[str]] = [[] for _ in self.pages]
        for r in self.regions:
            if kinds is not None and r.kind not in kinds:
                continue
            if r.text and r.label not in skip_labels and 0 <= r.page < len(pages):
                pages[r.page].append(r.text)
        return ["\n".join(p) for p in pages]


def _str(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _flags(value: object) -> tuple[str, ...]:
    text = _str(value)
    if not text:
        return ()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = [f for f in text.replace(";", ",").split(",") if f.strip()]
    return tuple(sorted(str(f).strip() for f in parsed))


def _table(row: pd.Series, page: int) -> Table:
    cells = tuple(
        Cell(int(c["row"]), int(c["col"]), str(c.get("text", "")), int(c.get("row_span", 1)), int(c.get("col_span", 1)))
        for c in json.loads(row["cells_json"])
    )
    return Table(page, int(row["n_rows"]), int(row["n_cols"]), cells, str(row.get("engine", "")), spans_known=True)


def _chart(value: object) -> dict[str, Any] | None:
    text = _str(value)
    if not text:
        return None
    parsed = json.loads(text)
    return parsed if isinstance(parsed, dict) else None


def _by_region(frame: pd.DataFrame) -> dict[int, pd.Series]:
    return {int(row["region_id"]): row for _, row in frame.iterrows()}


def _regions(frames: dict[str, pd.DataFrame], page_ids: dict[int, int]) -> dict[int, list[RegionOut]]:
    texts, tables, figures = (_by_region(frames[n]) for n in ("texts", "tables", "figures"))
    out: dict[int, list[RegionOut]] = {}
    regions = frames["regions"]
    for _, r in regions[regions["page_id"].isin(page_ids)].iterrows():
        page_no = page_ids[int(r["page_id"])]
        rid = int(r["id"])
        text, table, figure = texts.get(rid), tables.get(rid), figures.get(rid)
        out.setdefault(int(r["page_id"]), []).append(
            RegionOut(
                page=page_no,
                index=int(r["idx"]),
                label=str(r["label"]),
                kind=str(r["kind"]),
                box=Box(float(r["x0"]), float(r["y0"]), float(r["x1"]), float(r["y1"])),
                text=_str(text["text"]) if text is not None else None,
                text_source=_str(text["source"]) if text is not None else None,
                table=_table(table, page_no) if table is not None else None,
                caption=_str(figure["caption"]) if figure is not None else None,
                chart=_chart(figure["chart_json"]) if figure is not None else None,
            )
        )
    return out


def _failures_by_doc(frame: pd.DataFrame) -> dict[str, list[FailureOut]]:
    """Failures keyed by (partition, doc_id) where the database records it, else by the file
    name the failure's `item` names (older schemas: the item is the PDF's path)."""
    out: dict[str, list[FailureOut]] = {}
    for _, f in frame.iterrows():
        item = str(f["item"])
        doc_id = _str(f.get("doc_id"))
        key = f"{f.get('partition')}/{doc_id}" if doc_id else PurePath(item.split("#")[0]).name
        failure = FailureOut(str(f["stage"]), item, str(f["error"]), _str(f.get("recovered")))
        out.setdefault(key, []).append(failure)
    return out


def documents_from_frames(frames: dict[str, pd.DataFrame]) -> dict[str, DocOutput]:
    """Every stored document keyed by file name (the corpus has unique names)."""
    docs: dict[str, DocOutput] = {}
    pages = frames["pages"].sort_values(["document_id", "page_no"])
    failures = _failures_by_doc(frames["failures"])
    for _, d in frames["documents"].sort_values("path").iterrows():
        name = PurePath(str(d["path"])).name
        own = pages[pages["document_id"] == d["id"]]
        page_ids = {int(p["id"]): int(p["page_no"]) for _, p in own.iterrows()}
        regions = _regions(frames, page_ids)
        doc = DocOutput(
            name=name,
            status=str(d["status"]),
            error=_str(d["error"]),
            pages=[(float(p["width_pt"]), float(p["height_pt"])) for _, p in own.iterrows()],
            page_text_chars=[int(p["text_chars"]) for _, p in own.iterrows()],
            flags=_flags(d.get("flags")),
            failures=failures.get(f"{d.get('partition')}/{_str(d.get('doc_id'))}", []) + failures.get(name, []),
        )
        for pid in page_ids:
            doc.regions.extend(regions.get(pid, []))
        doc.regions.sort(key=lambda r: (r.page, r.index))
        docs[name] = doc
    return docs


def load_documents(db_url: str) -> dict[str, DocOutput]:
    """Read a database the pipeline wrote (SQLite or PostgreSQL) into `DocOutput`s."""
    with engine_scope(db_url, init=False) as engine:
        frames = stored_frames(engine, FRAMES)
    return documents_from_frames(frames)
