"""Reading a stored run back for scoring, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pdf_assets.evaluation.outputs import load_documents
from pdf_assets.storage.db import init_db, make_engine
from tests.unit.test_storage import make_bundle, write


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'e.db'}"
    engine = make_engine(url)
    init_db(engine)
    write(engine, make_bundle("alpha", n_docs=2, n_pages=2))
    engine.dispose()
    yield url


def test_stored_documents_come_back_by_file_name(db_url: str) -> None:
    docs = load_documents(db_url)
    assert sorted(docs) == ["0.pdf", "1.pdf", "bad.pdf"]
    bad, good = docs["bad.pdf"], docs["1.pdf"]
    assert (bad.status, bad.error, bad.pages) == ("error", "FileDataError: broken", [])
    assert [f.stage for f in bad.failures] == ["render"]
    assert good.pages == [(612.0, 792.0), (612.0, 792.0)]
    assert [(r.page, r.index, r.kind) for r in good.regions[:3]] == [(0, 0, "text"), (0, 1, "figure"), (0, 2, "table")]
    (table, _) = good.tables()
    assert (table.n_rows, table.n_cols, table.cells[0].text, table.cells[0].col_span) == (2, 2, "h", 2)
    charts = [r.chart for r in good.regions if r.chart]
    assert charts == [{"header": ["a", "b"], "rows": [["1", "2"]]}]
    assert good.page_texts() == ["T0", "T1"]
