"""`pdf-assets export` over a database the fake pipeline job wrote (SQLite)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterInstance

from pdf_assets.cli import main
from pdf_assets.export import SCHEMA, VERSION, chart_markdown, export_partitions
from pdf_assets.samples import write_samples
from pdf_assets.storage.db import make_engine
from pdf_assets.storage.queries import read_frame
from tests.dagster.pipeline_helpers import make_resource, run_job


@dataclass(frozen=True)
class Exported:
    db_url: str
    out: Path
    pdfs: list[Path]  # every PDF of the partition, the broken one included
    written: list[Path]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """Partition alpha: the 4 samples, a copy of the first under the same stem (`.PDF`) and a
    file that is not a PDF; run once on the fakes, exported once."""
    tmp = tmp_path_factory.mktemp("export")
    samples = write_samples(tmp / "inbox" / "alpha")
    twin = samples[0].with_suffix(".PDF")
    shutil.copy(samples[0], twin)
    broken = tmp / "inbox" / "alpha" / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    resource = make_resource(tmp, tmp / "inbox")
    with DagsterInstance.ephemeral() as instance:
        assert run_job(resource, instance, ["alpha"]).success
    out = tmp / "out"
    written = export_partitions(resource.database_url(), ["alpha"], out)
    return Exported(resource.database_url(), out, [*samples, twin, broken], written)


def _json_files(exported: Exported) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (exported.out / "alpha").glob("*.json")}


def test_one_markdown_and_one_json_per_document(exported: Exported) -> None:
    folder = exported.out / "alpha"
    assert len(list(folder.glob("*.json"))) == len(exported.pdfs)
    assert len(list(folder.glob("*.md"))) == len(exported.pdfs)
    assert sorted(exported.written) == sorted([*folder.glob("*.json"), *folder.glob("*.md")])
    paths = {Path(doc["document"]["path"]).name for doc in _json_files(exported).values()}
    assert paths == {p.name for p in exported.pdfs}


def test_colliding_stems_get_distinct_files(exported: Exported) -> None:
    stem = exported.pdfs[0].stem
    twins = {s: d for s, d in _json_files(exported).items() if s.startswith(stem)}
    assert len(twins) == 2
    for name, doc in twins.items():
        assert name == f"{stem}-{doc['document']['doc_id'][:8]}"
    assert len({d["document"]["doc_id"] for d in twins.values()}) == 2
    assert (exported.out / "alpha" / "broken.json").is_file()  # a stem nobody shares stays bare


def test_error_document_has_no_pages_and_says_so(exported: Exported) -> None:
    doc = _json_files(exported)["broken"]
    assert doc["document"]["status"] == "error"
    assert doc["document"]["error"]
    assert doc["pages"] == []
    assert "could not be read" in (exported.out / "alpha" / "broken.md").read_text()


def _check_region(region: dict, width: float, height: float) -> None:
    assert {"index", "kind", "label", "bbox", "status"} <= set(region)
    assert region["kind"] in ("text", "table", "figure")
    x0, y0, x1, y1 = region["bbox"]
    assert all(isinstance(v, float) for v in region["bbox"])
    assert 0 <= x0 <= x1 <= width + 0.01 and 0 <= y0 <= y1 <= height + 0.01
    if region["kind"] == "table" and "table" in region:
        assert set(region["table"]) == {"n_rows", "n_cols", "cells"}
    if region["kind"] == "figure":
        assert set(region["figure"]) == {"crop", "caption", "chart"}


def test_json_has_the_documented_shape(exported: Exported) -> None:
    for doc in _json_files(exported).values():
        assert (doc["schema"], doc["version"]) == (SCHEMA, VERSION)
        assert {"path", "sha256", "status", "flags", "pages"} <= set(doc["document"])
        assert len(doc["document"]["sha256"]) == 64 and isinstance(doc["document"]["flags"], list)
        assert [p["page_no"] for p in doc["pages"]] == list(range(1, doc["document"]["pages"] + 1))
        for page in doc["pages"]:
            assert {"page_no", "width_pt", "height_pt", "text", "regions"} == set(page)
            assert [r["index"] for r in page["regions"]] == sorted(r["index"] for r in page["regions"])
            for region in page["regions"]:
                _check_region(region, page["width_pt"], page["height_pt"])


def test_markdown_follows_region_order(exported: Exported) -> None:
    checked = 0
    for stem, doc in _json_files(exported).items():
        markdown = " ".join((exported.out / "alpha" / f"{stem}.md").read_text().split())
        position = 0
        for page in doc["pages"]:
            position = markdown.index(f"<!-- page {page['page_no']} -->", position)
            for region in page["regions"]:
                text = " ".join(str(region.get("text") or "").split())
                if region["kind"] == "text" and text:
                    position = markdown.index(text, position)
                    checked += 1
    assert checked >= 8  # the title and text band of each readable page


def test_table_cells_round_trip(exported: Exported) -> None:
    stored = read_frame(make_engine(exported.db_url), "tables")
    by_cells = sorted(json.dumps(json.loads(c), sort_keys=True) for c in stored["cells_json"])
    tables = [
        r["table"] for doc in _json_files(exported).values() for p in doc["pages"] for r in p["regions"] if "table" in r
    ]
    assert len(tables) == len(stored)
    assert sorted(json.dumps(t["cells"], sort_keys=True) for t in tables) == by_cells
    for table in tables:
        assert {(c["row"], c["col"]) for c in table["cells"]} <= {
            (r, c) for r in range(table["n_rows"]) for c in range(table["n_cols"])
        }


def test_figure_crops_are_copied(exported: Exported) -> None:
    figures = 0
    for stem, doc in _json_files(exported).items():
        markdown = (exported.out / "alpha" / f"{stem}.md").read_text()
        for page in doc["pages"]:
            for region in page["regions"]:
                if "figure" not in region:
                    continue
                figures += 1
                crop = region["figure"]["crop"]
                assert crop is not None and crop.startswith(f"{stem}_files/")
                assert (exported.out / "alpha" / crop).stat().st_size > 0
                assert f"]({crop})" in markdown
    assert figures == len(exported.pdfs) - 1  # one figure band on each readable one-page document


def test_cli_exports_and_refuses_an_unknown_key(
    exported: Exported, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    assert main(["export", "alpha", "--to", str(out), "--format", "json", "--db-url", exported.db_url]) == 0
    assert len(list((out / "alpha").glob("*.json"))) == len(exported.pdfs)
    assert not list((out / "alpha").glob("*.md"))
    assert main(["export", "alpha", "nope", "--to", str(tmp_path / "x"), "--db-url", exported.db_url]) == 2
    assert "unknown partition key(s) 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_chart_data_becomes_a_markdown_table() -> None:
    table = chart_markdown({"header": ["year", "docs"], "rows": [["2023", "12"], ["2024", "30"]]})
    lines = table.splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["year", "docs"]
    assert len(lines) == 4 and "2024" in lines[3] and "30" in lines[3]
    assert chart_markdown({"header": ["a", "b"], "rows": [["1"]]}) == ""  # ragged rows: no table


def test_every_exported_json_validates_against_the_shipped_schema(exported: Exported) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from pdf_assets.export import json_schema

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    documents = _json_files(exported)
    assert documents
    for name, doc in documents.items():
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
        assert not errors, f"{name}: {errors[0].message} at {list(errors[0].path)}"
    broken = next(iter(documents.values()))
    broken["pages"] = [{"page_no": 0}]  # the schema can fail: a page numbered from 0, fields missing
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(broken))
