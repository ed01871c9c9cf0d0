"""The retransmission timeout estimator of RFC 6298.

- (2.1) before any measurement RTO = 1 s (``initial_rto``).
- (2.2) first sample R: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, K*RTTVAR), K = 4.
- (2.3) later samples: RTTVAR = (1-beta)*RTTVAR + beta*|SRTT-R'|, SRTT = (1-alpha)*SRTT + alpha*R',
  alpha = 1/8, beta = 1/4 (RTTVAR first, using the old SRTT).
- (2.4) RTO below ``min_rto`` is rounded up. RFC 6298 says 1 s; Linux uses 200 ms and so do we by
  default, because a 1 s floor makes every loss against a LAN peer cost a second (deviation, stated).
- (2.5) a maximum may be placed on RTO, at least 60 s (``max_rto``).
- (5.5) on expiry the RTO is doubled ("back off the timer"), up to ``max_rto``.
- Karn's algorithm (§3): a segment that was retransmitted gives no sample (the caller knows which
  segment was retransmitted; with timestamps, RFC 7323 §4.1, every ACK may give a sample). A sample taken
  after a backoff keeps the backed-off RTO until then, and resets it from SRTT/RTTVAR.

The estimator is plain arithmetic; the connection owns the timer's deadline.
"""

from __future__ import annotations

#: RFC 6298 (2.1): the RTO before the first RTT measurement.
INITIAL_RTO = 1.0
#: Linux's TCP_RTO_MIN (RFC 6298 (2.4) says 1 s; see the module docstring).
DEFAULT_MIN_RTO = 0.2
#: RFC 6298 (2.5): "a maximum value MAY be placed on RTO provided it is at least 60 seconds".
DEFAULT_MAX_RTO = 60.0
#: RFC 6298 (2.2): clock granularity G; we keep time as floats so it is effectively fine-grained.
CLOCK_GRANULARITY = 0.001
ALPHA = 1 / 8
BETA = 1 / 4
K = 4


class RttEstimator:
    """SRTT, RTTVAR and the current RTO (with its backoff) of one connection."""

    __slots__ = ("srtt", "rttvar", "rto", "min_rto", "max_rto", "backoffs", "samples")

    def __init__(
        self,
        *,
        initial_rto: float = INITIAL_RTO,
        min_rto: float = DEFAULT_MIN_RTO,
        max_rto: float = DEFAULT_MAX_RTO,
    ):
        if not 0 < min_rto <= max_rto:
            raise ValueError(f"min_rto must be > 0 and <= max_rto, got min_rto={min_rto}, max_rto={max_rto}")
        if initial_rto <= 0:
            raise ValueError(f"initial_rto must be > 0, got {initial_rto}")
        self.srtt: float | None = None
        self.rttvar: float | None = None
        self.min_rto = min_rto
        self.max_rto = max_rto
        self.rto = min(max(initial_rto, min_rto), max_rto)
        self.backoffs = 0
        self.samples = 0

    def sample(self, rtt: float) -> None:
        """Feed one measured round-trip time (seconds) from a segment that was not retransmitted."""
        if rtt < 0:
            return  # a clock that went backwards gives no information
        if self.srtt is None:
            self.srtt = rtt  # (2.2)
            self.rttvar = rtt / 2
        else:
            self.rttvar = (1 - BETA) * self.rttvar + BETA * abs(self.srtt - rtt)  # (2.3)
            self.srtt = (1 - ALPHA) * self.srtt + ALPHA * rtt
        self.samples += 1
        self.backoffs = 0
        self._recompute()

    def _recompute(self) -> None:
        rto = self.srtt + max(CLOCK_GRANULARITY, K * self.rttvar)
        self.rto = min(max(rto, self.min_rto), self.max_rto)  # (2.4), (2.5)

    def back_off(self) -> None:
        """RFC 6298 (5.5): the timer expired; double the RTO up to the maximum."""
        self.backoffs += 1
        self.rto = min(self.rto * 2, self.max_rto)

    def reset_backoff(self) -> None:
        """An ACK for new data arrived (RFC 6298 (5.7) allows recomputing from SRTT after backoff)."""
        if self.backoffs and self.srtt is not None:
            self.backoffs = 0
            self._recompute()
