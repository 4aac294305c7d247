"""Opening a PDF file: the one place the package calls `pymupdf.open` on a path.

Encrypted PDFs are opened with the empty password first, then with each configured
password. Passwords come from three places, merged in this order: the ones a caller
passes, the process-wide list (`set_passwords`, set by the Dagster resource and the CLI),
and the environment (`PDF_ASSETS_PASSWORDS`, one password per line). The worker pool ships
the process-wide list to its workers with every job (see `core.parallel`), so the text
layer, table words and chart gate can open the same documents the render stage opened.
Passwords are never logged or written into an error message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pymupdf

from pdf_assets.core.errors import DocumentError

ENV_PASSWORDS = "PDF_ASSETS_PASSWORDS"

_PASSWORDS: tuple[str, ...] = ()


class EncryptedPdfError(DocumentError):
    """No given password opens an encrypted PDF."""


def set_passwords(passwords: Iterable[str]) -> None:
    """Replace the process-wide password list (blank entries dropped, order kept)."""
    global _PASSWORDS
    _PASSWORDS = _unique(passwords)


def process_passwords() -> tuple[str, ...]:
    """The process-wide list only (what the worker pool ships to its workers)."""
    return _PASSWORDS


def configured_passwords(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """`extra`, then the process-wide list, then `PDF_ASSETS_PASSWORDS`, without repeats."""
    env = os.environ.get(ENV_PASSWORDS, "").splitlines()
    return _unique([*extra, *_PASSWORDS, *env])


def read_passwords_file(path: Path) -> list[str]:
    """One password per line; blank lines are skipped, other whitespace is part of a password."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _unique(passwords: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for p in passwords if p))


def unlock(doc: pymupdf.Document, passwords: Sequence[str]) -> bool:
    """Authenticate `doc` if it needs a password; True when it was encrypted.

    Raises `EncryptedPdfError` (and closes `doc`) when neither the empty password nor any
    of `passwords` opens it. The message counts the passwords but never shows them.
    """
    if not doc.needs_pass:
        return bool(doc.metadata and doc.metadata.get("encryption"))
    for password in ("", *passwords):
        if doc.authenticate(password):
            return True
    doc.close()
    count = len(passwords)
    raise EncryptedPdfError(
        f"PDF is encrypted; none of the {count} given password{'' if count == 1 else 's'} opens it"
        if count
        else "PDF is encrypted and no password was given (set passwords in the config, "
        "PDF_ASSETS_PASSWORDS, or --password / --passwords-file)"
    )


def open_pdf(path: str | Path, passwords: Sequence[str] | None = None) -> pymupdf.Document:
    """Open a PDF file, unlocking it with the configured passwords where it is encrypted.

    `passwords` replaces the configured list when given (the render stage passes its own).
    """
    doc = pymupdf.open(path)
    unlock(doc, configured_passwords() if passwords is None else tuple(passwords))
    return doc
