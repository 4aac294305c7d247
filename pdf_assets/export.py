"""`pdf-assets export`: the stored documents of partitions as Markdown and JSON files.

The database is the product; an export is what a person or another program reads without SQL.
It reads only the database (and the figure crops it points to), so it shows exactly what a run
stored. For each document of a partition it writes, under `<DIR>/<partition>/`:

- `<stem>.md`: the document in reading order (pages in order, regions by index): text regions
  as paragraphs (`title` as `#`, `section_header` as `##` headings), tables as the stored
  Markdown, figures as an image link to the copied crop with the caption and, when a chart was
  read, its data as a Markdown table. An unreadable document gets a note saying so and why.
- `<stem>.json`: the same content, machine-readable (below).
- `<stem>_files/<region slug>.png`: the figure crops that exist on disk.

`<stem>` is the PDF's file stem; when two documents of one partition share a stem (ignoring
case, as some file systems do) each gets `-<first 8 characters of its doc_id>` appended.

JSON schema `pdf_assets.document`, version 1 (all lengths in PDF points, 1/72 inch; boxes are
`[x0, y0, x1, y1]` with the origin at the page's top-left corner, y growing downwards)::

    {"schema": "pdf_assets.document", "version": 1,
     "document": {"path": str, "partition": str, "doc_id": str, "sha256": str,
                  "status": "ok" | "partial" | "error", "error": str | null,
                  "flags": [str, ...], "pages": int (page count)},
     "pages": [{"page_no": int (1-based), "width_pt": float, "height_pt": float,
                "text": str (the page's text results in reading order),
                "regions": [{"index": int (reading order on the page, from 0),
                             "kind": "text" | "table" | "figure", "label": str,
                             "bbox": [float, float, float, float],
                             "status": "ok" | "failed" | "recovered",
                             "text": str (only when text was stored),
                             "table": {"n_rows": int, "n_cols": int, "cells": [{"row": int,
                                       "col": int, "row_span": int, "col_span": int,
                                       "text": str, "is_header": bool}]} (only for tables),
                             "figure": {"crop": str | null (path relative to the JSON file),
                                        "caption": str | null,
                                        "chart": {"header": [str], "rows": [[str]]} | null}
                                       (only for figures)}]}]}

An unreadable document (`status` "error") has `"pages": []`. The same schema, machine-readable
(JSON Schema 2020-12), ships as `pdf_assets/schemas/document.v1.schema.json` (`json_schema()`).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import pandas as pd
from sqlalchemy import inspect

from pdf_assets.core.errors import ConfigError
from pdf_assets.storage.db import engine_scope
from pdf_assets.storage.queries import stored_frames

SCHEMA = "pdf_assets.document"
VERSION = 1
SCHEMA_FILE = Path(__file__).parent / "schemas" / f"document.v{VERSION}.schema.json"
FORMATS = ("md", "json")
TABLES = ("partitions", "documents", "pages", "regions", "texts", "tables", "figures")
HEADINGS = {"title": "#", "section_header": "##"}

Record = dict[str, Any]


def json_schema() -> Record:
    """The JSON Schema every exported `<stem>.json` validates against."""
    schema: Record = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


class UnknownPartitionError(ConfigError):
    """A requested partition key is not in the database."""


@dataclass
class _Doc:
    """One document being exported: its JSON value and, per region, the stored table Markdown
    (kept out of the JSON, which carries the cells instead)."""

    value: Record
    table_markdown: dict[tuple[int, int], str] = field(default_factory=dict)


def _opt(value: object) -> str | None:
    """A nullable text column's value (pandas reads SQL NULL as None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _records(frame: pd.DataFrame) -> list[Record]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _by(frame: pd.DataFrame, column: str) -> dict[int, list[Record]]:
    out: dict[int, list[Record]] = {}
    for row in _records(frame):
        out.setdefault(int(row[column]), []).append(row)
    return out


def _one_by(frame: pd.DataFrame, column: str) -> dict[int, Record]:
    return {key: rows[0] for key, rows in _by(frame, column).items()}


@dataclass(frozen=True)
class _Stored:
    """The rows an export reads, indexed the way it walks them."""

    documents: pd.DataFrame
    pages: dict[int, list[Record]]  # document id -> pages
    regions: dict[int, list[Record]]  # page id -> regions
    texts: dict[int, Record]  # region id -> text
    tables: dict[int, Record]
    figures: dict[int, Record]

    @classmethod
    def read(cls, db_url: str, keys: Sequence[str]) -> _Stored:
        """The rows of `keys`' partitions; `UnknownPartitionError` names keys not stored."""
        with engine_scope(db_url, init=False) as engine:
            if not inspect(engine).has_table("partitions"):
                raise UnknownPartitionError(f"no pipeline database at {engine.url!r}: run `pdf-assets run` first")
            frames = stored_frames(engine, TABLES)
        known = set(frames["partitions"]["key"].astype(str))
        unknown = [k for k in keys if k not in known]
        if unknown:
            stored = ", ".join(sorted(known)) or "none"
            raise UnknownPartitionError(f"unknown partition key(s) {', '.join(map(repr, unknown))}; stored: {stored}")
        docs = frames["documents"]
        return cls(
            documents=docs[docs["partition"].isin(list(keys))].sort_values(["partition", "path"]),
            pages=_by(frames["pages"].sort_values("page_no"), "document_id"),
            regions=_by(frames["regions"].sort_values("idx"), "page_id"),
            texts=_one_by(frames["texts"], "region_id"),
            tables=_one_by(frames["tables"], "region_id"),
            figures=_one_by(frames["figures"], "region_id"),
        )


def file_stems(documents: Sequence[Record]) -> dict[int, str]:
    """Document row id -> file stem, unique within the partition (case-insensitively, since a
    case-insensitive file system would merge `a.pdf`'s and `A.PDF`'s exports)."""
    stems = {int(d["id"]): PurePath(str(d["path"])).stem for d in documents}
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem.casefold()] = counts.get(stem.casefold(), 0) + 1
    out = {}
    for d in documents:
        stem = stems[int(d["id"])]
        suffix = str(d.get("doc_id") or "")[:8] or str(d["id"])
        out[int(d["id"])] = stem if counts[stem.casefold()] == 1 else f"{stem}-{suffix}"
    return out


def _cells(cells_json: str) -> list[Record]:
    return [
        {
            "row": int(c["row"]),
            "col": int(c["col"]),
            "row_span": int(c.get("row_span", 1)),
            "col_span": int(c.get("col_span", 1)),
            "text": str(c.get("text", "")),
            "is_header": bool(c.get("is_header", False)),
        }
        for c in json.loads(cells_json)
    ]


def _figure(row: Record, files: Path, slug: str) -> Record:
    """The figure's JSON value, its crop copied into `files` when the stored crop exists."""
    crop = None
    source = Path(str(row.get("crop_path") or ""))
    if source.is_file():
        files.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, files / f"{slug}{source.suffix or '.png'}")
        crop = f"{files.name}/{slug}{source.suffix or '.png'}"
    chart_text = _opt(row.get("chart_json"))
    chart = json.loads(chart_text) if chart_text else None
    return {"crop": crop, "caption": _opt(row.get("caption")), "chart": chart if isinstance(chart, dict) else None}


def _region(stored: _Stored, r: Record, page_no: int, files: Path, doc: _Doc) -> Record:
    rid, index = int(r["id"]), int(r["idx"])
    value: Record = {
        "index": index,
        "kind": str(r["kind"]),
        "label": str(r["label"]),
        "bbox": [float(r["x0"]), float(r["y0"]), float(r["x1"]), float(r["y1"])],
        "status": str(r.get("status") or "ok"),
    }
    text = stored.texts.get(rid)
    if text is not None:
        value["text"] = str(text["text"])
    table = stored.tables.get(rid)
    if table is not None:
        cells = _cells(str(table["cells_json"]))
        value["table"] = {"n_rows": int(table["n_rows"]), "n_cols": int(table["n_cols"]), "cells": cells}
        doc.table_markdown[(page_no, index)] = str(table["markdown"])
    figure = stored.figures.get(rid)
    if figure is not None:
        value["figure"] = _figure(figure, files, f"p{page_no:04d}-r{index:03d}")
    return value


def _document(stored: _Stored, d: Record, files: Path) -> _Doc:
    flags = [f.strip() for f in str(_opt(d.get("flags")) or "").split(",") if f.strip()]
    doc = _Doc(
        {
            "schema": SCHEMA,
            "version": VERSION,
            "document": {
                "path": str(d["path"]),
                "partition": str(d["partition"]),
                "doc_id": str(d.get("doc_id") or ""),
                "sha256": str(d["sha256"]),
                "status": str(d["status"]),
                "error": _opt(d.get("error")),
                "flags": sorted(flags),
                "pages": int(d["pages"]),
            },
        }
    )
    pages = []
    for p in stored.pages.get(int(d["id"]), []):
        page_no = int(p["page_no"]) + 1  # stored 0-based, exported 1-based
        regions = [_region(stored, r, page_no, files, doc) for r in stored.regions.get(int(p["id"]), [])]
        pages.append(
            {
                "page_no": page_no,
                "width_pt": float(p["width_pt"]),
                "height_pt": float(p["height_pt"]),
                "text": str(_opt(p.get("text")) or ""),
                "regions": regions,
            }
        )
    doc.value["pages"] = pages
    return doc


def chart_markdown(chart: Record) -> str:
    header = [str(h) for h in chart.get("header", [])]
    rows = [[str(v) for v in row] for row in chart.get("rows", [])]
    if not header or any(len(row) != len(header) for row in rows):
        return ""
    return str(pd.DataFrame(rows, columns=header).to_markdown(index=False))


def _region_markdown(region: Record, page_no: int, doc: _Doc) -> list[str]:
    """The Markdown blocks of one region (none for a region that stored nothing)."""
    if "figure" in region:
        figure = region["figure"]
        caption = figure["caption"] or ""
        blocks = [f"![{caption or 'figure'}]({figure['crop']})"] if figure["crop"] else []
        blocks += [f"*{caption}*"] if caption else []
        chart = chart_markdown(figure["chart"]) if figure["chart"] else ""
        return blocks + ([chart] if chart else [])
    table = doc.table_markdown.get((page_no, int(region["index"])))
    if table:
        return [table]
    text = str(region.get("text") or "").strip()
    if not text:
        return []
    heading = HEADINGS.get(str(region["label"]))
    return [f"{heading} {' '.join(text.split())}" if heading else text]


def document_markdown(doc: _Doc) -> str:
    """The document in reading order, one `<!-- page N -->` marker before each page."""
    info = doc.value["document"]
    name = PurePath(info["path"]).name
    if info["status"] == "error" or not doc.value["pages"]:
        return f"<!-- {name} -->\n\nThis document could not be read: {info['error'] or 'no pages were stored'}.\n"
    blocks = [f"<!-- {name} -->"]
    for page in doc.value["pages"]:
        blocks.append(f"<!-- page {page['page_no']} -->")
        for region in page["regions"]:
            blocks += _region_markdown(region, page["page_no"], doc)
    return "\n\n".join(blocks) + "\n"


def export_partitions(db_url: str, keys: Sequence[str], out_dir: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write every document of `keys`' partitions under `out_dir`; returns the files written
    (crops not counted). Raises `UnknownPartitionError` before writing anything."""
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"unknown export format(s) {bad}; expected some of {list(FORMATS)}")
    stored = _Stored.read(db_url, keys)
    written: list[Path] = []
    for key in dict.fromkeys(keys):
        folder = out_dir / key
        folder.mkdir(parents=True, exist_ok=True)
        docs = _records(stored.documents[stored.documents["partition"] == key])
        stems = file_stems(docs)
        for d in docs:
            stem = stems[int(d["id"])]
            doc = _document(stored, d, folder / f"{stem}_files")
            if "json" in formats:
                written.append(folder / f"{stem}.json")
                written[-1].write_text(json.dumps(doc.value, indent=1, ensure_ascii=False), encoding="utf-8")
            if "md" in formats:
                written.append(folder / f"{stem}.md")
                written[-1].write_text(document_markdown(doc), encoding="utf-8")
    return written
