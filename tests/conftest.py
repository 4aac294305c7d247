"""Shared fixtures: the shared PDF corpus (optional) and isolated data folders."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_reachable() -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database (created and dropped with autocommit); skips when unreachable."""
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 as user postgres")
    import psycopg

    name = f"pdf_assets_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database per test."""
    with throwaway_postgres() as url:
        yield url
