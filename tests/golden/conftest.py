"""One pipeline run over the whole shared corpus per test session, shared by the golden-file
test and the evaluation-report test (the run is the expensive part: about a minute on 2 cores)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pdf_assets.evaluation.evaluate import evaluate
from pdf_assets.evaluation.outputs import DocOutput


@pytest.fixture(scope="session")
def corpus_evaluation(
    corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, DocOutput]]:
    """The eval report and the stored documents of one embedded-default run over the corpus."""
    return evaluate(corpus, work_dir=tmp_path_factory.mktemp("corpus-eval"), backend="embedded", device="cpu")
