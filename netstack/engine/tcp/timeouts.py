"""The timers of ``TcpConnection`` that send: retransmission (RFC 6298 §5), tail loss probe and RACK's
reordering timer (RFC 8985 §6-§7), and the persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17).

- Retransmission timeout: the loss window (RFC 5681 §3.1 (4)), exponential backoff, give-up after
  ``max_retransmits`` → ETIMEDOUT. With SACK the scoreboard is kept and every unSACKed byte counts
  as lost (RFC 6675 §5.1), so only holes are resent, pipe-limited; without SACK, go-back-N from
  SND.UNA. While the peer's window is zero an expiry is a zero-window probe instead: it neither
  shrinks cwnd nor counts towards giving up.
- Tail loss probe (RFC 8985 §7): PTO after the last transmission, when nothing says a loss happened
  yet: the last segment goes again, so a lost tail is repaired by SACK-based recovery, not an RTO.
  (RFC 8985 §7.3 prefers a new segment when one may be sent; we always resend the last one, which
  the RFC allows when no new data is available, and which needs no window.)
- RACK reordering timer (RFC 8985 §6.3): a segment within the reordering window is looked at again
  when it expires.
- Persist timer: a one-byte probe at SND.UNA (new data if nothing is outstanding) on a backed-off
  interval; only probes nobody answered count towards giving up (``persist.PersistTimer``); an ACK
  that opens the window stops it, and the full path of SEGMENT ARRIVES sends at once.
"""

from __future__ import annotations

from netstack.engine.tcp.rack import PTO_SLACK
from netstack.engine.tcp.segment import ACK
from netstack.engine.tcp.seqnum import SEQ_MASK, seq_add, seq_diff
from netstack.engine.tcp.states import (
    SYN_SENT, SYN_RECEIVED, ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK,
)

_CAN_SEND_DATA = (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK)


class TimeoutPath:
    """Mixin of ``TcpConnection``: what happens when a sending timer expires."""

    def _retransmit_timeout(self, now: float) -> None:
        """RFC 6298 (5.4)-(5.6): retransmit the earliest segment, back off, restart the timer."""
        self.retransmit_deadline = None
        snd = self.snd
        if snd.una == snd.max and self.state not in (SYN_SENT, SYN_RECEIVED):
            return
        handshake = self.state in (SYN_SENT, SYN_RECEIVED)
        if not handshake and snd.wnd == 0:
            # The peer's window is closed: what is outstanding cannot be delivered now, and resending
            # it is zero-window probing, which the persist timer does without touching cwnd or the
            # give-up count (RFC 1122 §4.2.2.17).
            self._arm_persist(now)
            return
        self.stats["rto_firings"] += 1
        self.counters.incr("tcp.rto_firings")
        snd.retransmits += 1
        if handshake:  # Linux tcp_synack_retries apart from tcp_syn_retries
            limit = self.config.synack_retries if self.state is SYN_RECEIVED else self.config.max_syn_retransmits
        else:
            limit = self.config.max_retransmits
        if snd.retransmits > limit:
            self._give_up(now, "retransmit_give_up")
            return
        snd.rtt.back_off()
        if self.trace is not None:
            self.trace("tcp.rto", conn=self.name, rto=snd.rtt.rto, attempt=snd.retransmits)
        if handshake:
            self._send_syn(now, with_ack=self.state is SYN_RECEIVED)
            self.retransmit_deadline = now + self._handshake_rto()
            return
        snd.rtt_seq = None  # Karn's algorithm
        snd.ts_retransmit_floor = self.timestamp_state.tsval(now)
        self.probe_deadline = None
        self.reorder_deadline = None
        rec = snd.recovery
        # RFC 5681 §3.1 (4) / RFC 6582 §4: loss window; recover = SND.NXT (no fast retransmit of old data)
        rec.on_retransmit_timeout(snd.max)
        if self.use_timestamps:
            snd.arm_eifel(snd.ts_retransmit_floor, seq_add(snd.una, 1))  # RFC 3522: is this timeout spurious?
        if not rec.sack:
            snd.nxt = snd.una  # go back N
        if snd.fin_seq is not None and snd.una == seq_add(snd.fin_seq, 1):
            return
        sent_before = self.stats["segments_out"]
        self._output(now)
        if self.stats["segments_out"] == sent_before:
            self._retransmit_first(now)
        self.retransmit_deadline = now + snd.rtt.rto

    # -------------------------------------------------------------------- RACK-TLP (RFC 8985)
    def _arm_probe(self, now: float) -> None:
        """RFC 8985 §7.2: (re)arm the PTO after new data left or new data was acknowledged, when
        outside recovery, with no probe outstanding and nothing SACKed (RACK handles that case).

        During a SACK-based fast recovery too (a deviation from §7.2, which arms none there, as
        FreeBSD's RACK stack does by default, ``rack_tlp_in_recovery``): with a window of two or three
        segments, a lost retransmission with nothing sent after it, or the last ACKs of the episode
        lost, leave RACK nothing to go on and only the RTO, 10 round trips later on a 20 ms path, then
        cwnd = 1 (benchmarks/loss.py at 10 %: 13 of 16 RTOs per transfer were this). The probe waits
        2*SRTT of silence (no ACK, no send); the receiver ACKs the out-of-order or hole-filling probe
        at once (RFC 5681 §4.2), so no delayed-ACK allowance is added. A second probe of the same
        silence, and one after a lost tail loss probe (§7.3 allows one per tail; FreeBSD sends up to
        two), only with new data to carry."""
        snd = self.snd
        rec = snd.recovery
        # (cheapest tests first, attributes before calls: this runs on every send and every ACK; the
        # SACK scoreboard's sacked_bytes is 0 exactly when it holds no range)
        if rec is None or not rec.sack or snd.una == snd.max or snd.wnd == 0:
            self.probe_deadline = None
            return
        rto_remaining = self.retransmit_deadline - now if self.retransmit_deadline is not None else snd.rtt.rto
        tail_probe = rec.tail_probe_allowed()
        if not tail_probe:
            # a recovery probe, or the second probe of a tail's silence: only with new data to send
            # (the same segment twice would be an RTO without its backoff)
            if (not rec.recovery_probe_due() or snd.rtt.srtt is None
                    or (rec.silent_probes and not self._new_data_ready())):
                self.probe_deadline = None
                return
        if not tail_probe and (rec.scoreboard.sacked_bytes or rec.in_recovery):
            pto = 2 * snd.rtt.srtt + PTO_SLACK
        else:
            flight_segments = -(-((snd.max - snd.una) & SEQ_MASK) // snd.mss)  # in_flight, written out
            pto = rec.rack.probe_timeout(snd.rtt.srtt, flight_segments, rto_remaining)
        # a PTO no earlier than the RTO: the retransmission timer will act first
        self.probe_deadline = now + pto if pto < rto_remaining else None

    def _new_data_ready(self) -> bool:
        """Unsent data the peer's window takes (a probe could carry it)."""
        snd = self.snd
        return (seq_diff(snd.max, snd.buf_seq) < len(snd.buffer)
                and seq_diff(snd.max, snd.una) + min(snd.mss, len(snd.buffer)) <= snd.wnd)

    def _probe_timeout(self, now: float) -> None:
        """RFC 8985 §7.3: send the probe (the last segment again), then re-arm the RTO; with SACK
        information or a probe already out, the recovery probe instead (``_recovery_probe``)."""
        self.probe_deadline = None
        snd = self.snd
        rec = snd.recovery
        if self.state not in _CAN_SEND_DATA or snd.una == snd.max:
            return
        if not rec.tail_probe_allowed():
            if rec.recovery_probe_due():
                self._recovery_probe(now)
            return
        rec.silent_probes += 1
        end = snd.fin_seq if snd.fin_seq is not None and snd.max == seq_add(snd.fin_seq, 1) else snd.max
        n = min(snd.mss, seq_diff(end, snd.una))
        start = seq_add(end, -n)
        self.stats["tail_loss_probes"] += 1
        self.counters.incr("tcp.tail_loss_probes")
        if self.trace is not None:
            self.trace("tcp.tail_loss_probe", conn=self.name, seq=start, len=n)
        sent = self._retransmit_range(start, n, now, "tail loss probe")
        if sent:
            rec.sent(start, sent, now, retransmission=True, probe=True)
            rec.rack.probe_sent(rec.scoreboard.offset(snd.max), retransmission=True)
        self.retransmit_deadline = now + snd.rtt.rto
        self._arm_probe(now)  # the second probe of this silence, if it stays silent

    def _recovery_probe(self, now: float) -> None:
        """The ACK clock of a recovery (or after a tail loss probe) stopped for 2*SRTT (see
        ``_arm_probe``): one segment goes beyond PRR's quota or cwnd, what NextSeg() picks (a hole
        due, else new data); with neither, on the silence's first probe, the highest unSACKed segment
        again. Its SACK lets RACK find a lost retransmission sent before it
        (RFC 8985 §6.2), its ACK ends a recovery whose last ACKs were lost. Then the RTO is re-armed
        (RFC 8985 §7.3)."""
        snd = self.snd
        rec = snd.recovery
        rec.grant_recovery_probe()
        self.counters.incr("tcp.recovery_probes")
        before = self.stats["segments_out"]
        if self.trace is not None:
            self.trace("tcp.recovery_probe", conn=self.name, seq=snd.max, probes=rec.silent_probes)
        self.retransmit_deadline = now + snd.rtt.rto
        self._output(now)
        if self.stats["segments_out"] == before and rec.silent_probes == 1:
            hole = rec.scoreboard.highest_hole()
            if hole is not None:
                seq, length = hole
                sent = self._retransmit_range(seq, length, now, "recovery probe")
                if sent:  # (HighRxt stays: the holes below it are NextSeg's as before, RFC 6675 §4)
                    rec.sent(seq, sent, now, retransmission=True, probe=True)
        rec.probe_credit = 0
        self._arm_probe(now)  # the second probe of this silence, if it stays silent

    def _reorder_timeout(self, now: float) -> None:
        """RFC 8985 §6.3: RACK's reordering window passed for a segment: mark what is overdue."""
        self.reorder_deadline = None
        rec = self.snd.recovery
        if rec is None or self.state not in _CAN_SEND_DATA:
            return
        timeout = rec.on_reorder_timeout(now, self.snd.rtt.srtt)
        if timeout is not None:
            self.reorder_deadline = now + timeout
        self._output(now)

    # ------------------------------------------------------------------------------ persist
    def _arm_persist(self, now: float) -> None:
        persist = self.snd.persist
        persist.arm(now, self.snd.rtt.rto)
        self.persist_deadline = persist.deadline

    def _persist_timeout(self, now: float) -> None:
        """The peer's window stayed zero: probe it with one byte (RFC 1122 §4.2.2.17)."""
        self.persist_deadline = None
        snd = self.snd
        persist = snd.persist
        if self.state not in _CAN_SEND_DATA:
            persist.stop()
            return
        if snd.wnd != 0:
            persist.stop()
            self._output(now, force=True)  # RFC 1122 §4.2.3.4 override timeout
            return
        if persist.exhausted(self.config.max_retransmits):
            self._give_up(now, "retransmit_give_up")  # nobody answered: the peer is gone
            return
        if self._probe(now):
            persist.probe_sent(now, snd.rtt.rto)
            self.persist_deadline = persist.deadline
        else:
            persist.stop()

    def _probe(self, now: float) -> bool:
        """One byte beyond the zero window: the first outstanding byte again, else the next new one
        (RFC 9293 §3.8.6.1); True when there was a byte to send."""
        snd = self.snd
        sb = snd.buffer
        seq = snd.una if snd.una != snd.max else snd.nxt
        offset = seq_diff(seq, snd.buf_seq)
        if not 0 <= offset < len(sb):
            return False
        self.stats["zero_window_probes"] += 1
        self.counters.incr("tcp.zero_window_probes")
        if self.trace is not None:
            self.trace("tcp.zero_window_probe", conn=self.name, seq=seq, backoff=snd.persist.backoff)
        if seq != snd.max:
            self.stats["retransmissions"] += 1
        self._emit(seq, ACK, sb.peek(offset, 1), now)
        if seq == snd.nxt:
            snd.advance_nxt(seq_add(seq, 1))
        return True
