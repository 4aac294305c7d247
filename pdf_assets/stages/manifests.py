"""The per-partition values the pipeline steps hand to each other.

Each is small (references, boxes, text) so the IO manager can store one per partition;
images live in the page store. Every value carries the failures recorded for its
partition and the run's stage metrics, so the final database write sees all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pdf_assets.core.types import (
    Crop,
    DocumentInfo,
    FigureResult,
    ItemFailure,
    PageRef,
    Region,
    StageMetrics,
    TableResult,
    TextResult,
)


@dataclass(frozen=True)
class PagesManifest:
    partition: str
    folder: str
    fingerprint: str
    documents: tuple[DocumentInfo, ...]
    pages: tuple[PageRef, ...]
    metrics: tuple[StageMetrics, ...] = ()

    @property
    def failures(self) -> tuple[ItemFailure, ...]:
        return tuple(
            ItemFailure("pages", d.path, d.error, d.partition, doc_id=d.doc_id) for d in self.documents if d.error
        )


@dataclass(frozen=True)
class LayoutManifest:
    partition: str
    regions: tuple[Region, ...]
    failures: tuple[ItemFailure, ...] = ()
    metrics: tuple[StageMetrics, ...] = ()


@dataclass(frozen=True)
class CategorizedRegions:
    partition: str
    regions: tuple[Region, ...]
    text: tuple[Crop, ...]
    figures: tuple[Crop, ...]
    tables: tuple[Crop, ...]
    failures: tuple[ItemFailure, ...] = ()


@dataclass(frozen=True)
class TextManifest:
    partition: str
    results: tuple[TextResult, ...]
    failures: tuple[ItemFailure, ...] = ()
    metrics: tuple[StageMetrics, ...] = ()


@dataclass(frozen=True)
class TableManifest:
    """Tables, and the box text of table regions the table model failed on (`texts`: their
    `TextResult`s, stored with the text stage's, see `stages.fallback`)."""

    partition: str
    results: tuple[TableResult, ...]
    failures: tuple[ItemFailure, ...] = ()
    metrics: tuple[StageMetrics, ...] = ()
    texts: tuple[TextResult, ...] = ()


@dataclass(frozen=True)
class FigureManifest:
    partition: str
    results: tuple[FigureResult, ...]
    failures: tuple[ItemFailure, ...] = ()
    metrics: tuple[StageMetrics, ...] = ()
