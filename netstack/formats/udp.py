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

Decode checks: 8 bytes present, 8 <= length <= bytes present. The checksum covers the pseudo-header
(src, dst, zero, protocol 17, UDP length), header and data. A checksum of 0 means the sender computed
none (RFC 768): ``checksum_ok`` is then None, as it is when the addresses are unknown (see
``transport``).

Build: ``src_port`` defaults to 0 (none); ``length`` and ``checksum`` are computed when absent or None; a computed checksum of 0 is sent
as 0xFFFF (RFC 768). Set ``checksum=0`` explicitly to send none.
"""

from __future__ import annotations

from construct import Container, Default, Int16ub

from netstack.errors import FormatError
from netstack.formats.fields import HeaderStruct
from netstack.formats.layer import Layer
from netstack.formats.registry import IP_PROTOCOL_UDP, register_ip_protocol
from netstack.formats.transport import checksum_verdict, pseudo_header_checksum

HEADER_LENGTH = 8

udp_header = HeaderStruct(
    "src_port" / Default(Int16ub, 0) * "source port, 0 when unused (RFC 768)",
    "dst_port" / Int16ub * "destination port (RFC 768)",
    "length" / Int16ub * "length of header and data, bytes, >= 8 (RFC 768)",
    "checksum" / Int16ub * "ones' complement checksum of pseudo-header, header and data; 0 = none (RFC 768)",
)
"""UDP header; ``UDP`` adds length, checksum and payload."""


class UdpLayer(Layer):
    """UDP datagram: length check, optional pseudo-header checksum, payload bytes."""

    def decode(self, data: bytes, base: int, context) -> Container:
        available = len(data)
        if available < HEADER_LENGTH:
            raise self.truncated(available, HEADER_LENGTH, base)
        length = (data[4] << 8) | data[5]
        if length < HEADER_LENGTH:
            raise FormatError("udp", "length", base + 4, f"length {length} is below the 8-byte header")
        if length > available:
            raise FormatError("udp", "length", base + 4, f"length {length} exceeds the {available} bytes present")
        container = self.parse_header(data[:HEADER_LENGTH], base)
        # RFC 768: a zero checksum means the sender computed none.
        container.checksum_ok = (None if container.checksum == 0
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
            # RFC 768: a computed zero is sent as all ones (zero means "no checksum").
            checksum = pseudo_header_checksum(context, "udp", IP_PROTOCOL_UDP, datagram) or 0xFFFF
            datagram = datagram[:6] + checksum.to_bytes(2, "big") + datagram[8:]
        return datagram + self.raw_bytes(values.get("padding"), "padding")


UDP = UdpLayer("udp", udp_header, "UDP datagram (RFC 768)")
UDP.ip_protocol = IP_PROTOCOL_UDP
register_ip_protocol(IP_PROTOCOL_UDP, "udp", UDP)
