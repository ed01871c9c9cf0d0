"""UDP header (RFC 768; checksum rules of RFC 1122 §4.1.3.4).

Header layout (RFC 768)::

     0      7 8     15 16    23 24    31
    +--------+--------+--------+--------+
    |     Source      |   Destination   |
    |      Port       |      Port       |
    +--------+--------+--------+--------+
    |                 |                 |
    |     Length      |    Checksum     |
    +--------+--------+--------+--------+
    |          data octets ...
    +---------------- ...

Container: ``src_port, dst_port, length, checksum, checksum_ok, payload`` (bytes) and ``padding``
(bytes after ``length`` inside the IP payload, kept so ``build(parse(b)) == b``).

Decode checks (the rule table ``UDP_RULES``, which the generated decoder runs too): 8 bytes present,
8 <= length <= bytes present. The checksum covers the pseudo-header
(src, dst, zero, protocol 17, UDP length), header and data. A checksum of 0 means the sender computed
none (RFC 768): ``checksum_ok`` is then None, as it is when the addresses are unknown (see
``transport``).

Build: ``src_port`` defaults to 0 (none); ``length`` and ``checksum`` are computed when absent or None; a computed checksum of 0 is sent
as 0xFFFF (RFC 768). Set ``checksum=0`` explicitly to send none.
"""

from __future__ import annotations

from construct import Container, Default, Int16ub

from netstack.formats.checksum import with_checksum
from netstack.formats.fields import HeaderStruct
from netstack.formats.layer import Layer
from netstack.formats.registry import IP_PROTOCOL_UDP, register_ip_protocol
from netstack.formats.rules import HeaderRules, Rule
from netstack.formats.transport import checksum_verdict, pseudo_header_checksum

HEADER_LENGTH = 8

udp_header = HeaderStruct(
    "src_port" / Default(Int16ub, 0) * "source port, 0 when unused (RFC 768)",
    "dst_port" / Int16ub * "destination port (RFC 768)",
    "length" / Int16ub * "length of header and data, bytes, >= 8 (RFC 768)",
    "checksum" / Int16ub * "ones' complement checksum of pseudo-header, header and data; 0 = none (RFC 768)",
)
"""UDP header; ``UDP`` adds length, checksum and payload."""

UDP_RULES = HeaderRules("udp", udp_header, HEADER_LENGTH, (
    Rule("length", f"length < {HEADER_LENGTH}", f"length %d is below the {HEADER_LENGTH}-byte header", "length",
         "RFC 768"),
    Rule("length", "length > available", "length %d exceeds the %d bytes present", "length, available", "RFC 768"),
))
"""The integrity rules of a UDP header, read by ``UdpLayer.decode`` and the generated ``decode_udp``."""

# The checksum policy of RFC 768, for both codec paths: a zero checksum field means the sender computed
# none, so a computed checksum of zero is sent as all ones (its other ones' complement spelling).
NO_CHECKSUM = 0
COMPUTED_ZERO_SENT_AS = 0xFFFF
_CHECKSUM = UDP_RULES.offset_of("checksum")


class UdpLayer(Layer):
    """UDP datagram: length check, optional pseudo-header checksum, payload bytes."""

    def decode(self, data: bytes, base: int, context) -> Container:
        values = {"available": len(data)}
        UDP_RULES.check_truncated(values, base, self)
        container = self.parse_header(data[:HEADER_LENGTH], base)
        length = values["length"] = container.length
        UDP_RULES.check(values, base)
        container.checksum_ok = (None if container.checksum == NO_CHECKSUM
                                 else checksum_verdict(context, "udp", IP_PROTOCOL_UDP, data[:length]))
        container.payload = data[HEADER_LENGTH:length]
        container.padding = data[length:]
        container._derived = {"length": length}
        if container.checksum_ok:
            container._derived["checksum"] = container.checksum
        return container

    def encode(self, obj, context) -> bytes:
        values = dict(obj)
        payload = self.raw_bytes(values.get("payload"))
        if self.wanted(obj, "length") is None:
            values["length"] = HEADER_LENGTH + len(payload)
        explicit_checksum = self.wanted(obj, "checksum")
        values["checksum"] = 0 if explicit_checksum is None else explicit_checksum
        datagram = self.build_header(values) + payload
        if explicit_checksum is None:
            checksum = pseudo_header_checksum(context, "udp", IP_PROTOCOL_UDP, datagram)
            if checksum == NO_CHECKSUM:
                checksum = COMPUTED_ZERO_SENT_AS
            datagram = with_checksum(datagram, _CHECKSUM, checksum)
        return datagram + self.raw_bytes(values.get("padding"), "padding")


UDP = UdpLayer("udp", udp_header, "UDP datagram (RFC 768)")
UDP.ip_protocol = IP_PROTOCOL_UDP
register_ip_protocol(IP_PROTOCOL_UDP, "udp", UDP)
