"""Inbox folders as partitions: safe keys, the PDFs of a folder and its fingerprint.

Dagster does not validate dynamic partition keys, so keys are derived here with a strict
pattern; a folder whose name cannot be made safe is skipped with a warning rather than
silently turned into a key that collides with another folder. Keys that arrive from outside
(GraphQL, the UI, a run's tags) are checked again before they become a path, and a key's
folder must lie inside the inbox: a key is a name, never a path.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from pdf_assets.core.errors import ConfigError

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,80}$")


def partition_key_for(name: str) -> str | None:
    """Lower-case the folder name and map runs of other characters to '-'; None if unusable."""
    key = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-.")
    return key if KEY_PATTERN.match(key) else None


class FolderNotFoundError(ConfigError):
    """A partition's folder does not exist (deleted, renamed, or never registered): running
    it would replace the partition's rows with nothing, so the run stops instead."""


def check_key(key: str) -> str:
    """`key` if it is a valid partition key, else a `ConfigError` saying why."""
    if not KEY_PATTERN.match(key):
        raise ConfigError(
            f"invalid partition key {key!r}: a key is a folder name matching {KEY_PATTERN.pattern}, not a path"
        )
    return key


def is_within(path: Path, root: Path) -> bool:
    """Whether `path`, with every link resolved, lies inside `root` (or is `root`)."""
    return path.resolve().is_relative_to(root.resolve())


def list_pdfs(folder: Path) -> list[Path]:
    """PDFs directly inside `folder` (case-insensitive suffix), sorted for stable runs.

    Links to files are listed too (as links): the render stage decides whether a link's
    target may be read.
    """
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".pdf")


def last_change(folder: Path) -> float:
    """The newest modification time (seconds) of the folder and its PDFs: a folder still being
    copied keeps moving this forward."""
    times = [folder.stat().st_mtime]
    for pdf in list_pdfs(folder):
        try:
            times.append(max(pdf.stat().st_mtime, pdf.lstat().st_mtime))
        except OSError:  # removed while we looked: the folder is changing
            times.append(float("inf"))
    return max(times)


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
    changed_at: float = 0.0  # `last_change` of the folder when scanned


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
        if key is None or key in seen or not is_within(child, inbox):
            rejected.append(child.name)
            continue
        seen.add(key)
        folders.append(InboxFolder(key, child.resolve(), folder_fingerprint(child), len(pdfs), last_change(child)))
    return folders, rejected


def folder_for_key(inbox: Path, key: str) -> Path:
    """The inbox folder behind a partition key (exact name first, then by derived key).

    Refuses (`ConfigError`) a key that is not a valid key and a folder that resolves outside
    the inbox (a linked folder); a key with no folder gives the path it would have, which the
    render stage refuses as missing.
    """
    check_key(key)
    direct = inbox / key
    found = direct if direct.is_dir() else None
    for child in sorted(inbox.iterdir()) if inbox.is_dir() and found is None else []:
        if child.is_dir() and partition_key_for(child.name) == key:
            found = child
            break
    if found is None:
        return direct
    if not is_within(found, inbox):
        raise ConfigError(f"the folder of partition {key!r} resolves outside the inbox {inbox}: refused")
    return found.resolve()
