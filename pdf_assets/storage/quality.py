"""What the failures of a run mean for its stored rows: region and document status, page text.

Pure functions of a `RunBundle`, kept apart from the inserts in `repository` so the rules a
SQL user relies on (see `schema`) are in one place:

- a region with a failure is `failed`, or `recovered` when every failure on it kept a
  fallback result (`ItemFailure.recovered`);
- a document with an `error` is `error`; else one that any failure hit (by `doc_id` or through
  its region), or that was only partly read (a flag in `INCOMPLETE_FLAGS`: MuPDF repaired it,
  or some of its pages came out empty), is `partial`; else `ok`;
- a page's text is its text results joined in reading order (region index), blank results
  left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pdf_assets.core.bundle import RunBundle, failure_doc_id
from pdf_assets.core.types import DocumentInfo, RegionKey

# Document flags that mean content may be missing even though no stage failed.
INCOMPLETE_FLAGS = frozenset({"repaired", "pages_empty", "timeout"})

PAGE_TEXT_SEPARATOR = "\n\n"  # one blank line between regions, as between paragraphs

DocKey = tuple[str, str]  # (partition, doc_id)
RegionRef = tuple[str, RegionKey]  # (partition, region key)


@dataclass(frozen=True)
class RegionState:
    status: str  # "failed" | "recovered"
    error: str


@dataclass(frozen=True)
class DocumentState:
    status: str  # "ok" | "partial" | "error"
    failures: int = 0
    failed_regions: int = 0
    recovered_regions: int = 0


def region_states(bundle: RunBundle) -> dict[RegionRef, RegionState]:
    """The regions some failure hit, with their status and the failures' errors (stage: error)."""
    errors: dict[RegionRef, list[str]] = defaultdict(list)
    lost: set[RegionRef] = set()
    for failure in bundle.failures:
        partition = bundle.partition_of(failure)
        if failure.region is None or partition is None:
            continue
        ref = (partition, failure.region)
        message = f"{failure.stage}: {failure.error}"
        if message not in errors[ref]:
            errors[ref].append(message)
        if failure.recovered is None:
            lost.add(ref)
    return {
        ref: RegionState("failed" if ref in lost else "recovered", "\n".join(messages))
        for ref, messages in errors.items()
    }


def document_states(bundle: RunBundle, regions: dict[RegionRef, RegionState]) -> dict[DocKey, DocumentState]:
    """Every document of the bundle with its status and failure counts."""
    hits: dict[DocKey, int] = defaultdict(int)
    for failure in bundle.failures:
        doc_id, partition = failure_doc_id(failure), bundle.partition_of(failure)
        if doc_id is not None and partition is not None:
            hits[(partition, doc_id)] += 1
    by_doc: dict[DocKey, dict[str, int]] = defaultdict(lambda: {"failed": 0, "recovered": 0})
    for (partition, key), state in regions.items():
        by_doc[(partition, key.doc_id)][state.status] += 1
    return {(d.partition, d.doc_id): _document_state(d, hits, by_doc) for d in bundle.documents}


def _document_state(doc: DocumentInfo, hits: dict[DocKey, int], by_doc: dict[DocKey, dict[str, int]]) -> DocumentState:
    key = (doc.partition, doc.doc_id)
    failures = hits.get(key, 0)
    counts = by_doc.get(key, {"failed": 0, "recovered": 0})
    incomplete = bool(INCOMPLETE_FLAGS.intersection(doc.flags))
    status = "error" if doc.error is not None else "partial" if failures or incomplete else "ok"
    return DocumentState(status, failures, counts["failed"], counts["recovered"])


def page_texts(bundle: RunBundle) -> dict[tuple[str, str, int], str]:
    """(partition, doc_id, page_no) -> the page's text results in reading order."""
    parts: dict[tuple[str, str, int], list[tuple[int, str]]] = defaultdict(list)
    for result in bundle.texts:
        if result.text.strip():
            parts[(result.partition, result.key.doc_id, result.key.page_no)].append((result.key.index, result.text))
    return {page: PAGE_TEXT_SEPARATOR.join(t for _, t in sorted(texts)) for page, texts in parts.items()}
