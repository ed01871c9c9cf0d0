"""A TCP sender's loss recovery: what each ACK says was lost, what to (re)send next, and how the
congestion window answers. The scoreboard (``sack_scoreboard``), RACK-TLP (``rack``) and the
congestion control (``netstack.machines.congestion``) meet here.

Read first: RFC 6675 §5 (SACK-based loss recovery: enter on IsLost, cwnd = ssthresh, send while
cwnd - pipe >= 1 SMSS, NextSeg picks what) and §5.1 (after an RTO the scoreboard stays: holes only);
RFC 8985 §6-§7 (RACK marks by time, TLP probes a tail); RFC 3042 (limited transmit: the first two
duplicate ACKs each let one new segment out); RFC 6937 (proportional rate reduction: during recovery
what may be sent follows what the ACKs say was delivered, so the ACK clock never stops, and RACK can
still see a retransmission lost); RFC 6582 (NewReno for a peer without SACK: the
engine resends the first unacknowledged segment when told); RFC 2883 §5 and RFC 3522 (a reduction
whose every retransmission came back D-SACKed was spurious: undo it).

Sequence numbers in and out (the scoreboard maps them to stream offsets for RACK); time is ``now``,
in seconds. The engine calls ``sent`` for every data segment it emits, ``on_ack`` for every
acceptable ACK, ``on_retransmit_timeout`` when its timer fires, and asks ``next_segment`` what to
send while it has a window. Figures for TCP_INFO and traces: ``pipe()``, ``stats``,
``delivery_rate``.
"""

from __future__ import annotations

from typing import NamedTuple

from netstack.engine.tcp.rack import RackTlp
from netstack.engine.tcp.sack_scoreboard import NextSegment, SackScoreboard
from netstack.engine.tcp.seqnum import SEQ_MASK, seq_diff
from netstack.machines.congestion import CongestionPhase

_OPEN = (CongestionPhase.SLOW_START, CongestionPhase.CONSERVATIVE_SLOW_START, CongestionPhase.CONGESTION_AVOIDANCE,
         CongestionPhase.CONGESTION_WINDOW_REDUCED)  # (an ECN reduction: a loss still starts a recovery)
_RECOVERY_PHASES = (CongestionPhase.FAST_RECOVERY, CongestionPhase.LOSS)
#: RFC 3042 §2: limited transmit covers the first two duplicate ACKs.
LIMITED_TRANSMIT_ACKS = 2
#: Recovery probes without an ACK in between before only the RTO is left (FreeBSD rack_tlp_max_resend).
MAX_SILENT_PROBES = 2


class AckOutcome(NamedTuple):
    """What one ACK changed and what the engine must do about it."""

    acked: int
    """Bytes newly acknowledged cumulatively."""
    newly_sacked: int
    retransmit_first: bool
    """Resend the first unacknowledged segment now (fast retransmit or a NewReno partial ACK, no SACK)."""
    recovery_started: bool
    undone: bool
    """A spurious reduction was undone (D-SACKs for every retransmission of the episode)."""
    reorder_timeout: float | None
    """RACK: look again this many seconds from now (a segment is within the reordering window)."""


class LossRecovery:
    """Loss detection and recovery state of one sender."""

    __slots__ = ("scoreboard", "rack", "cc", "sack", "mss", "duplicate_acks", "undo_retransmits", "undo_marker", "stats",
                 "delivered", "delivery_rate", "_rate_start", "_rate_delivered", "_fast_retransmit", "prr_delivered",
                 "prr_out", "recover_fs", "quota", "silent_probes", "probe_credit")

    def __init__(self, snd_una: int, mss: int, cc, sack: bool, dupthresh: int = 3):
        self.scoreboard = SackScoreboard(snd_una, mss, dupthresh)
        self.rack = RackTlp(dupthresh)
        self.cc = cc
        self.sack = sack
        self.mss = mss
        self.duplicate_acks = 0
        self.undo_retransmits = 0  # retransmissions of this episode not yet D-SACKed
        self.undo_marker = 0  # SND.UNA (a stream offset) when the episode began (Linux undo_marker)
        self.stats = {"retransmitted_segments": 0, "retransmitted_bytes": 0, "dsacks_received": 0,
                      "recoveries": 0, "rack_marked_lost": 0, "tlp_probes": 0, "tlp_recoveries": 0,
                      "spurious_undone": 0, "recovery_probes": 0}
        self.delivered = 0  # bytes delivered (cumulatively ACKed or SACKed), for the delivery rate
        self.delivery_rate = 0.0  # bytes/s over the last measured round trip
        self._rate_start: float | None = None
        self._rate_delivered = 0
        self._fast_retransmit = False
        # RFC 6937 PRR state of the current SACK-based recovery.
        self.prr_delivered = 0
        self.prr_out = 0
        self.recover_fs = 0
        self.quota = 0
        # Recovery probes sent since the last ACK, and the bytes the last one may still send beyond
        # the window (``recovery_probe_due``, ``grant_recovery_probe``).
        self.silent_probes = 0
        self.probe_credit = 0

    def set_mss(self, mss: int) -> None:
        """The send MSS fell (path MTU discovery)."""
        self.mss = mss
        self.scoreboard.mss = mss

    # -- figures ----------------------------------------------------------------------------------

    @property
    def in_recovery(self) -> bool:
        return self.cc.phase in _RECOVERY_PHASES

    def pipe(self) -> int:
        """RFC 6675 SetPipe(), or SND.NXT - SND.UNA when nothing is SACKed or lost."""
        return self.scoreboard.pipe()

    def flight(self, snd_nxt: int) -> int:
        """What to count as in the network: pipe with SACK information, FlightSize without."""
        sb = self.scoreboard
        if sb or sb.in_recovery:
            sb.sent(snd_nxt)
            return sb.pipe()
        return max(0, seq_diff(snd_nxt, sb.snd_una))

    def window_allowance(self) -> int:
        """RFC 3042: bytes beyond cwnd that the first two duplicate ACKs allow (peers without SACK;
        with SACK, pipe already leaves SACKed segments out)."""
        if self.sack or self.cc.phase not in _OPEN:
            return 0
        return min(self.duplicate_acks, LIMITED_TRANSMIT_ACKS) * self.mss

    def figures(self) -> dict:
        sb = self.scoreboard
        return {"pipe": sb.pipe(), "sacked": sb.sacked_bytes, "lost": sb.lost_bytes(),
                "reordering_window": self.rack.reo_wnd_mult * (self.rack.min_rtt or 0.0) / 4,
                "delivery_rate": self.delivery_rate, **self.stats}

    # -- events -----------------------------------------------------------------------------------

    def sent(self, seq: int, length: int, now: float, retransmission: bool = False, rescue: bool = False,
             probe: bool = False) -> None:
        """A segment [seq, seq + length) went out (length counts a FIN); ``rescue`` for NextSeg's rule 4
        and ``probe`` for a tail loss probe, neither of which moves HighRxt (RFC 6675 §4: HighRxt is
        the recovery's; a probe outside one must not count twice in pipe)."""
        if length <= 0:
            return
        sb = self.scoreboard
        if self.probe_credit:
            self.probe_credit = max(0, self.probe_credit - length)
        start_offset = sb.offset(seq)
        sb.sent_through(start_offset + length)
        self.rack.on_transmit(start_offset, start_offset + length, now, retransmission)
        if not (retransmission or rescue or sb.in_recovery):
            return  # new data outside a recovery: nothing below applies (PRR runs only in one)
        if self._prr_active():
            self.prr_out += length
            self.quota -= length
        if rescue:
            sb.rescue_retransmitted()
        elif retransmission and not probe:
            sb.retransmitted(seq, length)
        if retransmission or rescue:
            self.stats["retransmitted_segments"] += 1
            self.stats["retransmitted_bytes"] += length
            if self.cc.prior is not None:
                self.undo_retransmits += 1

    def on_ack(self, ack: int, blocks, now: float, snd_nxt: int, *, rtt: float | None = None,
               duplicate: bool = False, srtt: float | None = None, echoed: int | None = None) -> AckOutcome:
        """One acceptable ACK (SND.UNA =< SEG.ACK =< SND.NXT) with its SACK blocks; ``duplicate`` is
        RFC 5681 §2's definition, judged by the engine; ``echoed`` the millisecond tick of the TSval
        the ACK echoes (None without timestamps), for RACK (RFC 8985 §6.2 step 2)."""
        sb, rack, cc = self.scoreboard, self.rack, self.cc
        self.silent_probes = self.probe_credit = 0  # the peer answered: the ACK clock runs
        if not blocks and not duplicate and not sb.sacked_bytes and not sb.in_recovery and rack.tlp_end_seq is None:
            # The clean path (nothing SACKed, no recovery, no probe out, no SACK blocks): of the steps
            # below only the cumulative ACK, RACK's deliveries (its RTT and transmit times for a later
            # loss), the delivery rate and the congestion control's growth have anything to do.
            acked, una = sb.cumulative_ack(ack, snd_nxt)
            if acked:
                rack.on_ack(una, (), now, echoed=echoed)
                self._measure_delivery(acked, now, srtt)
                self.duplicate_acks = 0
                # (acked > 0 leaves duplicate_acks 0, so no recovery starts here: started is False)
                retransmit_first = cc.on_ack(acked, (snd_nxt - ack) & SEQ_MASK, ack, now=now, rtt=rtt,
                                             snd_nxt=snd_nxt) and not self.sack
                return AckOutcome(acked, 0, retransmit_first, False, False, None)
        old_una = sb.snd_una
        sb.sent(snd_nxt)
        update = sb.update(ack, blocks if self.sack else ())
        acked = max(0, seq_diff(ack, old_una))
        una = sb.offset(ack)
        nxt = sb.offset(snd_nxt)
        sacked = []
        for index, (left, right) in enumerate(blocks if self.sack else ()):
            if index == 0 and update.dsack is not None:
                continue
            start, end = sb.offset(left), sb.offset(right)
            if una <= start < end <= nxt:
                sacked.append((start, end))
        rack.on_ack(una, sacked, now, dsack=update.dsack is not None, snd_nxt=nxt, echoed=echoed)
        self._measure_delivery(acked + update.newly_sacked, now, srtt)
        undone = False
        if update.dsack is not None:
            self.stats["dsacks_received"] += 1
            # RFC 2883 §5 (Linux tcp_try_undo_dsack): once every retransmission of the episode is
            # reported duplicate, nothing had been lost.
            # Only a D-SACK for data above where the episode began counts (Linux tcp_check_dsack):
            # the D-SACKs of an earlier episode's retransmissions still arriving (hundreds after a
            # burst of spurious ones) would otherwise undo a real loss's reduction. On the relay
            # that restored a multi-megabyte cwnd and an infinite ssthresh again and again: a
            # storm of 14,000-55,000 retransmissions per 10 MB (docs/performance.md).
            if self.undo_retransmits > 0 and sb.offset(update.dsack[1]) > self.undo_marker:
                self.undo_retransmits -= 1
                if self.undo_retransmits == 0:
                    undone = self.undo_spurious()
        dsack_offsets = None
        if update.dsack is not None:
            dsack_offsets = (sb.offset(update.dsack[0]), sb.offset(update.dsack[1]))
        tlp_repaired = rack.probe_acknowledged(una, dsack_offsets)
        flight = max(0, seq_diff(snd_nxt, old_una))
        retransmit_first = False
        if acked > 0:
            self.duplicate_acks = 0
            retransmit_first = cc.on_ack(acked, max(0, seq_diff(snd_nxt, ack)), ack, now=now, rtt=rtt,
                                         snd_nxt=snd_nxt) and not self.sack
            if sb.in_recovery and sb.recovery_done():
                self._end_recovery()
        elif duplicate:
            self.duplicate_acks += 1
            if not self.sack and cc.on_duplicate_ack(flight, ack, snd_nxt):
                retransmit_first = True
                self._start_recovery()
        started = retransmit_first and cc.phase is CongestionPhase.FAST_RECOVERY and self.duplicate_acks > 0
        reorder_timeout = None
        if self.sack:
            lost_found = False
            # RACK on every ACK while something is SACKed, and on every ACK of a recovery even with
            # nothing SACKed: a cumulative ACK for a retransmission is a delivery too (RFC 8985 §6.2),
            # and a segment sent before it and still missing is lost. (A partial ACK that leaves no
            # SACKed range used to skip this, and the segment waited for the RTO.)
            if sb or sb.in_recovery:
                reo_wnd = rack.reordering_window(self.in_recovery, sb.sacked_bytes // self.mss, srtt)
                lost, reorder_timeout = rack.detect_loss(now, reo_wnd)
                if lost:
                    self._rack_marked(lost)
                lost_found = bool(lost) or sb.lost_bytes() > 0
            if tlp_repaired:
                self.stats["tlp_recoveries"] += 1
            if (lost_found or tlp_repaired) and cc.phase in _OPEN:
                if cc.on_loss_detected(flight, ack, snd_nxt):
                    self.undo_retransmits = 0
                    self._start_recovery()
                    started = True
                    if tlp_repaired and not lost_found:
                        self._end_recovery()  # RFC 8985 §7.4.2: the probe already repaired it
        if self._prr_active():
            self._prr_on_ack(acked + update.newly_sacked)
        return AckOutcome(acked, update.newly_sacked, retransmit_first, started, undone, reorder_timeout)

    def undo_spurious(self) -> bool:
        """The current reduction was spurious (RFC 2883 §5 D-SACKs, or RFC 3522 Eifel's timestamp):
        cwnd, ssthresh and the algorithm's state go back, the recovery ends and what was marked lost
        is not resent after a timeout (Linux tcp_try_undo_loss). True when something was undone."""
        after_timeout = self.cc.phase is CongestionPhase.LOSS
        if self.cc.prior is None or not self.cc.on_spurious_loss():
            return False
        self.stats["spurious_undone"] += 1
        self.undo_retransmits = 0
        if after_timeout:
            self.scoreboard.forget_losses()
        self._end_recovery()
        return True

    def _prr_active(self) -> bool:
        return self.sack and self.scoreboard.in_recovery and self.cc.phase is CongestionPhase.FAST_RECOVERY

    def _prr_on_ack(self, delivered: int) -> None:
        """RFC 6937 §3: how much may be sent on this ACK (PRR while pipe > ssthresh, then the slow-start
        reduction bound), kept in ``quota``."""
        self.prr_delivered += delivered
        pipe = self.scoreboard.pipe()
        ssthresh = self.cc.ssthresh
        if pipe > ssthresh:
            sndcnt = -(-self.prr_delivered * ssthresh // max(self.recover_fs, 1)) - self.prr_out
        else:
            limit = max(self.prr_delivered - self.prr_out, delivered) + self.mss  # PRR-SSRB
            sndcnt = min(ssthresh - pipe, limit)
        self.quota = max(sndcnt, 0)

    def tail_probe_allowed(self) -> bool:
        """RFC 8985 §7.2's tail loss probe: outside recovery, nothing SACKed (RACK reads the SACKs
        then), no probe outstanding. Otherwise only the recovery probe (``recovery_probe_due``)."""
        return not self.scoreboard.sacked_bytes and self.rack.may_probe(self.in_recovery)

    def recovery_probe_due(self) -> bool:
        """A recovery probe may be armed while SACK information is in play (a fast recovery, SACKed
        data outside one) or a tail loss probe is out, not after an RTO (its backoff rules there, RFC
        6298 §5.5): at most ``MAX_SILENT_PROBES`` (a TLP counts) without an ACK in between, as
        FreeBSD's RACK stack does (``rack_tlp_in_recovery`` on, ``rack_tlp_max_resend``); RFC 8985
        §7.2 arms none there (see ``TimeoutPath._arm_probe``)."""
        if not self.sack or self.silent_probes >= MAX_SILENT_PROBES or self.cc.phase is CongestionPhase.LOSS:
            return False
        sb = self.scoreboard
        # (FAST_RECOVERY without the scoreboard's: the reduction after a tail loss probe that repaired
        # a loss, RFC 8985 §7.4.2, lasts until SND.UNA passes the recovery point; the old TLP may not
        # be armed then, so a lost last ACK in it waited for the RTO on the relay)
        return (sb.in_recovery or sb.sacked_bytes > 0 or self.rack.tlp_end_seq is not None
                or self.cc.phase is CongestionPhase.FAST_RECOVERY)

    def grant_recovery_probe(self) -> None:
        """The probe timer fired: one segment beyond the window (PRR's quota, or cwnd - pipe) may go,
        as FreeBSD's ``rack_timeout_tlp`` sets ``rc_prr_sndcnt`` to one segment; NextSeg() picks it,
        a hole due first, else new data (RFC 8985 §7.3 prefers new data for a probe)."""
        self.silent_probes += 1
        self.probe_credit = self.mss
        self.stats["recovery_probes"] += 1

    def send_budget(self) -> int:
        """Bytes that may go now: PRR's quota during SACK-based recovery, else cwnd - pipe."""
        budget = self.quota if self._prr_active() else self.cc.cwnd - self.scoreboard.pipe()
        if self.probe_credit:
            return max(budget, 0) + self.probe_credit
        return budget

    def on_reorder_timeout(self, now: float, srtt: float | None = None) -> float | None:
        """RACK's reordering timer fired: mark what is now overdue; returns the next timeout, if any."""
        sb, rack = self.scoreboard, self.rack
        reo_wnd = rack.reordering_window(self.in_recovery, sb.sacked_bytes // self.mss, srtt)
        lost, timeout = rack.detect_loss(now, reo_wnd)
        if lost:
            self._rack_marked(lost)
            if self.cc.phase in _OPEN and self.cc.on_loss_detected(sb.pipe(), sb.snd_una, sb.snd_nxt):
                self.undo_retransmits = 0
                self._start_recovery()
                self._prr_on_ack(0)
        return timeout

    def on_retransmit_timeout(self, snd_nxt: int) -> None:
        """RFC 6298 §5.4 with RFC 6675 §5.1: the loss window; with SACK, every unSACKed byte is lost
        and only those are resent (the engine no longer goes back N)."""
        sb = self.scoreboard
        sb.sent(snd_nxt)
        self.cc.on_retransmit_timeout(max(0, seq_diff(snd_nxt, sb.snd_una)), snd_nxt)
        self.duplicate_acks = 0
        self.undo_retransmits = 0
        self.undo_marker = sb.offset(sb.snd_una)
        self.rack.tlp_end_seq = None
        if self.sack:
            sb.mark_all_lost()
            sb.in_recovery = True

    def _rack_marked(self, lost: list[tuple[int, int]]) -> None:
        sb = self.scoreboard
        self.stats["rack_marked_lost"] += len(lost)
        sb.mark_lost_below(max(end for _, end in lost))
        for start, end in lost:
            if start < sb.high_rxt:
                sb.mark_retransmission_lost(start, end)

    def _start_recovery(self) -> None:
        sb = self.scoreboard
        self.recover_fs = max(0, seq_diff(sb.snd_nxt, sb.snd_una))
        self.undo_marker = sb.offset(sb.snd_una)
        self.prr_delivered = self.prr_out = self.quota = 0
        self.scoreboard.enter_recovery()
        self._fast_retransmit = self.sack
        self.stats["recoveries"] += 1

    def _end_recovery(self) -> None:
        if self.scoreboard.in_recovery:
            self.scoreboard.exit_recovery()
            self.rack.recovery_exited()

    # -- what to send -----------------------------------------------------------------------------

    def next_segment(self, new_data_allowed: bool) -> NextSegment | None:
        """RFC 6675 §5 (C): while cwnd - pipe >= 1 SMSS, NextSeg() says what goes (rule 2: new data
        from SND.NXT). None when the window is used up or nothing is due."""
        sb = self.scoreboard
        if self._fast_retransmit:
            # RFC 6675 §5 (4.3): the first segment presumed lost goes at once, whatever pipe says.
            self._fast_retransmit = False
            segment = sb.next_seg(False)
            if segment is not None and segment.rule in (1, 3):
                return segment
        if self.probe_credit:
            pass  # a recovery probe: one segment, whatever the window says
        elif self._prr_active():
            if self.quota <= 0:
                return None
        elif self.cc.cwnd - sb.pipe() < self.mss:
            return None
        return sb.next_seg(new_data_allowed)

    def retransmission_due(self) -> bool:
        """Recovery is running (or SACKed/lost data exists), so sending goes through NextSeg."""
        sb = self.scoreboard
        return self.sack and (sb.in_recovery or sb.lost_bytes() > 0)

    # -- delivery rate ----------------------------------------------------------------------------

    def _measure_delivery(self, delivered: int, now: float, srtt: float | None) -> None:
        # Bytes delivered per round trip (a coarse form of draft-cheng-iccrg-delivery-rate-estimation).
        self.delivered += delivered
        if self._rate_start is None:
            self._rate_start, self._rate_delivered = now, self.delivered
            return
        elapsed = now - self._rate_start
        if srtt is not None and elapsed >= srtt and elapsed > 0:
            self.delivery_rate = (self.delivered - self._rate_delivered) / elapsed
            self._rate_start, self._rate_delivered = now, self.delivered
