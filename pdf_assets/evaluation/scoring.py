"""Score one stored document against its truth, and the corpus against the acceptance targets.

Results are plain dicts (numbers rounded to 4 places) so the report is JSON as it stands.
Text excludes the regions the pipeline labels page_header / page_footer: docling's text
truth leaves furniture out, so the two are compared like for like (the layout score still
counts furniture boxes, which docling annotates). For the same reason only text regions count:
docling's text truth holds no table cells, so text a table region kept instead of its cells
(a table of contents read as text) is not scored as text either.
"""

from __future__ import annotations

from typing import Any

from pdf_assets.evaluation import charts, tables, text
from pdf_assets.evaluation.corpus import TEXT_TARGET_DOCS, DocTruth, TableTruth
from pdf_assets.evaluation.groundtruth import LayoutBox, Table
from pdf_assets.evaluation.layout import score_layout
from pdf_assets.evaluation.outputs import DocOutput

FURNITURE = frozenset({"page_header", "page_footer"})
TARGETS = {"text_similarity": 0.97, "table_cell_f1_strict": 0.90, "layout_recall": 0.90, "chart_values": 0.80}


def _r(value: float) -> float:
    return round(value, 4)


def score_text(truth: DocTruth, doc: DocOutput | None) -> dict[str, Any] | None:
    if truth.text_pages is None:
        return None
    n_pages = max([len(doc.pages) if doc else 0, *(p + 1 for p in truth.text_pages)])
    gt_pages = ["\n".join(truth.text_pages.get(i, [])) for i in range(n_pages)]
    pred_pages = doc.page_texts(FURNITURE, kinds=frozenset({"text"})) if doc else []
    precision, recall, f1 = text.word_f1("\n".join(gt_pages), "\n".join(pred_pages))
    return {
        "truth": truth.text_source,
        "edit_similarity": _r(text.paged_edit_similarity(gt_pages, pred_pages)),
        "word_order_similarity": _r(text.word_order_similarity(gt_pages, pred_pages)),
        "word_precision": _r(precision),
        "word_recall": _r(recall),
        "word_f1": _r(f1),
        "target": truth.name in TEXT_TARGET_DOCS,
    }


def score_rules(truth: DocTruth, doc: DocOutput | None) -> dict[str, Any] | None:
    if not truth.rules:
        return None
    pages = doc.page_texts() if doc else []
    failed = [r.rule_id for r in truth.rules if not text.rule_passes(r, pages[r.page] if r.page < len(pages) else "")]
    return {"total": len(truth.rules), "passed": len(truth.rules) - len(failed), "failed": failed}


def _score_table(t: TableTruth, predicted: list[Table], index: int | None) -> dict[str, Any]:
    row: dict[str, Any] = {"truth": t.name, "page": t.grid.page + 1, "target": t.target, "matched": index is not None}
    pred = predicted[index] if index is not None else None
    if pred is None:
        row.update(strict_f1=0.0, lenient_f1=0.0, teds=0.0 if t.structure else None, predicted_shape=None)
        return row
    strict = tables.cell_f1(t.grid, pred, tables.strict_text)
    lenient = tables.cell_f1(t.grid, pred, tables.lenient_text)
    row.update(
        strict_f1=_r(strict.f1),
        strict_precision=_r(strict.precision),
        strict_recall=_r(strict.recall),
        lenient_f1=_r(lenient.f1),
        shift=list(strict.shift),
        teds=_r(tables.teds(t.structure, pred)) if t.structure else None,
        truth_shape=[t.grid.n_rows, t.grid.n_cols],
        predicted_shape=[pred.n_rows, pred.n_cols],
    )
    return row


def score_tables(truth: DocTruth, doc: DocOutput | None) -> list[dict[str, Any]]:
    predicted = doc.tables() if doc else []
    matches = tables.match_tables([t.grid for t in truth.tables], predicted)
    return [_score_table(t, predicted, m) for t, m in zip(truth.tables, matches, strict=True)]


def score_doc_layout(truth: DocTruth, doc: DocOutput | None) -> dict[str, Any] | None:
    if truth.layout is None:
        return None
    predicted = [LayoutBox(r.page, r.kind, r.box, r.label) for r in doc.regions] if doc else []
    s = score_layout(truth.layout, predicted)
    return {
        "truth": truth.layout_source,
        "truth_boxes": s.truth,
        "predicted": s.predicted,
        "matched": s.matched,
        "recall": _r(s.recall),
        "precision": _r(s.precision),
        "by_kind": {k: {"truth": t, "predicted": p, "matched": m} for k, (t, p, m) in s.by_kind.items()},
    }


def score_chart(truth: DocTruth, doc: DocOutput | None) -> dict[str, Any] | None:
    if not truth.chart:
        return None
    found = [r.chart for r in doc.regions if r.chart] if doc else []
    hits = charts.best_recovered(truth.chart, found)
    return {"total": len(truth.chart), "recovered": hits, "fraction": _r(hits / len(truth.chart)), "charts": len(found)}


def score_document(truth: DocTruth, doc: DocOutput | None) -> dict[str, Any]:
    """Every score that applies to one document; a document missing from the DB scores 0."""
    return {
        "status": doc.status if doc else "missing",
        "error": doc.error if doc else "not in the database",
        "flags": list(doc.flags) if doc else [],
        "pages": len(doc.pages) if doc else 0,
        "regions": len(doc.regions) if doc else 0,
        "tables_found": len(doc.tables()) if doc else 0,
        "figures_found": sum(r.kind == "figure" for r in doc.regions) if doc else 0,
        "text": score_text(truth, doc),
        "rules": score_rules(truth, doc),
        "tables": score_tables(truth, doc),
        "layout": score_doc_layout(truth, doc),
        "chart": score_chart(truth, doc),
        "failures": [
            {"stage": f.stage, "item": f.item, "error": f.error, "recovered": f.recovered} for f in doc.failures
        ]
        if doc
        else [],
    }


def _mean(values: list[float]) -> float | None:
    return _r(sum(values) / len(values)) if values else None


def _target(name: str, value: float | None, detail: str) -> dict[str, Any]:
    threshold = TARGETS[name]
    return {
        "name": name,
        "value": value,
        "threshold": threshold,
        "met": value is not None and value >= threshold,
        "detail": detail,
    }


def _pooled(parts: list[dict[str, Any]], hits: str, total: str) -> tuple[float | None, int]:
    """sum(hits) / sum(total) over `parts`, and the total (None when there is nothing to pool)."""
    whole = sum(p[total] for p in parts)
    return (_r(sum(p[hits] for p in parts) / whole) if whole else None), whole


def _targets(summary: dict[str, Any], n_texts: str, n_tables: int, n_boxes: int, n_values: int) -> list[dict[str, Any]]:
    lost = summary["documents_lost"]
    return [
        _target("text_similarity", summary["text_similarity_mean"], f"mean over {n_texts}"),
        _target("table_cell_f1_strict", summary["table_strict_f1_mean"], f"mean over {n_tables} tables"),
        _target("layout_recall", summary["layout_recall"], f"pooled over {n_boxes} annotated boxes"),
        _target("chart_values", summary["chart_fraction"], f"{n_values} (series, x, value) triples within 1%"),
        {
            "name": "no_document_lost",
            "value": len(lost),
            "threshold": 0,
            "met": not lost,
            "detail": ", ".join(lost) or "none",
        },
    ]


def summarize(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Overall numbers and the acceptance targets, each met or missed."""
    texts = {n: d["text"] for n, d in documents.items() if d["text"] and d["text"]["target"]}
    target_tables = [t for d in documents.values() for t in d["tables"] if t["target"]]
    all_tables = [t for d in documents.values() for t in d["tables"]]
    layout_recall, truth_boxes = _pooled(
        [d["layout"] for d in documents.values() if d["layout"]], "matched", "truth_boxes"
    )
    chart_value, chart_total = _pooled([d["chart"] for d in documents.values() if d["chart"]], "recovered", "total")
    summary = {
        "documents": len(documents),
        # `partial` (some items failed, the rest stored) is not lost; `error` and `missing` are
        "documents_lost": sorted(n for n, d in documents.items() if d["status"] in ("error", "missing")),
        "text_similarity_mean": _mean([t["edit_similarity"] for t in texts.values()]),
        "word_f1_mean": _mean([t["word_f1"] for t in texts.values()]),
        "word_order_similarity_mean": _mean([t["word_order_similarity"] for t in texts.values()]),
        "table_strict_f1_mean": _mean([t["strict_f1"] for t in target_tables]),
        "table_lenient_f1_mean": _mean([t["lenient_f1"] for t in target_tables]),
        "table_strict_f1_mean_all": _mean([t["strict_f1"] for t in all_tables]),
        "teds_mean_all": _mean([t["teds"] for t in all_tables if t["teds"] is not None]),
        "layout_recall": layout_recall,
        "chart_fraction": chart_value,
    }
    summary["targets"] = _targets(summary, str(sorted(texts)), len(target_tables), truth_boxes, chart_total)
    return summary
