"""The corpus run's set-up: which PDFs it takes and the passwords it hands the pipeline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pdf_assets.core.errors import ConfigError
from pdf_assets.core.pdf import ENV_PASSWORDS
from pdf_assets.evaluation.run import _corpus_passwords, corpus_pdfs


def test_corpus_pdfs_in_the_shared_layout_or_flat(tmp_path: Path) -> None:
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "b.pdf").write_bytes(b"%PDF")
    (tmp_path / "flat" / "a.pdf").write_bytes(b"%PDF")
    (tmp_path / "shared" / "pdfs").mkdir(parents=True)
    (tmp_path / "shared" / "pdfs" / "c.pdf").write_bytes(b"%PDF")
    assert [p.name for p in corpus_pdfs(tmp_path / "flat")] == ["a.pdf", "b.pdf"]
    assert [p.name for p in corpus_pdfs(tmp_path / "shared")] == ["c.pdf"]
    with pytest.raises(ConfigError, match="no PDFs"):
        corpus_pdfs(tmp_path)  # neither pdfs/ nor a PDF of its own


def test_corpus_passwords_are_added_for_the_run_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PASSWORDS, "mine")
    with _corpus_passwords():
        assert os.environ[ENV_PASSWORDS].splitlines() == ["userpass", "mine"]
    assert os.environ[ENV_PASSWORDS] == "mine"
    monkeypatch.delenv(ENV_PASSWORDS)
    with _corpus_passwords():
        assert os.environ[ENV_PASSWORDS] == "userpass"
    assert ENV_PASSWORDS not in os.environ
