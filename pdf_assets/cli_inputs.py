"""What `pdf-assets run` accepts: folders, quoted patterns, and single PDF files.

A partition is a folder, so a single file gets a folder of its own under the data folder
(`<data_dir>/files/<stem>-<6 hex of its path>/`), holding a hard link to it (a copy where the
file lies on another file system): the file is processed alone, not with its neighbours, and
the same file named again maps to the same partition.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from pdf_assets.core.folders import partition_key_for


def expand_inputs(given: Sequence[str]) -> list[Path]:
    """Folders and PDF files named on the command line, with shell-style patterns expanded
    (`'inbox/2026-*'`, quoted so the shell leaves them to us); a pattern matching nothing is
    kept as given, so the caller reports it."""
    out: list[Path] = []
    for text in given:
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else []
        usable = [Path(m).resolve() for m in matches if Path(m).is_dir() or _is_pdf(Path(m))]
        out += usable or [Path(text).resolve()]
    return list(dict.fromkeys(out))


def _is_pdf(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".pdf"


def folder_for_file(pdf: Path, data_dir: Path) -> Path:
    """The one-file folder a single PDF is processed in (made or refreshed now)."""
    tag = hashlib.sha1(str(pdf.resolve()).encode()).hexdigest()[:6]
    folder = data_dir / "files" / f"{partition_key_for(pdf.stem) or 'file'}-{tag}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / pdf.name
    if not (target.exists() and os.path.samefile(target, pdf)):
        target.unlink(missing_ok=True)
        try:
            os.link(pdf, target)
        except OSError:  # another file system, or links not allowed: a copy reads the same
            shutil.copy2(pdf, target)
    return folder


def as_folders(inputs: Sequence[Path], data_dir: Path) -> list[Path]:
    """Folders as they are, PDF files in one-file folders of their own, other paths unchanged
    (the caller reports them)."""
    return [folder_for_file(p, data_dir) if _is_pdf(p) else p for p in inputs]
