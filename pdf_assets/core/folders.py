"""Inbox folders as partitions: safe keys, the PDFs of a folder and its fingerprint.

Dagster does not validate dynamic partition keys, so keys are derived here with a strict
pattern; a folder whose name cannot be made safe is skipped with a warning rather than
silently turned into a key that collides with another folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,80}$")


def partition_key_for(name: str) -> str | None:
    """Lower-case the folder name and map runs of other characters to '-'; None if unusable."""
    key = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-.")
    return key if KEY_PATTERN.match(key) else None


def list_pdfs(folder: Path) -> list[Path]:
    """PDFs directly inside `folder` (case-insensitive suffix), sorted for stable runs."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".pdf")


def folder_fingerprint(folder: Path) -> str:
    """Changes whenever a PDF is added, removed, renamed, resized or touched."""
    digest = hashlib.sha256()
    for pdf in list_pdfs(folder):
        stat = pdf.stat()
        digest.update(f"{pdf.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class InboxFolder:
    key: str
    path: Path
    fingerprint: str
    pdf_count: int


def scan_inbox(inbox: Path) -> tuple[list[InboxFolder], list[str]]:
    """Folders with at least one PDF, plus names that could not be turned into keys."""
    folders: list[InboxFolder] = []
    rejected: list[str] = []
    if not inbox.is_dir():
        return folders, rejected
    seen: set[str] = set()
    for child in sorted(inbox.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        pdfs = list_pdfs(child)
        if not pdfs:
            continue
        key = partition_key_for(child.name)
        if key is None or key in seen:
            rejected.append(child.name)
            continue
        seen.add(key)
        folders.append(InboxFolder(key, child.resolve(), folder_fingerprint(child), len(pdfs)))
    return folders, rejected


def folder_for_key(inbox: Path, key: str) -> Path:
    """The inbox folder behind a partition key (exact name first, then by derived key)."""
    direct = inbox / key
    if direct.is_dir():
        return direct.resolve()
    for child in sorted(inbox.iterdir()) if inbox.is_dir() else []:
        if child.is_dir() and partition_key_for(child.name) == key:
            return child.resolve()
    return direct
