"""Receiver SACK blocks: RFC 2018 §5's worked example replayed ACK by ACK, the 3-block limit beside
timestamps, and D-SACK (RFC 2883 §4) below RCV.NXT and inside held data, reported once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.engine.tcp.reassembly import ReassemblyQueue
from netstack.engine.tcp.sack_blocks import MAX_BLOCKS_WITH_TIMESTAMPS, SackReporter, coalesce, duplicate_part


class Receiver:
    """A reassembly queue plus a reporter, as the connection will hold them."""

    def __init__(self, rcv_nxt: int):
        self.queue = ReassemblyQueue()
        self.reporter = SackReporter()
        self.rcv_nxt = rcv_nxt

    def arrive(self, start: int, end: int, limit: int = 4):
        self.reporter.on_segment(start, end, self.rcv_nxt, self.queue.ranges())
        if start <= self.rcv_nxt < end:
            self.rcv_nxt = end
            _, self.rcv_nxt = self.queue.pop_ready(self.rcv_nxt)
        elif start > self.rcv_nxt:
            self.queue.insert(start, b"x" * (end - start), self.rcv_nxt)
        return self.rcv_nxt, self.reporter.blocks(self.queue.ranges(), self.rcv_nxt, limit)


def test_rfc2018_section_5_case_3_segment_by_segment():
    # RFC 2018 §5 case 3: 500-byte segments from 5000; the 2nd, 4th, 6th and 8th are lost.
    r = Receiver(5000)
    assert r.arrive(5000, 5500) == (5500, [])
    assert r.arrive(6000, 6500) == (5500, [(6000, 6500)])
    assert r.arrive(7000, 7500) == (5500, [(7000, 7500), (6000, 6500)])
    assert r.arrive(8000, 8500) == (5500, [(8000, 8500), (7000, 7500), (6000, 6500)])
    # the 4th segment arrives: its block (merged) first, then the most recently reported others
    assert r.arrive(6500, 7000) == (5500, [(6000, 7500), (8000, 8500)])
    # the 2nd fills the first hole: it advanced RCV.NXT, so no block of its own
    assert r.arrive(5500, 6000) == (7500, [(8000, 8500)])


def test_three_blocks_beside_timestamps_most_recent_first():
    r = Receiver(0)
    for k in (1, 3, 5, 7):
        r.arrive(k * 100, k * 100 + 100, limit=MAX_BLOCKS_WITH_TIMESTAMPS)
    _, blocks = r.arrive(900, 1000, limit=MAX_BLOCKS_WITH_TIMESTAMPS)
    assert blocks == [(900, 1000), (700, 800), (500, 600)]


def test_dsack_below_rcv_nxt_is_reported_once_rfc2883_4_1():
    r = Receiver(0)
    r.arrive(0, 1000)
    assert r.arrive(500, 1000) == (1000, [(500, 1000)])
    assert r.arrive(1000, 1500) == (1500, [])


def test_dsack_inside_held_data_is_followed_by_its_block_rfc2883_4_2():
    r = Receiver(0)
    r.arrive(3000, 4000)
    r.arrive(5000, 6000)
    _, blocks = r.arrive(3000, 3500)
    assert blocks == [(3000, 3500), (3000, 4000), (5000, 6000)]
    _, blocks = r.arrive(7000, 7100)
    assert blocks[0] == (7000, 7100), "the D-SACK went once"


def test_a_partial_duplicate_reports_only_the_repeated_bytes():
    assert duplicate_part(900, 1200, 1000, []) == (900, 1000)
    assert duplicate_part(1500, 2500, 1000, [(2000, 3000)]) == (2000, 2500)
    assert duplicate_part(1500, 1800, 1000, [(2000, 3000)]) is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 4)), min_size=1, max_size=30),
       st.sampled_from([3, 4]))
def test_blocks_are_held_ranges_the_first_holds_the_latest_segment(segments, limit):
    r = Receiver(0)
    for first, count in segments:
        start, end = first * 100, (first + count) * 100
        before = r.rcv_nxt
        held_before = r.queue.ranges()
        rcv_nxt, blocks = r.arrive(start, end, limit)
        assert len(blocks) <= limit
        duplicate = duplicate_part(start, end, before, held_before)
        sack = blocks[1:] if duplicate is not None else blocks
        if duplicate is not None:
            assert blocks[0] == duplicate
        held = coalesce(r.queue.ranges())
        assert all(block in held for block in sack), "every SACK block is one whole held range"
        assert len(set(sack)) == len(sack)
        assert len(sack) == min(len(held), limit - (duplicate is not None))
        if start > before and held:
            assert sack and sack[0][0] <= start < sack[0][1], "the triggering segment's block first"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 5)), max_size=40), st.integers(0, 30))
def test_the_queues_blocks_are_its_ranges_coalesced(arrivals, advance_to):
    queue = ReassemblyQueue(limit=100_000)
    base = 0
    for first, count in arrivals:
        queue.insert(first * 10, bytes(count * 10), base)
        assert queue.blocks() == coalesce(queue.ranges())
    _, base = queue.pop_ready(advance_to * 10)
    assert queue.blocks() == coalesce(queue.ranges())
