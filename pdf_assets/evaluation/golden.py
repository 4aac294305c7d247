"""Golden files: each document's full stored output in a stable, reviewable JSON form.

One file per PDF (`<name>.json`): status, flags and pages; regions in reading order with
label, kind and box rounded to 0.1 pt, their text, tables as cell grids with spans, figures
with caption and chart data; failures. No ids, run ids, timestamps, scores or absolute
paths, so two runs of the same code give byte-identical files and a review sees only what
changed in the output.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path, PurePath
from typing import Any

from pdf_assets.evaluation.outputs import DocOutput, RegionOut

_ABS_PATH = re.compile(r"(?:/[^/\s'\":]+)+/([^/\s'\":]+)")


def _relative(text: str | None) -> str | None:
    """Absolute paths in messages reduced to their file name (the run folder is temporary)."""
    return _ABS_PATH.sub(r"\1", text) if text else text


def _round(value: float) -> float:
    return round(value + 0.0, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


def _region(r: RegionOut) -> dict[str, Any]:
    out: dict[str, Any] = {
        "page": r.page,
        "index": r.index,
        "label": r.label,
        "kind": r.kind,
        "box": [_round(v) for v in r.box.as_tuple()],
    }
    if r.text is not None:
        out["text"] = r.text
        out["text_source"] = r.text_source
    if r.table is not None:
        grid = [["" for _ in range(r.table.n_cols)] for _ in range(r.table.n_rows)]
        spans = []
        for c in r.table.cells:
            if 0 <= c.row < r.table.n_rows and 0 <= c.col < r.table.n_cols:
                grid[c.row][c.col] = c.text
            if c.row_span > 1 or c.col_span > 1:
                spans.append([c.row, c.col, c.row_span, c.col_span])
        out["table"] = {"n_rows": r.table.n_rows, "n_cols": r.table.n_cols, "grid": grid, "spans": sorted(spans)}
    if r.kind == "figure":
        out["figure"] = {"caption": r.caption, "chart": r.chart}
    return out


def golden_document(doc: DocOutput) -> dict[str, Any]:
    return {
        "document": doc.name,
        "status": doc.status,
        "error": _relative(doc.error),
        "flags": sorted(doc.flags),
        "pages": [
            {"width": _round(w), "height": _round(h), "text_layer": chars > 0}
            for (w, h), chars in zip(doc.pages, doc.page_text_chars, strict=True)
        ],
        "regions": [_region(r) for r in doc.regions],
        "failures": sorted(
            (
                {"stage": f.stage, "item": PurePath(f.item).name, "error": _relative(f.error), "recovered": f.recovered}
                for f in doc.failures
            ),
            key=lambda f: (f["stage"], f["item"], f["error"] or ""),
        ),
    }


def _dump(value: Any, depth: int = 0) -> str:
    """JSON with sorted keys, one key or list item a line, but a list of plain values (a box,
    a table row, a span) on one line: a changed cell shows as one changed row in a diff."""
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_dump(v, depth + 1)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + _dump(v, depth + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def golden_text(doc: DocOutput) -> str:
    return _dump(golden_document(doc)) + "\n"


def write_golden(docs: dict[str, DocOutput], folder: Path) -> list[Path]:
    """(Re)write one golden file per document; files of documents no longer present are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in sorted(docs.items()):
        path = folder / f"{name}.json"
        path.write_text(golden_text(doc), encoding="utf-8")
        written.append(path)
    for stale in set(folder.glob("*.pdf.json")) - set(written):
        stale.unlink()
    return written


def golden_diff(docs: dict[str, DocOutput], folder: Path) -> str:
    """A unified diff of the stored golden files against `docs` ("" when they are the same)."""
    chunks: list[str] = []
    expected = {p.name.removesuffix(".json") for p in folder.glob("*.pdf.json")}
    for name in sorted(expected | set(docs)):
        path = folder / f"{name}.json"
        old = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.is_file() else []
        new = golden_text(docs[name]).splitlines(keepends=True) if name in docs else []
        chunks.extend(difflib.unified_diff(old, new, f"golden/{name}.json", f"this run/{name}.json", n=2))
    return "".join(chunks)
