"""The fake backends' behaviour that other tests rely on: determinism, switchable faults and
options, and the cost the runner sorts by. What each fake returns is not pinned here; the
pipeline tests count the rows those outputs become."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pdf_assets.backends import fake
from pdf_assets.backends.registry import clear_cache, load_models
from pdf_assets.core.batching import run_batched
from pdf_assets.core.config import BatchPolicy, ModelSpec
from pdf_assets.core.errors import ConfigError, ModelLoadError
from pdf_assets.core.model import pixel_cost
from pdf_assets.core.types import Box, Crop, PageRef, Region, RegionKey, kind_of_label


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def page(page_no: int, width: float = 595.0, height: float = 842.0) -> PageRef:
    return PageRef(
        doc_id="d" * 64,
        partition="p1",
        pdf_path="/x.pdf",
        page_no=page_no,
        width_pt=width,
        height_pt=height,
        image_path=f"/pages/{page_no}.png",
        px_per_pt=2.0,
        text_chars=0,
    )


def crop(index: int, label: str = "text") -> Crop:
    region = Region(
        key=RegionKey(doc_id="c" * 64, page_no=3, index=index),
        partition="p1",
        label=label,
        kind=kind_of_label(label),
        box=Box(10, 20, 300, 44),
        score=0.9,
    )
    return Crop(
        region=region,
        pdf_path="/x.pdf",
        image_path=f"/crops/{index}.png",
        px_per_pt=2.0,
        width_px=580 + index,
        height_px=48,
        text_layer=False,
    )


def spec(stage: str, **options: str) -> ModelSpec:
    return ModelSpec(stage=stage, backend="fake", options=tuple(sorted(options.items())))


def test_outputs_do_not_depend_on_batching_or_replicas() -> None:
    crops = [crop(i) for i in range(11)]
    one = run_batched("ocr", load_models(spec("ocr")), crops, BatchPolicy(batch_size=1)).outputs
    many = run_batched("ocr", load_models(spec("ocr", replicas="3")), crops, BatchPolicy(batch_size=4)).outputs
    assert one == many


def test_devices_follow_the_replicas_option() -> None:
    assert fake.devices_for(spec("ocr")) == ["cpu"]
    assert fake.devices_for(spec("ocr", replicas="3")) == ["fake:0", "fake:1", "fake:2"]
    models = load_models(spec("tables", replicas="2"))
    assert [m.device for m in models] == ["fake:0", "fake:1"]
    assert {m.name for m in models} == {"fake.tables"}


def test_fail_on_matches_region_slugs_and_page_ids() -> None:
    crops = [crop(i) for i in range(6)]
    target = crops[4].region.key.slug()
    run = run_batched("ocr", load_models(spec("ocr", fail_on=target)), crops, BatchPolicy(batch_size=4))
    assert set(run.failures) == {4}

    pages = [page(i) for i in range(3)]
    run = run_batched("layout", load_models(spec("layout", fail_on=":2")), pages, BatchPolicy(batch_size=3))
    assert set(run.failures) == {2}


def test_systemic_option_fails_loading() -> None:
    with pytest.raises(ModelLoadError):
        load_models(spec("figures", systemic="1"))


def test_bad_option_values_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        load_models(spec("ocr", oom_above="lots"))
    with pytest.raises(ConfigError):
        fake.devices_for(spec("ocr", replicas="0"))


@pytest.mark.parametrize("backend", ["fake", "embedded"])
def test_a_misspelt_option_is_rejected(backend: str) -> None:
    spec = ModelSpec(stage="tables", backend=backend, device="cpu", options=(("treshold", "0.5"),))
    with pytest.raises(ConfigError, match="treshold"):
        load_models(spec)


def test_fakes_sort_images_by_pixels_like_the_worker_replicas() -> None:
    """The fakes and `ProcessReplica` share `pixel_cost`; numbers and strings are the fakes' own."""
    model: fake.FakeModel[object, object] = fake.FakeModel()
    assert model.cost(crop(2)) == pixel_cost(crop(2)) == 582 * 48
    assert model.cost(page(1, 100.0, 50.0)) == pixel_cost(page(1, 100.0, 50.0)) == 100.0 * 50.0 * 4.0
    assert pixel_cost(7) == 0.0
    assert model.cost(7) == 7.0 and model.cost("abc") == 3.0
