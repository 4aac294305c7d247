"""One pool of CPU worker processes for the CPU-heavy steps (rendering, text-layer reads).

MuPDF work holds the GIL, so threads do not help; processes do. Starting a pool costs about
a second (each worker imports PyMuPDF), so the pool is created on first use and kept for
the life of the process: render, then text extraction, then the next run reuse it.
Workers are spawned, not forked: the orchestrator process holds threads (Dagster's event
loop, the batch runner's prefetchers) that a fork would copy in a locked state.
Small jobs run inline, where a pool would cost more than it saves.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

JobT = TypeVar("JobT")
ItemT = TypeVar("ItemT")
OutT = TypeVar("OutT")

_LOCK = threading.Lock()
_POOLS: dict[int, ProcessPoolExecutor] = {}  # one pool per worker count (normally just one)


def default_workers() -> int:
    """`PDF_ASSETS_CPU_WORKERS`, else one per core."""
    return int(os.environ.get("PDF_ASSETS_CPU_WORKERS", "0")) or (os.cpu_count() or 1)


def _pool(workers: int) -> ProcessPoolExecutor:
    with _LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            _POOLS[workers] = pool
        return pool


def shutdown() -> None:
    """Stop the worker processes (at exit, or in tests that count processes)."""
    with _LOCK:
        for pool in _POOLS.values():
            pool.shutdown(wait=True, cancel_futures=True)
        _POOLS.clear()


atexit.register(shutdown)


def process_map(fn: Callable[[JobT], OutT], jobs: Sequence[JobT], workers: int | None = None) -> Iterator[OutT]:
    """`map(fn, jobs)` in input order, on the shared pool when more than one worker is useful.

    `fn` must be a module-level function and must not raise for bad input (it runs in
    another process; a per-item error belongs in its return value). A worker that dies
    (killed, or crashed inside MuPDF) breaks the pool: it is dropped, so the next call
    starts a fresh one, and the error is raised here.
    """
    count = workers or default_workers()
    if count == 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    pool = _pool(count)  # the same pool for every call: a pool per job count would respawn
    try:
        yield from pool.map(fn, jobs)
    except BrokenProcessPool:
        with _LOCK:
            if _POOLS.get(count) is pool:
                del _POOLS[count]
        raise


def map_by_group(
    fn: Callable[[list[ItemT]], list[OutT]],
    items: Sequence[ItemT],
    group: Callable[[ItemT], str],
    chunk: int | None = None,
    inline_below: int = 2,
) -> list[OutT]:
    """`fn` over `items` in jobs of one group each (e.g. one PDF, opened once per job), at most
    `chunk` items a job; one output per item, in input order.

    `fn` takes a job's items and returns one output each. With fewer than `inline_below`
    items everything runs in this process.
    """
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_group[group(item)].append(i)
    size = chunk or max(1, len(items))
    jobs = [idx[s : s + size] for idx in by_group.values() for s in range(0, len(idx), size)]
    workers = 1 if len(items) < inline_below else None
    found: dict[int, OutT] = {}
    for idx, outputs in zip(jobs, process_map(fn, [[items[i] for i in idx] for idx in jobs], workers), strict=True):
        found.update(zip(idx, outputs, strict=True))
    return [found[i] for i in range(len(items))]
