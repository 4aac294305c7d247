"""Bad input through the whole job and into the database, on SQLite and on PostgreSQL:
identical files, one file in two folders, a folder that disappears, keys that collide."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance
from sqlalchemy import text

from pdf_assets.cli import main
from pdf_assets.core.errors import ConfigError
from pdf_assets.core.pdf import ENV_PASSWORDS
from pdf_assets.defs.resources import PdfAssetsResource
from pdf_assets.storage.db import make_engine
from tests.dagster.pipeline_helpers import db_counts, make_resource, run_job
from tests.reliability.bad_pdfs import USER_PW, encrypted_pdf, text_pdf


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


def _resource(tmp_path: Path, db_url: str, **fields: object) -> PdfAssetsResource:
    base = make_resource(tmp_path, tmp_path / "inbox", db_url=db_url)
    return PdfAssetsResource(**{**base.model_dump(), "render_workers": 1, "sensor_settle_s": 0, **fields})  # type: ignore[arg-type]


def test_identical_files_and_a_link_in_one_folder_store_three_documents_like_three_clean_runs(
    tmp_path: Path, db_url: str
) -> None:
    inbox = tmp_path / "inbox"
    text_pdf(inbox / "dupes" / "a.pdf")
    shutil.copy(inbox / "dupes" / "a.pdf", inbox / "dupes" / "a (1).pdf")
    (inbox / "dupes" / "link.pdf").symlink_to("a.pdf")
    text_pdf(inbox / "clean" / "a.pdf")
    resource = _resource(tmp_path, db_url)

    clean = run_job(resource, DagsterInstance.ephemeral(), ["clean"])
    assert clean.success
    one = db_counts(resource)
    dupes = run_job(resource, DagsterInstance.ephemeral(), ["dupes"])
    assert dupes.success
    both = db_counts(resource)

    assert one["documents"] == 1 and both["documents"] == 4
    assert one["regions"] > 0
    assert both["regions"] == 4 * one["regions"]  # every copy got the clean run's rows
    assert both["pages"] == 4 * one["pages"]


def test_one_pdf_in_two_folders_keeps_two_sets_of_crops_across_reruns(tmp_path: Path, db_url: str) -> None:
    inbox = tmp_path / "inbox"
    text_pdf(inbox / "x" / "same.pdf")
    shutil.copytree(inbox / "x", inbox / "y")
    resource = _resource(tmp_path, db_url)
    instance = DagsterInstance.ephemeral()

    assert run_job(resource, instance, ["x", "y"]).success
    crops = sorted((tmp_path / "data" / "crops").rglob("*.png"))
    by_document = {folder: [c for c in crops if c.parent == folder] for folder in {c.parent for c in crops}}
    assert len(by_document) == 2  # one crop folder per document, not one per content hash
    assert len({len(files) for files in by_document.values()}) == 1 and crops
    assert run_job(resource, instance, ["y"]).success  # y's rerun must not touch x's files
    assert sorted((tmp_path / "data" / "crops").rglob("*.png")) == crops
    assert db_counts(resource)["documents"] == 2


def test_a_deleted_folder_fails_the_run_and_keeps_its_rows(tmp_path: Path, db_url: str) -> None:
    inbox = tmp_path / "inbox"
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        text_pdf(inbox / "keep" / name)
    resource = _resource(tmp_path, db_url)
    instance = DagsterInstance.ephemeral()
    assert run_job(resource, instance, ["keep"]).success
    before = db_counts(resource)
    assert before["documents"] == 3

    shutil.rmtree(inbox / "keep")
    result = run_job(resource, instance, ["keep"])

    assert not result.success
    assert db_counts(resource) == before


def test_encrypted_pdf_goes_through_every_stage_with_the_configured_password(tmp_path: Path, db_url: str) -> None:
    inbox = tmp_path / "inbox"
    encrypted_pdf(inbox / "locked" / "secret.pdf")
    text_pdf(inbox / "open" / "plain.pdf")
    resource = _resource(tmp_path, db_url, passwords=["wrong", USER_PW])
    result = run_job(resource, DagsterInstance.ephemeral(), ["locked", "open"])
    assert result.success
    assert db_counts(resource)["documents"] == 2
    pages = result.output_for_node("pages_and_layouts", "pages")
    (locked,) = pages["locked"].documents
    assert locked.error is None and locked.pages == 2 and "encrypted" in locked.flags
    texts = result.output_for_node("text_results")
    read = {key: sorted(r.text for r in texts[key].results if r.source == "text_layer") for key in ("locked", "open")}
    assert read["locked"] and read["locked"] == read["open"]  # same content, same text


def _cli(tmp_path: Path, db_url: str, *args: str) -> int:
    common = ["--backend", "fake", "--device", "cpu", "--data-dir", str(tmp_path / "data"), "--db-url", db_url]
    return main(["run", *common, *args])


def test_cli_refuses_two_folders_with_one_key_and_a_key_bound_to_another_folder(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    a, b = tmp_path / "a" / "2024", tmp_path / "b" / "2024"
    text_pdf(a / "one.pdf")
    text_pdf(b / "two.pdf")
    text_pdf(b / "three.pdf")

    assert _cli(tmp_path, db_url, str(a), str(b)) == 2
    assert "two folders would share one partition key" in capsys.readouterr().err

    assert _cli(tmp_path, db_url, str(a)) == 0
    resource = _resource(tmp_path, db_url)
    first = db_counts(resource)
    assert first["documents"] == 1

    assert _cli(tmp_path, db_url, str(b)) == 2
    assert "is bound to" in capsys.readouterr().err
    assert db_counts(resource) == first  # a's rows are still there

    # A later run of the partition (UI, schedule) finds the folder the CLI registered.
    assert resource.folder_path("2024") == a.resolve()

    assert _cli(tmp_path, db_url, "--rebind", str(b)) == 0
    assert db_counts(resource)["documents"] == 2


def test_resource_refuses_keys_that_are_paths(tmp_path: Path, db_url: str) -> None:
    resource = _resource(tmp_path, db_url)
    for key in ("../outside", "/etc", "a/b"):
        with pytest.raises(ConfigError, match="invalid partition key"):
            resource.folder_path(key)


def test_cli_passwords_file_opens_encrypted_pdfs_and_a_wrong_one_names_no_password(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv(ENV_PASSWORDS, "")  # restored after the test: the CLI sets it for its workers
    folder = tmp_path / "locked"
    encrypted_pdf(folder / "secret.pdf")
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("nope\nnot-it\n")
    right = tmp_path / "right.txt"
    right.write_text(f"nope\n{USER_PW}\n")

    _cli(tmp_path, db_url, "--passwords-file", str(wrong), str(folder))
    resource = _resource(tmp_path, db_url)
    assert db_counts(resource)["documents"] == 1 and db_counts(resource)["pages"] == 0
    [error] = _document_errors(resource)
    assert error and "none of the 2 given passwords opens it" in error and "not-it" not in error

    monkeypatch.setenv(ENV_PASSWORDS, "")
    assert _cli(tmp_path, db_url, "--passwords-file", str(right), str(folder)) == 0
    counts = db_counts(resource)
    assert counts["documents"] == 1 and counts["pages"] == 2


def _document_errors(resource: PdfAssetsResource) -> list[str | None]:
    engine = make_engine(resource.database_url())
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT error FROM documents"))]
    finally:
        engine.dispose()
