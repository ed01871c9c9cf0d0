"""Receive-buffer autotuning: grow the advertised window with what the application actually reads
per round trip, as Linux's ``tcp_rcv_space_adjust`` (net/ipv4/tcp_input.c) does.

Why: a fixed receive buffer caps a transfer at buffer / RTT (256 KiB over a 20 ms round trip is
13 MB/s, whatever the link), and a loss makes it worse, since data held above a hole fills the
buffer too. Linux measures, once per receiver RTT, how many bytes the application consumed; when
that grew, it sizes the buffer to twice that (one window in flight and one being read, RFC 7323 §1's
bandwidth-delay product with room for the recovery of a loss) up to ``tcp_rmem[2]``.

``ReceiveAutotuning(initial, maximum, mss)``; per read ``on_read(copied_total, now, rtt)`` returns
the new buffer capacity when it should grow (None otherwise). It never shrinks the buffer (the
window's right edge never moves left, RFC 9293 §3.8.6.2.2). An application that sets SO_RCVBUF
switches it off (Linux: ``SOCK_RCVBUF_LOCK``); the connection simply stops calling it.
"""

from __future__ import annotations

#: Linux adds 16 * advmss to the two windows for reordering and the ACK clock.
EXTRA_SEGMENTS = 16


class ReceiveAutotuning:
    """The ``rcvq_space`` of one receiver: bytes consumed per RTT and the buffer they call for."""

    __slots__ = ("capacity", "maximum", "mss", "space", "_start_time", "_start_copied", "grown")

    def __init__(self, initial: int, maximum: int, mss: int):
        if initial <= 0 or mss <= 0:
            raise ValueError("initial buffer and mss must be positive")
        self.capacity = initial
        self.maximum = max(maximum, initial)
        self.mss = mss
        self.space = min(initial, 10 * mss)  # Linux starts from the initial window's worth
        self._start_time: float | None = None
        self._start_copied = 0
        self.grown = 0

    def on_read(self, copied_total: int, now: float, rtt: float | None) -> int | None:
        """The application has now consumed ``copied_total`` bytes in all; a larger capacity or None."""
        if self._start_time is None:
            self._start_time, self._start_copied = now, copied_total
            return None
        if rtt is None or rtt <= 0 or now - self._start_time < rtt:
            return None
        copied = copied_total - self._start_copied
        self._start_time, self._start_copied = now, copied_total
        if copied <= self.space:
            return None
        # tcp_rcv_space_adjust: two windows' worth plus reordering room, more when the rate is growing.
        window = 2 * copied + EXTRA_SEGMENTS * self.mss
        growth = window * (copied - self.space) // self.space
        window += 2 * growth
        self.space = copied
        target = min(window, self.maximum)
        if target <= self.capacity:
            return None
        self.capacity = target
        self.grown += 1
        return target
