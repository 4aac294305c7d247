"""Table structure for every table region of the run, exported as CSV, Markdown and HTML."""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

from pdf_assets.core.batching import StageRun
from pdf_assets.core.types import Crop, TableCell, TableResult, TableStructure
from pdf_assets.stages.collect import collect_crops
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.fallback import fallback_texts
from pdf_assets.stages.manifests import CategorizedRegions, TableManifest


def table_frame(table: TableStructure) -> pd.DataFrame:
    """The grid as a DataFrame of strings; a spanning cell's text sits in its anchor cell."""
    grid = [["" for _ in range(table.n_cols)] for _ in range(table.n_rows)]
    for cell in table.cells:
        if 0 <= cell.row < table.n_rows and 0 <= cell.col < table.n_cols:
            grid[cell.row][cell.col] = cell.text
    return pd.DataFrame(grid, dtype="string")


def table_html(table: TableStructure) -> str:
    """HTML keeps what CSV cannot: row and column spans and header cells."""
    rows: list[list[TableCell]] = [[] for _ in range(table.n_rows)]
    for cell in sorted(table.cells, key=lambda c: (c.row, c.col)):
        if 0 <= cell.row < table.n_rows:
            rows[cell.row].append(cell)
    out = ["<table>"]
    for row in rows:
        out.append("<tr>")
        for cell in row:
            tag = "th" if cell.is_header else "td"
            span = (f' rowspan="{cell.row_span}"' if cell.row_span > 1 else "") + (
                f' colspan="{cell.col_span}"' if cell.col_span > 1 else ""
            )
            out.append(f"<{tag}{span}>{html.escape(cell.text)}</{tag}>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def table_markdown(table: TableStructure) -> str:
    frame = table_frame(table)
    if frame.empty:
        return ""
    header = [str(v).replace("\n", " ") for v in frame.iloc[0]]
    body = frame.iloc[1:].map(lambda v: str(v).replace("\n", " "))
    body.columns = header
    return body.to_markdown(index=False)


def table_result(crop: Crop, table: TableStructure, engine: str) -> TableResult:
    frame = table_frame(table)
    region = crop.region
    return TableResult(
        key=region.key,
        partition=region.partition,
        n_rows=table.n_rows,
        n_cols=table.n_cols,
        cells=table.cells,
        csv=frame.to_csv(index=False, header=False),
        markdown=table_markdown(table),
        html=table_html(table),
        engine=engine,
    )


def extract_tables(categorized: Mapping[str, CategorizedRegions], engine: InferenceEngine) -> dict[str, TableManifest]:
    """One table stage over every table region of the run.

    A region the model finds no table in (often a paragraph the layout called a table)
    keeps its box's text instead: the manifest's `texts`, from the text layer or one OCR
    run over all such regions of the run (`stages.fallback`). Producing them here keeps
    the asset graph as it is: `text_results` and `table_results` both read only the
    categorized regions.
    """
    crops = [c for m in categorized.values() for c in m.tables]
    run: StageRun[TableStructure] = engine.run("tables", crops)
    name = run.metrics.backend or engine.spec("tables").backend
    collected = collect_crops("tables", crops, run, lambda crop, out: table_result(crop, out, name))
    failures = [f for key in categorized for f in collected.failures_of(key)]
    fallback = fallback_texts(crops, failures, engine)
    order = {c.region.key: i for i, c in enumerate(crops)}
    return {
        key: TableManifest(
            key,
            collected.results_of(key),
            fallback.failures_of(key),
            (run.metrics, *fallback.metrics),
            tuple(sorted(fallback.texts_of(key), key=lambda t: order[t.key])),
        )
        for key in categorized
    }
