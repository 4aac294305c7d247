"""Golden files: the full stored output of every shared-corpus PDF, compared on every run.

Each `tests/golden/<pdf>.json` is one document as the database holds it after an
embedded-default run (status, flags, pages; regions with label, kind, box rounded to 0.1 pt,
text, table grids, figure captions and chart data; failures). Any difference fails the test
and prints a unified diff. When a change is intended, regenerate the files and review the
diff in version control:

    pdf-assets eval ../shared/corpus --update-golden tests/golden --out /dev/null
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pdf_assets.evaluation.golden import golden_diff
from pdf_assets.evaluation.outputs import DocOutput

pytestmark = pytest.mark.corpus

GOLDEN = Path(__file__).resolve().parent
REGENERATE = "pdf-assets eval ../shared/corpus --update-golden tests/golden --out /dev/null"

# page counts of the corpus PDFs (MANIFEST): facts of the files, whatever the models do
PAGES = {
    "redp5110_sampled.pdf": 18,
    "2305.03393v1-pg9.pdf": 1,
    "twotables_2.pdf": 1,
    "us-030.pdf": 3,
    "table-multi-row-column-cells.pdf": 1,
    "ocr_test.pdf": 1,
    "lincoln_letter.pdf": 1,
    "dsv3_performance.pdf": 1,
    "picture_classification.pdf": 2,
    "issue-297-example.pdf": 1,
    "clockwise_table_1.pdf": 1,
}


def test_output_matches_the_golden_files(corpus_evaluation: tuple[dict[str, Any], dict[str, DocOutput]]) -> None:
    _, docs = corpus_evaluation
    diff = golden_diff(docs, GOLDEN)
    if diff:  # pytest.fail prints the whole diff, where an assert message would be cut short
        pytest.fail(f"the pipeline's output changed; if intended, run `{REGENERATE}` and review:\n{diff}", False)


def test_every_corpus_pdf_has_a_golden_file(corpus: Path) -> None:
    pdfs = {p.name for p in (corpus / "pdfs").glob("*.pdf")}
    goldens = {p.name.removesuffix(".json") for p in GOLDEN.glob("*.pdf.json")}
    assert len(pdfs) == 12
    assert goldens == pdfs


def test_known_counts(corpus_evaluation: tuple[dict[str, Any], dict[str, DocOutput]]) -> None:
    _, docs = corpus_evaluation
    assert len(docs) == 12
    assert {name: len(docs[name].pages) for name in PAGES} == PAGES
    assert len(docs["twotables_2.pdf"].tables()) == 2
    assert len(docs["issue-297-example.pdf"].tables()) == 0
    assert docs["issue-297-example.pdf"].status == "partial"  # repaired by MuPDF: content may be missing
    assert [r.text_source for r in docs["ocr_test.pdf"].regions if r.text] == ["ocr"]
