"""HyStart++ (RFC 9406): leave slow start when the round-trip time starts to rise, before a loss.

Read first: RFC 9406 §4.2 (the algorithm: per round, the minimum RTT of at least N_RTT_SAMPLE
samples; a rise of RttThresh = clamp(lastRoundMinRTT / 8, 4 ms, 16 ms) moves slow start to
conservative slow start (CSS), where the window grows a quarter as fast; an RTT below the CSS
baseline goes back to slow start, CSS_ROUNDS rounds of CSS end in congestion avoidance) and §4.3
(only the initial slow start uses it).

The phases themselves are rows of the congestion machine (``netstack.machines.congestion``); this
object only keeps the per-round RTT figures its guards read. A round ends when the cumulative ACK
reaches the SND.NXT recorded when the round began. Time and RTTs are arguments, in seconds.
"""

from __future__ import annotations

import math

_SEQ_MASK = 0xFFFFFFFF

# RFC 9406 §4.3 constants.
MIN_RTT_THRESH = 0.004
MAX_RTT_THRESH = 0.016
MIN_RTT_DIVISOR = 8
N_RTT_SAMPLE = 8
CSS_GROWTH_DIVISOR = 4
CSS_ROUNDS = 5


def _seq_ge(a: int, b: int) -> bool:
    return ((a - b) & _SEQ_MASK) < 0x80000000


class HystartPlusPlus:
    """The per-round RTT state of RFC 9406 §4.2."""

    __slots__ = ("window_end", "last_round_min_rtt", "current_round_min_rtt", "rtt_sample_count",
                 "css_baseline_min_rtt", "css_rounds")

    def __init__(self):
        self.window_end: int | None = None
        self.last_round_min_rtt = math.inf
        self.current_round_min_rtt = math.inf
        self.rtt_sample_count = 0
        self.css_baseline_min_rtt = math.inf
        self.css_rounds = 0

    def observe(self, snd_una: int | None, snd_nxt: int | None, rtt: float | None, in_css: bool) -> None:
        """One ACK in slow start or CSS: start a new round when it covers the round's end, take the RTT sample."""
        if snd_nxt is not None and (self.window_end is None or (snd_una is not None and _seq_ge(snd_una, self.window_end))):
            if self.window_end is not None and in_css:
                self.css_rounds += 1
            self.window_end = snd_nxt
            self.last_round_min_rtt = self.current_round_min_rtt
            self.current_round_min_rtt = math.inf
            self.rtt_sample_count = 0
        if rtt is not None:
            if rtt < self.current_round_min_rtt:
                self.current_round_min_rtt = rtt
            self.rtt_sample_count += 1

    def delay_increased(self) -> bool:
        """RFC 9406 §4.2: currentRoundMinRTT >= lastRoundMinRTT + RttThresh, after N_RTT_SAMPLE samples."""
        if self.rtt_sample_count < N_RTT_SAMPLE or math.isinf(self.last_round_min_rtt):
            return False
        threshold = min(max(self.last_round_min_rtt / MIN_RTT_DIVISOR, MIN_RTT_THRESH), MAX_RTT_THRESH)
        return self.current_round_min_rtt >= self.last_round_min_rtt + threshold

    def enter_css(self) -> None:
        self.css_baseline_min_rtt = self.current_round_min_rtt
        self.css_rounds = 0

    def rtt_below_baseline(self) -> bool:
        """RFC 9406 §4.2: in CSS, the round's minimum RTT fell below the baseline: the rise was spurious."""
        return self.rtt_sample_count >= N_RTT_SAMPLE and self.current_round_min_rtt < self.css_baseline_min_rtt

    def css_rounds_done(self) -> bool:
        return self.css_rounds >= CSS_ROUNDS
