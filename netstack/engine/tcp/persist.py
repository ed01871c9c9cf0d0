"""The persist timer: probing a zero window apart from retransmission (RFC 9293 §3.8.6.1, RFC 1122
§4.2.2.17).

Read first: RFC 9293 §3.8.6.1 ("the sending TCP must regularly transmit at least one octet of new
data (if available) ... even if the send window is zero"; "zero-window probing ... SHOULD increase
exponentially the interval between successive probes") and RFC 1122 §4.2.2.17 ("A TCP MAY keep its
offered receive window closed indefinitely. As long as the receiving TCP continues to send
acknowledgments in response to the probe segments, the sending TCP MUST allow the connection to
stay open").

So, unlike the retransmission timer: a probe never touches the congestion window, the count that
gives up is of probes *nobody answered* (any ACK resets it, as Linux's ``icsk_probes_out``), and the
ACK of a probe that reopens the window stops the timer and lets the sender go at once. The interval
starts at the RTO and doubles per probe up to ``max_interval``. Time is an argument.
"""

from __future__ import annotations


class PersistTimer:
    """Deadline, backoff and unanswered-probe count of zero-window probing."""

    __slots__ = ("max_interval", "deadline", "backoff", "unanswered", "probes")

    def __init__(self, max_interval: float):
        if max_interval <= 0:
            raise ValueError(f"max_interval must be > 0, not {max_interval}")
        self.max_interval = max_interval
        self.deadline: float | None = None
        self.backoff = 0
        self.unanswered = 0
        self.probes = 0

    @property
    def armed(self) -> bool:
        return self.deadline is not None

    def interval(self, rto: float) -> float:
        return min(rto * (1 << min(self.backoff, 30)), self.max_interval)

    def arm(self, now: float, rto: float) -> None:
        """Start the timer if it is not running (the window is zero and nothing is in flight)."""
        if self.deadline is None:
            self.deadline = now + self.interval(rto)

    def probe_sent(self, now: float, rto: float) -> None:
        """The timer fired and a probe went: back off and wait for the next one."""
        self.probes += 1
        self.unanswered += 1
        self.backoff += 1
        self.deadline = now + self.interval(rto)

    def answered(self) -> None:
        """An ACK came while probing: the peer is alive, so nothing counts towards giving up."""
        self.unanswered = 0

    def stop(self) -> None:
        """The window opened (or the connection left the states that send): back to the start."""
        self.deadline = None
        self.backoff = 0
        self.unanswered = 0

    def exhausted(self, limit: int) -> bool:
        """More than ``limit`` probes in a row went unanswered: the peer is gone (ETIMEDOUT)."""
        return self.unanswered > limit
