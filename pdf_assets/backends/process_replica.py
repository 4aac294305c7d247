"""A model replica in its own worker process: data parallelism that scales past the GIL.

With `cuda:all`, one replica per GPU in threads of one process shares one interpreter: once
the device work per batch is short, decoding and the image processors' Python compete for
the GIL and a second GPU adds nothing. Here each replica is a spawned process that loads the
model on its GPU; the batch runner drives it through the usual three phases:

- `preprocess(items)` sends the items and returns a ticket at once; the worker preprocesses
  on its own threads while the device runs the previous batch (the runner's prefetch);
- `forward(ticket)` asks the worker to run the batch and returns once the device work is
  done (so out-of-memory errors surface where the runner expects them); the worker then
  postprocesses on its own thread while it already runs the next batch's forward;
- `postprocess` waits for those outputs.

Errors come back by kind, so the runner's out-of-memory halving and failure bisection work
unchanged. A worker that dies, or does not answer within `timeout_s`, is a `WorkerLostError`
(systemic) carrying the worker's last error: every later call fails at once instead of
waiting out the timeout again for each half of a bisection. Tickets the runner drops
(prefetched batches after an out-of-memory error) are released in the worker at once, so
their preprocessed tensors do not hold device memory while the runner frees it.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Generic, TypeVar, cast

from pdf_assets.core.errors import DeviceOutOfMemoryError, SystemicError, WorkerLostError
from pdf_assets.core.model import BatchModel, pixel_cost

ItemT = TypeVar("ItemT")
OutT = TypeVar("OutT")
AnyModel = BatchModel[object, object, object, object]

#: preprocessed batches a worker keeps for tickets it has not been asked to run yet
MAX_PENDING = 8
#: what a worker times per batch (seconds, summed), and the batch count
_PHASES = ("preprocess", "hand_off", "wait_preprocess", "forward", "postprocess", "batches")


class WorkerItemError(RuntimeError):
    """An item-level error raised inside a worker (the runner bisects the batch)."""


@dataclass(frozen=True)
class _Reply:
    ok: bool
    value: object  # outputs, a number, or (kind, message) when not ok


class ProcessReplica(BatchModel[ItemT, int, "Future[_Reply]", OutT], Generic[ItemT, OutT]):
    """Client side of one worker process holding one model replica."""

    def __init__(
        self, factory: Callable[[], AnyModel], cpu_threads: int | None = None, timeout_s: float = 600.0
    ) -> None:
        """`cpu_threads` caps the worker's CPU thread pools (torch, OpenMP, image decoding):
        several workers each sizing themselves to the whole machine oversubscribe its cores."""
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, factory, cpu_threads), daemon=True)
        self._process.start()
        child.close()
        self._timeout = timeout_s
        self._send_lock = threading.Lock()
        # One thread at a time reaps the child: two concurrent `waitpid`s make the loser see
        # ECHILD, and multiprocessing then reports a dead worker as alive.
        self._process_lock = threading.Lock()
        self._waiting: dict[int, Future[_Reply]] = {}
        self._tickets = itertools.count()
        self._items: dict[int, list[ItemT]] = {}
        self._lost: str | None = None  # why the worker is gone, once it is
        self._last_error = ""  # the last error the worker reported, for the lost message
        hello = self._conn.recv()
        if not hello.ok:
            self._process.join(5)
            raise SystemicError(f"model replica failed to load in its worker: {hello.value}")
        self.name, self.device = hello.value
        threading.Thread(target=self._receive, name=f"replica-{self.device}", daemon=True).start()

    def _receive(self) -> None:
        """Route each reply to the caller waiting for its ticket; on EOF the worker is lost."""
        while True:
            try:
                ticket, reply = self._conn.recv()
            except (EOFError, OSError):
                self.join(5)
                with self._process_lock:
                    exitcode = self._process.exitcode
                self._mark_lost(f"worker process exited (exit code {exitcode})")
                return
            if not reply.ok:
                self._last_error = str(cast("tuple[str, str]", reply.value)[1])
            future = self._waiting.pop(ticket, None)
            if future is not None:
                future.set_result(reply)

    def _mark_lost(self, why: str) -> None:
        """Record why the worker is gone (first reason wins) and fail every waiting call."""
        if self._lost is None:
            last = f"; its last error: {self._last_error}" if self._last_error else ""
            self._lost = f"model replica on {self.device}: {why}{last}"
        for ticket in list(self._waiting):
            waiting = self._waiting.pop(ticket, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(_Reply(False, ("lost", self._lost)))

    def _check_alive(self) -> None:
        if self._lost is not None:
            raise WorkerLostError(self._lost)

    def _call(self, verb: str, payload: object = None) -> object:
        ticket = next(self._tickets)
        future: Future[_Reply] = Future()
        self._waiting[ticket] = future
        self._check_alive()  # after registering: a loss from now on resolves `future`
        self._send((verb, ticket, payload))
        return self._unwrap(self._wait(future))

    def _wait(self, future: Future[_Reply]) -> _Reply:
        """The reply, or `WorkerLostError` once the worker is gone or hung (then killed)."""
        try:
            return future.result(timeout=self._timeout)
        except TimeoutError:
            self._mark_lost(f"no answer within {self._timeout:.0f} s (worker killed)")
            with self._process_lock:
                self._process.kill()
            raise WorkerLostError(str(self._lost)) from None

    def _unwrap(self, reply: _Reply) -> object:
        if reply.ok:
            return reply.value
        kind, message = cast("tuple[str, str]", reply.value)
        if kind == "oom":
            raise DeviceOutOfMemoryError(message)
        if kind == "lost":
            raise WorkerLostError(message)
        if kind == "systemic":
            raise SystemicError(f"{self.device}: {message}")
        raise WorkerItemError(message)

    def _send(self, message: tuple[str, int, object]) -> None:
        self._check_alive()
        try:
            with self._send_lock:
                self._conn.send(message)
        except OSError as exc:
            self._mark_lost(f"cannot reach the worker: {exc}")
            raise WorkerLostError(str(self._lost)) from exc

    def preprocess(self, items: Sequence[ItemT]) -> int:
        ticket = next(self._tickets)
        self._items[ticket] = list(items)
        self._send(("pre", ticket, list(items)))
        return ticket

    def forward(self, batch: int) -> Future[_Reply]:
        items = self._items.pop(batch, [])
        outputs_ticket = next(self._tickets)
        outputs: Future[_Reply] = Future()
        self._waiting[outputs_ticket] = outputs
        try:
            self._call("run", (batch, items, outputs_ticket))
        except BaseException:
            self._waiting.pop(outputs_ticket, None)
            raise
        return outputs

    def postprocess(self, raw: Future[_Reply], items: Sequence[ItemT]) -> list[OutT]:
        outputs: list[OutT] = self._unwrap(self._wait(raw))  # type: ignore[assignment]
        return outputs

    def discard(self, batch: int) -> None:
        """The runner dropped this prefetched batch (after an out-of-memory error): release its
        preprocessed data in the worker now, before the runner frees device memory."""
        self._items.pop(batch, None)
        if self._lost is None:
            self._send(("drop", batch, None))

    def pending_batches(self) -> int:
        """Preprocessed batches the worker holds for tickets not yet run (diagnostics, tests)."""
        return int(self._call("pending"))  # type: ignore[call-overload]

    def cost(self, item: ItemT) -> float:
        """The runner's sort key, computed here from the item's pixels: the real model lives in
        the worker, and asking it item by item would cost a round trip each."""
        return pixel_cost(item)

    def free_memory(self) -> None:
        self._call("free")

    def worker_timings(self) -> dict[str, float]:
        """Seconds the worker spent per phase since the last call (and resets them): `hand_off`
        is the gap between finishing one forward and being asked for the next; `postprocess`
        runs on its own thread, overlapping the next forward."""
        return dict(self._call("timings"))  # type: ignore[call-overload]

    def reset_peak_memory(self) -> None:
        self._call("reset_peak")

    def peak_memory_bytes(self) -> int:
        return int(self._call("peak"))  # type: ignore[call-overload]

    def total_memory_bytes(self) -> int:
        return int(self._call("total"))  # type: ignore[call-overload]

    def is_alive(self) -> bool:
        """Whether the worker process still runs (safe beside the receiving thread)."""
        with self._process_lock:
            return self._process.is_alive()

    def join(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the worker process to end."""
        if wait([self._process.sentinel], timeout_s):
            # The sentinel closes as the child exits, a moment before it can be reaped: a
            # timed join waits (blocking) for that moment, a zero one would not.
            with self._process_lock:
                self._process.join(5)

    def close(self) -> None:
        """Ask the worker to stop, then kill it if it has not within 10 s. A worker that is
        already gone (killed after a time-out, or dead) is simply reaped."""
        if self.is_alive():
            try:
                with self._send_lock:
                    self._conn.send(("close", -1, None))
            except OSError:
                pass  # it died between the check and the send
            self.join(10)
        with self._process_lock:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)


def _error(model: AnyModel, exc: BaseException) -> _Reply:
    kind = "oom" if model.is_out_of_memory(exc) else "systemic" if isinstance(exc, SystemicError) else "item"
    return _Reply(False, (kind, f"{type(exc).__name__}: {exc}"))


class _Worker:
    """Server side: the model, a preprocessing pool, the batches it has prepared, and a
    postprocessing thread that sends each batch's outputs when they are ready."""

    def __init__(self, model: AnyModel, send: Callable[[int, _Reply], None]) -> None:
        self.model = model
        self.send = send
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="replica-pre")
        self.post = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replica-post")
        self.pending: OrderedDict[int, Future[object]] = OrderedDict()
        self.timings = dict.fromkeys(_PHASES, 0.0)
        self._timing_lock = threading.Lock()  # pool and post threads add to `timings` too
        self._forwarded: float | None = None  # when the last forward finished

    def drop(self, ticket: int) -> None:
        """Forget a prefetched batch: cancelled if not started, else released when it ends."""
        future = self.pending.pop(ticket, None)
        if future is not None:
            future.cancel()

    def prepare(self, ticket: int, items: list[object]) -> None:
        self.pending[ticket] = self.pool.submit(self._preprocess, items)
        while len(self.pending) > MAX_PENDING:  # a ticket the runner dropped after an OOM
            self.pending.popitem(last=False)

    def run(self, ticket: int, items: list[object], outputs_ticket: int) -> _Reply:
        """Forward one batch; its postprocess goes to the post thread, which replies on
        `outputs_ticket`. The returned reply only says whether the forward went through."""
        started = time.perf_counter()
        if self._forwarded is not None:
            self._add("hand_off", started - self._forwarded)
        try:
            future = self.pending.pop(ticket, None)
            batch = future.result() if future is not None else self.model.preprocess(items)
            ready = time.perf_counter()
            raw = self.model.forward(batch)
        except Exception as exc:  # noqa: BLE001 - classified and re-raised in the client
            return _error(self.model, exc)
        finally:
            self._forwarded = time.perf_counter()
        self._add("wait_preprocess", ready - started)
        self._add("forward", self._forwarded - ready)
        self._add("batches", 1)
        self.post.submit(self._postprocess, raw, items, outputs_ticket)
        return _Reply(True, None)

    def _preprocess(self, items: list[object]) -> object:
        started = time.perf_counter()
        try:
            return self.model.preprocess(items)
        finally:
            self._add("preprocess", time.perf_counter() - started)  # summed over pool threads

    def _postprocess(self, raw: object, items: list[object], outputs_ticket: int) -> None:
        started = time.perf_counter()
        try:
            reply = _Reply(True, self.model.postprocess(raw, items))
        except Exception as exc:  # noqa: BLE001 - classified and re-raised in the client
            reply = _error(self.model, exc)
        self._add("postprocess", time.perf_counter() - started)
        self.send(outputs_ticket, reply)

    def _add(self, phase: str, seconds: float) -> None:
        with self._timing_lock:
            self.timings[phase] += seconds

    def take_timings(self) -> dict[str, float]:
        with self._timing_lock:
            taken, self.timings = self.timings, dict.fromkeys(_PHASES, 0.0)
        self._forwarded = None
        return taken

    def control(self, verb: str) -> _Reply:
        calls: dict[str, Callable[[], object]] = {
            "free": self.model.free_memory,
            "reset_peak": self.model.reset_peak_memory,
            "peak": self.model.peak_memory_bytes,
            "total": getattr(self.model, "total_memory_bytes", lambda: 0),
            "timings": self.take_timings,
            "pending": lambda: len(self.pending),
        }
        return _Reply(True, calls[verb]())


def _limit_threads(cpu_threads: int | None) -> None:
    """Set before the factory imports torch, which reads these once at start-up."""
    if cpu_threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "PDF_ASSETS_DECODE_THREADS"):
            os.environ[var] = str(cpu_threads)


def replica_cpu_threads(replicas: int) -> int:
    """An even share of this machine's cores for each of `replicas` workers."""
    return max(1, (os.cpu_count() or 1) // max(1, replicas))


def _serve(conn: Connection, factory: Callable[[], AnyModel], cpu_threads: int | None = None) -> None:
    """Worker main loop (runs in the spawned process)."""
    _limit_threads(cpu_threads)
    lock = threading.Lock()  # the post thread replies too

    def send(ticket: int, reply: _Reply) -> None:
        with lock:
            conn.send((ticket, reply))

    try:
        worker = _Worker(factory(), send)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a load failure
        conn.send(_Reply(False, f"{type(exc).__name__}: {exc}"))
        return
    conn.send(_Reply(True, (worker.model.name, worker.model.device)))
    while True:
        try:
            verb, ticket, payload = conn.recv()
        except (EOFError, OSError):
            return
        if verb == "close":
            return
        if verb == "pre":
            worker.prepare(ticket, payload)
            continue
        if verb == "drop":
            worker.drop(ticket)
            continue
        send(ticket, worker.run(*payload) if verb == "run" else worker.control(verb))
