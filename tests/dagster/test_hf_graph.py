"""The whole Dagster graph with every model stage on the transformers backends.

Tiny random checkpoints are built and saved by the tests, then loaded through the same
`from_pretrained` path a user's local model folder takes. Values are random; the structure
of every output is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from pdf_assets.defs.jobs import PIPELINE_ASSETS
from pdf_assets.defs.resources import PdfAssetsResource, StageConfig
from pdf_assets.samples import write_samples
from pdf_assets.storage.db import make_engine
from pdf_assets.storage.queries import read_frame
from tests.dagster.pipeline_helpers import run_job


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.backends.tiny_models import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny"))


def _resource(
    tmp: Path, inbox: Path, tiny: dict[str, Path], layout_backend: str = "hf", **figure_options: str
) -> PdfAssetsResource:
    def stage(name: str, **options: str) -> StageConfig:
        return StageConfig(
            backend="hf", model=str(tiny[name]), device="cpu", dtype="fp32", batch_size=4, options=options
        )

    return PdfAssetsResource(
        inbox=str(inbox),
        data_dir=str(tmp / "data"),
        db_url=f"sqlite:///{tmp / 'db.sqlite'}",
        render_workers=1,
        # Random weights score every class low: a low threshold lets regions through.
        layout=stage("layout", threshold="0.01") if layout_backend == "hf" else StageConfig(backend=layout_backend),
        ocr=stage("ocr", max_new_tokens="6"),
        tables=stage("tables", threshold="0.01"),
        figures=stage("figures", max_new_tokens="8", **figure_options),
    )


def _run(tmp: Path, tiny: dict[str, Path], layout_backend: str, **figure_options: str) -> dict[str, pd.DataFrame]:
    inbox = tmp / "inbox"
    write_samples(inbox / "samples")
    resource = _resource(tmp, inbox, tiny, layout_backend, **figure_options)
    with DagsterInstance.ephemeral() as instance:
        result = run_job(resource, instance, ["samples"])
        assert result.success
        for asset in PIPELINE_ASSETS:
            assert set(instance.get_materialized_partitions(AssetKey(asset))) == {"samples"}
        events = {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()}
    engine = make_engine(resource.database_url())
    frames = {t: read_frame(engine, t) for t in ("pages", "regions", "texts", "tables", "figures", "failures")}
    engine.dispose()
    frames["metadata"] = pd.DataFrame(
        [{"asset": k, **{m: str(v.value) for m, v in meta.items()}} for k, meta in events.items()]
    )
    return frames


def _backend(frames: dict[str, pd.DataFrame], asset: str, stage: str) -> str:
    meta = frames["metadata"]
    return str(meta[meta["asset"] == asset][f"{stage}/backend"].iloc[0])


def test_all_four_hf_stages_run_the_whole_graph(tmp_path: Path, tiny: dict[str, Path]) -> None:
    """Random tiny weights put every query on one label (text), so this run exercises hf layout
    and TrOCR end to end; the next test feeds the hf table and chart models."""
    frames = _run(tmp_path, tiny, "hf")
    assert _backend(frames, "layouts", "layout").startswith("hf.layout")
    pages, regions, texts = frames["pages"], frames["regions"], frames["texts"]
    assert len(pages) == 4 and len(regions) > 0
    merged = regions.merge(pages, left_on="page_id", right_on="id", suffixes=("", "_page"))
    assert (merged["x0"] >= 0).all() and (merged["y0"] >= 0).all()
    assert (merged["x1"] <= merged["width_pt"] + 1e-6).all() and (merged["y1"] <= merged["height_pt"] + 1e-6).all()
    assert len(texts) == len(regions[regions["kind"] == "text"])
    ocr = texts[texts["source"] == "ocr"]
    assert len(ocr) > 0 and set(ocr["engine"]) == {"hf.trocr"}  # the scanned sample has no text layer


def test_hf_table_and_chart_models_in_the_graph(tmp_path: Path, tiny: dict[str, Path]) -> None:
    # Deterministic text, table and figure regions. The fake figure regions are bands of text,
    # which the chart gate would keep from DePlot: charts_only=false sends them all to it.
    frames = _run(tmp_path, tiny, "fake", charts_only="false")
    assert _backend(frames, "table_results", "tables").startswith("hf.tatr")
    assert _backend(frames, "figure_results", "figures").startswith("hf.deplot")
    tables, figures = frames["tables"], frames["figures"]
    assert len(tables) == 4 and len(figures) == 4
    for _, table in tables.iterrows():
        cells = json.loads(table["cells_json"])
        for cell in cells:
            assert 0 <= cell["row"] < table["n_rows"] and 0 <= cell["col"] < table["n_cols"]
        assert table["csv"].count("\n") == table["n_rows"] or table["n_rows"] == 0
    for _, figure in figures.iterrows():
        assert Path(figure["crop_path"]).is_file()
        assert figure["engine"] == "hf.deplot"
        assert figure["chart_raw"] is not None  # raw model text kept even when it does not parse
