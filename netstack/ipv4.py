"""IPv4 (RFC 791) for a host (RFC 1122 §3.2, §3.3): validate, deliver, route, fragment.

Receive: every check of RFC 1122 §3.2.1 in order, each failure dropped and counted as
``ipv4.drop.<reason>``: ``truncated`` (fewer than 20 bytes, or fewer than ``ihl``/``total_length``
say), ``bad_version`` (§3.2.1.1: not 4), ``bad_ihl`` (below 5 words), ``bad_total_length`` (below the
header length), ``bad_checksum`` (§3.2.1.2), ``ttl_expired`` (TTL 0: nobody may send it, RFC 1122
§3.2.1.7), ``bad_source`` (§3.2.1.3: a broadcast, multicast, loopback or class E source),
``not_for_us`` (a host does not forward, §3.3.1: destination neither ours nor a broadcast).
Bytes after ``total_length`` (Ethernet padding) are ignored. Options are accepted and ignored
(§3.2.1.8 allows a host to ignore unknown options). Fragments go to the ``ReassemblyQueue``;
whole datagrams to ICMP, UDP or a registered transport, else ICMP protocol unreachable.

Send: routing is the connected subnet plus an optional default gateway (RFC 1122 §3.3.1.1); the
datagram is fragmented to ``path_mtu(dst)`` when DF is clear (RFC 791 "Fragmentation"), offsets in
8-byte units, each fragment a copy of the header with MF and the offset set; with DF set a datagram
that does not fit raises EMSGSIZE, the local equivalent of fragmentation-needed (RFC 1191).
"""

from __future__ import annotations

import errno
import struct

from netstack.config import ip_to_text
from netstack.formats.checksum import internet_checksum
from netstack.reassembly import ReassemblyQueue

PROTOCOL_ICMP = 1
PROTOCOL_UDP = 17
HEADER_LENGTH = 20
FLAG_DF = 0x4000
FLAG_MF = 0x2000
OFFSET_MASK = 0x1FFF
LIMITED_BROADCAST = b"\xff\xff\xff\xff"

# Interim: replaced by the codec generated from netstack.formats.ipv4 when it lands.
_HEADER = struct.Struct("!BBHHHBBH4s4s")


class Ipv4Layer:
    """IPv4 input and output of one stack (see the module docstring)."""

    def __init__(self, stack):
        self.stack = stack
        config = stack.config
        self.address = stack.address
        self.netmask_int = int.from_bytes(config.netmask, "big")
        self.network_int = int.from_bytes(self.address, "big") & self.netmask_int
        self.broadcast = config.broadcast
        self.gateway = config.gateway_address
        self.mtu = config.mtu
        self.ttl = config.ttl
        # RFC 6864 §4.1: the identification only has to be unique per (src, dst, protocol) while
        # fragments may live. A counter from 0 keeps simulated runs reproducible.
        self._identification = 0
        self.reassembly = ReassemblyQueue(stack)
        self.current_header = b""  # IP header of the datagram being delivered

    def on_link(self, ip: bytes) -> bool:
        return (int.from_bytes(ip, "big") & self.netmask_int) == self.network_int

    # ----------------------------------------------------------------- receive
    def receive(self, frame: bytes, offset: int, link_broadcast: bool, now: float) -> None:
        stack = self.stack
        counters = stack.counters
        available = len(frame) - offset
        if available < HEADER_LENGTH:
            counters.incr("ipv4.drop.truncated")
            return
        (version_ihl, _tos, total_length, identification, flags_offset, ttl, protocol, _checksum,
         src, dst) = _HEADER.unpack_from(frame, offset)
        if version_ihl >> 4 != 4:
            return self._drop("bad_version", src, dst)
        header_length = (version_ihl & 0x0F) * 4
        if header_length < HEADER_LENGTH:
            return self._drop("bad_ihl", src, dst)
        if header_length > available:
            return self._drop("truncated", src, dst)
        if total_length < header_length:
            return self._drop("bad_total_length", src, dst)
        if total_length > available:
            return self._drop("truncated", src, dst)
        header = frame[offset:offset + header_length]
        if internet_checksum(header):
            return self._drop("bad_checksum", src, dst)
        if ttl == 0:
            return self._drop("ttl_expired", src, dst)
        first_octet = src[0]
        if first_octet >= 224 or first_octet == 127 or src == self.broadcast or first_octet == 0 and src != b"\x00\x00\x00\x00":
            return self._drop("bad_source", src, dst)
        if dst == self.address:
            broadcast = False
        elif dst == self.broadcast or dst == LIMITED_BROADCAST:
            broadcast = True
        else:
            return self._drop("not_for_us", src, dst)
        counters["ipv4.received"] = counters.get("ipv4.received", 0) + 1
        payload_start = offset + header_length
        payload_end = offset + total_length
        if flags_offset & (FLAG_MF | OFFSET_MASK):
            counters.incr("ipv4.fragment_received")
            datagram = self.reassembly.add(
                header, frame[payload_start:payload_end], src, dst, protocol, identification,
                (flags_offset & OFFSET_MASK) * 8, bool(flags_offset & FLAG_MF), now)
            if datagram is None:
                return
            header, payload = datagram
        else:
            payload = frame[payload_start:payload_end]
        self.deliver(header, payload, src, dst, protocol, broadcast, now)

    def deliver(self, header: bytes, payload: bytes, src: bytes, dst: bytes, protocol: int,
                broadcast: bool, now: float) -> None:
        stack = self.stack
        if protocol == PROTOCOL_ICMP:
            stack.icmp.receive(header, payload, src, dst, broadcast, now)
            return
        transport = stack._transports.get(protocol)
        if transport is not None:
            self.current_header = header  # what an ICMP error about this datagram quotes
            transport.receive(src, dst, payload, now)
            return
        stack.counters.incr("ipv4.drop.unknown_protocol")
        if not broadcast:
            # RFC 1122 §3.2.2.1: a host SHOULD generate protocol unreachable (code 2).
            stack.icmp.send_error(3, 2, header + payload, now)

    def _drop(self, reason: str, src: bytes, dst: bytes) -> None:
        self.stack.counters.incr(f"ipv4.drop.{reason}")
        trace = self.stack.trace
        if trace.enabled:
            trace.event("ipv4.drop", reason=reason, src=ip_to_text(src), dst=ip_to_text(dst))

    # ----------------------------------------------------------------- send
    def next_hop(self, dst: bytes) -> bytes:
        if self.on_link(dst) or dst == LIMITED_BROADCAST:
            return dst
        if self.gateway is None:
            raise OSError(errno.ENETUNREACH, f"no route to {ip_to_text(dst)} (no gateway configured)")
        return self.gateway

    def send(self, dst: bytes, protocol: int, payload: bytes, *, df: bool = True,
             ttl: int | None = None, src: bytes | None = None) -> None:
        stack = self.stack
        now = stack.now
        hop = self.next_hop(dst)
        mtu = stack.icmp.path_mtu(dst, now)
        identification = self._identification
        self._identification = (identification + 1) & 0xFFFF
        source = self.address if src is None else src
        ttl = self.ttl if ttl is None else ttl
        length = HEADER_LENGTH + len(payload)
        if length <= mtu:
            header = _HEADER.pack(0x45, 0, length, identification, FLAG_DF if df else 0, ttl, protocol, 0,
                                  source, dst)
            checksum = internet_checksum(header)
            datagram = header[:10] + checksum.to_bytes(2, "big") + header[12:] + payload
            stack.counters["ipv4.sent"] = stack.counters.get("ipv4.sent", 0) + 1
            stack.arp.output(hop, datagram, now)
            return
        if df:
            stack.counters.incr("ipv4.drop.too_big_df")
            raise OSError(errno.EMSGSIZE, f"datagram of {length} bytes exceeds the path MTU {mtu} and DF is set")
        if length > 65535:
            raise OSError(errno.EMSGSIZE, f"datagram of {length} bytes exceeds the IPv4 maximum 65535")
        # RFC 791: every fragment but the last carries a multiple of 8 payload bytes.
        chunk = (mtu - HEADER_LENGTH) & ~7
        fragments = 0
        for start in range(0, len(payload), chunk):
            piece = payload[start:start + chunk]
            more = start + chunk < len(payload)
            header = _HEADER.pack(0x45, 0, HEADER_LENGTH + len(piece), identification,
                                  (FLAG_MF if more else 0) | (start >> 3), ttl, protocol, 0, source, dst)
            checksum = internet_checksum(header)
            stack.arp.output(hop, header[:10] + checksum.to_bytes(2, "big") + header[12:] + piece, now)
            fragments += 1
        stack.counters.incr("ipv4.sent")
        stack.counters.incr("ipv4.fragments_sent", fragments)
        if stack.trace.enabled:
            stack.trace.event("ipv4.fragmented", dst=ip_to_text(dst), fragments=fragments, mtu=mtu)
