"""Layout detection over all pages of the run, and categorisation into model buckets."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from pdf_assets.core.batching import StageRun
from pdf_assets.core.types import (
    Crop,
    DetectedRegion,
    ItemFailure,
    PageRef,
    Region,
    RegionKey,
    RegionKind,
    kind_of_label,
)
from pdf_assets.stages.crops import crops_for_pages, describe, needs_pixels, page_name
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.manifests import CategorizedRegions, LayoutManifest, PagesManifest
from pdf_assets.stages.remainder import add_remainders

logger = logging.getLogger(__name__)

MIN_REGION_AREA_PT2 = 4.0


def regions_for_page(page: PageRef, detected: Sequence[DetectedRegion]) -> list[Region]:
    """Give detections keys in the backend's reading order; drop boxes that vanish when clipped."""
    regions: list[Region] = []
    for det in detected:
        box = det.box.clipped(page.width_pt, page.height_pt)
        if box.area < MIN_REGION_AREA_PT2:
            continue
        key = RegionKey(page.doc_id, page.page_no, len(regions))
        regions.append(Region(key, page.partition, det.label, kind_of_label(det.label), box, det.score))
    return regions


def detect_layouts(
    pages_by_partition: Mapping[str, PagesManifest], engine: InferenceEngine
) -> dict[str, LayoutManifest]:
    """One layout stage over every page of every partition: the GPU batches across documents."""
    pages = [p for m in pages_by_partition.values() for p in m.pages]
    return layout_manifests(pages_by_partition, pages, engine.run("layout", pages))


def layout_manifests(
    pages_by_partition: Mapping[str, PagesManifest], pages: Sequence[PageRef], run: StageRun[list[DetectedRegion]]
) -> dict[str, LayoutManifest]:
    """Each partition's regions, page by page in its manifest's order, from a layout run over
    `pages` (in any order: streamed runs see pages as they were rendered)."""
    position = {page.key: i for i, page in enumerate(pages)}
    regions: dict[str, list[Region]] = defaultdict(list)
    failures: dict[str, list[ItemFailure]] = defaultdict(list)
    for manifest in pages_by_partition.values():
        for page in manifest.pages:
            i = position[page.key]
            detected = run.outputs[i]
            if detected is None:
                error = run.failures.get(i, "unknown error")
                failures[page.partition].append(
                    ItemFailure("layout", page_name(page), error, page.partition, page.doc_id)
                )
                continue
            regions[page.partition].extend(regions_for_page(page, detected))
    return {
        key: LayoutManifest(key, tuple(regions[key]), tuple(failures[key]), (run.metrics,))
        for key in pages_by_partition
    }


def _regions_by_page(
    layouts: Mapping[str, LayoutManifest], pages: Mapping[str, PagesManifest]
) -> list[tuple[PageRef, list[Region]]]:
    """Every page that has regions, with them, remainder regions included (`stages.remainder`)."""
    every_page: list[tuple[PageRef, list[Region]]] = []
    for key, layout in layouts.items():
        by_page: dict[tuple[str, int], list[Region]] = defaultdict(list)
        for region in layout.regions:
            by_page[(region.key.doc_id, region.key.page_no)].append(region)
        every_page += [(page, by_page.get(page.key, [])) for page in pages[key].pages]
    completed = add_remainders(every_page)
    return [(page, regions) for (page, _), regions in zip(every_page, completed, strict=True) if regions]


def salvage(
    page: PageRef, regions: Sequence[Region], failure: ItemFailure, store: Path
) -> tuple[list[Crop], list[ItemFailure]]:
    """What a page whose image could not be cut still gives: its text regions that read the
    text layer need no pixels and are kept; every region that needed pixels is a failure of
    its own (with its region, so storage marks that row)."""
    kept = [describe(page, r, store) for r in regions if not needs_pixels(page, r)]
    lost = [
        ItemFailure(failure.stage, r.key.slug(), failure.error, page.partition, doc_id=page.doc_id, region=r.key)
        for r in regions
        if needs_pixels(page, r)
    ]
    return kept, lost


def categorize(
    layouts: Mapping[str, LayoutManifest], pages: Mapping[str, PagesManifest], store: Path
) -> dict[str, CategorizedRegions]:
    """Bucket every partition's regions into text / figure / table and cut the crops a model reads.

    All partitions are cut in one pass over the worker processes: cut one partition at a
    time and each waits for its slowest page (a large scan takes half a second), which made
    this step grow by that much per folder. Text regions on pages with a text layer are
    only described (see `crops.py`): their text comes from the PDF, and the text stage cuts
    the few it must OCR after all. Text-layer text no region covers gets text regions of its
    own first (`stages.remainder`), so a page the layout saw as one figure keeps its text.
    """
    work = _regions_by_page(layouts, pages)
    all_regions: dict[str, list[Region]] = defaultdict(list)
    for page, regions in work:
        all_regions[page.partition] += regions
    buckets: dict[str, dict[RegionKind, list[Crop]]] = defaultdict(lambda: defaultdict(list))
    failures: dict[str, list[ItemFailure]] = defaultdict(list)
    for (page, regions), result in zip(work, crops_for_pages(work, store), strict=True):
        if isinstance(result, ItemFailure):
            result, lost = salvage(page, regions, result, store)
            failures[page.partition] += lost
        for crop in result:
            buckets[page.partition][crop.region.kind].append(crop)
    return {
        key: CategorizedRegions(
            partition=key,
            regions=tuple(all_regions[key]),
            text=tuple(buckets[key][RegionKind.TEXT]),
            figures=tuple(buckets[key][RegionKind.FIGURE]),
            tables=tuple(buckets[key][RegionKind.TABLE]),
            failures=tuple(failures[key]),
        )
        for key in layouts
    }
