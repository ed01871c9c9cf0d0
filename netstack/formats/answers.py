"""Does one frame answer another? The matching ``sr``/``sr1`` and ``Crafted.answers`` rely on.

``answers(reply, request)`` takes two Ethernet frames (bytes) and says whether ``reply`` is a response
to ``request`` by the rules of the protocols involved:

* ARP (RFC 826 "Packet Reception"): a reply (op 2) whose sender protocol address is the request's
  target, sent to the request's sender.
* ICMP echo and timestamp (RFC 792): the reply type (0 for 8, 14 for 13) with the same identifier and
  sequence number, from the address the request went to.
* ICMP errors (RFC 792, RFC 1812 §4.3.2.3): destination unreachable, source quench, redirect, time
  exceeded and parameter problem quote the datagram's IPv4 header and its first 8 data bytes; the
  error answers the request whose header (source, destination, protocol, identification) and first
  8 bytes (the ports, for TCP and UDP) are quoted. It may come from any router on the path.
* TCP (RFC 9293 §3.4, §3.5.2): ports swapped and addresses swapped; an acknowledging reply (SYN-ACK,
  ACK, RST-ACK) acknowledges exactly the request's sequence space (``ack == seq + SYN + data + FIN``);
  a RST without ACK carries the request's acknowledgment number as its sequence number.
* UDP (RFC 768): ports and addresses swapped.

Frames that do not decode answer nothing. The frames are decoded by the generated codec (``fast``).
"""

from __future__ import annotations

from netstack.errors import FormatError
from netstack.formats import fast
from netstack.formats.icmp import ERROR_TYPES

#: ICMP request type -> its reply type (RFC 792: echo 8/0, timestamp 13/14)
ICMP_REPLIES = {8: 0, 13: 14}


def _network(data: bytes):
    """(link, ipv4 or None, arp or None) of an Ethernet frame; FormatError when it does not decode."""
    link = fast.decode_ethernet(data)
    if link.ethertype == fast.ETHERTYPE_IPV4:
        return link, fast.decode_ipv4(data, link.payload_offset), None
    if link.ethertype == fast.ETHERTYPE_ARP:
        return link, None, fast.decode_arp(data, link.payload_offset)
    return link, None, None


def _tcp_answers(reply_data, reply_ip, request_data, request_ip) -> bool:
    reply = fast.decode_tcp(reply_data, reply_ip.payload_offset, reply_ip.payload_end)
    request = fast.decode_tcp(request_data, request_ip.payload_offset, request_ip.payload_end)
    if reply.src_port != request.dst_port or reply.dst_port != request.src_port:
        return False
    if reply.flags & fast.ACK:
        length = request.payload_end - request.payload_offset
        length += bool(request.flags & fast.SYN) + bool(request.flags & fast.FIN)
        return reply.ack == (request.seq + length) & 0xFFFFFFFF
    if reply.flags & fast.RST:  # RFC 9293 §3.5.2: <SEQ=SEG.ACK><CTL=RST> to an acknowledging segment
        return bool(request.flags & fast.ACK) and reply.seq == request.ack
    return False


def _quote_answers(reply_data, message, request_data, request_ip) -> bool:
    start = message.payload_offset
    if message.payload_end - start < 20:
        return False
    quoted = fast.decode_ipv4(reply_data, start, start + 65535)
    if (quoted.src, quoted.dst, quoted.protocol, quoted.identification) != (
            request_ip.src, request_ip.dst, request_ip.protocol, request_ip.identification):
        return False
    # the first 8 bytes of the original data (RFC 792), as many as the error carries
    shown = min(8, message.payload_end - quoted.payload_offset, request_ip.payload_end - request_ip.payload_offset)
    return (reply_data[quoted.payload_offset : quoted.payload_offset + shown]
            == request_data[request_ip.payload_offset : request_ip.payload_offset + shown])


def _ipv4_answers(reply_data, reply_ip, request_data, request_ip) -> bool:
    if reply_ip.dst != request_ip.src:
        return False
    protocol = reply_ip.protocol
    if protocol == fast.IP_PROTOCOL_ICMP:
        message = fast.decode_icmp(reply_data, reply_ip.payload_offset, reply_ip.payload_end)
        if message.type in ERROR_TYPES:
            return _quote_answers(reply_data, message, request_data, request_ip)
        if reply_ip.src != request_ip.dst or request_ip.protocol != fast.IP_PROTOCOL_ICMP:
            return False
        request = fast.decode_icmp(request_data, request_ip.payload_offset, request_ip.payload_end)
        return (ICMP_REPLIES.get(request.type) == message.type
                and (message.identifier, message.sequence) == (request.identifier, request.sequence))
    if reply_ip.src != request_ip.dst or protocol != request_ip.protocol:
        return False
    if protocol == fast.IP_PROTOCOL_TCP:
        return _tcp_answers(reply_data, reply_ip, request_data, request_ip)
    if protocol == fast.IP_PROTOCOL_UDP:
        reply = fast.decode_udp(reply_data, reply_ip.payload_offset, reply_ip.payload_end)
        request = fast.decode_udp(request_data, request_ip.payload_offset, request_ip.payload_end)
        return reply.src_port == request.dst_port and reply.dst_port == request.src_port
    return False


def answers(reply: bytes, request: bytes) -> bool:
    """True when the Ethernet frame ``reply`` is a response to ``request`` (see the module docstring)."""
    try:
        _, reply_ip, reply_arp = _network(reply)
        _, request_ip, request_arp = _network(request)
        if reply_arp is not None and request_arp is not None:
            return (reply_arp.op == 2 and request_arp.op == 1 and reply_arp.spa == request_arp.tpa
                    and reply_arp.tpa == request_arp.spa)
        if reply_ip is None or request_ip is None:
            return False
        for packet in (reply_ip, request_ip):
            if packet.fragment_offset or packet.flags & fast.IP_MF:
                return False  # a fragment's transport header is the datagram's, not its own

        return _ipv4_answers(reply, reply_ip, request, request_ip)
    except FormatError:
        return False


__all__ = ["ICMP_REPLIES", "answers"]
