"""Tie it together: stored documents plus corpus truth in, one report dict out."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pdf_assets.evaluation.corpus import doc_truth
from pdf_assets.evaluation.outputs import DocOutput, load_documents
from pdf_assets.evaluation.run import corpus_pdfs, run_corpus
from pdf_assets.evaluation.scoring import score_document, summarize


def evaluate_documents(corpus_dir: Path, docs: dict[str, DocOutput]) -> dict[str, Any]:
    """Score `docs` (keyed by file name) against every PDF of the corpus."""
    truth_dir = corpus_dir / "groundtruth"
    scored: dict[str, dict[str, Any]] = {}
    for pdf in corpus_pdfs(corpus_dir):
        doc = docs.get(pdf.name)
        heights = {i: h for i, (_, h) in enumerate(doc.pages)} if doc else {}
        scored[pdf.name] = score_document(doc_truth(truth_dir, pdf.name, heights), doc)
    return {"corpus": str(corpus_dir), "summary": summarize(scored), "documents": scored}


def evaluate(
    corpus_dir: Path,
    *,
    db_url: str | None = None,
    work_dir: Path | None = None,
    backend: str = "embedded",
    device: str = "auto",
) -> tuple[dict[str, Any], dict[str, DocOutput]]:
    """Score the database at `db_url`, or first run the pipeline into `work_dir` (a temporary
    folder when not given). Returns the report and the documents it scored."""
    ran = db_url is None
    if db_url is None:
        if work_dir is None:
            with tempfile.TemporaryDirectory(prefix="pdf-assets-eval-") as tmp:
                return evaluate(corpus_dir, work_dir=Path(tmp), backend=backend, device=device)
        db_url = run_corpus(corpus_dir, work_dir, backend=backend, device=device)
    docs = load_documents(db_url)
    report = evaluate_documents(corpus_dir, docs)
    report["backend"] = backend if ran else "as stored in the database"
    report["db_url"] = db_url
    return report, docs
