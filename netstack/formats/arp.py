"""ARP, the Address Resolution Protocol (RFC 826), for any hardware/protocol address sizes.

Packet layout (RFC 826 "Packet format"; shown for Ethernet/IPv4, hlen 6, plen 4)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |        htype (1)              |        ptype (0x0800)         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   hlen (6)    |   plen (4)    |        op (1 req, 2 reply)    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                 sha, sender hardware address (hlen)           |
    +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                               |  spa, sender protocol addr    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  (plen)                       |  tha, target hardware address |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
    |                               (hlen)                          |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                 tpa, target protocol address (plen)           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Container: ``htype, ptype, hlen, plen, op, sha, spa, tha, tpa, padding``. Addresses are text:
"02:00:5e:00:53:01" for hardware, "192.0.2.1" for a 4-byte protocol address. ``padding`` holds bytes
after the packet (the Ethernet minimum-size fill), kept so ``build(parse(b)) == b``.

Build defaults: htype 1 (Ethernet), ptype ipv4, hlen/plen from the addresses (6/4), op request,
tha 00:00:00:00:00:00 (unknown, as in a request), padding empty.
"""

from __future__ import annotations

from construct import Container, Default, Int8ub, Int16ub, this

from netstack.errors import FormatError
from netstack.formats.codegen import header_layout
from netstack.formats.fields import HardwareAddress, HeaderStruct, NamedNumber, ProtocolAddress
from netstack.formats.layer import Layer
from netstack.formats.registry import ETHERTYPE, ETHERTYPE_ARP, register_ethertype

ARP_REQUEST = 1
ARP_REPLY = 2
ARP_OPERATION = NamedNumber(Int16ub, request=ARP_REQUEST, reply=ARP_REPLY)
"""ARP opcode (RFC 826 "ar$op"; IANA arp-parameters lists more, e.g. RARP 3/4)."""

HARDWARE_TYPE_ETHERNET = 1
HARDWARE_TYPE = NamedNumber(Int16ub, ethernet=HARDWARE_TYPE_ETHERNET)
"""ARP hardware type (RFC 826 "ar$hrd"; IANA arp-parameters)."""

FIXED_LENGTH = 8
# The address lengths of ARP for IPv4 over Ethernet (RFC 826): a MAC address and an IPv4 address.
ETHERNET_ADDRESS_LENGTH = 6
IPV4_ADDRESS_LENGTH = 4

arp_header = HeaderStruct(
    "htype" / Default(HARDWARE_TYPE, "ethernet") * "hardware address space, 1 = Ethernet (RFC 826 ar$hrd)",
    "ptype" / Default(ETHERTYPE, "ipv4") * "protocol address space as an EtherType (RFC 826 ar$pro)",
    "hlen" / Default(Int8ub, 6) * "hardware address length, bytes (RFC 826 ar$hln)",
    "plen" / Default(Int8ub, 4) * "protocol address length, bytes (RFC 826 ar$pln)",
    "op" / Default(ARP_OPERATION, "request") * "opcode: 1 request, 2 reply (RFC 826 ar$op)",
    "sha" / HardwareAddress(this.hlen) * "sender hardware address (RFC 826 ar$sha)",
    "spa" / ProtocolAddress(this.plen) * "sender protocol address (RFC 826 ar$spa)",
    "tha" / HardwareAddress(this.hlen) * "target hardware address, zero in a request (RFC 826 ar$tha)",
    "tpa" / ProtocolAddress(this.plen) * "target protocol address (RFC 826 ar$tpa)",
)
"""The ARP packet; its size is 8 + 2*hlen + 2*plen bytes."""

_FIXED = header_layout(arp_header, {"hlen": 0, "plen": 0}).offsets  # the fields before the addresses


class ArpLayer(Layer):
    """ARP packet with trailing padding kept."""

    def decode(self, data: bytes, base: int, context) -> Container:
        if len(data) < FIXED_LENGTH:
            raise self.truncated(len(data), FIXED_LENGTH, base)
        hlen, plen = data[_FIXED["hlen"]], data[_FIXED["plen"]]
        length = FIXED_LENGTH + 2 * hlen + 2 * plen
        if len(data) < length:
            offsets = [("sha", FIXED_LENGTH), ("spa", FIXED_LENGTH + hlen), ("tha", FIXED_LENGTH + hlen + plen),
                       ("tpa", FIXED_LENGTH + 2 * hlen + plen)]
            field = next(name for name, start in reversed(offsets) if start <= len(data))
            start = dict(offsets)[field]
            raise FormatError("arp", field, base + start, f"truncated: hlen {hlen} and plen {plen} need {length} bytes, has {len(data)}")
        container = self.parse_header(data[:length], base)
        container.padding = data[length:]
        return container

    def encode(self, obj, context) -> bytes:
        values = dict(obj)
        if values.get("tha") is None:
            values["tha"] = "00:" * 5 + "00"
        if values.get("hlen") is None and isinstance(values.get("sha"), str):
            values["hlen"] = len(values["sha"].replace(":", "")) // 2
        return self.build_header(values) + self.raw_bytes(values.get("padding"), "padding")


ARP = ArpLayer("arp", arp_header, "ARP packet (RFC 826)")
register_ethertype(ETHERTYPE_ARP, "arp", ARP)
