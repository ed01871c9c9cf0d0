"""Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, key).

M is a clock ticking every 4 microseconds (RFC 9293 §3.4.1), so a new incarnation of the same 4-tuple
starts above the old one's numbers (what TIME-WAIT reuse relies on); F is a keyed hash (RFC 6528 §3
suggests MD5; we use BLAKE2b with a 16-byte secret drawn once per generator) so that an off-path attacker
cannot predict another connection's ISN from its own (the attack of RFC 6528 §1).

Time is an argument, never read here: the engine passes its clock (virtual in the simulator).
"""

from __future__ import annotations

import hashlib
import os

from netstack.engine.tcp.seqnum import SEQ_MASK

#: RFC 9293 §3.4.1: the ISN clock's low-order bit increments about every 4 microseconds.
ISN_CLOCK_TICK = 4e-6


class IsnGenerator:
    """Keyed ISN source. ``secret`` defaults to 16 random bytes; pass one for reproducible runs."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes | None = None):
        if secret is None:
            secret = os.urandom(16)
        if not isinstance(secret, (bytes, bytearray)) or not 1 <= len(secret) <= 64:
            raise ValueError("IsnGenerator secret must be 1..64 bytes")
        self._secret = bytes(secret)

    def offset(self, local_ip: bytes, local_port: int, remote_ip: bytes, remote_port: int) -> int:
        """F(): the per-4-tuple offset, constant for a given secret."""
        material = (
            bytes(local_ip) + local_port.to_bytes(2, "big") + bytes(remote_ip) + remote_port.to_bytes(2, "big")
        )
        digest = hashlib.blake2b(material, key=self._secret, digest_size=4).digest()
        return int.from_bytes(digest, "big")

    def isn(self, local_ip: bytes, local_port: int, remote_ip: bytes, remote_port: int, now: float) -> int:
        """The ISN for a new connection on this 4-tuple at time ``now`` (seconds)."""
        clock = int(now / ISN_CLOCK_TICK)
        return (clock + self.offset(local_ip, local_port, remote_ip, remote_port)) & SEQ_MASK
