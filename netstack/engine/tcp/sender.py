"""``TcpSender``: the send side of a TCB (gVisor's ``snd``), RFC 9293 §3.3.1 send sequence variables.

What is in flight, what to send next and what to retransmit: SND.UNA, SND.NXT (and SND.MAX, the
highest SND.NXT reached: after a retransmission timeout SND.NXT goes back to SND.UNA, go-back-N, and
ACKs up to SND.MAX stay acceptable; with SACK it never goes back, the scoreboard picks the holes), SND.WND with SND.WL1/WL2 (RFC 9293 §3.10.7.4), the send buffer,
the RTT estimator and Karn's bookkeeping (RFC 6298, RFC 7323 §4), the congestion control (RFC 5681,
RFC 6582), the effective send MSS, the peer's window scale and the state of our FIN; loss recovery
(``recovery``: SACK scoreboard, RACK-TLP, RFC 6675 recovery, ``loss_recovery.LossRecovery``) and the
persist timer (``persist``: zero-window probing apart from retransmission, ``persist.PersistTimer``);
Eifel detection (RFC 3522) of a spurious retransmission from the timestamp its first new ACK echoes.

The connection (``TcpConnection``) owns the state machine, the timers and the wire; its send path
(``transmit.py``) and the fifth step of SEGMENT ARRIVES (``receive.py``) move these variables. Loss
"""

from __future__ import annotations

from netstack.engine.tcp.loss_recovery import LossRecovery
from netstack.engine.tcp.persist import PersistTimer
from netstack.engine.tcp.rto import RttEstimator
from netstack.engine.tcp.send_buffer import SendBuffer
from netstack.engine.tcp.seqnum import (
    HALF_SPACE, SEQ_MASK, seq_add, seq_gt, seq_in_window, seq_le, seq_lt, seq_offset,
)
from netstack.machines.congestion import CongestionPhase

_REDUCED_PHASES = (CongestionPhase.FAST_RECOVERY, CongestionPhase.LOSS)


class TcpSender:
    """Send sequence space, send buffer, RTT and congestion state of one connection."""

    def __init__(self, iss: int, config, mss: int):
        self.iss = iss & SEQ_MASK  # reduced into sequence space
        # SND.UNA, SND.NXT, SND.MAX; SND.WND as the peer offered it (already scaled); SND.WL1/WL2:
        # the segment that last updated the window; max_wnd: the largest window ever offered
        # (sender SWS avoidance, RFC 1122 §4.2.3.4).
        self.una = self.nxt = self.max = self.iss
        self.wnd = 0
        self.wl1 = self.wl2 = 0
        self.max_wnd = 0
        self.wscale = 0  # the peer's window scale (RFC 7323 §2.3)
        self.mss = mss  # effective send MSS (RFC 9293 §3.7.1), set again by the negotiation
        self.buffer = SendBuffer(config.send_buffer)
        self.buf_seq = seq_add(self.iss, 1)  # sequence number of the buffer's first byte
        self.rtt = RttEstimator(initial_rto=config.initial_rto, min_rto=config.min_rto, max_rto=config.max_rto)
        self.cc = None  # congestion control, created once the SYNs fixed the MSS
        self.retransmits = 0  # consecutive RTO expiries without progress
        # RTT timing of one segment at a time without timestamps (Karn: cleared on retransmission).
        self.rtt_seq = None
        self.rtt_time = 0.0
        self.ts_retransmit_floor = None  # our TSval at the last retransmission (Karn with timestamps)
        # RFC 3522 Eifel: our TSval on the first retransmission of a reduction, until the first ACK
        # of new data after it says whether the original had arrived (TSecr older than this)
        self.eifel_retransmit_ts = None
        # ... and the end of that retransmitted segment: only an ACK covering it is judged (RFC 3522
        # §2 (3) waits for the ACK of the retransmission; an ACK for an earlier original, as when RACK
        # or SACK resent a later hole first, echoes an older TSval and says nothing)
        self.eifel_end = 0
        self.cwr_reductions = 0  # RFC 3168 §6.1.2: cc.reductions already signalled with CWR
        # Zero-window probing (RFC 1122 §4.2.2.17) on its own timer, and whether the peer answers.
        self.persist = PersistTimer(config.max_window_probe_interval)
        self.zero_window_answered = False
        self.recovery: LossRecovery | None = None  # once the SYNs fixed MSS and SACK (start_recovery)
        self.buffer_max = 0  # the send buffer may grow to this with cwnd (0: fixed, e.g. after SO_SNDBUF)
        # Our FIN: queued once the user shut down writing, its sequence number once sent.
        self.fin_queued = False
        self.fin_seq = None

    @property
    def in_flight(self) -> int:
        """Bytes (and SYN/FIN) sent and not yet acknowledged: SND.MAX - SND.UNA."""
        return (self.max - self.una) & SEQ_MASK  # (written out: read on every ACK)

    def acceptable_ack(self, ack: int) -> bool:
        """SND.UNA < SEG.ACK =< SND.MAX (RFC 9293 §3.10.7.4 fifth step, SYN-RECEIVED)."""
        return seq_in_window(ack, seq_add(self.una, 1), self.in_flight)

    def advance_nxt(self, nxt: int) -> None:
        """SND.NXT moves on; SND.MAX follows when it passes it."""
        self.nxt = nxt
        if 0 < ((nxt - self.max) & SEQ_MASK) < HALF_SPACE:  # seq_gt, written out: once per segment sent
            self.max = nxt

    def take_window(self, seq: int, ack: int, window: int) -> None:
        """Record the peer's window from the segment <SEG.SEQ, SEG.ACK> (RFC 9293 §3.10.7.4)."""
        self.wnd = window
        self.wl1 = seq
        self.wl2 = ack
        if window > self.max_wnd:
            self.max_wnd = window

    def update_window(self, seq: int, ack: int, window: int) -> bool:
        """Take the window of <SEG.SEQ, SEG.ACK> when the segment is newer than the one that last
        set it: SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK (RFC 9293
        §3.10.7.4). True when a zero window opened (zero-window probing ends)."""
        # (seq_lt / seq_le written out: this runs for every segment with an ACK; see receive.py)
        wl1 = (seq - self.wl1) & SEQ_MASK
        if not (0 < wl1 < HALF_SPACE or (wl1 == 0 and ((ack - self.wl2) & SEQ_MASK) < HALF_SPACE)):
            return False
        opened = window and not self.wnd
        self.wnd = window
        self.wl1 = seq
        self.wl2 = ack
        if window > self.max_wnd:
            self.max_wnd = window
        if opened:
            self.persist.stop()
        self.zero_window_answered = window == 0
        return bool(opened)

    def acknowledge(self, ack: int) -> None:
        """SND.UNA < SEG.ACK =< SND.MAX: free the acknowledged bytes, SND.UNA = SEG.ACK."""
        # (sequence arithmetic written out: this runs on every ACK of a bulk transfer; see receive.py)
        buffer = self.buffer
        data_acked = (ack - self.buf_seq) & SEQ_MASK
        if data_acked >= HALF_SPACE:
            data_acked = 0
        elif data_acked > len(buffer):
            data_acked = len(buffer)  # the rest acknowledges our FIN
        if data_acked:
            buffer.consume(data_acked)
            self.buf_seq = (self.buf_seq + data_acked) & SEQ_MASK
        self.una = ack
        if 0 < ((ack - self.nxt) & SEQ_MASK) < HALF_SPACE:
            self.nxt = ack  # after go-back-N the peer may acknowledge beyond SND.NXT
        self.retransmits = 0
        self.rtt.reset_backoff()

    def set_congestion_control(self, algorithm) -> None:
        """Switch to another algorithm class mid-connection (TCP_CONGESTION), keeping cwnd and
        ssthresh as Linux's tcp_reinit_congestion_control does."""
        old = self.cc
        if old is None:
            return
        self.cc = algorithm(self.mss, initial_window=max(old.cwnd, self.mss), initial_ssthresh=old.ssthresh)
        if self.recovery is not None:
            self.recovery.cc = self.cc

    def expand_buffer(self) -> None:
        """Linux tcp_sndbuf_expand: room for two congestion windows, so the application can refill
        the buffer while one window is in flight; never beyond ``buffer_max``."""
        buffer = self.buffer
        wanted = 2 * self.cc.cwnd
        if wanted > buffer.capacity and self.buffer_max > buffer.capacity:
            buffer.capacity = min(wanted, self.buffer_max)

    def start_recovery(self, sack: bool) -> None:
        """Loss recovery over the congestion control, from the first data byte (ISS + 1)."""
        self.recovery = LossRecovery(seq_add(self.iss, 1), self.mss, self.cc, sack)

    def arm_eifel(self, tsval: int, end: int) -> None:
        """RFC 3522 §2 (1): a retransmission ending at ``end`` with our TSval ``tsval`` left; remember
        the first one of a window reduction (fast recovery or the loss window), the one the first ACK
        covering ``end`` is judged by."""
        if self.eifel_retransmit_ts is None and self.cc.prior is not None and self.cc.phase in _REDUCED_PHASES:
            self.eifel_retransmit_ts = tsval
            self.eifel_end = end

    def retransmission_was_spurious(self, ack: int, tsecr: int) -> bool:
        """RFC 3522 §2 (3)-(4), on the first ACK covering the retransmitted segment: its TSecr is
        older than the retransmission's TSval, so it acknowledges the original (which was delayed, not
        lost). Disarms the detection either way; an ACK below the segment changes nothing."""
        if seq_lt(ack, self.eifel_end):
            return False
        retransmit_ts, self.eifel_retransmit_ts = self.eifel_retransmit_ts, None
        return bool(tsecr) and retransmit_ts is not None and seq_lt(tsecr, retransmit_ts)

    def sample_rtt(self, ack: int, tsecr: int, tsval_now: int, now: float) -> float | None:
        """An RTT sample from an ACK of new data: timestamps give one on every such ACK (RFC 7323
        §4.1, ``tsecr`` nonzero); otherwise the one timed segment, unless it was retransmitted
        (Karn's algorithm, RFC 6298 §3). Returns the sample (seconds) or None."""
        if tsecr:
            # Karn for timestamps: an echo older than our last retransmission may time a segment
            # that waited in the peer's reassembly queue, not one round trip (RFC 7323 §4.2)
            floor = self.ts_retransmit_floor
            if floor is None or seq_le(floor, tsecr):
                rtt = seq_offset(tsval_now, tsecr) / 1000.0
                if rtt < 60:
                    self.rtt.sample(rtt)
                    return rtt
        elif self.rtt_seq is not None and seq_gt(ack, self.rtt_seq):
            rtt = now - self.rtt_time
            self.rtt.sample(rtt)
            self.rtt_seq = None
            return rtt
        return None
