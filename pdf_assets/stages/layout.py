"""Layout detection over all pages of the run, and categorisation into model buckets."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from pdf_assets.core.types import (
    Box,
    Crop,
    DetectedRegion,
    ItemFailure,
    PageRef,
    Region,
    RegionKey,
    RegionKind,
    kind_of_label,
)
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.manifests import CategorizedRegions, LayoutManifest, PagesManifest

logger = logging.getLogger(__name__)

MIN_REGION_AREA_PT2 = 4.0
CROP_PADDING_PT = 2.0


def page_name(page: PageRef) -> str:
    return f"{Path(page.pdf_path).name}#p{page.page_no + 1}"


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
    run = engine.run("layout", pages)
    regions: dict[str, list[Region]] = defaultdict(list)
    failures: dict[str, list[ItemFailure]] = defaultdict(list)
    for i, (page, detected) in enumerate(zip(pages, run.outputs, strict=True)):
        if detected is None:
            failures[page.partition].append(
                ItemFailure("layout", page_name(page), run.failures.get(i, "unknown error"), page.partition)
            )
            continue
        regions[page.partition].extend(regions_for_page(page, detected))
    return {
        key: LayoutManifest(key, tuple(regions[key]), tuple(failures[key]), (run.metrics,))
        for key in pages_by_partition
    }


def _crop_path(store: Path, region: Region) -> Path:
    doc = region.key.doc_id
    return store / doc[:2] / doc / f"{region.key.slug()}.png"


def cut_crops(page: PageRef, regions: Sequence[Region], store: Path) -> list[Crop]:
    """Cut every region of one page out of its stored image (the image is opened once)."""
    crops: list[Crop] = []
    with Image.open(page.image_path) as image:
        image.load()
        for region in regions:
            box = Box(
                region.box.x0 - CROP_PADDING_PT,
                region.box.y0 - CROP_PADDING_PT,
                region.box.x1 + CROP_PADDING_PT,
                region.box.y1 + CROP_PADDING_PT,
            ).clipped(page.width_pt, page.height_pt)
            px = box.scaled(page.px_per_pt)
            piece = image.crop((int(px.x0), int(px.y0), max(int(px.x1), int(px.x0) + 1), max(int(px.y1), int(px.y0) + 1)))
            out = _crop_path(store, region)
            out.parent.mkdir(parents=True, exist_ok=True)
            piece.save(out, compress_level=1)  # crops are scratch inputs: speed over size
            crops.append(
                Crop(region, page.pdf_path, str(out), page.px_per_pt, piece.width, piece.height, page.has_text_layer)
            )
    return crops


def _cut_page(page: PageRef, regions: Sequence[Region], store: Path) -> list[Crop] | ItemFailure:
    try:
        return cut_crops(page, regions, store)
    except OSError as exc:
        return ItemFailure("categorize", page_name(page), f"{type(exc).__name__}: {exc}", page.partition)


def categorize(layout: LayoutManifest, pages: PagesManifest, store: Path) -> CategorizedRegions:
    """Bucket regions into text / figure / table and cut their crops from the page images.

    Pages are cut on a few threads: PNG decoding and encoding release the GIL, and a run with
    thousands of regions would otherwise spend most of this step waiting on zlib.
    """
    by_page: dict[tuple[str, int], list[Region]] = defaultdict(list)
    for region in layout.regions:
        by_page[(region.key.doc_id, region.key.page_no)].append(region)
    work = [(page, by_page[page.key]) for page in pages.pages if by_page.get(page.key)]
    buckets: dict[RegionKind, list[Crop]] = defaultdict(list)
    failures: list[ItemFailure] = []
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for result in pool.map(lambda job: _cut_page(job[0], job[1], store), work):
            if isinstance(result, ItemFailure):
                failures.append(result)
                continue
            for crop in result:
                buckets[crop.region.kind].append(crop)
    return CategorizedRegions(
        partition=layout.partition,
        regions=layout.regions,
        text=tuple(buckets[RegionKind.TEXT]),
        figures=tuple(buckets[RegionKind.FIGURE]),
        tables=tuple(buckets[RegionKind.TABLE]),
        failures=tuple(failures),
    )
