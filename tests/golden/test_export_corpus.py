"""The export of a real document: twotables_2's Markdown holds both tables with the
ground-truth cells, and its JSON validates against the shipped schema (embedded default)."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from pdf_assets.cli import main
from pdf_assets.export import json_schema


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\|", "|").replace("<br>", " ")).strip()


@pytest.mark.corpus
def test_twotables_markdown_holds_both_tables_and_the_json_validates(corpus: Path, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    folder = tmp_path / "inbox" / "tables"
    folder.mkdir(parents=True)
    shutil.copy(corpus / "pdfs" / "twotables_2.pdf", folder / "twotables_2.pdf")
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["run", str(folder), "--data-dir", str(tmp_path / "data"), "--db-url", db]) == 0
    assert main(["export", "tables", "--to", str(tmp_path / "out"), "--db-url", db]) == 0

    markdown = (tmp_path / "out" / "tables" / "twotables_2.md").read_text()
    tables = [block for block in re.split(r"\n\s*\n", markdown) if block.lstrip().startswith("|")]
    assert len(tables) == 2
    for n, block in enumerate(tables, 1):
        rows = list(csv.reader((corpus / "groundtruth" / f"twotables_2.table{n}.csv").open(newline="")))
        expected = [_words(cell) for row in rows for cell in row if cell.strip()]
        flat = _words(block)
        missing = [cell for cell in expected if cell not in flat]
        assert not missing, f"table {n} lacks {missing[:5]}"
        assert rows[-1][0] in flat and block.count("\n") + 1 >= len(rows)  # every row, the last one too

    document = json.loads((tmp_path / "out" / "tables" / "twotables_2.json").read_text())
    jsonschema.validate(document, json_schema())
    kinds = [r["kind"] for p in document["pages"] for r in p["regions"]]
    assert kinds.count("table") == 2
