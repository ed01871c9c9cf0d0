"""SYN cookies (RFC 4987 §3.6), after Linux's scheme (net/ipv4/syncookies.c).

When a listener's SYN backlog is full (or always, by configuration) the SYN is answered without keeping
any state: the SYN-ACK's sequence number (our ISN) *is* the state. A spoofed SYN flood then costs us
nothing but the SYN-ACK, and a real client's ACK (SEG.ACK = cookie + 1) carries enough to rebuild the
connection.

Cookie layout (Linux's ``secure_tcp_syn_cookie``)::

    cookie = H1(4-tuple) + client ISN + (count << 24) + ((H2(4-tuple, count) + mss_index) mod 2^24)

- ``count`` is a clock ticking every 64 s (``COOKIE_PERIOD``); a cookie from the current or the previous
  tick is valid (``MAX_COOKIE_AGE``), so a client has 64 to 128 s to answer.
- ``mss_index`` picks the MSS from ``MSS_TABLE`` (the largest entry not above the client's MSS).
- H1 and H2 are keyed BLAKE2b hashes with a key from ``stack.secrets.key("tcp.syn_cookie")``: an
  off-path attacker cannot forge a cookie for an address it does not receive packets at.

Window scale, SACK-permitted and ECN do not fit in the 32 bits; when the client sent timestamps they go
in the low 6 bits of our TSval (Linux's ``cookie_init_timestamp``: 4 bits of window shift, 0xF for
none, one bit SACK, one bit ECN), which the client echoes in TSecr. Without timestamps a cookie
connection has no window scaling, no SACK and no ECN (as in Linux); with them, the ECN bit makes the
rebuilt connection an ECN one (RFC 3168) when the SYN asked and the listener agreed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from netstack.engine.tcp.seqnum import SEQ_MASK

#: RFC 4987 §3.6 / Linux: the counter in the cookie's top byte ticks every 64 seconds.
COOKIE_PERIOD = 64.0
#: A cookie from this many ticks ago is still accepted (current and previous: Linux MAX_SYNCOOKIE_AGE 2).
MAX_COOKIE_AGE = 1
#: Linux's msstab for IPv4: the MSS values a cookie can encode (two bits).
MSS_TABLE = (536, 1300, 1440, 1460)
#: Low TSval bits that carry options (Linux TSBITS).
TS_OPTION_BITS = 6
_TS_OPTION_MASK = (1 << TS_OPTION_BITS) - 1
_NO_WINDOW_SCALE = 0xF
_SACK_BIT = 1 << 4
_ECN_BIT = 1 << 5
_LOW24 = (1 << 24) - 1
#: The three modes of ``TcpConfig.syn_cookies`` (Linux tcp_syncookies 0, 1, 2).
SYN_COOKIE_MODES = ("off", "when_full", "always")


@dataclass(frozen=True)
class CookieOptions:
    """What a valid cookie gives back: the options of the client's SYN that we kept."""

    mss: int
    wscale: int | None
    sack_permitted: bool
    ecn: bool


def mss_index_for(mss: int | None) -> int:
    """The largest ``MSS_TABLE`` entry not above the client's MSS (536 when it sent none)."""
    mss = mss or MSS_TABLE[0]
    index = 0
    for i, value in enumerate(MSS_TABLE):
        if value <= mss:
            index = i
    return index


def encode_timestamp_options(tsval: int, wscale: int | None, sack_permitted: bool, ecn: bool) -> int:
    """Our TSval with the options in its low bits, never later than ``tsval`` (cookie_init_timestamp):
    a TSval from the future would make the client's later segments fail our PAWS check."""
    options = (_NO_WINDOW_SCALE if wscale is None else min(wscale, 14)) | (_SACK_BIT if sack_permitted else 0)
    options |= _ECN_BIT if ecn else 0
    value = (tsval & ~_TS_OPTION_MASK & SEQ_MASK) | options
    if ((value - tsval) & SEQ_MASK) and ((value - tsval) & SEQ_MASK) < (1 << 31):
        value = (value - (1 << TS_OPTION_BITS)) & SEQ_MASK
    return value


def decode_timestamp_options(tsecr: int) -> tuple[int | None, bool, bool]:
    """(window scale or None, SACK-permitted, ECN) from the TSecr of the client's ACK."""
    wscale = tsecr & 0xF
    return (None if wscale == _NO_WINDOW_SCALE else wscale), bool(tsecr & _SACK_BIT), bool(tsecr & _ECN_BIT)


class SynCookies:
    """Make and check cookies with one secret (see the module docstring for the layout)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        if not isinstance(key, (bytes, bytearray)) or not 1 <= len(key) <= 64:
            raise ValueError("SYN cookie key must be 1..64 bytes")
        self._key = bytes(key)

    def _hash(self, four_tuple: tuple, count: int) -> int:
        local_ip, local_port, remote_ip, remote_port = four_tuple
        material = (bytes(local_ip) + local_port.to_bytes(2, "big") + bytes(remote_ip)
                    + remote_port.to_bytes(2, "big") + count.to_bytes(4, "big"))
        return int.from_bytes(hashlib.blake2b(material, key=self._key, digest_size=4).digest(), "big")

    @staticmethod
    def counter(now: float) -> int:
        return int(now // COOKIE_PERIOD) & 0xFFFFFFFF

    def make(self, four_tuple: tuple, client_isn: int, mss_index: int, now: float) -> int:
        """Our ISN for a stateless SYN-ACK to the SYN with ``client_isn`` on ``four_tuple``
        (local ip, local port, remote ip, remote port)."""
        if not 0 <= mss_index < len(MSS_TABLE):
            raise ValueError(f"mss_index must be 0..{len(MSS_TABLE) - 1}")
        count = self.counter(now)
        h1 = self._hash(four_tuple, 0xFFFFFFFF)  # H1 has no counter: a fixed salt keeps it apart from H2
        h2 = self._hash(four_tuple, count)
        return (h1 + client_isn + ((count & 0xFF) << 24) + ((h2 + mss_index) & _LOW24)) & SEQ_MASK

    def check(self, four_tuple: tuple, client_isn: int, cookie: int, now: float) -> int | None:
        """The MSS index a valid cookie carries, or None (forged, or older than two periods)."""
        count = self.counter(now)
        value = (cookie - self._hash(four_tuple, 0xFFFFFFFF) - client_isn) & SEQ_MASK
        age = (count - (value >> 24)) & 0xFF
        if age > MAX_COOKIE_AGE:
            return None
        mss_index = (value - self._hash(four_tuple, (count - age) & 0xFFFFFFFF)) & _LOW24
        return mss_index if mss_index < len(MSS_TABLE) else None

    def client_isns(self, four_tuple: tuple, cookie: int, now: float) -> list[int]:
        """Every client ISN for which ``cookie`` would pass ``check`` now (one per counter still valid
        and MSS index): the cookie fixes ISN + hash, so it can be solved for the ISN. Used only to
        recognise a later segment of a cookie connection whose first segments were lost, never to
        accept one (a window of SEG.SEQ values would make a forged ACK 2^16 times easier)."""
        count = self.counter(now)
        base = (cookie - self._hash(four_tuple, 0xFFFFFFFF)) & SEQ_MASK
        isns = []
        for age in range(MAX_COOKIE_AGE + 1):
            tick = (count - age) & 0xFFFFFFFF
            h2 = self._hash(four_tuple, tick)
            for mss_index in range(len(MSS_TABLE)):
                isns.append((base - ((tick & 0xFF) << 24) - ((h2 + mss_index) & _LOW24)) & SEQ_MASK)
        return isns
