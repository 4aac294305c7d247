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
import functools
import multiprocessing
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection, wait
from typing import TypeVar

from pdf_assets.core.errors import WorkerLostError
from pdf_assets.core.pdf import configured_passwords, set_passwords

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
    _shutdown_killable()


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
        yield from pool.map(with_passwords(fn), jobs)
    except BrokenProcessPool:
        with _LOCK:
            if _POOLS.get(count) is pool:
                del _POOLS[count]
        raise


def _call_with_passwords(fn: Callable[[JobT], OutT], passwords: tuple[str, ...], job: JobT) -> OutT:
    set_passwords(passwords)
    return fn(job)


def with_passwords(fn: Callable[[JobT], OutT]) -> Callable[[JobT], OutT]:
    """`fn` bound to this process's PDF passwords (configured and from the environment), so a
    worker opens the same encrypted PDFs (a spawned worker starts with an empty list, and the
    list may change between runs)."""
    return functools.partial(_call_with_passwords, fn, configured_passwords())


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


# --- Killable workers: one job at a time per process, so one job can be stopped -------------
# A process pool cannot cancel a running job; a PDF that makes MuPDF loop (or crash) would
# hold, or break, the whole pool. These workers each run one job at a time and answer over
# their own pipe; a job that runs past its deadline gets its worker killed and replaced, and
# becomes the caller's `on_timeout` value, while the other workers carry on.


class _KillableWorker:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_killable_loop, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        """Wait for the worker's imports to finish: a job's time limit starts after them."""
        if not self.ready and self.conn.poll(timeout_s):
            self.ready = self.conn.recv() == "ready"
        if not self.ready:
            raise WorkerLostError(f"a worker process did not start within {timeout_s:g} s")

    def stop(self, kill: bool = False) -> None:
        if kill or not self.proc.is_alive():
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                self.proc.kill()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


_IDLE: list[_KillableWorker] = []  # kept between calls: a worker costs about a second to start


def _killable_loop(conn: Connection) -> None:
    conn.send("ready")
    while True:
        message = conn.recv()
        if message is None:
            return
        fn, job = message
        try:
            conn.send((True, fn(job)))
        except Exception as exc:  # noqa: BLE001 - reported to the caller as that job's error
            conn.send((False, f"{type(exc).__name__}: {exc}"))


def _shutdown_killable() -> None:
    while _IDLE:
        _IDLE.pop().stop()


def _take_worker() -> _KillableWorker:
    with _LOCK:
        while _IDLE:
            worker = _IDLE.pop()
            if worker.proc.is_alive():
                return worker
            worker.stop(kill=True)
    return _KillableWorker()


def killable_map(
    fn: Callable[[JobT], OutT],
    jobs: Sequence[JobT],
    timeout_s: float,
    on_error: Callable[[JobT, str, bool], OutT],
    workers: int | None = None,
) -> Iterator[OutT]:
    """`map(fn, jobs)` in input order on killable worker processes (see `killable_imap`)."""
    done: dict[int, OutT] = {}
    emitted = 0
    for index, out in killable_imap(fn, jobs, timeout_s, on_error, workers):
        done[index] = out
        while emitted in done:
            yield done.pop(emitted)
            emitted += 1


def killable_imap(
    fn: Callable[[JobT], OutT],
    jobs: Sequence[JobT],
    timeout_s: float,
    on_error: Callable[[JobT, str, bool], OutT],
    workers: int | None = None,
) -> Iterator[tuple[int, OutT]]:
    """`(index, fn(job))` as each job finishes, on killable worker processes, each job limited
    to `timeout_s` seconds. A job that runs too long, raises, or kills its worker yields
    `on_error(job, message, timed_out)` instead; no job's fault stops the others. Completion
    order lets a consumer start on early results while one large PDF still renders."""
    count = max(1, min(workers or default_workers(), len(jobs)))
    call = with_passwords(fn)
    pending = list(enumerate(jobs))[::-1]
    starting = [_take_worker() for _ in range(count)]  # started together, then awaited
    for worker in starting:
        worker.wait_ready()
    with _LOCK:
        _IDLE.extend(starting)
    busy: dict[Connection, tuple[_KillableWorker, int, float]] = {}
    done: dict[int, OutT] = {}
    emitted = 0
    try:
        while emitted < len(jobs):
            while pending and len(busy) < count:
                index, job = pending.pop()
                worker = _take_worker()
                worker.wait_ready()
                worker.conn.send((call, job))
                busy[worker.conn] = (worker, index, time.monotonic() + timeout_s)
            _collect(busy, done, jobs, on_error, timeout_s)
            for index in sorted(done):
                yield index, done.pop(index)
                emitted += 1
    finally:
        for worker, _, _ in busy.values():
            worker.stop(kill=True)


def _collect(
    busy: dict[Connection, tuple[_KillableWorker, int, float]],
    done: dict[int, OutT],
    jobs: Sequence[JobT],
    on_error: Callable[[JobT, str, bool], OutT],
    timeout_s: float,
) -> None:
    """Wait for the next answer or deadline; record what finished, kill what ran too long."""
    now = time.monotonic()
    wait(list(busy), timeout=max(0.0, min(deadline for _, _, deadline in busy.values()) - now))
    now = time.monotonic()
    for conn, (worker, index, deadline) in list(busy.items()):
        if conn.poll():
            try:
                ok, value = conn.recv()
            except (EOFError, OSError):
                worker.stop(kill=True)
                ok, value = False, f"worker process died (exit code {worker.proc.exitcode})"
            else:
                with _LOCK:
                    _IDLE.append(worker)
            done[index] = value if ok else on_error(jobs[index], value, False)
        elif now >= deadline or not worker.proc.is_alive():
            timed_out = worker.proc.is_alive()
            worker.stop(kill=True)
            message = f"stopped after {timeout_s:g} s" if timed_out else "worker process died"
            done[index] = on_error(jobs[index], message, timed_out)
        else:
            continue
        del busy[conn]


atexit.register(shutdown)
