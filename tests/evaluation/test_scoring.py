"""Per-document scoring, the corpus summary and the golden-file round trip on hand-made values."""

from __future__ import annotations

from pathlib import Path

from pdf_assets.core.types import Box
from pdf_assets.evaluation.corpus import DocTruth, TableTruth
from pdf_assets.evaluation.golden import golden_diff, write_golden
from pdf_assets.evaluation.groundtruth import LayoutBox, LayoutTruth, table_from_rows
from pdf_assets.evaluation.outputs import DocOutput, RegionOut
from pdf_assets.evaluation.scoring import score_document, summarize

GRID = table_from_rows([["a", "b"], ["1", "2"]], 0, "t")


def _truth() -> DocTruth:
    return DocTruth(
        name="doc.pdf",
        text_pages={0: ["Hello world"]},
        text_source="doc.json",
        tables=[TableTruth("doc.table1.csv", GRID, None, target=True)],
        layout=LayoutTruth((LayoutBox(0, "text", Box(0, 0, 100, 10)),), frozenset({"text", "table", "figure"})),
        chart=[("s", "x", 1.0)],
    )


def _doc(status: str = "ok") -> DocOutput:
    return DocOutput(
        name="doc.pdf",
        status=status,
        error=None,
        pages=[(612.0, 792.0)],
        page_text_chars=[11],
        regions=[
            RegionOut(0, 0, "text", "text", Box(0, 0, 100, 10), text="Hello world", text_source="text_layer"),
            RegionOut(0, 1, "page_footer", "text", Box(0, 780, 50, 790), text="page 1", text_source="text_layer"),
            RegionOut(0, 2, "table", "table", Box(0, 20, 100, 60), table=GRID),
            RegionOut(
                0, 3, "figure", "figure", Box(0, 100, 100, 200), chart={"header": ["x", "s"], "rows": [["x", "1"]]}
            ),
        ],
    )


def test_a_perfect_document_scores_one_and_furniture_is_not_text() -> None:
    scored = score_document(_truth(), _doc())
    assert scored["text"]["edit_similarity"] == 1.0
    assert scored["tables"][0]["strict_f1"] == 1.0
    assert scored["layout"]["recall"] == 1.0
    assert scored["layout"]["precision"] == 0.25  # footer, table and figure boxes are not annotated here
    assert scored["chart"]["recovered"] == 1


def test_a_missing_document_scores_zero_and_is_lost() -> None:
    scored = {"doc.pdf": score_document(_truth(), None)}
    doc = scored["doc.pdf"]
    assert doc["status"] == "missing"
    assert (doc["text"]["edit_similarity"], doc["tables"][0]["strict_f1"], doc["layout"]["recall"]) == (0.0, 0.0, 0.0)
    summary = summarize(scored)
    assert summary["documents_lost"] == ["doc.pdf"]
    assert not any(t["met"] for t in summary["targets"])


def test_partial_documents_are_not_lost_but_errors_are() -> None:
    scored = {
        "a.pdf": score_document(_truth(), _doc("partial")),
        "b.pdf": score_document(DocTruth("b.pdf"), _doc("error")),
    }
    summary = summarize(scored)
    assert summary["documents_lost"] == ["b.pdf"]
    assert {t["name"]: t["met"] for t in summary["targets"]} == {
        "text_similarity": False,  # not a target document by name
        "table_cell_f1_strict": True,
        "layout_recall": True,
        "chart_values": True,
        "no_document_lost": False,
    }


def test_golden_round_trip(tmp_path: Path) -> None:
    docs = {"doc.pdf": _doc()}
    write_golden(docs, tmp_path)
    assert golden_diff(docs, tmp_path) == ""
    changed = {"doc.pdf": _doc("partial")}
    diff = golden_diff(changed, tmp_path)
    assert '- "status": "ok"' in diff and '+ "status": "partial"' in diff
    (tmp_path / "gone.pdf.json").write_text("{}\n")
    assert "gone.pdf.json" in golden_diff(docs, tmp_path)
    write_golden(docs, tmp_path)
    assert not (tmp_path / "gone.pdf.json").exists()
