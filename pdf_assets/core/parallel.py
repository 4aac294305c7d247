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
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

JobT = TypeVar("JobT")
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
