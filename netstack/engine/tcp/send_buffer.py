"""The send buffer: bytes the application wrote that the peer has not acknowledged yet (RFC 9293 §3.3.1).

The first byte of the buffer is always the byte at SND.UNA; SND.NXT is an offset into it. Segmentation
(the connection's job) peeks slices at an offset; an acknowledgment consumes bytes from the front.
Bounded by ``capacity`` (the SO_SNDBUF analogue): ``write`` accepts only what fits and says how much.

A ``bytearray`` deleted from the front is amortised O(1) in CPython (it moves its start pointer), so
neither ``write`` nor ``consume`` copies the whole buffer; ``peek`` copies only the slice it returns.
"""

from __future__ import annotations

#: Default capacity when used on its own (TcpConfig.send_buffer sets it for connections).
DEFAULT_SEND_BUFFER = 256 * 1024


class SendBuffer:
    """Unacknowledged plus unsent bytes, in stream order, bounded by ``capacity``."""

    __slots__ = ("_data", "capacity")

    def __init__(self, capacity: int = DEFAULT_SEND_BUFFER):
        if capacity < 1:
            raise ValueError(f"send buffer capacity must be >= 1, got {capacity}")
        self._data = bytearray()
        self.capacity = capacity

    def __len__(self) -> int:
        return len(self._data)

    @property
    def free(self) -> int:
        """Bytes ``write`` would accept now."""
        return max(0, self.capacity - len(self._data))

    def write(self, data) -> int:
        """Append as much of ``data`` as fits; returns the number of bytes taken."""
        room = self.capacity - len(self._data)
        if room <= 0:
            return 0
        n = len(data)
        if n <= room:
            self._data += data
            return n
        self._data += memoryview(data)[:room]
        return room

    def peek(self, offset: int, length: int) -> bytes:
        """``length`` bytes (or fewer at the end) starting ``offset`` bytes after SND.UNA."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be >= 0")
        return bytes(self._data[offset : offset + length])

    def consume(self, n: int) -> None:
        """Drop ``n`` acknowledged bytes from the front."""
        if n < 0 or n > len(self._data):
            raise ValueError(f"cannot consume {n} of {len(self._data)} bytes")
        del self._data[:n]
