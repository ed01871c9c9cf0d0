"""The SACK scoreboard of a TCP sender and RFC 6675's loss-recovery rules over it.

Read first: RFC 2018 §3 (what a SACK block reports), RFC 2883 §4 (telling a D-SACK block from the
others), RFC 6675 §2-§5 (the scoreboard, ``IsLost``, ``SetPipe``, ``NextSeg``, HighACK / HighData /
HighRxt / RescueRxt / RecoveryPoint, the rescue retransmission) and §5.1 (after a retransmission
timeout the scoreboard is kept, so recovery resends only holes, not SACKed data).

Everything the engine hands in is a 32-bit sequence number; inside, positions are unbounded stream
offsets counted from the first SND.UNA the scoreboard saw (``seq_diff`` against the current SND.UNA
maps one to the other), so the wrap at 2**32 never reaches the interval arithmetic.

The scoreboard holds the SACKed ranges of [SND.UNA, SND.NXT) as sorted disjoint intervals, at most
``max_ranges`` of them (a peer cannot grow it without bound: when full, the highest range is
forgotten, which only makes us retransmit more, never less).

``IsLost`` is evaluated per hole: every unSACKed byte between two SACKed ranges sees the same SACKed
ranges and bytes above it, so a hole is lost as a whole (RFC 6675 §4 at byte granularity: more than
(DupThresh - 1) * SMSS bytes SACKed above it, or DupThresh discontiguous SACKed ranges above it).
After a retransmission timeout every unSACKed byte sent before it counts as lost (``mark_all_lost``,
as Linux's ``tcp_enter_loss``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import NamedTuple

from netstack.engine.tcp.seqnum import HALF_SPACE, SEQ_MASK, seq_diff, seq_gt, seq_le, seq_lt

#: RFC 6675 §2 DupThresh: the number of duplicate ACKs / SACKed segments that signal a loss.
DUPTHRESH = 3
#: Bound on the SACKed ranges a scoreboard holds (a receiver reports at most 4 per ACK).
DEFAULT_MAX_RANGES = 256


class SackUpdate(NamedTuple):
    """What one ACK's SACK blocks changed."""

    newly_sacked: int
    """Bytes SACKed by this ACK that were not SACKed before."""
    dsack: tuple[int, int] | None
    """The D-SACK block (RFC 2883 §4) as sequence numbers, when the ACK carried one."""
    ignored_blocks: int
    """Blocks outside [SND.UNA, SND.NXT] (and not a D-SACK): ignored, as RFC 2018 §3 allows."""


class NextSegment(NamedTuple):
    """RFC 6675 §4 NextSeg(): what to send next. Rule 2 means new data from SND.NXT."""

    seq: int
    length: int
    rule: int


class SackScoreboard:
    """SACKed ranges over [SND.UNA, SND.NXT) and the RFC 6675 recovery state."""

    __slots__ = ("mss", "dupthresh", "max_ranges", "_una_seq", "_una", "_nxt", "_starts", "_ends",
                 "sacked_bytes", "high_rxt", "rescue_rxt", "recovery_point", "_lost_below", "in_recovery",
                 "dropped_ranges", "_relost")

    def __init__(self, snd_una: int, mss: int, dupthresh: int = DUPTHRESH, max_ranges: int = DEFAULT_MAX_RANGES):
        if mss <= 0:
            raise ValueError(f"mss must be positive, not {mss}")
        if dupthresh < 1 or max_ranges < 1:
            raise ValueError("dupthresh and max_ranges must be >= 1")
        self.mss = mss
        self.dupthresh = dupthresh
        self.max_ranges = max_ranges
        self._una_seq = snd_una & SEQ_MASK
        self._una = 0  # HighACK as a stream offset
        self._nxt = 0  # HighData (SND.NXT) as a stream offset
        self._starts: list[int] = []
        self._ends: list[int] = []
        self.sacked_bytes = 0
        self.high_rxt = 0  # exclusive: bytes below it were retransmitted in this recovery
        self.rescue_rxt: int | None = None
        self.recovery_point: int | None = None
        self._lost_below = 0  # after an RTO: every unSACKed byte below this is lost
        self.in_recovery = False
        self.dropped_ranges = 0
        # Retransmissions RACK found lost again (RFC 8985 §6.2: a segment sent after them was delivered
        # and RACK.rtt + reo_wnd passed): below HighRxt, so RFC 6675 alone would wait for the RTO.
        self._relost: list[tuple[int, int]] = []

    # -- positions --------------------------------------------------------------------------------

    def offset(self, seq: int) -> int:
        """The stream offset of sequence number ``seq`` (nearest to SND.UNA)."""
        return self._una + seq_diff(seq, self._una_seq)

    def seq(self, offset: int) -> int:
        return (self._una_seq + offset - self._una) & SEQ_MASK

    @property
    def snd_una(self) -> int:
        return self._una_seq

    @property
    def snd_nxt(self) -> int:
        return self.seq(self._nxt)

    def ranges(self) -> list[tuple[int, int]]:
        """The SACKed ranges as (start, end) sequence numbers, lowest first."""
        return [(self.seq(s), self.seq(e)) for s, e in zip(self._starts, self._ends)]

    def __bool__(self) -> bool:
        return bool(self._starts)

    # -- input ------------------------------------------------------------------------------------

    def sent(self, snd_nxt: int) -> None:
        """SND.NXT (HighData) moved forward to ``snd_nxt``."""
        offset = self.offset(snd_nxt)
        if offset > self._nxt:
            self._nxt = offset

    def sent_through(self, offset: int) -> None:
        """``sent`` for a caller that has the stream offset of the new SND.NXT already."""
        if offset > self._nxt:
            self._nxt = offset

    def cumulative_ack(self, ack: int, snd_nxt: int) -> tuple[int, int]:
        """``sent(snd_nxt)`` then ``update(ack)`` for an ACK without SACK blocks while nothing is SACKed
        (the caller checks ``sacked_bytes == 0``): the clean path's every ACK, in one call with the
        sequence arithmetic written out. Returns (bytes newly acknowledged, SND.UNA's offset)."""
        una_seq, una = self._una_seq, self._una
        sent = (snd_nxt - una_seq) & SEQ_MASK
        if sent < HALF_SPACE and una + sent > self._nxt:
            self._nxt = una + sent
        acked = (ack - una_seq) & SEQ_MASK
        if not 0 < acked < HALF_SPACE or una + acked > self._nxt:
            return 0, una  # not beyond SND.UNA, or beyond HighData: update() would not move either
        una += acked
        self._una_seq = ack & SEQ_MASK
        self._una = una
        if self.high_rxt < una:
            self.high_rxt = una
        return acked, una

    def update(self, ack: int, blocks: list[tuple[int, int]] | tuple = ()) -> SackUpdate:
        """Apply one ACK: cumulative ``ack`` and its SACK blocks (left, right) as sequence numbers."""
        dsack = None
        if blocks:
            first_left, first_right = blocks[0]
            # RFC 2883 §4: the first block is a D-SACK when it lies below the cumulative ACK, or
            # inside the second block.
            if seq_le(first_right, ack) and seq_lt(first_left, first_right):
                dsack = (first_left, first_right)
            elif len(blocks) > 1 and seq_le(blocks[1][0], first_left) and seq_le(first_right, blocks[1][1]):
                dsack = (first_left, first_right)
        if seq_gt(ack, self._una_seq) and seq_le(ack, self.snd_nxt):
            self._advance(ack)
        newly = 0
        ignored = 0
        for index, (left, right) in enumerate(blocks):
            if index == 0 and dsack is not None and seq_le(right, ack):
                continue
            start, end = self.offset(left), self.offset(right)
            # RFC 2018 §3 / RFC 6675 §4: a block must lie within [SND.UNA, SND.NXT] to be believed.
            if not (self._una <= start < end <= self._nxt):
                if not (index == 0 and dsack is not None):
                    ignored += 1
                continue
            newly += self._add(start, end)
        return SackUpdate(newly, dsack, ignored)

    def _advance(self, ack: int) -> None:
        una = self.offset(ack)
        self._una_seq = ack & SEQ_MASK
        self._una = una
        starts, ends = self._starts, self._ends
        count = bisect_right(ends, una)
        for s, e in zip(starts[:count], ends[:count]):
            self.sacked_bytes -= e - s
        del starts[:count], ends[:count]
        if starts and starts[0] < una:
            self.sacked_bytes -= una - starts[0]
            starts[0] = una
        if self.high_rxt < una:
            self.high_rxt = una

    def _add(self, start: int, end: int) -> int:
        """Merge [start, end) into the ranges; returns the bytes that were not SACKed before."""
        starts, ends = self._starts, self._ends
        i = bisect_left(ends, start)  # first range ending at or after start (touching ranges merge)
        j = bisect_right(starts, end)  # ranges [i, j) touch or overlap [start, end)
        covered = 0
        new_start, new_end = start, end
        for k in range(i, j):
            covered += min(ends[k], end) - max(starts[k], start) if ends[k] > start and starts[k] < end else 0
            new_start = min(new_start, starts[k])
            new_end = max(new_end, ends[k])
            self.sacked_bytes -= ends[k] - starts[k]
        starts[i:j] = [new_start]
        ends[i:j] = [new_end]
        self.sacked_bytes += new_end - new_start
        if len(starts) > self.max_ranges:
            # Forget the highest range: the data counts as unSACKed again and may be resent.
            self.sacked_bytes -= ends[-1] - starts[-1]
            del starts[-1], ends[-1]
            self.dropped_ranges += 1
        return (end - start) - covered

    # -- recovery state ---------------------------------------------------------------------------

    def enter_recovery(self) -> None:
        """RFC 6675 §5 (4.1)-(4.2): RecoveryPoint = HighData, HighRxt = HighACK, RescueRxt undefined."""
        self.in_recovery = True
        self.recovery_point = self._nxt
        self.high_rxt = self._una
        self.rescue_rxt = None

    def recovery_done(self) -> bool:
        """RFC 6675 §5: recovery ends once the cumulative ACK reaches RecoveryPoint."""
        return self.recovery_point is None or self._una >= self.recovery_point

    def exit_recovery(self) -> None:
        self.in_recovery = False
        self._relost = []
        self.recovery_point = None
        self.rescue_rxt = None

    def mark_all_lost(self) -> None:
        """RFC 6675 §5.1 after a retransmission timeout: the scoreboard stays, every unSACKed byte
        sent so far is taken as lost and HighRxt restarts at HighACK, so only holes go again."""
        self._lost_below = self._nxt
        self.in_recovery = True
        self.high_rxt = self._una
        self.recovery_point = self._nxt
        self.rescue_rxt = None

    def forget_losses(self) -> None:
        """The losses marked were not (a spurious RTO undone, RFC 3522): nothing below SND.UNA's
        successors counts as lost by timeout or RACK any more; SACK's own IsLost() still applies."""
        self._lost_below = self._una
        self._relost = []

    def mark_lost_below(self, offset: int) -> None:
        """RACK (RFC 8985) found data lost up to this stream offset: every unSACKed byte below it
        counts as lost (segments are sent in sequence order, so what RACK marks is a prefix apart
        from retransmissions, which NextSeg does not resend before HighRxt anyway)."""
        if offset > self._lost_below:
            self._lost_below = min(offset, self._nxt)

    def mark_retransmission_lost(self, start: int, end: int) -> None:
        """RACK found the retransmission of [start, end) (offsets below HighRxt) lost too: NextSeg
        resends it first, and pipe stops counting it."""
        end = min(end, self.high_rxt)
        if start < end and len(self._relost) < self.max_ranges:
            self._relost.append((start, end))
            self._relost.sort()

    def retransmitted(self, seq: int, length: int) -> None:
        """A retransmission by NextSeg rule 1 or 3 (or after an RTO) went out: advance HighRxt."""
        start = self.offset(seq)
        end = start + length
        if self._relost:
            kept = []
            for s, e in self._relost:
                if e <= start or s >= end:
                    kept.append((s, e))
                else:
                    if s < start:
                        kept.append((s, start))
                    if e > end:
                        kept.append((end, e))
            self._relost = kept
        if end > self.high_rxt:
            self.high_rxt = end

    def rescue_retransmitted(self) -> None:
        """NextSeg rule 4 went out: RescueRxt = RecoveryPoint; HighRxt is not updated (RFC 6675 §4)."""
        self.rescue_rxt = self.recovery_point if self.recovery_point is not None else self._nxt

    # -- RFC 6675 §4 ------------------------------------------------------------------------------

    def _holes(self):
        """(start, end, lost) for each unSACKed hole of [HighACK, HighData), lowest first."""
        starts, ends = self._starts, self._ends
        n = len(starts)
        threshold = (self.dupthresh - 1) * self.mss
        # Hole k lies just below range k (hole n above the last range): it sees ranges k..n-1 above it.
        lost_hole = [False] * (n + 1)
        above_bytes = 0
        for k in range(n - 1, -1, -1):
            above_bytes += ends[k] - starts[k]
            lost_hole[k] = above_bytes > threshold or n - k >= self.dupthresh
        lost_below = self._lost_below
        cursor = self._una
        for k in range(n + 1):
            hole_end = starts[k] if k < n else self._nxt
            if hole_end > cursor:
                if lost_hole[k] or hole_end <= lost_below:
                    yield cursor, hole_end, True
                elif cursor < lost_below:
                    yield cursor, lost_below, True
                    yield lost_below, hole_end, False
                else:
                    yield cursor, hole_end, False
            if k < n:
                cursor = max(cursor, ends[k])

    def is_lost(self, seq: int) -> bool:
        """RFC 6675 §4 IsLost(SeqNum) for an unSACKed byte (False for a SACKed or unsent one)."""
        offset = self.offset(seq)
        for start, end, lost in self._holes():
            if start <= offset < end:
                return lost
        return False

    def is_sacked(self, seq: int) -> bool:
        offset = self.offset(seq)
        i = bisect_right(self._starts, offset) - 1
        return i >= 0 and offset < self._ends[i]

    def pipe(self) -> int:
        """RFC 6675 §4 SetPipe(), in bytes: unSACKed bytes not lost, plus those retransmitted (less the
        retransmissions RACK found lost: those are in the network no more)."""
        total = 0
        high_rxt = self.high_rxt
        relost = self._relost
        for start, end, lost in self._holes():
            if not lost:
                total += end - start
            if start < high_rxt:
                total += min(end, high_rxt) - start
                for s, e in relost:
                    overlap = min(e, end, high_rxt) - max(s, start)
                    if overlap > 0:
                        total -= overlap
        return total

    def lost_bytes(self) -> int:
        """UnSACKed bytes that IsLost() declares lost."""
        return sum(end - start for start, end, lost in self._holes() if lost)

    def highest_hole(self) -> tuple[int, int] | None:
        """(seq, length) of the highest unSACKed segment below HighData (at most one SMSS), or None."""
        highest = None
        for start, end, _lost in self._holes():
            highest = (start, end)
        if highest is None:
            return None
        start, end = highest
        first = max(start, end - self.mss)
        return self.seq(first), end - first

    def next_seg(self, new_data_allowed: bool = False) -> NextSegment | None:
        """RFC 6675 §4 NextSeg(); ``new_data_allowed`` says rule 2 may apply (unsent data and a window)."""
        high_sacked = self._ends[-1] if self._ends else self._una
        high_rxt = self.high_rxt
        if self._relost:
            # lost retransmissions first (RFC 8985 §6: RACK's marks make them eligible again)
            self._relost = [(max(s, self._una), e) for s, e in self._relost if e > self._una]
            for s, e in self._relost:
                for start, end, _lost in self._holes():
                    first = max(s, start)
                    last = min(e, end)
                    if first < last:
                        return NextSegment(self.seq(first), min(self.mss, last - first), 1)
        rule3 = None
        for start, end, lost in self._holes():
            first = max(start, high_rxt)  # (1.a)/(3.a): not yet retransmitted in this recovery
            if first >= end:
                continue
            if lost and (first < high_sacked or first < self._lost_below):  # (1.b), (1.c)
                return NextSegment(self.seq(first), min(self.mss, end - first), 1)
            if rule3 is None and first < high_sacked:  # (3.b)
                rule3 = NextSegment(self.seq(first), min(self.mss, end - first), 3)
        if new_data_allowed:
            return NextSegment(self.seq(self._nxt), self.mss, 2)
        if rule3 is not None:
            return rule3
        # (4) one rescue retransmission per recovery, covering the highest unSACKed byte.
        if self.in_recovery and (self.rescue_rxt is None or self._una > self.rescue_rxt):
            highest = None
            for start, end, _lost in self._holes():
                highest = (start, end)
            # (A hole already retransmitted in this recovery gets no rescue: that copy is in flight.)
            if highest is not None and highest[1] > high_rxt:
                start, end = highest
                first = max(start, end - self.mss)
                return NextSegment(self.seq(first), end - first, 4)
        return None
