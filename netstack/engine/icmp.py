"""ICMP for IPv4 (RFC 792, RFC 1122 §3.2.2), path-MTU cache (RFC 1191), and a pinger.

Received:
- echo request (type 8) -> echo reply with the same identifier, sequence and data, of any size: a
  fragmented request is reassembled first and the reply is fragmented to the path MTU (RFC 1122
  §3.2.2.6). Requests to a broadcast address are ignored (§3.2.2.6 allows it; it stops smurf
  amplification).
- echo reply (type 0) -> the listener registered in ``echo_listeners`` for its identifier: an object
  with ``on_echo_reply(src, sequence, data, now, ttl)`` and ``on_echo_error(errno, dst, sequence, now)``
  (``Pinger`` below).
- destination unreachable (3), time exceeded (11), parameter problem (12): the quoted datagram
  (IP header + at least 8 bytes, RFC 792) is matched to the transport of its protocol and delivered
  as an errno (the table ``ERRNO_OF``, from Linux ``icmp_err_convert``). Fragmentation needed (3/4)
  first lowers the path MTU towards the quoted destination to the reported next-hop MTU (RFC 1191
  §6.1; a zero next-hop MTU from an old router uses the plateau table of RFC 1191 §7). Source quench
  (4) is ignored (RFC 6633). Errors that quote a datagram we did not send are dropped.

Sent errors follow RFC 1122 §3.2.2: never about an ICMP error, a datagram to a broadcast or
multicast address, a non-initial fragment, or a datagram whose source is not a unicast host; they
quote as much of the datagram as fits in 576 bytes (RFC 1812 §4.3.2.3) and are rate limited by a
token bucket (``icmp_error_rate`` per second, depth ``icmp_error_burst``; RFC 1812 §4.3.2.8).
"""

from __future__ import annotations

import errno

from netstack.engine.config import ip_to_text
from netstack.errors import FormatError
from netstack.formats.fast import IPV4_LAYOUT, IP_PROTOCOL_ICMP, decode_icmp, decode_ipv4, encode_icmp
from netstack.formats.icmp import (
    COMMUNICATION_ADMINISTRATIVELY_PROHIBITED,
    DESTINATION_UNREACHABLE,
    ECHO_REPLY,
    ECHO_REQUEST,
    ERROR_TYPES,
    FRAGMENTATION_NEEDED,
    HOST_UNREACHABLE,
    NET_UNREACHABLE,
    PARAMETER_PROBLEM,
    PORT_UNREACHABLE,
    PROTOCOL_UNREACHABLE,
    REDIRECT,
    SOURCE_QUENCH,
    SOURCE_ROUTE_FAILED,
    TIME_EXCEEDED,
)

# The errors acted on: every error type but redirect (a host keeps its routes, RFC 1122 §3.2.2.2 allows it).
REPORTED_ERROR_TYPES = ERROR_TYPES - {REDIRECT}
_TTL = IPV4_LAYOUT.offsets["ttl"]
# RFC 1624 eqn. 3 for an echo reply made from its request: only the type byte changes, so
# ~m + m' with m = request type << 8 | code, m' = reply type << 8 | code (0xF7FF).
_ECHO_CHECKSUM_PATCH = (~(ECHO_REQUEST << 8) & 0xFFFF) + (ECHO_REPLY << 8)
QUOTE_LIMIT = 576 - 20 - 8  # RFC 1812 §4.3.2.3: the error datagram fits in 576 bytes

# (type, code) -> errno, as Linux icmp_err_convert (net/ipv4/icmp.c) maps them.
# Codes 6-12, 14, 15 (RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1) are not named in netstack.formats.icmp.
ERRNO_OF = {(DESTINATION_UNREACHABLE, code): error for code, error in {
    NET_UNREACHABLE: errno.ENETUNREACH, HOST_UNREACHABLE: errno.EHOSTUNREACH,
    PROTOCOL_UNREACHABLE: errno.ENOPROTOOPT, PORT_UNREACHABLE: errno.ECONNREFUSED,
    FRAGMENTATION_NEEDED: errno.EMSGSIZE, SOURCE_ROUTE_FAILED: errno.EOPNOTSUPP,
    6: errno.ENETUNREACH, 7: errno.EHOSTDOWN, 8: errno.ENONET, 9: errno.ENETUNREACH, 10: errno.EHOSTUNREACH,
    11: errno.ENETUNREACH, 12: errno.EHOSTUNREACH, COMMUNICATION_ADMINISTRATIVELY_PROHIBITED: errno.EHOSTUNREACH,
    14: errno.EHOSTUNREACH, 15: errno.EHOSTUNREACH,
}.items()}
# RFC 1191 §7: MTU plateaus, for a fragmentation-needed message without a next-hop MTU.
MTU_PLATEAUS = (65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68)
MINIMUM_MTU = 68  # RFC 791: every host must accept 68-byte datagrams unfragmented


class IcmpLayer:
    """ICMP of one stack (see the module docstring)."""

    def __init__(self, stack):
        self.stack = stack
        self.config = stack.config
        self.echo_listeners: dict[int, object] = {}  # identifier -> listener (see the module docstring)
        self.path_mtus: dict[bytes, tuple[int, float]] = {}  # dst -> (mtu, expires)
        self._tokens = float(self.config.icmp_error_burst)
        self._tokens_at: float | None = None

    # ----------------------------------------------------------------- path MTU (RFC 1191)
    def path_mtu(self, dst: bytes, now: float) -> int:
        entry = self.path_mtus.get(dst)
        if entry is None:
            return self.config.mtu
        mtu, expires = entry
        if now >= expires:
            # RFC 1191 §6.3: after ~10 minutes, try the link MTU again.
            del self.path_mtus[dst]
            return self.config.mtu
        return mtu

    def _lower_path_mtu(self, dst: bytes, next_hop_mtu: int, quoted_total_length: int, now: float) -> None:
        if next_hop_mtu == 0:
            # RFC 1191 §5: an old router; guess the next plateau below the datagram's size.
            next_hop_mtu = next((p for p in MTU_PLATEAUS if p < quoted_total_length), MINIMUM_MTU)
        mtu = max(MINIMUM_MTU, min(next_hop_mtu, self.path_mtu(dst, now)))
        if mtu >= self.config.mtu:
            return  # RFC 1191 §6.1: never raise the estimate from a fragmentation-needed message
        path_mtus = self.path_mtus
        path_mtus.pop(dst, None)
        if len(path_mtus) >= self.config.pmtu_cache_limit:
            # Bounded: forged fragmentation-needed messages for many destinations cannot grow it.
            del path_mtus[next(iter(path_mtus))]
            self.stack.counters.incr("icmp.pmtu_evicted")
        path_mtus[dst] = (mtu, now + self.config.pmtu_timeout)
        self.stack.counters.incr("icmp.pmtu_lowered")
        self.stack.trace.event("icmp.pmtu", dst=ip_to_text(dst), mtu=mtu)

    # ----------------------------------------------------------------- receive
    def receive(self, header: bytes, buf: bytes, start: int, end: int, src: bytes, dst: bytes, broadcast: bool,
                now: float) -> None:
        """One ICMP message, ``buf[start:end]``, from the datagram whose IP header is ``header``."""
        stack = self.stack
        counters = stack.counters
        try:
            message = decode_icmp(buf, start, end)
        except FormatError:
            counters.incr("icmp.drop.truncated")
            return
        if not message.checksum_ok:
            counters.incr("icmp.drop.bad_checksum")
            return
        icmp_type = message.type
        if icmp_type == ECHO_REQUEST:
            if broadcast:
                counters.incr("icmp.drop.broadcast_echo")
                return
            counters.incr("icmp.echo_request_received")
            # Same code, identifier, sequence and data (RFC 792). Only the type changes, so the
            # checksum is patched, not recomputed (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
            total = (~message.checksum & 0xFFFF) + _ECHO_CHECKSUM_PATCH
            total = (total & 0xFFFF) + (total >> 16)
            reply = encode_icmp(ECHO_REPLY, message.code, buf[message.payload_offset:end], ~total & 0xFFFF,
                                identifier=message.identifier, sequence=message.sequence)
            try:
                stack.ipv4.send(src, IP_PROTOCOL_ICMP, reply, df=False)
            except OSError:
                counters.incr("icmp.drop.reply_unroutable")
                return
            counters.incr("icmp.echo_replied")
            return
        if icmp_type == ECHO_REPLY:
            counters.incr("icmp.echo_reply_received")
            listener = self.echo_listeners.get(message.identifier)
            if listener is None:
                counters.incr("icmp.drop.unexpected_echo_reply")
                return
            listener.on_echo_reply(src, message.sequence, bytes(buf[message.payload_offset:end]), now, header[_TTL])
            return
        if icmp_type in REPORTED_ERROR_TYPES:
            self._receive_error(message, buf, end, src, now)
            return
        counters.incr("icmp.drop.unhandled_type")

    def _receive_error(self, message, buf: bytes, end: int, src: bytes, now: float) -> None:
        stack = self.stack
        counters = stack.counters
        icmp_type = message.type
        code = message.code
        try:
            # RFC 792: the quote is the original IP header plus at least 64 bits of its data, so its
            # total_length is not checked against the quote (the end passed is the largest possible).
            quoted = decode_ipv4(buf, message.payload_offset, message.payload_offset + 65535)
        except FormatError:
            counters.incr("icmp.drop.bad_quote")
            return
        if quoted.payload_offset + 8 > end:
            counters.incr("icmp.drop.bad_quote")
            return
        quoted_src = quoted.src
        quoted_dst = quoted.dst
        if quoted_src != stack.address:
            counters.incr("icmp.drop.not_our_datagram")  # a forged or misdirected error
            return
        if icmp_type == SOURCE_QUENCH:
            counters.incr("icmp.source_quench_ignored")  # RFC 6633: deprecated, ignore
            return
        if icmp_type == DESTINATION_UNREACHABLE:
            error = ERRNO_OF.get((icmp_type, code), errno.EHOSTUNREACH)
            if code == FRAGMENTATION_NEEDED:
                self._lower_path_mtu(quoted_dst, message.next_hop_mtu or 0, quoted.total_length, now)
        elif icmp_type == TIME_EXCEEDED:
            error = errno.EHOSTUNREACH
        else:
            error = errno.EPROTO
        counters.incr(f"icmp.error_received.{icmp_type}.{code}")
        stack.trace.event("icmp.error_received", type=icmp_type, code=code, errno=errno.errorcode.get(error),
                          src=ip_to_text(src), dst=ip_to_text(quoted_dst))
        transport_header = bytes(buf[quoted.payload_offset:end])
        if quoted.protocol == IP_PROTOCOL_ICMP:
            self.local_error(error, quoted_dst, transport_header, now)
            return
        transport = stack.transport(quoted.protocol)
        if transport is None:
            counters.incr("icmp.drop.no_transport")
            return
        transport.icmp_error(error, quoted_src, quoted_dst, transport_header, now)

    def local_error(self, error: int, dst: bytes, quoted_icmp: bytes, now: float) -> None:
        """An error about an ICMP message we sent: give it to the pinger that sent it."""
        try:
            message = decode_icmp(quoted_icmp)
        except FormatError:
            return
        if message.type == ECHO_REQUEST:
            listener = self.echo_listeners.get(message.identifier)
            if listener is not None:
                listener.on_echo_error(error, dst, message.sequence, now)

    # ----------------------------------------------------------------- send
    def send_echo_request(self, dst: bytes, identifier: int, sequence: int, data: bytes, *, df: bool = False) -> None:
        message = encode_icmp(ECHO_REQUEST, 0, data, identifier=identifier, sequence=sequence)
        self.stack.ipv4.send(dst, IP_PROTOCOL_ICMP, message, df=df)
        self.stack.counters.incr("icmp.echo_request_sent")

    def send_error(self, icmp_type: int, code: int, original: bytes, now: float, *, next_hop_mtu: int = 0) -> bool:
        """Send an ICMP error about ``original`` (IP header first); False when a rule forbids it."""
        stack = self.stack
        counters = stack.counters
        try:
            datagram = decode_ipv4(original)
        except FormatError:
            return False
        src = datagram.src
        dst = datagram.dst
        # RFC 1122 §3.2.2: never about an ICMP error (or redirect), a non-initial fragment, a
        # broadcast/multicast destination or a source that is not a unicast host.
        if datagram.protocol == IP_PROTOCOL_ICMP:
            start = datagram.payload_offset
            if start < len(original) and original[start] in ERROR_TYPES:
                counters.incr("icmp.error_suppressed.about_icmp_error")
                return False
        if datagram.fragment_offset:
            counters.incr("icmp.error_suppressed.non_initial_fragment")
            return False
        broadcast = stack.ipv4.broadcast
        if dst[0] >= 224 or dst == broadcast or src[0] >= 224 or src[0] == 127 or src == broadcast \
                or src == b"\x00\x00\x00\x00":
            counters.incr("icmp.error_suppressed.not_unicast")
            return False
        if not self._take_token(now):
            counters.incr("icmp.error_rate_limited")
            stack.trace.event("icmp.rate_limited", type=icmp_type, code=code, to=ip_to_text(src))
            return False
        fields = {"next_hop_mtu": next_hop_mtu} if icmp_type == DESTINATION_UNREACHABLE and code == FRAGMENTATION_NEEDED else {}
        message = encode_icmp(icmp_type, code, bytes(original[:QUOTE_LIMIT]), **fields)
        try:
            stack.ipv4.send(src, IP_PROTOCOL_ICMP, message, df=False)
        except OSError:
            counters.incr("icmp.drop.error_unroutable")
            return False
        counters.incr(f"icmp.error_sent.{icmp_type}.{code}")
        stack.trace.event("icmp.error_sent", type=icmp_type, code=code, to=ip_to_text(src))
        return True

    def _take_token(self, now: float) -> bool:
        config = self.config
        if self._tokens_at is not None and now > self._tokens_at:
            self._tokens = min(float(config.icmp_error_burst),
                               self._tokens + (now - self._tokens_at) * config.icmp_error_rate)
        self._tokens_at = now if self._tokens_at is None or now > self._tokens_at else self._tokens_at
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Pinger:
    """Sends echo requests and records replies: the engine of ``netstack ping`` and the tests.

    ``pinger = Pinger(stack, dst, identifier=0x1234, size=56)``; ``pinger.send(now)`` sends the next
    sequence number; ``pinger.replies`` maps sequence -> (rtt seconds, reply data, src, ttl);
    ``pinger.errors`` lists (sequence, errno). Data is the ping(8) pattern: bytes 0x00.. cycling.
    """

    def __init__(self, stack, dst: bytes, *, identifier: int, size: int = 56):
        if not 0 <= size <= 65507:
            raise ValueError(f"size: {size} is outside 0..65507 (65535 minus IP and ICMP headers)")
        self.stack = stack
        self.dst = dst
        self.identifier = identifier & 0xFFFF
        self.data = bytes(i & 0xFF for i in range(size))
        self.sent: dict[int, float] = {}
        self.replies: dict[int, tuple[float, bytes, bytes]] = {}
        self.errors: list[tuple[int, int]] = []
        self.duplicates = 0
        self.mismatched = 0
        self.next_sequence = 1
        stack.icmp.echo_listeners[self.identifier] = self

    def send(self, now: float) -> int:
        sequence = self.next_sequence
        self.next_sequence = (sequence + 1) & 0xFFFF
        self.sent[sequence] = now
        self.stack.ping(self.dst, now, identifier=self.identifier, sequence=sequence, payload=self.data)
        return sequence

    def on_echo_reply(self, src: bytes, sequence: int, data: bytes, now: float, ttl: int = 0) -> None:
        if sequence not in self.sent:
            self.mismatched += 1
            return
        if sequence in self.replies:
            self.duplicates += 1
            return
        if data != self.data:
            self.mismatched += 1
        self.replies[sequence] = (now - self.sent[sequence], bytes(data), src, ttl)

    def on_echo_error(self, error: int, dst: bytes, sequence: int, now: float) -> None:
        self.errors.append((sequence, error))

    def close(self) -> None:
        if self.stack.icmp.echo_listeners.get(self.identifier) is self:
            del self.stack.icmp.echo_listeners[self.identifier]
