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

Client side (§4.1.3, §4.2.1; ``TcpLayer.connect(..., fastopen_data=...)``, the sockets' ``MSG_FASTOPEN``
and ``TCP_FASTOPEN_CONNECT``): the first SYN to a server asks for a cookie (an empty option) and the
data follows the handshake; the cookie the SYN-ACK brings is cached per server address (at most
``CLIENT_CACHE_LIMIT``), and the next connection's SYN carries the cookie and up to one MSS of data.
A SYN-ACK that does not acknowledge the data (cookie rejected, server without Fast Open) makes the data
go again after the handshake (``tcp.fastopen.client_fallback``). A retransmitted SYN carries no data.

Deviation: Linux lets ``accept()`` return a Fast Open child before the handshake completes; here the
child joins the accept queue when the client's ACK arrives (one round trip later), with the SYN's data
already in its receive buffer. Counters ``tcp.fastopen.cookie_sent``, ``tcp.fastopen.accepted``,
``tcp.fastopen.cookie_invalid``, ``tcp.fastopen.overflow``.
"""

from __future__ import annotations

import hashlib
import hmac

from netstack.engine.tcp.seqnum import seq_add, seq_offset

#: RFC 7413 §4.1.1: cookies are 4 to 16 bytes; ours are 8 (Linux's length).
COOKIE_LENGTH = 8
#: Servers whose cookie a client remembers (the oldest is forgotten first).
CLIENT_CACHE_LIMIT = 1024
#: Room left in a SYN for its options (MSS, SACK-permitted, timestamps, window scale, TFO 18).
SYN_OPTIONS_ROOM = 40


def client_syn(conn) -> tuple[bytes, bytes]:
    """(cookie option, payload) of a client's first SYN: a request without data, or the cached cookie
    with the first MSS of queued data (RFC 7413 §4.2.1)."""
    cookie = conn.fastopen_cache.get(conn.remote_ip)
    if cookie is None:
        return b"", b""
    room = max(0, conn.rcv.mss - SYN_OPTIONS_ROOM)
    buffer = conn.snd.buffer
    return cookie, buffer.peek(0, min(len(buffer), room))


def client_syn_acked(conn, seg) -> None:
    """SYN-SENT got its SYN-ACK (SND.UNA = SEG.ACK already): learn the cookie, take the acknowledged
    SYN data off the send buffer, and send again what was not acknowledged (§4.2.1 fallback)."""
    cache = conn.fastopen_cache
    if seg.fastopen_cookie:
        cache.pop(conn.remote_ip, None)
        cache[conn.remote_ip] = bytes(seg.fastopen_cookie)
        while len(cache) > CLIENT_CACHE_LIMIT:
            del cache[next(iter(cache))]
    snd = conn.snd
    sent = seq_offset(snd.max, seq_add(snd.iss, 1))
    acked = min(sent, seq_offset(seg.ack, seq_add(snd.iss, 1)))
    if acked:
        snd.buffer.consume(acked)
        snd.buf_seq = seq_add(snd.buf_seq, acked)
        conn.counters.incr("tcp.fastopen.client_data_acked")
    if acked < sent:
        snd.nxt = seg.ack  # the data goes again once ESTABLISHED
        conn.counters.incr("tcp.fastopen.client_fallback")


class FastOpenCookies:
    """``cookie(client_ip)`` and ``valid(client_ip, cookie)`` under one key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        self._key = bytes(key)

    def cookie(self, client_ip: bytes) -> bytes:
        return hashlib.blake2b(bytes(client_ip), key=self._key, digest_size=COOKIE_LENGTH).digest()

    def valid(self, client_ip: bytes, cookie: bytes) -> bool:
        return len(cookie) == COOKIE_LENGTH and hmac.compare_digest(self.cookie(client_ip), bytes(cookie))
