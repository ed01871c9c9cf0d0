"""RACK-TLP: time-based loss detection and tail loss probes (RFC 8985).

Read first: RFC 8985 §6 (RACK: the most recently delivered segment's transmit time ``RACK.xmit_ts``
and ``RACK.end_seq``, its RTT, the reordering window, a segment sent before it and not delivered
``RACK.rtt + reo_wnd`` later is lost), §6.2 step 4 (the reordering window: ``min_RTT / 4`` times a
multiplier that D-SACKs raise, 0 while no reordering has been seen and recovery is running), §7 (TLP:
a probe ``PTO = 2 * SRTT`` after the last transmission, plus the worst-case delayed-ACK time when one
segment is in flight, never later than the RTO) and §7.4 (a probe that repaired a loss triggers the
congestion response).

Pure: time is an argument (``now``, seconds), nothing here reads a clock. Positions are unbounded
stream offsets (``SackScoreboard.offset`` maps sequence numbers to them), so the 2**32 wrap is
the caller's one conversion away.

The transmit log holds one record per segment in flight: [start, end), the time it was last sent,
whether it was retransmitted, whether it is marked lost. A retransmission covering part of a record
splits it. Cumulative ACKs drop records; SACKed records are dropped as delivered.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from netstack.engine.tcp.options import TIMESTAMP_HZ

#: RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK time added when one segment is in flight.
WORST_CASE_DELAYED_ACK = 0.2
#: RFC 8985 §7.2: the probe timeout when no RTT sample exists yet.
INITIAL_PTO = 1.0
#: Added to 2*SRTT with more than one segment in flight, as Linux (TCP_TIMEOUT_MIN in
#: tcp_schedule_loss_probe): on a sub-millisecond path (a TAP) 2*SRTT is shorter than the time a busy
#: receiver takes to answer a batch, and the probe would fire for every burst.
PTO_SLACK = 0.002
#: RFC 8985 §6.2 step 4: after this many recoveries without D-SACK the multiplier resets to 1.
REORDERING_WINDOW_PERSIST = 16


def sent_after(t1: float, end1: int, t2: float, end2: int) -> bool:
    """RFC 8985 §6.2 RACK_sent_after: transmit time first, end offset to break ties."""
    return t1 > t2 or (t1 == t2 and end1 > end2)


class RackTlp:
    """RACK state (RFC 8985 §6) and TLP state (§7) of one sender."""

    __slots__ = ("dupthresh", "_echoed", "_starts", "_ends", "_sent_at", "_retransmitted", "_lost", "xmit_ts", "end_seq",
                 "rtt", "min_rtt", "fack", "reordering_seen", "reo_wnd_mult", "reo_wnd_persist", "dsack_round",
                 "tlp_end_seq", "tlp_is_retrans", "probes_sent", "losses_detected")

    def __init__(self, dupthresh: int = 3):
        self.dupthresh = dupthresh
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._sent_at: list[float] = []
        self._retransmitted: list[bool] = []
        self._lost: list[bool] = []
        self.xmit_ts: float | None = None  # RACK.xmit_ts
        self.end_seq = 0  # RACK.end_seq
        self.rtt: float | None = None  # RACK.rtt
        self.min_rtt: float | None = None
        self.fack = 0  # RACK.fack: the highest end offset delivered
        self.reordering_seen = False
        self.reo_wnd_mult = 1
        self.reo_wnd_persist = REORDERING_WINDOW_PERSIST
        self.dsack_round: int | None = None
        self.tlp_end_seq: int | None = None  # TLP.end_seq
        self.tlp_is_retrans = False
        self.probes_sent = 0
        self.losses_detected = 0
        self._echoed: int | None = None  # the ACK being processed: the tick its TSecr echoes

    def __len__(self) -> int:
        return len(self._starts)

    # -- the transmit log -------------------------------------------------------------------------

    def on_transmit(self, start: int, end: int, now: float, retransmission: bool = False) -> None:
        """A segment [start, end) left now: new data (beyond everything logged) appends a record; a
        retransmission restamps what it covers."""
        if end <= start:
            return
        starts, ends = self._starts, self._ends
        if not retransmission:
            if not starts or start >= ends[-1]:
                starts.append(start)  # (appends, not _insert at the end: once per burst sent)
                ends.append(end)
                self._sent_at.append(now)
                self._retransmitted.append(False)
                self._lost.append(False)
            return
        # A retransmission restamps the records it covers; bytes with no record were delivered already.
        self._split_at(start)
        self._split_at(end)
        for k in range(bisect_left(starts, start), bisect_left(starts, end)):
            self._sent_at[k] = now
            self._retransmitted[k] = True
            self._lost[k] = False

    def _insert(self, i: int, start: int, end: int, now: float, retransmission: bool) -> None:
        self._starts.insert(i, start)
        self._ends.insert(i, end)
        self._sent_at.insert(i, now)
        self._retransmitted.insert(i, retransmission)
        self._lost.insert(i, False)

    def _split_at(self, offset: int) -> None:
        i = bisect_right(self._starts, offset) - 1
        if i >= 0 and self._starts[i] < offset < self._ends[i]:
            self._insert(i + 1, offset, self._ends[i], self._sent_at[i], self._retransmitted[i])
            self._lost[i + 1] = self._lost[i]
            self._ends[i] = offset

    def _drop(self, i: int) -> None:
        del self._starts[i], self._ends[i], self._sent_at[i], self._retransmitted[i], self._lost[i]

    # -- RFC 8985 §6.2 on each ACK ----------------------------------------------------------------

    def on_ack(self, una: int, sacked: list[tuple[int, int]], now: float, dsack: bool = False,
               snd_nxt: int | None = None, echoed: int | None = None) -> None:
        """Steps 1-3 for one ACK: ``una`` the cumulative ACK, ``sacked`` the newly SACKed ranges (offsets),
        ``echoed`` the millisecond tick (``int(t * TIMESTAMP_HZ)``) of the TSval the ACK echoes, if any."""
        self._echoed = echoed
        starts, ends = self._starts, self._ends
        delivered = 0
        while delivered < len(starts) and ends[delivered] <= una:
            self._deliver(delivered, now)
            delivered += 1
        if delivered:  # one slice per list, not a deletion per record
            del starts[:delivered], ends[:delivered], self._sent_at[:delivered], \
                self._retransmitted[:delivered], self._lost[:delivered]
        if starts and starts[0] < una:
            self._split_at(una)
            self._deliver(0, now)
            self._drop(0)
        for left, right in sacked:
            self._split_at(left)
            self._split_at(right)
            i = bisect_left(starts, left)
            while i < len(starts) and self._ends[i] <= right:
                self._deliver(i, now)
                self._drop(i)
        # Step 3 (RACK_update_reo_wnd): one multiplier step per round trip with D-SACK.
        if self.dsack_round is not None and una >= self.dsack_round:
            self.dsack_round = None
        if dsack and self.dsack_round is None:
            self.reo_wnd_mult += 1
            self.reo_wnd_persist = REORDERING_WINDOW_PERSIST
            self.dsack_round = snd_nxt if snd_nxt is not None else (self._ends[-1] if self._ends else una)

    def _deliver(self, i: int, now: float) -> None:
        end, sent_at, retransmitted = self._ends[i], self._sent_at[i], self._retransmitted[i]
        rtt = now - sent_at
        # Step 2: reordering is a delivery below the highest one delivered, of an original transmission.
        if end > self.fack:
            self.fack = end
        elif end < self.fack and not retransmitted:
            self.reordering_seen = True
        # Step 2 (RACK_update): an ACK for a retransmission faster than min_RTT, or echoing a timestamp
        # older than the retransmission, acknowledges the original. (min_RTT alone is not enough: with
        # 100 ms queued at a bottleneck and a min_RTT of 0.3 ms, the original's late ACK gave RACK the
        # retransmission's short RTT and send time, every segment sent before it looked overdue, and
        # the sender resent megabytes the peer had: 14,000-55,000 retransmissions per 10 MB on the
        # relay of benchmarks/loss.py.)
        if retransmitted and ((self.min_rtt is not None and rtt < self.min_rtt)
                              or (self._echoed is not None and self._echoed < int(sent_at * TIMESTAMP_HZ))):
            return
        if not retransmitted and (self.min_rtt is None or rtt < self.min_rtt):
            self.min_rtt = rtt
        self.rtt = rtt
        if self.xmit_ts is None or sent_after(sent_at, end, self.xmit_ts, self.end_seq):
            self.xmit_ts, self.end_seq = sent_at, end

    def recovery_exited(self) -> None:
        """Step 3: after REORDERING_WINDOW_PERSIST recoveries without a D-SACK the multiplier resets."""
        self.reo_wnd_persist -= 1
        if self.reo_wnd_persist <= 0:
            self.reo_wnd_mult = 1
            self.reo_wnd_persist = REORDERING_WINDOW_PERSIST

    def reordering_window(self, in_recovery: bool, sacked_segments: int, srtt: float | None) -> float:
        """Step 4 (RACK_update_reo_wnd's result), seconds."""
        if not self.reordering_seen and (in_recovery or sacked_segments >= self.dupthresh):
            return 0.0
        if self.min_rtt is None:
            return 0.0
        window = self.reo_wnd_mult * self.min_rtt / 4
        return min(window, srtt) if srtt is not None else window

    def detect_loss(self, now: float, reo_wnd: float) -> tuple[list[tuple[int, int]], float | None]:
        """Step 5: newly lost ranges (offsets), and how long until the next one may be (None: none)."""
        if self.xmit_ts is None or self.rtt is None:
            return [], None
        lost: list[tuple[int, int]] = []
        timeout = 0.0
        xmit_ts, end_seq, rack_rtt = self.xmit_ts, self.end_seq, self.rtt
        for i, sent_at in enumerate(self._sent_at):
            if self._lost[i] or not sent_after(xmit_ts, end_seq, sent_at, self._ends[i]):
                continue
            remaining = sent_at + rack_rtt + reo_wnd - now
            if remaining <= 0:
                self._lost[i] = True
                start, end = self._starts[i], self._ends[i]
                if lost and lost[-1][1] == start:
                    lost[-1] = (lost[-1][0], end)
                else:
                    lost.append((start, end))
            elif remaining > timeout:
                timeout = remaining
        self.losses_detected += len(lost)
        return lost, (timeout if timeout > 0 else None)

    def lost_ranges(self) -> list[tuple[int, int]]:
        """Ranges marked lost and not retransmitted since."""
        return [(s, e) for s, e, lost in zip(self._starts, self._ends, self._lost) if lost]

    # -- RFC 8985 §7: tail loss probes ------------------------------------------------------------

    def probe_timeout(self, srtt: float | None, flight_segments: int, rto_remaining: float) -> float:
        """§7.2: PTO = 2*SRTT + WCDelAckT with one segment in flight (+ PTO_SLACK with more, as
        Linux), 1 s before any RTT sample, never beyond the retransmission timer."""
        if srtt is None:
            pto = INITIAL_PTO
        else:
            pto = 2 * srtt
            pto += WORST_CASE_DELAYED_ACK if flight_segments == 1 else PTO_SLACK
        return min(pto, rto_remaining)

    def may_probe(self, in_recovery: bool) -> bool:
        """§7.2: arm the PTO only outside recovery and with no probe outstanding."""
        return not in_recovery and self.tlp_end_seq is None

    def probe_sent(self, snd_nxt: int, retransmission: bool) -> None:
        """§7.3: a probe went (new data, or the last segment again); TLP.end_seq = SND.NXT."""
        self.tlp_end_seq = snd_nxt
        self.tlp_is_retrans = retransmission
        self.probes_sent += 1

    def probe_acknowledged(self, una: int, dsack: tuple[int, int] | None = None) -> bool:
        """§7.4.2 on one ACK: True when a retransmitted probe repaired a loss (the congestion response
        must run); a D-SACK for the probe says the original arrived as well, so nothing was lost."""
        end = self.tlp_end_seq
        if end is None or una < end:
            return False
        if not self.tlp_is_retrans or (dsack is not None and dsack[1] >= end):
            self.tlp_end_seq = None
            return False
        if una > end:
            self.tlp_end_seq = None
            return True
        return False  # SEG.ACK == TLP.end_seq: wait one more ACK for a D-SACK
