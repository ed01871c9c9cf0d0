"""The SACK blocks a TCP receiver reports (RFC 2018 §4) and D-SACK (RFC 2883).

Read first: RFC 2018 §4 (which blocks, in which order: the first block holds the segment that
triggered the ACK, unless it advanced RCV.NXT; then the most recently reported blocks that are not
subsets of one already included; as many as fit: 4 without the timestamps option, 3 with it) and §5
(the worked example that ``tests/tcp/test_sack_blocks.py`` replays); RFC 2883 §4 (a segment whose
bytes were already received is reported once, as the first block; when the duplicate lies above
RCV.NXT the second block is the held range containing it).

Positions are the stream offsets of ``ReassemblyQueue`` (the connection maps them to sequence
numbers when it writes the option), so no wrap-around reasoning is needed here. ``ranges`` is what
the reassembly queue holds: sorted, disjoint [start, end) ranges above RCV.NXT (adjacent ones are
joined into one block).
"""

from __future__ import annotations

from bisect import bisect_right

#: RFC 2018 §3: 4 blocks fit 40 option bytes; 3 beside the 10-byte timestamps option (RFC 7323).
MAX_BLOCKS = 4
MAX_BLOCKS_WITH_TIMESTAMPS = 3


def duplicate_part(start: int, end: int, rcv_nxt: int, ranges: list[tuple[int, int]]) -> tuple[int, int] | None:
    """RFC 2883 §4: the first run of [start, end) that was received already (below RCV.NXT or inside a
    held range), or None."""
    if start >= end:
        return None
    if start < rcv_nxt:
        return start, min(end, rcv_nxt)
    starts = [s for s, _ in ranges]
    i = bisect_right(starts, start) - 1
    if i >= 0 and start < ranges[i][1]:
        return start, min(end, ranges[i][1])
    i += 1
    if i < len(ranges) and ranges[i][0] < end:
        return ranges[i][0], min(end, ranges[i][1])
    return None


def coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent held ranges joined: the reassembly queue keeps each arrival apart, a block spans them."""
    out: list[tuple[int, int]] = []
    for start, end in ranges:
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _containing(ranges: list[tuple[int, int]], starts: list[int], offset: int) -> tuple[int, int] | None:
    i = bisect_right(starts, offset) - 1
    if i >= 0 and offset < ranges[i][1]:
        return ranges[i]
    return None


class SackReporter:
    """Remembers what the last ACKs reported, to order the next ACK's blocks as RFC 2018 §4 asks."""

    __slots__ = ("_latest", "_recent", "_dsack", "dsacks_sent")

    def __init__(self):
        self._latest: int | None = None  # an offset inside the segment that triggers the next ACK
        self._recent: list[int] = []  # offsets inside the blocks last reported, most recent first
        self._dsack: tuple[int, int] | None = None
        self.dsacks_sent = 0

    @property
    def dsack_pending(self) -> bool:
        return self._dsack is not None

    def on_segment(self, start: int, end: int, rcv_nxt: int, ranges: list[tuple[int, int]]) -> None:
        """A data segment [start, end) arrived; ``rcv_nxt`` and ``ranges`` as they were before it."""
        duplicate = duplicate_part(start, end, rcv_nxt, ranges)
        if duplicate is not None and self._dsack is None:
            self._dsack = duplicate
        # RFC 2018 §4: the first block holds the triggering segment, unless it advanced RCV.NXT.
        if start > rcv_nxt:
            self._latest = start
        elif duplicate is not None and duplicate[0] >= rcv_nxt:
            self._latest = duplicate[0]
        else:
            self._latest = None

    def on_segment_above(self, start: int) -> None:
        """``on_segment`` for a segment above RCV.NXT and above every held range: nothing of it was
        received before, and it is the next ACK's first block."""
        self._latest = start

    def blocks(self, ranges: list[tuple[int, int]], rcv_nxt: int, limit: int = MAX_BLOCKS) -> list[tuple[int, int]]:
        """The blocks for the ACK about to go, first block first; forgets the D-SACK once reported."""
        out: list[tuple[int, int]] = []
        dsack, self._dsack = self._dsack, None
        if dsack is not None:
            out.append(dsack)
            self.dsacks_sent += 1
        if not ranges:
            self._latest = None
            self._recent.clear()
            return out[:limit]
        ranges = coalesce(ranges)
        starts = [s for s, _ in ranges]
        candidates = [self._latest] if self._latest is not None else []
        if dsack is not None and dsack[0] >= rcv_nxt:
            candidates.insert(0, dsack[0])  # RFC 2883 §4: the held range containing the duplicate next
        candidates.extend(self._recent)
        reported: list[tuple[int, int]] = []
        for offset in candidates:
            block = _containing(ranges, starts, offset)
            if block is not None and block not in reported:
                reported.append(block)
        # Then held ranges never reported yet, highest first (the newest data, most useful to the sender).
        for block in reversed(ranges):
            if len(reported) >= limit:
                break
            if block not in reported:
                reported.append(block)
        out.extend(reported)
        out = out[:limit]
        self._recent = [s for s, _ in out[1 if dsack is not None else 0:]][:limit]
        self._latest = None
        return out
