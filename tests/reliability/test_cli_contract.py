"""What scripts rely on: exit codes, `--strict`, settings from the environment, globs, the
SQLite file following `--data-dir`, and every bad setting reported before any work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pdf_assets.cli import EXIT_DOCUMENTS_FAILED, EXIT_USAGE, main
from pdf_assets.samples import write_samples
from tests.reliability.bad_pdfs import text_pdf, truncated_pdf


def _args(tmp: Path, *folders: Path, backend: bool = True) -> list[str]:
    args = ["run", *map(str, folders), "--data-dir", str(tmp / "data")]
    return args + (["--backend", "fake", "--device", "cpu"] if backend else [])


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("pdf-assets ") and out.split()[1][0].isdigit()


def test_a_folder_without_pdfs_is_an_error_and_nothing_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "inbox" / "empty"
    empty.mkdir(parents=True)
    (empty / "notes.txt").write_text("no PDFs here")
    assert main(_args(tmp_path, empty)) == EXIT_USAGE
    assert "no PDFs found in" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_an_unreadable_document_exits_3_and_the_rest_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "inbox" / "mixed"
    text_pdf(folder / "good.pdf")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really a pdf")
    assert main(_args(tmp_path, folder)) == EXIT_DOCUMENTS_FAILED
    captured = capsys.readouterr()
    assert "1 of 2 documents could not be read" in captured.err
    assert ": SUCCESS" in captured.out  # the run itself succeeded; the exit code tells the rest
    assert (tmp_path / "data" / "pdf_assets.db").is_file()  # the SQLite file follows --data-dir


def test_a_partly_read_document_passes_unless_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "inbox" / "cut"
    truncated_pdf(folder / "truncated.pdf")  # repaired by MuPDF: stored as partial
    assert main(_args(tmp_path, folder)) == 0
    assert main([*_args(tmp_path, folder), "--strict"]) == EXIT_DOCUMENTS_FAILED
    assert "could not be read or were only partly read" in capsys.readouterr().err


def test_backend_and_device_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "inbox" / "alpha"
    write_samples(folder)
    monkeypatch.setenv("PDF_ASSETS_BACKEND", "fake")
    monkeypatch.setenv("PDF_ASSETS_DEVICE", "cpu")
    assert main(_args(tmp_path, folder, backend=False)) == 0
    out = capsys.readouterr().out
    assert "fake.layout" in out and "fake.ocr" in out  # the per-stage summary names the backends


def test_a_pattern_names_every_matching_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inbox = tmp_path / "inbox"
    write_samples(inbox / "batch-1")
    shutil.copytree(inbox / "batch-1", inbox / "batch-2")
    assert main([*_args(tmp_path, inbox / "batch-*"), "--db-url", f"sqlite:///{tmp_path / 'db.sqlite'}"]) == 0
    assert main(["show", "--db-url", f"sqlite:///{tmp_path / 'db.sqlite'}"]) == 0
    out = capsys.readouterr().out
    assert "batch-1" in out and "batch-2" in out


def test_every_bad_setting_is_one_line_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "inbox" / "alpha"
    write_samples(folder)
    args = [
        *_args(tmp_path, folder, backend=False),
        "--backend", "layout=nope,ocr=fake,tables=fake,figures=fake",
        "--device", "tables=gpu7,layout=cpu,ocr=cpu,figures=cpu",
    ]  # fmt: skip
    assert main(args) == EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith("error: layout: unknown backend 'nope'") for line in err)
    assert any(line.startswith("error: tables: device 'gpu7'") for line in err)
    assert err[-1] == "nothing was run"
    assert not (tmp_path / "data" / "pages").exists()


def test_a_malformed_per_stage_value_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "inbox" / "alpha"
    write_samples(folder)
    assert main([*_args(tmp_path, folder), "--batch-size", "ocr=0"]) == EXIT_USAGE
    assert "--batch-size for ocr: '0' is not a positive whole number" in capsys.readouterr().err
    assert main([*_args(tmp_path, folder), "--batch-size", "scanner=4"]) == EXIT_USAGE
    assert "STAGE one of layout, ocr, tables, figures" in capsys.readouterr().err


def test_cuda_where_there_is_none_fails_before_rendering(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    folder = tmp_path / "inbox" / "alpha"
    write_samples(folder)
    assert main([*_args(tmp_path, folder, backend=False), "--backend", "hf", "--device", "cuda:all"]) == EXIT_USAGE
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 4 and all("CUDA is not available here" in line for line in err)
    assert not (tmp_path / "data" / "pages").exists()


def test_a_single_pdf_is_a_partition_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "inbox" / "many"
    samples = write_samples(folder)  # four PDFs; only one is named
    db = ["--db-url", f"sqlite:///{tmp_path / 'db.sqlite'}"]
    assert main([*_args(tmp_path, samples[0]), *db]) == 0
    assert main([*_args(tmp_path, samples[0]), *db]) == 0  # the same file again: the same partition
    capsys.readouterr()
    assert main(["show", *db]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(samples[0].stem.lower())]
    assert len(rows) == 1 and rows[0].split()[1] == "1/0/0"  # one document, ok
    assert main([*_args(tmp_path, tmp_path / "inbox" / "nothing.txt"), *db]) == EXIT_USAGE
