"""The work queue that the batch runner's replicas share: items in cost order, results, progress."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic

from pdf_assets.core.model import ItemT, OutT

#: progress callback: (stage, items done, items total)
Progress = Callable[[str, int, int], None]


class WorkQueue(Generic[ItemT, OutT]):
    """What every replica worker shares: the sorted work queue, the results and progress.

    One condition guards all of it. Items handed back after an out-of-memory error go to
    the front of the queue, where any replica may pick them up; so a replica with nothing
    to do waits while others still hold items, and leaves only when every item is
    recorded. Progress is reported under the lock so counts reach the callback in
    increasing order even with several replicas.
    """

    def __init__(
        self, stage: str, items: Sequence[ItemT], order: list[int], progress: Progress | None, replicas: int = 1
    ) -> None:
        self.stage = stage
        self.replicas = max(1, replicas)
        self.items = items
        self.outputs: list[OutT | None] = [None] * len(items)
        self.failures: dict[int, str] = {}
        self.batch_sizes: list[int] = []
        self._queue: deque[int] = deque(order)
        self._in_flight = 0  # taken by a replica, neither recorded nor handed back yet
        self._done = 0
        self._stopped = False
        self._progress = progress
        self._cond = threading.Condition()
        if progress is not None:  # the stage has started: bars appear now, and rates count from here
            progress(stage, 0, len(items))

    def take(self, n: int, wait: bool, held: int = 0) -> list[int]:
        """Up to `n` next item indices in cost order; [] when the work is gone or stopped.

        With `wait`, an empty queue blocks while other replicas hold items they may hand back.
        A replica already `held`ing a batch prefetches another only within its fair share of
        the remaining work: otherwise the first replica to start fills its whole prefetch
        pipeline and, on a short stage, leaves the others idle.
        """
        with self._cond:
            while wait and not self._queue and self._in_flight and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return []
            count = min(n, len(self._queue))
            share = -(-(len(self._queue) + self._in_flight) // self.replicas)
            if held >= n and held + count > share:
                return []
            idx = [self._queue.popleft() for _ in range(count)]
            self._in_flight += len(idx)
            return idx

    def give_back(self, idx: Sequence[int]) -> None:
        """Return items to the front of the queue, keeping their order."""
        with self._cond:
            self._queue.extendleft(reversed(idx))
            self._in_flight -= len(idx)
            self._cond.notify_all()

    def halt(self) -> None:
        """A replica hit a systemic error: every replica stops taking work."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def record(self, pairs: Sequence[tuple[int, OutT]], failed: dict[int, str], ran: int | None) -> None:
        """Store one finished batch (`ran` = size of a successful forward, None if none ran)."""
        with self._cond:
            for i, out in pairs:
                self.outputs[i] = out
            self.failures.update(failed)
            if ran is not None:
                self.batch_sizes.append(ran)
            finished = len(pairs) + len(failed)
            self._done += finished
            self._in_flight -= finished
            if self._progress is not None:
                self._progress(self.stage, self._done, len(self.items))
            self._cond.notify_all()
