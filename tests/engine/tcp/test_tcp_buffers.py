"""Send buffer, receive buffer and the reassembly queue: bounded, exactly-once, in order. The
out-of-order queue bounds the number of ranges it holds as well as their bytes, so one-byte segments
beside holes cannot make each arrival walk hundreds of thousands of ranges; delivery is linear in what
it delivers."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netstack.engine.tcp.reassembly import BYTES_PER_RANGE, MIN_RANGES, ReassemblyQueue
from netstack.engine.tcp.receive_buffer import ReceiveBuffer
from netstack.engine.tcp.send_buffer import SendBuffer


def test_send_buffer_is_bounded_and_consumes_from_the_front():
    buf = SendBuffer(10)
    assert buf.write(b"abcdef") == 6
    assert buf.write(b"ghijkl") == 4
    assert buf.free == 0 and len(buf) == 10
    assert buf.peek(2, 3) == b"cde"
    buf.consume(4)
    assert buf.peek(0, 100) == b"efghij"
    assert buf.write(b"xyz") == 3
    with pytest.raises(ValueError):
        buf.consume(100)


def test_reassembly_trims_overlaps_first_copy_wins():
    q = ReassemblyQueue(limit=1000)
    assert q.insert(10, b"AAAAA", base=0) == 5  # [10,15)
    assert q.insert(12, b"bbbbbbbb", base=0) == 5  # only [15,20) is new
    assert q.ranges() == [(10, 15), (15, 20)]
    assert q.insert(5, b"ccccccccccccccccccccc", base=0) == 11  # [5,10) and [20,26)
    data, base = q.pop_ready(5)
    assert data == b"cccccAAAAAbbbbbcccccc" and base == 26
    assert not q and q.held == 0


def test_reassembly_drops_already_delivered_and_respects_limit():
    q = ReassemblyQueue(limit=4)
    assert q.insert(0, b"xx", base=10) == 0
    assert q.dropped_duplicate == 2
    assert q.insert(20, b"abcdef", base=10) == 4
    assert q.dropped_over_limit == 2
    assert q.held == 4


segments = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 60)), max_size=60)


@given(segments, st.integers(1, 400), st.integers(1, 500))
def test_receive_buffer_delivers_each_byte_once_in_order(pieces, limit, capacity):
    """Arbitrary overlapping, duplicated, reordered segments of a known stream reassemble to a prefix."""
    stream = bytes(i * 7 % 251 for i in range(400))
    rb = ReceiveBuffer(capacity=1 << 20, reassembly_limit=limit)
    out = bytearray()
    for start, length in pieces:
        rb.receive(start, stream[start : start + length])
        out += rb.read(capacity)
    out += rb.read()
    assert bytes(out) == stream[: rb.next_offset]
    assert rb.queue.held <= limit
    # Everything below next_offset is out of the queue; everything held lies beyond it.
    assert all(s > rb.next_offset for s, _ in rb.queue.ranges())


@given(segments)
def test_complete_cover_delivers_everything(pieces):
    stream = bytes(range(256)) + bytes(range(100))
    rb = ReceiveBuffer(capacity=1 << 20, reassembly_limit=1 << 20)
    for start, length in pieces:
        rb.receive(start, stream[start : start + length])
    rb.receive(0, stream)  # a final full retransmission fills every gap
    assert rb.read() == stream
    assert not rb.queue


def test_read_into():
    rb = ReceiveBuffer(capacity=100)
    rb.receive(0, b"hello world")
    target = bytearray(5)
    assert rb.read_into(target) == 5 and target == b"hello"
    assert rb.read() == b" world"
    assert rb.free == 100


# ------------------------------------------- the out-of-order queue bounds its ranges, not only its bytes
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
