"""Ephemeral port selection, RFC 6056 §3.3.4 ("Algorithm 4: Double-Hash Port Selection").

An off-path attacker who can guess our next local port can aim blind resets and injected data at the
connection (RFC 6056 §1). Each destination (local address, remote address, remote port) gets its own
starting point ``F(dest, key)`` in the range, and a counter from a small table indexed by a second hash
``G(dest, key2)`` moves it forward on every choice, so:

- a destination sees sequential ports (TIME-WAIT collisions with our own last connection to it are
  rare, the property of §3.3.3), while
- another destination's ports say nothing about it (the offsets are keyed).

The range defaults to Linux's ``ip_local_port_range`` 32768-60999 (``TcpConfig.ephemeral_ports``).
"""

from __future__ import annotations

import hashlib

#: RFC 6056 §3.3.4: the table of counters; a power of two, larger means fewer destinations share one.
TABLE_LENGTH = 4096


class EphemeralPorts:
    """``choose(local_ip, remote_ip, remote_port, free)``: the first port ``free(port)`` accepts."""

    __slots__ = ("_key", "first", "last", "_table")

    def __init__(self, key: bytes, port_range: tuple[int, int] = (32768, 60999)):
        first, last = port_range
        if not 1 <= first <= last <= 65535:
            raise ValueError(f"ephemeral port range must be within 1..65535, got {port_range!r}")
        self._key = bytes(key)
        self.first, self.last = first, last
        self._table = [0] * TABLE_LENGTH

    def _hash(self, salt: bytes, local_ip: bytes, remote_ip: bytes, remote_port: int) -> int:
        material = salt + bytes(local_ip) + bytes(remote_ip) + remote_port.to_bytes(2, "big")
        return int.from_bytes(hashlib.blake2b(material, key=self._key, digest_size=4).digest(), "big")

    def choose(self, local_ip: bytes, remote_ip: bytes, remote_port: int, free) -> int | None:
        """The port for a connection to ``remote_ip:remote_port``, or None when ``free`` refuses all."""
        count = self.last - self.first + 1
        offset = self._hash(b"F", local_ip, remote_ip, remote_port)
        index = self._hash(b"G", local_ip, remote_ip, remote_port) % TABLE_LENGTH
        table = self._table
        next_ephemeral = table[index]
        for _ in range(count):
            port = self.first + (offset + next_ephemeral) % count
            next_ephemeral += 1
            if free(port):
                table[index] = next_ephemeral & 0xFFFFFFFF
                return port
        return None
