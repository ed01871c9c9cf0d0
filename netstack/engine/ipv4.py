"""IPv4 (RFC 791) for a host (RFC 1122 §3.2, §3.3): validate, deliver, route, fragment.

Receive: the datagram is decoded by the codec generated from ``netstack.formats.ipv4`` (which checks
the lengths) and then checked as RFC 1122 §3.2.1 asks; every failure is dropped and counted as
``ipv4.drop.<reason>``: ``truncated`` (fewer than 20 bytes, or fewer than ``ihl`` says),
``bad_version`` (§3.2.1.1: not 4), ``bad_ihl`` (below 5 words), ``bad_total_length`` (below the
header length, or more than the frame holds), ``bad_checksum`` (§3.2.1.2), ``ttl_expired`` (TTL 0:
nobody may send it, RFC 1122 §3.2.1.7), ``bad_source`` (§3.2.1.3: a broadcast, multicast, loopback or
"this network" source), ``not_for_us`` (a host does not forward, §3.3.1: destination neither ours nor
a broadcast), ``unicast_in_link_broadcast`` (§3.3.6), ``unknown_protocol`` (no transport; ICMP
protocol unreachable is sent).
Bytes after ``total_length`` (Ethernet padding) are ignored. Options are accepted and ignored
(§3.2.1.8 allows a host to ignore unknown options). Fragments go to the ``ReassemblyQueue``;
whole datagrams to ICMP, UDP or a registered transport, else ICMP protocol unreachable.

ECN (RFC 3168 §5): the codepoint of the datagram being delivered is ``ecn_codepoint`` while its
transport runs (TCP reads congestion experienced there, §6.1.3); a transport sends with a codepoint
through ``send(..., ecn=)`` (TCP's ECT(0) on data segments, §6.1.2). Fragments copy it (§5.3); a
reassembled datagram is CE when any of its fragments was (netstack.engine.reassembly).

Send: routing is the connected subnet plus an optional default gateway (RFC 1122 §3.3.1.1); the
datagram is fragmented to ``path_mtu(dst)`` when DF is clear (RFC 791 "Fragmentation"), offsets in
8-byte units, each fragment a copy of the header with MF and the offset set; with DF set a datagram
that does not fit raises EMSGSIZE, the local equivalent of fragmentation-needed (RFC 1191).
"""

from __future__ import annotations

import errno

from netstack.engine.config import ip_to_text
from netstack.errors import FormatError
from netstack.formats.fast import IP_DF, IP_MF, IP_PROTOCOL_ICMP, decode_ipv4, encode_ipv4
from netstack.formats.icmp import DESTINATION_UNREACHABLE, PROTOCOL_UNREACHABLE
from netstack.formats.ipv4 import ECN_MASK, MINIMUM_HEADER_LENGTH as HEADER_LENGTH
from netstack.engine.reassembly import ReassemblyQueue

LIMITED_BROADCAST = b"\xff\xff\xff\xff"
ANY_ADDRESS = b"\x00\x00\x00\x00"
# The codec names the field that failed; the drop reason follows from it.
_REASON_OF_FIELD = {"version": "bad_version", "ihl": "bad_ihl", "options": "truncated",
                    "total_length": "bad_total_length"}


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
        self.ecn_codepoint = 0  # its ECN field (RFC 3168 §5), for the transport that receives it
        self.address_usable = True  # False while RFC 5227 probing, or after retreating from a conflict

    def on_link(self, ip: bytes) -> bool:
        return (int.from_bytes(ip, "big") & self.netmask_int) == self.network_int

    # ----------------------------------------------------------------- receive
    def receive(self, frame: bytes, offset: int, link_broadcast: bool, now: float) -> None:
        stack = self.stack
        counters = stack.counters
        try:
            ip = decode_ipv4(frame, offset)
        except FormatError as error:
            counters.incr(f"ipv4.drop.{_REASON_OF_FIELD.get(error.field, 'truncated')}")
            if stack.trace.enabled:
                stack.trace.event("ipv4.drop", reason=_REASON_OF_FIELD.get(error.field, "truncated"),
                                  src="?", dst="?")
            return
        src = ip.src
        dst = ip.dst
        if not ip.checksum_ok:
            return self._drop("bad_checksum", src, dst)
        if ip.ttl == 0:
            return self._drop("ttl_expired", src, dst)
        first_octet = src[0]
        if first_octet >= 224 or first_octet == 127 or src == self.broadcast or (
                first_octet == 0 and src != ANY_ADDRESS):
            return self._drop("bad_source", src, dst)
        if dst == self.address:
            broadcast = False
        elif dst == self.broadcast or dst == LIMITED_BROADCAST:
            broadcast = True
        else:
            return self._drop("not_for_us", src, dst)
        if link_broadcast and not broadcast:
            # RFC 1122 §3.3.6: a unicast datagram that came as a link-layer broadcast SHOULD be
            # discarded (it is how some spoofing and amplification tricks reach a host).
            return self._drop("unicast_in_link_broadcast", src, dst)
        counters.incr("ipv4.received")
        payload_offset = ip.payload_offset
        header = frame[offset:payload_offset]
        if ip.flags & IP_MF or ip.fragment_offset:
            counters.incr("ipv4.fragment_received")
            datagram = self.reassembly.add(
                header, frame[payload_offset:ip.payload_end], src, dst, ip.protocol, ip.identification,
                ip.fragment_offset * 8, bool(ip.flags & IP_MF), now)
            if datagram is None:
                return
            header, payload = datagram
            self.deliver(header, payload, 0, len(payload), src, dst, ip.protocol, broadcast, now)
        else:
            self.deliver(header, frame, payload_offset, ip.payload_end, src, dst, ip.protocol, broadcast, now)

    def deliver(self, header: bytes, buf: bytes, start: int, end: int, src: bytes, dst: bytes, protocol: int,
                broadcast: bool, now: float) -> None:
        """Hand ``buf[start:end]`` (a whole datagram's payload) to ICMP or the protocol's transport."""
        stack = self.stack
        if protocol == IP_PROTOCOL_ICMP:
            stack.icmp.receive(header, buf, start, end, src, dst, broadcast, now)
            return
        transport = stack.transport(protocol)
        payload = buf[start:end]
        if transport is not None:
            self.current_header = header  # what an ICMP error about this datagram quotes
            self.ecn_codepoint = header[1] & ECN_MASK
            transport.receive(src, dst, payload, now)
            return
        stack.counters.incr("ipv4.drop.unknown_protocol")
        if not broadcast:
            # RFC 1122 §3.2.2.1: a host SHOULD generate protocol unreachable.
            stack.icmp.send_error(DESTINATION_UNREACHABLE, PROTOCOL_UNREACHABLE, header + payload, now)

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
             ttl: int | None = None, src: bytes | None = None, ecn: int = 0) -> None:
        """Send ``payload`` to ``dst``; ``ecn`` is the ECN codepoint (RFC 3168 §5; DSCP stays 0)."""
        if not self.address_usable:  # RFC 5227: tentative, or given up to another host
            raise OSError(errno.EADDRNOTAVAIL, f"{ip_to_text(self.address)} is not usable (address conflict, RFC 5227)")
        stack = self.stack
        now = stack.now
        # next_hop, with the on-link test inlined (this runs for every segment sent)
        hop = dst if (int.from_bytes(dst, "big") & self.netmask_int) == self.network_int else self.next_hop(dst)
        path_mtus = stack.icmp.path_mtus
        mtu = stack.icmp.path_mtu(dst, now) if path_mtus and dst in path_mtus else stack.config.mtu
        identification = self._identification
        self._identification = (identification + 1) & 0xFFFF
        source = self.address if src is None else src
        ttl = self.ttl if ttl is None else ttl
        length = HEADER_LENGTH + len(payload)
        if length <= mtu:
            datagram = encode_ipv4(source, dst, protocol, payload, ttl, identification, IP_DF if df else 0, 0, ecn)
            stack.counters.incr("ipv4.sent")
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
            more = start + chunk < len(payload)
            stack.arp.output(hop, encode_ipv4(source, dst, protocol, payload[start:start + chunk], ttl, identification,
                                              IP_MF if more else 0, start >> 3, ecn), now)
            fragments += 1
        stack.counters.incr("ipv4.sent")
        stack.counters.incr("ipv4.fragments_sent", fragments)
        if stack.trace.enabled:
            stack.trace.event("ipv4.fragmented", dst=ip_to_text(dst), fragments=fragments, mtu=mtu)
