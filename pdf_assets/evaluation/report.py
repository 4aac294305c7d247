"""The evaluation report as Markdown: targets first, then one table per kind of score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

METHOD = """\
How it is scored (all pages and boxes as the pipeline stored them in the database):

- **Text**: docling's JSON truth, body text items in reading order, with page headers and
  footers (furniture) and text inside pictures left out, as docling's Markdown has it. It is
  compared with the stored texts of each page's text regions in region order, regions the
  pipeline labels `page_header`/`page_footer` left out too. Table cells are text on neither
  side: text a table region kept instead of cells (a table of contents) is not scored as text.
  Both sides are normalised (NFC, dash and quote variants unified, whitespace collapsed). Edit
  similarity is 1 - Levenshtein / longer length, pooled over pages; word order similarity is the
  same on word sequences (reading order counts); word F1 is over case-folded word multisets.
  olmOCR rules (present / absent / order) run on each page's whole text (all regions) with the
  same normalisation.
- **Tables**: cell F1 over non-empty (row, col, text) anchor cells. A spanning cell's text sits in
  its top-left covered cell and the other covered cells are empty, which is how the CSV truths
  and the project's cells are both written, so no span knowledge is needed. Strict collapses
  whitespace runs; lenient removes all whitespace. The predicted grid may be shifted by up to
  2 rows/columns (an extra title row or header column) and the best shift is kept. A truth
  table is matched one-to-one to a predicted table on the same page, best lenient F1 first; an
  unmatched truth scores 0. TEDS (PubTabNet's tree edit distance similarity, cell text
  included) is scored where the truth has spans: docling `table_cells` and ICDAR `-str.xml`.
- **Layout**: boxes matched one-to-one by kind (text / table / figure) at IoU >= 0.5, per page.
  docling labels map to kinds as the project's labels do: `picture` is a figure, `table` and
  `document_index` are tables, every text label (headers, footers, captions, list items, code,
  formulas) is text. Text docling found inside a picture (a diagram's labels) is part of the
  picture, not a layout box of its own. ICDAR `-reg.xml` annotates tables only, so only tables
  are scored there.
- **Charts**: (series, x, value) triples recovered within 1 % from any stored chart table of the
  document; names match case- and whitespace-insensitively, a trailing "(...)" qualifier (a
  metric or unit printed with an axis label) optional; both orientations are tried.
- A document that is missing or stored with an error scores 0 everywhere it has truth.
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |" for row in rows]
    return [*lines, ""]


def _targets(summary: dict[str, Any]) -> list[str]:
    rows = [
        (
            t["name"],
            t["value"],
            (">= " if t["name"] != "no_document_lost" else "== ") + _fmt(t["threshold"]),
            "met" if t["met"] else "MISSED",
            t["detail"],
        )
        for t in summary["targets"]
    ]
    return ["## Acceptance targets", "", *_table(("target", "value", "goal", "result", "over"), rows)]


def _documents(docs: dict[str, Any]) -> list[str]:
    rows = [
        (
            name,
            d["status"],
            ", ".join(d["flags"]) or "-",
            d["pages"],
            d["regions"],
            d["tables_found"],
            d["figures_found"],
            (d["error"] or "-")[:120],
        )
        for name, d in docs.items()
    ]
    header = ("document", "status", "flags", "pages", "regions", "tables", "figures", "error")
    return ["## Documents", "", *_table(header, rows)]


def _text(docs: dict[str, Any]) -> list[str]:
    rows = [
        (
            name,
            t["truth"],
            t["edit_similarity"],
            t.get("word_order_similarity"),
            t["word_precision"],
            t["word_recall"],
            t["word_f1"],
            "yes" if t["target"] else "no",
        )
        for name, d in docs.items()
        if (t := d["text"])
    ]
    rules = [
        (name, r["passed"], r["total"], ", ".join(r["failed"]) or "-") for name, d in docs.items() if (r := d["rules"])
    ]
    header = ("document", "truth", "edit sim.", "word order sim.", "word P", "word R", "word F1", "in target")
    return [
        "## Text",
        "",
        *_table(header, rows),
        "olmOCR-bench rules:",
        "",
        *_table(("document", "passed", "rules", "failed"), rules),
    ]


def _tables(docs: dict[str, Any]) -> list[str]:
    rows = [
        (
            name,
            t["truth"],
            "yes" if t["target"] else "no",
            "yes" if t["matched"] else "no",
            t["strict_f1"],
            t["lenient_f1"],
            t["teds"],
            "x".join(map(str, t.get("truth_shape") or [])) or "-",
            "x".join(map(str, t.get("predicted_shape") or [])) or "-",
        )
        for name, d in docs.items()
        for t in d["tables"]
    ]
    header = (
        "document",
        "truth table",
        "in target",
        "matched",
        "cell F1 strict",
        "cell F1 lenient",
        "TEDS",
        "truth",
        "found",
    )
    return ["## Tables", "", *_table(header, rows)]


def _layout(docs: dict[str, Any]) -> list[str]:
    rows = []
    for name, d in docs.items():
        if (x := d["layout"]) is None:
            continue
        kinds = "; ".join(
            f"{k} {v['matched']}/{v['truth']} of {v['predicted']}"
            for k, v in x["by_kind"].items()
            if v["truth"] or v["predicted"]
        )
        rows.append(
            (name, x["truth"], x["truth_boxes"], x["predicted"], x["matched"], x["recall"], x["precision"], kinds)
        )
    header = (
        "document",
        "truth",
        "boxes",
        "predicted",
        "matched",
        "recall",
        "precision",
        "kind matched/truth of predicted",
    )
    return ["## Layout (IoU >= 0.5)", "", *_table(header, rows)]


def _charts_and_failures(docs: dict[str, Any]) -> list[str]:
    charts = [(n, c["recovered"], c["total"], c["fraction"], c["charts"]) for n, d in docs.items() if (c := d["chart"])]
    failures = [
        (n, "document", d["status"], d["error"], "-") for n, d in docs.items() if d["status"] in ("error", "missing")
    ]
    failures += [
        (n, f["stage"], f["item"].rsplit("/", 1)[-1], f["error"], f.get("recovered") or "nothing")
        for n, d in docs.items()
        for f in d["failures"]
    ]
    return [
        "## Charts",
        "",
        *_table(("document", "recovered", "values", "fraction", "chart tables"), charts),
        "## Failures",
        "",
        *(_table(("document", "stage", "item", "cause", "kept instead"), failures) if failures else ["None.", ""]),
    ]


def render_markdown(report: dict[str, Any], title: str = "Quality report") -> str:
    """The whole report as Markdown (deterministic for a given report)."""
    docs = report["documents"]
    lines = [f"# {title}", "", f"Corpus: `{report['corpus']}`, backend: `{report.get('backend', '?')}`.", ""]
    lines += [*_targets(report["summary"]), METHOD, *_documents(docs), *_text(docs), *_tables(docs), *_layout(docs)]
    lines += _charts_and_failures(docs)
    return "\n".join(lines).rstrip() + "\n"
