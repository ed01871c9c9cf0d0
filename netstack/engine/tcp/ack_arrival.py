"""What an acceptable ACK does to the sending half of ``TcpConnection`` (RFC 9293 §3.10.7.4, fifth
step, after ``receive.py`` has judged the ACK): SND.UNA advances, an RTT sample (RFC 6298 §2, Karn's
rule; RFC 7323 timestamps), loss recovery reads the ACK and its SACK blocks (RFC 6675, RFC 8985 RACK,
RFC 5681 §3.2 duplicate ACKs, RFC 6582 NewReno partial ACKs), and a spurious reduction is undone by
Eifel (RFC 3522) or D-SACK (RFC 2883 §5). The retransmission timer is restarted or stopped (RFC 6298
(5.2)/(5.3)) and the tail loss probe re-armed (RFC 8985 §7.2).
"""

from __future__ import annotations

from netstack.machines.congestion import CongestionPhase


class AckArrival:
    def _ack_advanced(self, seg, ack: int, acked: int, now: float) -> None:
        """SND.UNA < SEG.ACK <= SND.MAX: new data (or our FIN) acknowledged."""
        snd = self.snd
        snd.acknowledge(ack)
        tsecr = seg.tsecr if self.use_timestamps else 0
        if snd.eifel_retransmit_ts is not None and snd.retransmission_was_spurious(ack, tsecr):
            self._undo_spurious(now)  # RFC 3522 Eifel, before loss recovery may end the episode
        rtt = snd.sample_rtt(ack, tsecr, self.timestamp_state.tsval(now) if tsecr else 0, now)
        flight = snd.in_flight
        self._recovery_outcome(snd.recovery.on_ack(ack, seg.sack_blocks, now, snd.max, rtt=rtt, srtt=snd.rtt.srtt,
                                                   echoed=self._echoed(seg, now)), now)
        if snd.buffer_max:
            snd.expand_buffer()
        # RFC 6298 (5.2)/(5.3): stop the timer when all is acknowledged, else restart it
        if flight == 0:
            self.retransmit_deadline = None
            self.user_timeout_deadline = None
        else:
            self.retransmit_deadline = now + snd.rtt.rto
            if self.config.user_timeout is not None:
                self.user_timeout_deadline = now + self.config.user_timeout
        self._arm_probe(now)

    def _echoed(self, seg, now: float) -> int | None:
        return self.timestamp_state.echoed_tick(seg.tsecr, now) if self.use_timestamps else None

    def _duplicate_ack(self, seg, now: float) -> None:
        """RFC 5681 §3.2: a duplicate ACK; loss recovery counts it (without SACK the third triggers a
        fast retransmit) and reads its SACK blocks."""
        snd = self.snd
        self.stats["dup_acks"] += 1
        self.counters.incr("tcp.dup_acks")
        if self.trace is not None:
            self.trace("tcp.dup_ack", conn=self.name, ack=snd.una, count=snd.recovery.duplicate_acks + 1)
        self._recovery_outcome(snd.recovery.on_ack(snd.una, seg.sack_blocks, now, snd.max, duplicate=True,
                                                   srtt=snd.rtt.srtt, echoed=self._echoed(seg, now)), now)
        rec = snd.recovery
        if rec.in_recovery or rec.scoreboard.sacked_bytes:
            self._arm_probe(now)  # the recovery probe waits 2*SRTT from the last ACK (timeouts.py)

    def _recovery_outcome(self, outcome, now: float) -> None:
        """Act on what loss recovery made of an ACK: NewReno's retransmission of the first unacknowledged
        segment, the start of a recovery (its retransmissions go out in ``_output``), RACK's timer."""
        if outcome.recovery_started:
            cc = self.snd.cc
            self.stats["fast_retransmits"] += 1
            self.counters.incr("tcp.fast_retransmits")
            if self.trace is not None:
                self.trace("tcp.fast_retransmit", conn=self.name, seq=self.snd.una, cwnd=cc.cwnd,
                           ssthresh=cc.ssthresh, sack=self.snd.recovery.sack)
            self.probe_deadline = None
        if outcome.undone:
            self._report_undo("dsack")
        if outcome.retransmit_first:
            self._retransmit_first(now)  # RFC 5681 §3.2 fast retransmit / RFC 6582 §3.2 partial ACK
        if outcome.reorder_timeout is not None:
            self.reorder_deadline = now + outcome.reorder_timeout

    def _undo_spurious(self, now: float) -> None:
        """RFC 3522: the ACK echoes a timestamp older than our first retransmission, so the original
        arrived: undo the reduction the same way D-SACKs do; after a timeout, resume with new data
        (SND.NXT = SND.MAX, the Eifel response of RFC 4015) instead of going back N."""
        snd = self.snd
        after_timeout = snd.cc.phase is CongestionPhase.LOSS
        if not snd.recovery.undo_spurious():
            return
        self.counters.incr("tcp.eifel_detections")
        if after_timeout:
            snd.nxt = snd.max
        self._report_undo("eifel")

    def _report_undo(self, detection: str) -> None:
        self.counters.incr("tcp.spurious_reductions_undone")
        if self.trace is not None:
            self.trace("tcp.undo", conn=self.name, cwnd=self.snd.cc.cwnd, ssthresh=self.snd.cc.ssthresh,
                       detection=detection)
