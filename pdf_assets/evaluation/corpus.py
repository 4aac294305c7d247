"""Which ground truth a corpus holds for each PDF, found by the corpus's file naming.

`<stem>.json` / `<stem>.<variant>.json` (docling), `<stem>.tableN.csv` and
`<stem>-actual.csv` (CSV grids), `<stem>-str.xml` / `<stem>-reg.xml` (ICDAR 2013),
`<stem>.olmocr_bench.jsonl` (olmOCR rules) and `<stem>.chartdata.csv` (chart values).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pdf_assets.evaluation import groundtruth as gt

#: documents whose text counts toward the text target (docling text GT named by the task)
TEXT_TARGET_DOCS = frozenset({"redp5110_sampled.pdf", "2305.03393v1-pg9.pdf", "ocr_test.pdf"})
#: documents whose tables count toward the table target (camelot / ICDAR / unstructured / docling pg9)
TABLE_TARGET_DOCS = frozenset(
    {
        "twotables_2.pdf",
        "us-030.pdf",
        "health_protected.pdf",
        "clockwise_table_1.pdf",
        "table-multi-row-column-cells.pdf",
        "2305.03393v1-pg9.pdf",
    }
)


@dataclass(frozen=True)
class TableTruth:
    """A truth table: the grid cell F1 is scored on and, where spans are known, the structure
    TEDS is scored on (the ICDAR structure of us-030 goes with camelot's CSV grid)."""

    name: str
    grid: gt.Table
    structure: gt.Table | None
    target: bool


@dataclass
class DocTruth:
    name: str
    text_pages: dict[int, list[str]] | None = None
    text_source: str = ""
    rules: list[gt.TextRule] = field(default_factory=list)
    tables: list[TableTruth] = field(default_factory=list)
    layout: gt.LayoutTruth | None = None
    layout_source: str = ""
    chart: list[tuple[str, str, float]] = field(default_factory=list)


def _docling_file(folder: Path, stem: str) -> tuple[Path, dict[str, Any]] | None:
    for path in sorted(folder.glob(f"{stem}*.json")):
        if path.name.endswith(".pages.meta.json") or not re.fullmatch(
            rf"{re.escape(stem)}(\.[\w.]+)?\.json", path.name
        ):
            continue
        data = gt.read_json(path)
        if data.get("schema_name") == "DoclingDocument":
            return path, data
    return None


def _csv_tables(folder: Path, stem: str) -> list[Path]:
    numbered = sorted(folder.glob(f"{stem}.table*.csv"), key=lambda p: int(re.sub(r"\D", "", p.suffixes[-2]) or 0))
    return numbered + sorted(folder.glob(f"{stem}-actual.csv"))


def _tables(folder: Path, stem: str, docling: dict[str, Any] | None, target: bool) -> list[TableTruth]:
    structures = gt.icdar_tables(folder / f"{stem}-str.xml") if (folder / f"{stem}-str.xml").is_file() else []
    out = []
    for i, path in enumerate(_csv_tables(folder, stem)):
        structure = structures[i] if i < len(structures) else None
        grid = gt.read_csv_table(path, page=structure.page if structure else 0)
        out.append(TableTruth(path.name, grid, structure, target))
    if not out:
        out.extend(TableTruth(f"{stem} ICDAR table {i + 1}", s, s, target) for i, s in enumerate(structures))
    if not out and docling is not None:
        for i, table in enumerate(gt.docling_tables(docling)):
            name = f"{stem}.json table {i + 1} (p.{table.page + 1}, {table.n_rows}x{table.n_cols}, {table.label})"
            out.append(TableTruth(name, table, table, target))
    return out


def doc_truth(folder: Path, pdf_name: str, page_heights: dict[int, float]) -> DocTruth:
    """Everything the ground-truth folder says about one PDF (empty fields where it says nothing)."""
    stem = pdf_name.removesuffix(".pdf")
    truth = DocTruth(pdf_name)
    docling = _docling_file(folder, stem)
    if docling is not None:
        path, data = docling
        truth.text_pages, truth.text_source = gt.docling_page_texts(data), path.name
        truth.layout, truth.layout_source = gt.docling_layout(data), path.name
    if (folder / f"{stem}-reg.xml").is_file():
        truth.layout = gt.icdar_regions(folder / f"{stem}-reg.xml", page_heights)
        truth.layout_source = f"{stem}-reg.xml"
    rules = folder / f"{stem}.olmocr_bench.jsonl"
    if rules.is_file():
        truth.rules = gt.read_olmocr_rules(rules)
    truth.tables = _tables(folder, stem, docling[1] if docling else None, pdf_name in TABLE_TARGET_DOCS)
    chart = folder / f"{stem}.chartdata.csv"
    if chart.is_file():
        truth.chart = gt.read_chart_triples(chart)
    return truth
