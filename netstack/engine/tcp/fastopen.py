"""TCP Fast Open, server side (RFC 7413): data in a SYN is delivered at once when the SYN carries a
valid cookie.

- **Cookie** (§4.1.2): ``MAC(key, client IP)`` truncated to 8 bytes, BLAKE2b keyed with
  ``stack.secrets.key("tcp.fastopen")``. A client asks for one with an empty option (kind 34, length
  2) in its SYN; the SYN-ACK carries it. It proves the client receives packets at its address, so a
  spoofed SYN cannot make us deliver data (the amplification §5.1 warns of).
- **Data in the SYN** (§4.2.2): with a valid cookie, and while fewer than ``TcpConfig.fastopen_backlog``
  half-open children hold SYN data (§5.1 "limit the number of pending TFO connections"; Linux's
  ``TCP_FASTOPEN`` queue length, 0 = Fast Open off), the payload goes to the receive buffer and the
  SYN-ACK acknowledges it. Otherwise the data is ignored and the SYN-ACK acknowledges only the SYN: the
  client retransmits the data after the handshake (§4.2.2 fallback), and a new cookie rides on the
  SYN-ACK when the one it sent was invalid.
- Delivered once: a retransmitted SYN (with its data) reaches the existing child, which answers it
  with the SYN-ACK again (RFC 9293 §3.10.7.4: it lies before RCV.NXT) and delivers nothing.

Deviation: Linux lets ``accept()`` return a Fast Open child before the handshake completes; here the
child joins the accept queue when the client's ACK arrives (one round trip later), with the SYN's data
already in its receive buffer. Counters ``tcp.fastopen.cookie_sent``, ``tcp.fastopen.accepted``,
``tcp.fastopen.cookie_invalid``, ``tcp.fastopen.overflow``.
"""

from __future__ import annotations

import hashlib
import hmac

#: RFC 7413 §4.1.1: cookies are 4 to 16 bytes; ours are 8 (Linux's length).
COOKIE_LENGTH = 8


class FastOpenCookies:
    """``cookie(client_ip)`` and ``valid(client_ip, cookie)`` under one key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        self._key = bytes(key)

    def cookie(self, client_ip: bytes) -> bytes:
        return hashlib.blake2b(bytes(client_ip), key=self._key, digest_size=COOKIE_LENGTH).digest()

    def valid(self, client_ip: bytes, cookie: bytes) -> bool:
        return len(cookie) == COOKIE_LENGTH and hmac.compare_digest(self.cookie(client_ip), bytes(cookie))
