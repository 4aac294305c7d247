"""The shared worker pool: grouped jobs come back one output per item, in input order."""

from __future__ import annotations

import os

import pytest

from pdf_assets.core.parallel import map_by_group


def tag_with_job(items: list[str]) -> list[tuple[str, int, int]]:
    """Each item with the size of the job it ran in and the worker's pid."""
    return [(item, len(items), os.getpid()) for item in items]


@pytest.mark.parametrize("inline_below", [1000, 2])
def test_grouped_outputs_keep_input_order_and_respect_the_chunk(inline_below: int) -> None:
    items = [f"{group}{n}" for n in range(5) for group in "abc"]  # groups interleaved
    out = map_by_group(tag_with_job, items, lambda item: item[0], chunk=2, inline_below=inline_below)
    assert [item for item, _, _ in out] == items
    assert max(size for _, size, _ in out) == 2
    pids = {pid for _, _, pid in out}
    assert (pids == {os.getpid()}) is (inline_below == 1000)


def test_nothing_to_map() -> None:
    assert map_by_group(tag_with_job, [], lambda item: item) == []
