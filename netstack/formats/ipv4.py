"""IPv4 (RFC 791 §3.1 "Internet Header Format"; DSCP/ECN per RFC 2474 §3 and RFC 3168 §5).

Header layout (RFC 791 §3.1)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Version|  IHL  |    DSCP   |ECN|          Total Length         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |         Identification        |Flags|      Fragment Offset    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Time to Live |    Protocol   |         Header Checksum       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       Source Address                          |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Destination Address                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Options (ihl - 5 words)                    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Container: ``version, ihl, tos (dscp, ecn), total_length, identification, flags (reserved, df, mf),
fragment_offset, ttl, protocol, checksum, src, dst, options`` (raw bytes, padding included),
``checksum_ok``, ``payload`` and ``padding`` (bytes after ``total_length``, e.g. the Ethernet
minimum-size fill). ``payload`` is the ICMP/UDP/TCP/registered container, or bytes when the protocol
is not registered or the packet is a fragment (MF set or offset non-zero: its payload cannot be
decoded alone).

Decode checks, in order (integrity before values; the rule table ``IPV4_RULES``, which the generated
decoder runs too): 20 bytes present, version 4, ihl >= 5, ihl*4
bytes present, ihl*4 <= total_length <= bytes present. The header checksum (RFC 791 §3.1 "Header
Checksum", RFC 1071) is verified into ``checksum_ok``.

Build: ``dst`` and (for a non-empty payload) ``protocol`` are needed; defaults are version 4, tos 0,
identification 0, flags none, fragment offset 0, ttl 64, src 0.0.0.0, no options. ``ihl`` (options
are zero-padded to a 4-byte boundary when ihl is computed), ``total_length`` and ``checksum`` are
computed when absent or None. ``tos`` may be a dict ``{dscp, ecn}`` or the 8-bit int.
"""

from __future__ import annotations

from construct import BitsInteger, BitStruct, Container, Default, FlagsEnum, GreedyBytes, Int8ub, Int16ub

from netstack.errors import FormatError
from netstack.formats.checksum import internet_checksum, with_checksum
from netstack.formats.fields import Flattened, HeaderStruct, IPv4Address, ipv4_to_bytes
from netstack.formats.layer import Layer
from netstack.formats.registry import (
    ETHERTYPE_IPV4,
    IP_PROTOCOL,
    IP_PROTOCOLS,
    decode_payload,
    encode_payload,
    register_ethertype,
)
from netstack.formats.rules import Derive, HeaderRules, Rule

VERSION = 4
MINIMUM_HEADER_LENGTH = 20
MINIMUM_IHL = MINIMUM_HEADER_LENGTH // 4

# The flag bits as ints, within the 3-bit flags field (RFC 791 §3.1); the engine imports these.
IP_DF = 0b010
IP_MF = 0b001

# The ECN codepoints of the tos octet's two low bits (RFC 3168 §5): not ECN-capable transport, ECT(1),
# ECT(0), congestion experienced (set by a router instead of dropping an ECT packet).
ECN_NOT_ECT = 0b00
ECN_ECT1 = 0b01
ECN_ECT0 = 0b10
ECN_CE = 0b11
#: The ECN field's bits within the tos octet (RFC 3168 §5).
ECN_MASK = 0b11

IP_FLAGS = FlagsEnum(BitsInteger(3), reserved=0b100, df=IP_DF, mf=IP_MF)
"""The 3 control flag bits (RFC 791 §3.1 "Flags"): reserved, don't fragment, more fragments."""
IP_FLAGS.bit_docs = {  # read by `netstack explain` and docs/formats.md, one line per bit
    "reserved": "reserved, must be zero (RFC 791 §3.1)",
    "df": "don't fragment: drop rather than fragment, report fragmentation needed (RFC 791 §3.1, RFC 1191)",
    "mf": "more fragments follow this one (RFC 791 §3.1)",
}

ipv4_header = HeaderStruct(
    Flattened(
        BitStruct(
            "version" / Default(BitsInteger(4), VERSION) * "IP version, 4 (RFC 791 §3.1)",
            "ihl" / BitsInteger(4) * "Internet header length, 32-bit words, >= 5 (RFC 791 §3.1)",
        )
    ),
    "tos"
    / Default(
        BitStruct(
            "dscp" / BitsInteger(6) * "differentiated services code point (RFC 2474 §3)",
            "ecn" / BitsInteger(2) * "explicit congestion notification codepoint (RFC 3168 §5)",
        ),
        {"dscp": 0, "ecn": 0},
    )
    * "type of service octet, now DSCP + ECN (RFC 791 §3.1, RFC 2474, RFC 3168)",
    "total_length" / Int16ub * "datagram length, header + data, bytes (RFC 791 §3.1)",
    "identification" / Default(Int16ub, 0) * "fragment reassembly identifier (RFC 791 §3.1, RFC 6864)",
    Flattened(
        BitStruct(
            "flags"
            / Default(IP_FLAGS, 0)
            * "control flags: reserved (0), df don't fragment, mf more fragments (RFC 791 §3.1)",
            "fragment_offset" / Default(BitsInteger(13), 0) * "fragment position, 8-byte units (RFC 791 §3.1)",
        )
    ),
    "ttl" / Default(Int8ub, 64) * "time to live, hops (RFC 791 §3.1, RFC 1122 §3.2.1.7)",
    "protocol" / IP_PROTOCOL * "payload protocol number, IANA registry (RFC 791 §3.1)",
    "checksum" / Int16ub * "ones' complement checksum of the header (RFC 791 §3.1, RFC 1071)",
    "src" / Default(IPv4Address(), "0.0.0.0") * "source address (RFC 791 §3.1)",
    "dst" / IPv4Address() * "destination address (RFC 791 §3.1)",
    "options" / Default(GreedyBytes, b"") * "options and padding, (ihl - 5) * 4 bytes, raw (RFC 791 §3.1)",
)
"""IPv4 header; ``IPv4`` adds lengths, checksum and payload dispatch."""

# ``present`` is the bytes of the buffer from the header on; ``available`` those the datagram may span.
# They differ only for the datagram an ICMP error quotes (RFC 792: its header + 8 bytes), which the
# fast path reads with ``available`` past the buffer's end; the declarative path has them equal.
IPV4_RULES = HeaderRules("ipv4", ipv4_header, MINIMUM_HEADER_LENGTH, (
    Rule("version", f"version != {VERSION}", f"version %d, expected {VERSION}", "version", "RFC 791 §3.1"),
    Rule("ihl", f"ihl < {MINIMUM_IHL}", f"ihl %d is below the minimum {MINIMUM_IHL} ({MINIMUM_HEADER_LENGTH} bytes)",
         "ihl", "RFC 791 §3.1"),
    Derive("header_length", "ihl << 2"),
    Rule("options", "header_length > available or header_length > present", "ihl %d says %d header bytes, has %d",
         "ihl, header_length, min(available, present)", "RFC 791 §3.1"),
    Rule("total_length", "total_length < header_length", "total_length %d is below the header length %d",
         "total_length, header_length", "RFC 791 §3.1"),
    Rule("total_length", "total_length > available", "total_length %d exceeds the %d bytes present",
         "total_length, available", "RFC 791 §3.1"),
), truncated="available < {minimum} or present < {minimum}", has="min(available, present)")
"""The integrity rules of an IPv4 header, read by ``Ipv4Layer.decode`` and the generated ``decode_ipv4``."""
_CHECKSUM = IPV4_RULES.offset_of("checksum")


def is_fragment(flags, fragment_offset: int) -> bool:
    """True for every fragment but an unfragmented datagram (RFC 791 §3.2 "Fragmentation")."""
    return bool(fragment_offset) or bool(flags.get("mf") if isinstance(flags, dict) else int(flags) & IP_MF)


class Ipv4Layer(Layer):
    """IPv4 datagram: header checks, checksum, payload by protocol number."""

    def decode(self, data: bytes, base: int, context) -> Container:
        values = {"available": len(data), "present": len(data)}
        IPV4_RULES.check_truncated(values, base, self)
        container = self.parse_header(data[:MINIMUM_HEADER_LENGTH], base)
        ihl = values["ihl"] = container.ihl
        total_length = values["total_length"] = container.total_length
        values["version"] = container.version
        header_length = IPV4_RULES.check(values, base)["header_length"]
        header = data[:header_length]
        container.options = header[MINIMUM_HEADER_LENGTH:]
        checksum_ok = internet_checksum(header) == 0
        container.checksum_ok = checksum_ok
        payload = data[header_length:total_length]
        if is_fragment(container.flags, container.fragment_offset):
            container.payload = payload
        else:
            inner = Container(src=ipv4_to_bytes(container.src), dst=ipv4_to_bytes(container.dst))
            container.payload = decode_payload(IP_PROTOCOLS, container.protocol, payload, base + header_length, inner)
        container.padding = data[total_length:]
        container._derived = {"ihl": ihl, "total_length": total_length}
        if checksum_ok:
            container._derived["checksum"] = container.checksum
        return container

    def encode(self, obj, context) -> bytes:
        values = dict(obj)
        options = bytes(values.get("options") or b"")
        if self.wanted(obj, "ihl") is None:
            options += bytes(-len(options) % 4)
            values["ihl"] = MINIMUM_IHL + len(options) // 4
        values["options"] = options
        tos = values.get("tos")
        if isinstance(tos, int):
            values["tos"] = {"dscp": tos >> 2, "ecn": tos & 3}
        if "dst" not in values or values["dst"] is None:
            raise FormatError("ipv4", "dst", None, "missing field (the destination address has no default)")
        src = self.address(values.get("src") or "0.0.0.0", "src")
        dst = self.address(values["dst"], "dst")
        payload = values.get("payload")
        protocol = values.get("protocol")
        if protocol is None:
            protocol = getattr(payload, "ip_protocol", None)
            if protocol is None:
                if payload:
                    raise FormatError("ipv4", "protocol", None, "missing field (needed to build the payload)")
                protocol = 0
            values["protocol"] = protocol
        if isinstance(payload, (bytes, bytearray, memoryview)) or payload is None:
            payload_bytes = self.raw_bytes(payload)
        else:
            payload_bytes = encode_payload(IP_PROTOCOLS, protocol, payload, Container(src=src, dst=dst))
        header_length = MINIMUM_HEADER_LENGTH + len(options)
        if self.wanted(obj, "total_length") is None:
            values["total_length"] = header_length + len(payload_bytes)
        explicit_checksum = self.wanted(obj, "checksum")
        values["checksum"] = 0 if explicit_checksum is None else explicit_checksum
        header = self.build_header(values)
        if explicit_checksum is None:
            checksum = internet_checksum(header)
            header = with_checksum(header, _CHECKSUM, checksum)
        return header + payload_bytes + self.raw_bytes(values.get("padding"), "padding")


IPv4 = Ipv4Layer("ipv4", ipv4_header, "IPv4 datagram (RFC 791)")
register_ethertype(ETHERTYPE_IPV4, "ipv4", IPv4)
