"""The receive buffer: in-order bytes waiting for the application, and the out-of-order queue.

Positions are absolute stream offsets (``next_offset`` is RCV.NXT as an offset from the first data
byte). The connection trims every segment to the window it advertised before handing it here, so the
buffer never holds more than ``capacity`` in-order bytes plus what the reassembly queue allows.

The advertised window is the free space, ``capacity - len(ready)`` (RFC 9293 §3.8.6.2.2): out-of-order
bytes sit inside that window at their own offsets and do not shrink it again.
"""

from __future__ import annotations

from netstack.engine.tcp.reassembly import DEFAULT_REASSEMBLY_LIMIT, ReassemblyQueue

#: Default capacity (the SO_RCVBUF analogue): 256 KiB, with window scaling one TCB's worth of a LAN BDP.
DEFAULT_RECEIVE_BUFFER = 256 * 1024


class ReceiveBuffer:
    """In-order bytes for the application plus a bounded ``ReassemblyQueue`` for the rest."""

    __slots__ = ("_ready", "capacity", "next_offset", "queue", "out_of_order_bytes_queued")

    def __init__(self, capacity: int = DEFAULT_RECEIVE_BUFFER, reassembly_limit: int | None = None):
        if capacity < 1:
            raise ValueError(f"receive buffer capacity must be >= 1, got {capacity}")
        self._ready = bytearray()
        self.capacity = capacity
        self.next_offset = 0
        limit = min(capacity, DEFAULT_REASSEMBLY_LIMIT) if reassembly_limit is None else reassembly_limit
        self.queue = ReassemblyQueue(limit)
        self.out_of_order_bytes_queued = 0

    def __len__(self) -> int:
        """Bytes ready for the application."""
        return len(self._ready)

    @property
    def free(self) -> int:
        """Room for in-order bytes: what the advertised window may offer."""
        return max(0, self.capacity - len(self._ready))

    def receive(self, offset: int, data) -> int:
        """Take a segment's data at stream ``offset``; returns how far ``next_offset`` advanced."""
        nxt = self.next_offset
        n = len(data)
        if offset == nxt and not self.queue:
            self._ready += data  # the common case: in order, nothing queued
            self.next_offset = nxt + n
            return n
        if offset > nxt:
            self.out_of_order_bytes_queued += self.queue.insert(offset, bytes(data), nxt)
            return 0
        if offset + n <= nxt:
            self.queue.dropped_duplicate += n
            return 0
        if offset < nxt:
            data = data[nxt - offset :]
        self._ready += data
        new_next = nxt + len(data)
        if self.queue:
            more, new_next = self.queue.pop_ready(new_next)
            self._ready += more
        self.next_offset = new_next
        return new_next - nxt

    def read(self, max_bytes: int = -1) -> bytes:
        """Remove and return up to ``max_bytes`` ready bytes (all when negative)."""
        ready = self._ready
        if max_bytes < 0 or max_bytes >= len(ready):
            out = bytes(ready)
            ready.clear()
            return out
        out = bytes(ready[:max_bytes])
        del ready[:max_bytes]
        return out

    def read_into(self, buffer) -> int:
        """Copy ready bytes into a writable buffer; returns the count."""
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._ready))
        view[:n] = self._ready[:n]
        del self._ready[:n]
        return n
