"""Shared fixtures: the shared PDF corpus (optional) and isolated data folders."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus beside the checkout; tests that need it skip cleanly without it."""
    if not (CORPUS / "pdfs").is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(autouse=True)
def _isolated_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes into the checkout's data/ or inbox/ folders by accident."""
    monkeypatch.setenv("PDF_ASSETS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PDF_ASSETS_INBOX", str(tmp_path / "inbox"))
    monkeypatch.delenv("PDF_ASSETS_DB_URL", raising=False)
    monkeypatch.delenv("PDF_ASSETS_BACKEND", raising=False)
