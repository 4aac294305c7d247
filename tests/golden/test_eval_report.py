"""`pdf-assets eval` on the shared corpus produces a complete, well-formed report.

The quality targets themselves are not asserted here (they are the report's content, see
docs/quality.md); this checks that every document and every kind of truth is scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pdf_assets.cli import main
from pdf_assets.evaluation.outputs import DocOutput
from pdf_assets.evaluation.report import render_markdown

pytestmark = pytest.mark.corpus

Evaluation = tuple[dict[str, Any], dict[str, DocOutput]]


def test_every_document_and_truth_kind_is_scored(corpus_evaluation: Evaluation) -> None:
    report, _ = corpus_evaluation
    docs = report["documents"]
    assert len(docs) == 12
    assert {n for n, d in docs.items() if d["text"]} >= {"redp5110_sampled.pdf", "2305.03393v1-pg9.pdf", "ocr_test.pdf"}
    assert docs["lincoln_letter.pdf"]["rules"]["total"] == 3
    assert len(docs["twotables_2.pdf"]["tables"]) == 2
    assert len(docs["redp5110_sampled.pdf"]["tables"]) == 6
    assert docs["us-030.pdf"]["tables"][0]["page"] == 2
    assert docs["us-030.pdf"]["layout"]["truth_boxes"] == 1
    assert docs["dsv3_performance.pdf"]["chart"]["total"] == 36
    target_tables = [t for d in docs.values() for t in d["tables"] if t["target"]]
    assert len(target_tables) == 7


def test_scores_are_fractions_and_targets_are_decided(corpus_evaluation: Evaluation) -> None:
    report, _ = corpus_evaluation
    for doc in report["documents"].values():
        for table in doc["tables"]:
            assert 0.0 <= table["strict_f1"] <= table["lenient_f1"] <= 1.0
        if doc["text"]:
            assert 0.0 <= doc["text"]["edit_similarity"] <= 1.0
        if doc["layout"]:
            assert 0.0 <= doc["layout"]["recall"] <= 1.0
    targets = {t["name"]: t for t in report["summary"]["targets"]}
    assert set(targets) == {
        "text_similarity",
        "table_cell_f1_strict",
        "layout_recall",
        "chart_values",
        "no_document_lost",
    }
    assert all(isinstance(t["met"], bool) and t["value"] is not None for t in targets.values())


def test_markdown_lists_every_document(corpus_evaluation: Evaluation) -> None:
    report, _ = corpus_evaluation
    markdown = render_markdown(report)
    assert markdown.startswith("# Quality report")
    for section in ("## Acceptance targets", "## Text", "## Tables", "## Layout", "## Charts", "## Failures"):
        assert section in markdown
    for name in report["documents"]:
        assert name in markdown


def test_cli_scores_an_existing_database_and_writes_both_reports(
    corpus: Path, corpus_evaluation: Evaluation, tmp_path: Path
) -> None:
    report, _ = corpus_evaluation
    db_url = report["db_url"]
    out, js = tmp_path / "q.md", tmp_path / "q.json"
    assert main(["eval", str(corpus), "--db-url", db_url, "--out", str(out), "--json", str(js)]) == 0
    again = json.loads(js.read_text())
    assert again["summary"] == report["summary"]
    assert "## Acceptance targets" in out.read_text()
