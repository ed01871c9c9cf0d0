"""NewReno congestion control: RFC 5681 (slow start, congestion avoidance, fast retransmit/recovery)
with RFC 6582's partial-ACK handling, RFC 3465's byte counting in slow start, RFC 6675 §5's
SACK-based recovery (cwnd = ssthresh, pipe-limited), and RFC 6298 §5's loss window after a timeout.

The phases come from ``netstack.machines.congestion`` (the declared machine and its table); this
module holds only NewReno's arithmetic, as the actions of that machine.

``NewReno(mss, initial_window=None, initial_ssthresh=MAX_SSTHRESH, byte_count_limit=None, hystart=False)``: ``initial_window`` defaults to
RFC 5681 §3.1's rule (``rfc5681_initial_window(mss)``); ``initial_ssthresh`` to the largest window
TCP can advertise (RFC 5681 §3.1: "arbitrarily high"). The methods the engine calls
(``on_ack``, ``on_duplicate_ack``, ``on_retransmit_timeout``) and their signatures are documented in
``netstack.machines.congestion``.
"""

from __future__ import annotations

from netstack.machines.congestion import BYTE_COUNT_LIMIT, CongestionControl, register_congestion_control
from netstack.machines.hystart import HystartPlusPlus

# RFC 5681 §3.1: ssthresh starts "arbitrarily high (e.g., the size of the largest possible advertised
# window)": 65535 << 14 with RFC 7323 window scaling.
MAX_SSTHRESH = 65535 << 14


def rfc5681_initial_window(mss: int) -> int:
    """RFC 5681 §3.1 (equation 1, from RFC 3390): IW in bytes for a given SMSS."""
    if mss > 2190:
        return 2 * mss
    if mss > 1095:
        return 3 * mss
    return 4 * mss


class NewReno(CongestionControl):
    """RFC 5681 + RFC 6582 arithmetic; every action keeps cwnd >= 1 MSS."""

    __slots__ = ()

    def __init__(self, mss: int, initial_window: int | None = None, initial_ssthresh: int = MAX_SSTHRESH,
                 byte_count_limit: int | None = BYTE_COUNT_LIMIT, hystart: bool = False):
        super().__init__(
            mss,
            rfc5681_initial_window(mss) if initial_window is None else initial_window,
            initial_ssthresh,
            byte_count_limit,
        )
        if hystart:
            self.hystart = HystartPlusPlus()

    def _loss_threshold(self) -> int:
        # RFC 5681 (4): ssthresh = max(FlightSize / 2, 2*SMSS)
        return max(self.flight_size // 2, 2 * self.mss)

    def grow_slow_start(self) -> None:
        # RFC 3465 §2.1 (which RFC 5681 (2) allows): cwnd += N, the newly acknowledged bytes (L: see
        # BYTE_COUNT_LIMIT), so slow start doubles per RTT whatever the ACK pattern.
        self.cwnd += self.slow_start_increase()

    def grow_congestion_avoidance(self) -> None:
        # RFC 5681 (3): cwnd += SMSS*SMSS/cwnd, at least one byte.
        self.cwnd += max(1, self.mss * self.mss // self.cwnd)

    def enter_fast_recovery(self) -> None:
        # RFC 6582 §3.2 (three duplicate ACKs), RFC 5681 §3.2 (2)-(3): record recover, set ssthresh, retransmit, cwnd = ssthresh + 3*SMSS.
        if self.snd_nxt is not None:
            self.recover = self.snd_nxt
        self.ssthresh = self._loss_threshold()
        self.cwnd = self.ssthresh + 3 * self.mss
        self.retransmit_now = True

    def enter_sack_recovery(self) -> None:
        # RFC 6675 §5 (4.1)-(4.2): RecoveryPoint = HighData, ssthresh = cwnd = the reduced window; what
        # is sent from now on is limited by pipe, so no inflation.
        if self.snd_nxt is not None:
            self.recover = self.snd_nxt
        self.ssthresh = self._loss_threshold()
        self.cwnd = self.ssthresh
        self.sack_recovery = True

    def inflate_window(self) -> None:
        # RFC 5681 §3.2 (4): each further duplicate ACK means a segment left the network (with SACK,
        # pipe counts that instead).
        if not self.sack_recovery:
            self.cwnd += self.mss

    def deflate_on_partial_ack(self) -> None:
        # RFC 6582 §3.2 (partial acknowledgment): retransmit the first unacknowledged segment, deflate by the newly acked
        # amount, add back one SMSS if at least one SMSS was acknowledged.
        if self.sack_recovery:
            return  # RFC 6675 §5: pipe, not cwnd, tracks what a partial ACK took out of the network
        self.cwnd -= self.acked_bytes
        if self.acked_bytes >= self.mss:
            self.cwnd += self.mss
        self.cwnd = max(self.cwnd, self.mss)
        self.retransmit_now = True

    def exit_fast_recovery(self) -> None:
        if self.sack_recovery:
            # RFC 6937 §3 (PRR, which paces SACK-based recovery): "cwnd = ssthresh" on exit, as Linux's
            # tcp_end_cwnd_reduction. PRR already brought pipe down to about ssthresh, so this is no
            # burst; NewReno's FlightSize + SMSS bound below would, with a window of a few segments
            # and little outstanding at the full ACK, drop cwnd under ssthresh and cost a slow start
            # after every recovery (a tenth of the time at 10 % loss in benchmarks/loss.py).
            self.cwnd = max(self.mss, self.ssthresh)
        else:
            # RFC 6582 §3.2 (full acknowledgment), option (1): cwnd = min(ssthresh, max(FlightSize, SMSS)
            # + SMSS), which avoids a burst when little is outstanding.
            self.cwnd = max(self.mss, min(self.ssthresh, max(self.flight_size, self.mss) + self.mss))
        self.duplicate_acks = 0
        self.sack_recovery = False

    def enter_loss(self) -> None:
        # RFC 5681 (4) and the loss window LW = 1 SMSS (RFC 5681 §3.1, RFC 6298 §5).
        self.ssthresh = self._loss_threshold()
        self.cwnd = self.mss
        self.sack_recovery = False

    def reset_loss_window(self) -> None:
        # RFC 5681 §3.1: a segment retransmitted by the timer again keeps ssthresh.
        self.cwnd = self.mss


register_congestion_control("newreno", NewReno)
register_congestion_control("reno", NewReno)
