"""Run the pipeline over a corpus so it can be scored: the same in-process Dagster job the
CLI's `run` executes, over one throwaway partition, into a database of its own."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from pdf_assets.core.config import STAGES
from pdf_assets.core.errors import ConfigError
from pdf_assets.core.pdf import ENV_PASSWORDS

PARTITION = "corpus"

#: user passwords of the corpus's encrypted PDFs (from the corpus MANIFEST)
CORPUS_PASSWORDS: dict[str, str] = {"health_protected.pdf": "userpass"}


@contextlib.contextmanager
def _corpus_passwords() -> Iterator[None]:
    """The corpus passwords added to `PDF_ASSETS_PASSWORDS` (one per line) for the run, the
    variable the pipeline reads passwords from, and put back as it was afterwards."""
    before = os.environ.get(ENV_PASSWORDS)
    os.environ[ENV_PASSWORDS] = "\n".join([*CORPUS_PASSWORDS.values(), *(before or "").splitlines()])
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_PASSWORDS, None)
        else:
            os.environ[ENV_PASSWORDS] = before


def corpus_pdfs(corpus_dir: Path) -> list[Path]:
    """The PDFs of a corpus: `<dir>/pdfs/*.pdf` (the shared layout) or `<dir>/*.pdf`."""
    folder = corpus_dir / "pdfs" if (corpus_dir / "pdfs").is_dir() else corpus_dir
    pdfs = sorted(folder.glob("*.pdf"))
    if not pdfs:
        raise ConfigError(f"no PDFs in {folder}")
    return pdfs


def _run_args(work_dir: Path, backend: str, device: str) -> argparse.Namespace:
    """The namespace `run_folders` reads (what the CLI's `run` would parse)."""
    args = argparse.Namespace(
        data_dir=str(work_dir / "data"),
        db_url=f"sqlite:///{work_dir / 'data' / 'pdf_assets.db'}",
        backend=backend,
        device=device,
        dagster_log_level="WARNING",
        inbox=None,
        rebind=True,  # the throwaway partition may only ever hold this run's copy
        password=None,
        passwords_file=None,
    )
    return args


def run_corpus(corpus_dir: Path, work_dir: Path, *, backend: str = "embedded", device: str = "auto") -> str:
    """Copy the corpus PDFs into `work_dir`, run the pipeline on them and return the DB URL.

    The run's console summary is captured rather than printed, so a report on stdout stays
    clean; a run that does not succeed raises with that summary.
    """
    from pdf_assets.defs.resources import StageConfig  # Dagster loads only when a run is asked for
    from pdf_assets.runner import DOCUMENTS_FAILED_EXIT, run_folders

    folder = work_dir / "inbox" / PARTITION
    folder.mkdir(parents=True, exist_ok=True)
    for pdf in corpus_pdfs(corpus_dir):
        shutil.copy(pdf, folder / pdf.name)
    (work_dir / "data").mkdir(parents=True, exist_ok=True)
    args = _run_args(work_dir, backend, device)
    summary = io.StringIO()
    with _corpus_passwords(), contextlib.redirect_stdout(summary):
        status = run_folders([folder], args, {s: StageConfig(backend=backend, device=device) for s in STAGES})
    if status not in (0, DOCUMENTS_FAILED_EXIT):  # an unreadable document is scored, not fatal
        raise RuntimeError(f"the pipeline run over {folder} failed:\n{summary.getvalue()}")
    db_url: str = args.db_url
    return db_url


__all__ = ["CORPUS_PASSWORDS", "corpus_pdfs", "run_corpus"]
