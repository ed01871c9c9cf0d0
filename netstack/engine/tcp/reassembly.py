"""The out-of-order reassembly queue of a TCP receiver (RFC 9293 §3.10.7.4, "segments with higher
beginning sequence numbers may be held for later processing").

Positions are absolute 64-bit stream offsets (the connection maps sequence numbers to them), so no
wrap-around reasoning is needed here. The queue keeps disjoint byte ranges in order:

- a range that overlaps what is already held is trimmed to the gaps, so no byte is stored twice and a
  retransmission carrying different bytes for the same positions never replaces what was first held
  (first copy wins, the choice Linux makes and the one that defeats overlapping-segment evasion);
- bytes before ``base`` (already delivered) are dropped, so nothing is delivered twice;
- the bytes held are bounded by ``limit``: whatever would exceed it is dropped (the sender
  retransmits), so a peer cannot make us hold more than we chose;
- so are the ranges, by ``max_ranges`` (``limit // 64`` by default, at least 64): a peer sending
  one-byte segments beside holes would otherwise make every insertion and delivery walk hundreds of
  thousands of ranges (Linux charges each out-of-order skb its truesize for the same reason).
  Delivery removes the ready ranges in one slice, so it is linear in what it delivers.

Beside the ranges (one per arrival) the queue keeps their union as merged blocks (``blocks()``), which
is what SACK reports (RFC 2018): one ACK per arriving segment must not walk every held range.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

#: Default bound on out-of-order bytes held per connection.
DEFAULT_REASSEMBLY_LIMIT = 256 * 1024
#: Bytes of ``limit`` that allow one more held range (so 4,096 ranges for the default limit).
BYTES_PER_RANGE = 64
MIN_RANGES = 64


class ReassemblyQueue:
    """Disjoint out-of-order ranges ``[start, end)`` with their bytes, bounded by ``limit`` bytes."""

    __slots__ = ("_starts", "_ends", "_chunks", "held", "limit", "max_ranges", "dropped_duplicate",
                 "dropped_over_limit", "_block_starts", "_block_ends")

    def __init__(self, limit: int = DEFAULT_REASSEMBLY_LIMIT, max_ranges: int | None = None):
        if limit < 0:
            raise ValueError(f"reassembly limit must be >= 0, got {limit}")
        if max_ranges is None:
            max_ranges = max(MIN_RANGES, limit // BYTES_PER_RANGE)
        if max_ranges < 1:
            raise ValueError(f"max_ranges must be >= 1, got {max_ranges}")
        self.max_ranges = max_ranges
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._chunks: list[bytes] = []
        self._block_starts: list[int] = []  # the union of the ranges, adjacent ones merged
        self._block_ends: list[int] = []
        self.held = 0
        self.limit = limit
        self.dropped_duplicate = 0
        self.dropped_over_limit = 0

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def ranges(self) -> list[tuple[int, int]]:
        """The held ranges, in order, one per stored piece (for tests)."""
        return list(zip(self._starts, self._ends))

    def blocks(self) -> list[tuple[int, int]]:
        """The held bytes as maximal contiguous blocks, in order (what SACK blocks describe)."""
        return list(zip(self._block_starts, self._block_ends))

    def _merge_block(self, start: int, end: int) -> None:
        starts, ends = self._block_starts, self._block_ends
        i = bisect_left(ends, start)  # first block ending at or after start: touching blocks merge
        j = bisect_right(starts, end)
        if i < j:
            start = min(start, starts[i])
            end = max(end, ends[j - 1])
        starts[i:j] = [start]
        ends[i:j] = [end]

    def insert(self, start: int, data: bytes, base: int) -> int:
        """Hold the parts of ``data`` (at stream offset ``start``) that are new; returns bytes stored.

        ``base`` is the first byte not yet delivered (RCV.NXT as a stream offset).
        """
        end = start + len(data)
        if start < base:
            if end <= base:
                self.dropped_duplicate += len(data)
                return 0
            self.dropped_duplicate += base - start
            data = data[base - start :]
            start = base
        starts, ends, chunks = self._starts, self._ends, self._chunks
        # First held range that ends after our start: everything before it cannot overlap.
        i = bisect_right(ends, start)
        cursor = start
        stored = 0
        view = memoryview(data)
        while cursor < end:
            if i < len(starts) and starts[i] <= cursor:
                covered_to = min(ends[i], end)
                self.dropped_duplicate += covered_to - cursor
                cursor = covered_to
                i += 1
                continue
            gap_end = min(end, starts[i]) if i < len(starts) else end
            room = self.limit - self.held if len(starts) < self.max_ranges else 0
            take = min(gap_end - cursor, room)
            if take > 0:
                starts.insert(i, cursor)
                ends.insert(i, cursor + take)
                chunks.insert(i, bytes(view[cursor - start : cursor - start + take]))
                self._merge_block(cursor, cursor + take)
                self.held += take
                stored += take
                i += 1
            if take < gap_end - cursor:
                self.dropped_over_limit += end - cursor - take
                break
            cursor = gap_end
        return stored

    def appends(self, start: int, length: int) -> bool:
        """Whether ``length`` bytes at ``start`` lie above every held byte and fit the bounds whole:
        then ``append`` stores them as ``insert`` would, without its search and copy."""
        ends = self._ends
        return ((not ends or start >= ends[-1]) and len(ends) < self.max_ranges
                and self.held + length <= self.limit)

    def append(self, start: int, data: bytes) -> int:
        """Hold ``data`` at ``start`` when ``appends(start, len(data))``; returns bytes stored. The
        bytes object is kept as it is (a segment's payload is never changed after it arrived)."""
        n = len(data)
        end = start + n
        self._starts.append(start)
        self._ends.append(end)
        self._chunks.append(data)
        block_ends = self._block_ends
        if block_ends and block_ends[-1] == start:
            block_ends[-1] = end  # the common case after a hole: the newest block grows
        else:
            self._block_starts.append(start)
            block_ends.append(end)
        self.held += n
        return n

    def pop_ready(self, base: int) -> tuple[bytes, int]:
        """Remove the bytes contiguous from ``base``; returns (bytes, new base)."""
        starts, ends, chunks = self._starts, self._ends, self._chunks
        if not starts or starts[0] > base:
            return b"", base
        pieces = []
        count = 0
        n = len(starts)
        while count < n and starts[count] <= base:
            s, e, chunk = starts[count], ends[count], chunks[count]
            self.held -= e - s
            if e > base:
                pieces.append(chunk[base - s :] if s < base else chunk)
                base = e
            count += 1
        del starts[:count], ends[:count], chunks[:count]  # one slice each: linear, not pop(0) per range
        block_ends = self._block_ends
        gone = bisect_right(block_ends, base)  # contiguous from its start, a reached block went whole
        del self._block_starts[:gone], block_ends[:gone]
        return b"".join(pieces), base

    def clear(self) -> None:
        self._starts.clear()
        self._ends.clear()
        self._chunks.clear()
        self._block_starts.clear()
        self._block_ends.clear()
        self.held = 0
