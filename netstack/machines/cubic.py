"""CUBIC congestion control (RFC 9438) with HyStart++ (RFC 9406), Linux's default.

Read first: RFC 9438 §4.2 (the window function W_cubic(t) = C * (t - K)**3 + W_max, K from the window
at the start of the epoch), §4.3 (the Reno-friendly estimate W_est, alpha_cubic = 3 (1 - beta) /
(1 + beta)), §4.4-§4.5 (concave and convex regions: cwnd moves towards W_cubic(t + RTT), at most
1.5 cwnd), §4.6 (multiplicative decrease, beta_cubic = 0.7), §4.7 (fast convergence), §4.8 (timeout).

The phases are the congestion machine's (``netstack.machines.congestion``); CUBIC changes the
arithmetic of congestion avoidance and of the reductions, and keeps NewReno's slow start (with byte
counting and HyStart++), fast-recovery inflation for peers without SACK and loss window. Windows are
bytes here (the RFC counts segments: W_max and W_est are converted with SMSS); time is ``now`` from
the engine, in seconds; RTT is the ACK's sample (or the last one seen).
"""

from __future__ import annotations

from netstack.machines.congestion import BYTE_COUNT_LIMIT, register_congestion_control
from netstack.machines.hystart import HystartPlusPlus
from netstack.machines.reno import MAX_SSTHRESH, NewReno

#: RFC 9438 §4.2: C, in segments / second**3.
CUBIC_C = 0.4
#: RFC 9438 §4.6: the multiplicative decrease factor.
BETA_CUBIC = 0.7
#: RFC 9438 §4.3: the Reno-friendly additive increase, 3 (1 - beta) / (1 + beta) segments per RTT.
ALPHA_CUBIC = 3 * (1 - BETA_CUBIC) / (1 + BETA_CUBIC)


class Cubic(NewReno):
    """RFC 9438 arithmetic on the shared phases; ``hystart=True`` by default (RFC 9406)."""

    __slots__ = ("w_max", "w_last_max", "k", "epoch_start", "w_est", "cwnd_fraction", "last_rtt", "fast_convergence")

    def __init__(self, mss: int, initial_window: int | None = None, initial_ssthresh: int = MAX_SSTHRESH,
                 byte_count_limit: int | None = BYTE_COUNT_LIMIT, hystart: bool = True, fast_convergence: bool = True):
        super().__init__(mss, initial_window, initial_ssthresh, byte_count_limit, hystart=False)
        if hystart:
            self.hystart = HystartPlusPlus()
        self.w_max = 0.0  # bytes; 0 until the first congestion event
        self.w_last_max = 0.0
        self.k = 0.0
        self.epoch_start: float | None = None
        self.w_est = 0.0
        self.cwnd_fraction = 0.0
        self.last_rtt: float | None = None
        self.fast_convergence = fast_convergence

    def w_cubic(self, t: float) -> float:
        """RFC 9438 §4.2 equation 1, in bytes."""
        return (CUBIC_C * (t - self.k) ** 3) * self.mss + self.w_max

    def _start_epoch(self, now: float) -> None:
        # RFC 9438 §4.2 (equation 2): K = cbrt((W_max - cwnd_epoch) / C), 0 above W_max.
        self.epoch_start = now
        self.cwnd_fraction = 0.0
        if self.cwnd < self.w_max:
            self.k = ((self.w_max - self.cwnd) / self.mss / CUBIC_C) ** (1 / 3)
        else:
            self.k = 0.0
            self.w_max = float(self.cwnd)
        self.w_est = float(self.cwnd)

    def grow_congestion_avoidance(self) -> None:
        if self.rtt is not None:
            self.last_rtt = self.rtt
        if self.now is None or self.last_rtt is None:
            super().grow_congestion_avoidance()  # no clock or RTT yet: Reno's increase
            return
        if self.epoch_start is None:
            self._start_epoch(self.now)
        cwnd = self.cwnd
        segments_acked = self.acked_bytes / self.mss
        # RFC 9438 §4.3: W_est grows like Reno with alpha_cubic (1 once it reaches W_max).
        alpha = 1.0 if self.w_est >= self.w_max else ALPHA_CUBIC
        self.w_est += alpha * segments_acked / (cwnd / self.mss) * self.mss
        t = self.now - self.epoch_start
        if self.w_cubic(t) < self.w_est:
            increase = self.w_est - cwnd  # §4.3: the Reno-friendly region
        else:
            # §4.4-§4.5: towards W_cubic(t + RTT), the target clamped to [cwnd, 1.5 cwnd].
            target = min(max(self.w_cubic(t + self.last_rtt), cwnd), 1.5 * cwnd)
            increase = (target - cwnd) * segments_acked / (cwnd / self.mss)
        if increase > 0:
            self.cwnd_fraction += increase
            whole = int(self.cwnd_fraction)
            self.cwnd += whole
            self.cwnd_fraction -= whole

    def _loss_threshold(self) -> int:
        # RFC 9438 §4.6-§4.7: remember W_max (lowered by fast convergence when the window shrank since
        # the last event), ssthresh = cwnd * beta_cubic, at least 2 SMSS.
        cwnd = float(self.cwnd)
        if self.fast_convergence and cwnd < self.w_last_max:
            self.w_max = cwnd * (1 + BETA_CUBIC) / 2
        else:
            self.w_max = cwnd
        self.w_last_max = cwnd
        self.epoch_start = None
        return max(int(cwnd * BETA_CUBIC), 2 * self.mss)

    def saved_state(self) -> object:
        return (self.w_max, self.w_last_max, self.k, self.epoch_start)

    def restore_state(self, state: object) -> None:
        # RFC 9438 §4.9: a spurious congestion event restores W_max and the epoch as they were.
        self.w_max, self.w_last_max, self.k, self.epoch_start = state


register_congestion_control("cubic", Cubic)
