"""Timers of the sans-I/O engine: one binary heap of (deadline, sequence, timer).

The engine never reads a clock. A layer asks ``TimerHeap.schedule(deadline, callback, *args)`` and
gets a ``Timer`` it may ``cancel()``; the driver asks ``next_deadline()`` how long it may sleep and
calls ``Stack.tick(now)``, which runs ``run_due(now)``: every timer whose deadline is <= now, in
deadline order, ties broken by scheduling order (so a simulated run is reproducible).

Cancelling is O(1): the entry stays in the heap, marked dead, and is skipped when it surfaces
(the usual lazy-deletion heap; ``compact()`` rebuilds it when dead entries dominate).
"""

from __future__ import annotations

import heapq
import itertools


class Timer:
    """A scheduled call. ``cancel()`` is idempotent; ``active`` says whether it will still fire."""

    __slots__ = ("deadline", "callback", "args", "active")

    def __init__(self, deadline: float, callback, args: tuple):
        self.deadline = deadline
        self.callback = callback
        self.args = args
        self.active = True

    def cancel(self) -> None:
        self.active = False

    def __repr__(self) -> str:
        name = getattr(self.callback, "__qualname__", repr(self.callback))
        return f"<Timer {name} at {self.deadline:.6f}{'' if self.active else ' cancelled'}>"


class TimerHeap:
    """All timers of one stack."""

    def __init__(self):
        self._heap: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        self._dead = 0

    def schedule(self, deadline: float, callback, *args) -> Timer:
        timer = Timer(deadline, callback, args)
        heapq.heappush(self._heap, (deadline, next(self._sequence), timer))
        return timer

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap and not heap[0][2].active:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_due(self, now: float) -> int:
        """Fire every active timer due at ``now``; returns how many fired."""
        heap = self._heap
        fired = 0
        while heap and heap[0][0] <= now:
            _, _, timer = heapq.heappop(heap)
            if not timer.active:
                continue
            timer.active = False
            timer.callback(*timer.args)
            fired += 1
        return fired

    def __len__(self) -> int:
        return sum(1 for entry in self._heap if entry[2].active)
