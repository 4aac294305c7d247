"""The whole chain without an orchestrator, and the bundle the database write takes.

The Dagster assets call the same step functions one by one; this module strings them
together for machines where only the inference core is installed (benchmarks on a GPU
box) and records each step's wall time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pdf_assets.core.bundle import RunBundle
from pdf_assets.core.types import ItemFailure, StageMetrics
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.figures import extract_figures
from pdf_assets.stages.layout import categorize
from pdf_assets.stages.manifests import (
    CategorizedRegions,
    FigureManifest,
    LayoutManifest,
    PagesManifest,
    TableManifest,
    TextManifest,
)
from pdf_assets.stages.render import DEFAULT_DPI, RenderSettings
from pdf_assets.stages.render_layout import render_and_detect
from pdf_assets.stages.tables import extract_tables
from pdf_assets.stages.text import extract_text


@dataclass(frozen=True)
class PipelineOutputs:
    pages: dict[str, PagesManifest]
    layouts: dict[str, LayoutManifest]
    categorized: dict[str, CategorizedRegions]
    texts: dict[str, TextManifest]
    tables: dict[str, TableManifest]
    figures: dict[str, FigureManifest]
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step, in run order


class StepClock:
    """Wall time per pipeline step, for benchmarks and summaries."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - started


def categorize_all(
    layouts: Mapping[str, LayoutManifest], pages: Mapping[str, PagesManifest], data_dir: Path
) -> dict[str, CategorizedRegions]:
    return categorize(layouts, pages, data_dir / "crops")


def run_pipeline(
    folders: Mapping[str, Path],
    data_dir: Path,
    engine: InferenceEngine,
    dpi: int = DEFAULT_DPI,
    stream_layout: bool = True,
) -> PipelineOutputs:
    """Every stage over every partition, stage by stage (each model sees all items at once);
    layout overlaps rendering unless `stream_layout` is off. With it on, `seconds["layouts"]`
    is only the layout work left once the last PDF was rendered."""
    clock = StepClock()
    both = render_and_detect(folders, data_dir / "pages", engine, RenderSettings(dpi=dpi), stream=stream_layout)
    pages, layouts = both.pages, both.layouts
    clock.seconds.update({"pages": both.render_s, "layouts": both.layout_tail_s})
    with clock("categorized_regions"):
        categorized = categorize_all(layouts, pages, data_dir)
    with clock("text_results"):
        texts = extract_text(categorized, engine)
    with clock("table_results"):
        tables = extract_tables(categorized, engine)
    with clock("figure_results"):
        figures = extract_figures(categorized, texts, engine)
    return PipelineOutputs(pages, layouts, categorized, texts, tables, figures, clock.seconds)


def partition_rows(outputs: PipelineOutputs, key: str) -> dict[str, int]:
    """The rows one partition's results become, per table (a failed table's box text is a text)."""
    return {
        "documents": len(outputs.pages[key].documents),
        "pages": len(outputs.pages[key].pages),
        "regions": len(outputs.categorized[key].regions),
        "texts": len(outputs.texts[key].results) + len(outputs.tables[key].texts),
        "tables": len(outputs.tables[key].results),
        "figures": len(outputs.figures[key].results),
    }


def stage_metrics(*groups: Mapping[str, object]) -> tuple[StageMetrics, ...]:
    """Each stage's metrics are repeated in every partition's value; keep one per stage."""
    seen: dict[str, StageMetrics] = {}
    for group in groups:
        for value in group.values():
            for m in getattr(value, "metrics", ()):
                seen.setdefault(m.stage, m)
    return tuple(seen.values())


def all_failures(*groups: Mapping[str, object]) -> tuple[ItemFailure, ...]:
    """Every recorded failure in the per-partition values of one or more steps."""
    return tuple(f for group in groups for value in group.values() for f in getattr(value, "failures", ()))


def build_bundle(outputs: PipelineOutputs, run_id: str | None = None) -> RunBundle:
    """Everything one run produced, ready for one replacing transaction."""
    groups = (outputs.pages, outputs.layouts, outputs.categorized, outputs.texts, outputs.tables, outputs.figures)
    return RunBundle(
        run_id=run_id or uuid.uuid4().hex,
        partitions={k: (m.folder, m.fingerprint) for k, m in outputs.pages.items()},
        documents=tuple(d for m in outputs.pages.values() for d in m.documents),
        pages=tuple(p for m in outputs.pages.values() for p in m.pages),
        regions=tuple(r for m in outputs.categorized.values() for r in m.regions),
        texts=tuple(t for m in outputs.texts.values() for t in m.results)
        + tuple(t for m in outputs.tables.values() for t in m.texts),  # failed tables' box text
        figures=tuple(f for m in outputs.figures.values() for f in m.results),
        tables=tuple(t for m in outputs.tables.values() for t in m.results),
        failures=all_failures(*groups),
        metrics=stage_metrics(*groups),
    )
