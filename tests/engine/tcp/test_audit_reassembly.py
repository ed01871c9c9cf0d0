"""Audit additions for the out-of-order queue (issue 5 item 3, "a bounded out-of-order reassembly
queue"): the number of held ranges is bounded as well as their bytes, so one-byte segments beside holes
cannot make each arrival walk hundreds of thousands of ranges; delivery is linear in what it delivers."""

from __future__ import annotations

import time

import pytest

from netstack.engine.tcp.reassembly import BYTES_PER_RANGE, MIN_RANGES, ReassemblyQueue
from netstack.engine.tcp.receive_buffer import ReceiveBuffer


def test_ranges_are_bounded_as_well_as_bytes():
    queue = ReassemblyQueue(256 * 1024)
    assert queue.max_ranges == 256 * 1024 // BYTES_PER_RANGE
    for offset in range(2, 2 * 20_000, 2):  # one byte, one hole, ...
        queue.insert(offset, b"x", 0)
    assert len(queue) == queue.max_ranges and queue.held == queue.max_ranges
    assert queue.dropped_over_limit == 20_000 - 1 - queue.max_ranges
    assert ReassemblyQueue(100).max_ranges == MIN_RANGES
    with pytest.raises(ValueError):
        ReassemblyQueue(1000, max_ranges=0)


def test_the_bound_does_not_lose_bytes_through_the_receive_buffer():
    """What the queue refuses is simply not acknowledged: the sender's retransmission fills it in later,
    and every byte is delivered once, in order."""
    buffer = ReceiveBuffer(capacity=1 << 20, reassembly_limit=64 * 1024)
    limit = buffer.queue.max_ranges
    data = bytes(i % 251 for i in range(3 * limit))
    for offset in range(1, len(data)):  # everything but byte 0, one byte per segment
        buffer.receive(offset, data[offset:offset + 1])
    assert len(buffer.queue) == limit
    assert buffer.receive(0, data[:1]) == limit + 1  # the gap filled: the held ranges follow at once
    for offset in range(buffer.next_offset, len(data)):  # the sender's retransmissions
        buffer.receive(offset, data[offset:offset + 1])
    assert buffer.read() == data and not buffer.queue


def test_delivering_many_ranges_is_linear():
    queue = ReassemblyQueue(1 << 20, max_ranges=200_000)
    for offset in range(1, 150_001):
        queue.insert(offset, b"y", 0)
    started = time.perf_counter()
    data, base = queue.pop_ready(1)
    elapsed = time.perf_counter() - started
    assert len(data) == 150_000 and base == 150_001 and not queue
    assert elapsed < 1.0, elapsed  # pop(0) per range took ~5 s here (quadratic)
