"""Ethernet II frames (IEEE 802.3 clause 3.2.6 "Length/Type" as EtherType) with an optional 802.1Q tag.

Frame layout as it crosses a TAP device (no preamble, no FCS)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Destination MAC address                    |
    +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                               |                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
    |                      Source MAC address                       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | (TPID 0x8100  | PCP |D|  VID  )  802.1Q tag, only when tagged  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           EtherType           |  payload ...
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Container: ``dst``, ``src``, ``vlan`` (None, or ``pcp``, ``dei``, ``vid`` per IEEE 802.1Q §9.6),
``ethertype`` (name from the registry, or the number) and ``payload``: the ARP/IPv4/registered layer's
container, or bytes for an EtherType nobody registered. Nothing is padded to the 60-byte minimum on
build (a TAP device does not need it); padding received after an IPv4 or ARP packet stays in that
layer's ``padding`` field, so ``build(parse(b)) == b``.

Build defaults: ``dst`` ff:ff:ff:ff:ff:ff, ``src`` 00:00:00:00:00:00, ``vlan`` None, ``ethertype`` ipv4.
"""

from __future__ import annotations

from construct import BitsInteger, BitStruct, Const, Container, Default, Flag, If, Int16ub, Peek, this

from netstack.errors import FormatError
from netstack.formats.codegen import header_layout
from netstack.formats.fields import Flattened, HeaderStruct, MacAddress
from netstack.formats.layer import Layer
from netstack.formats.registry import ETHERTYPE, ETHERTYPE_VLAN, ETHERTYPES, decode_payload, encode_payload

TPID_8021Q = ETHERTYPE_VLAN
HEADER_LENGTH = 14
TAGGED_HEADER_LENGTH = 18

vlan_tag = HeaderStruct(
    Const(TPID_8021Q, Int16ub) * "tag protocol identifier 0x8100 (IEEE 802.1Q §9.5)",
    Flattened(
        BitStruct(
            "pcp" / Default(BitsInteger(3), 0) * "priority code point, 0-7 (IEEE 802.1Q §6.9.3)",
            "dei" / Default(Flag, False) * "drop eligible indicator (IEEE 802.1Q §6.9.3)",
            "vid" / BitsInteger(12) * "VLAN identifier, 0-4095 (IEEE 802.1Q §9.6)",
        )
    ),
)
"""The 4-byte 802.1Q tag between the source address and the EtherType."""

ethernet_header = HeaderStruct(
    "dst" / Default(MacAddress(), "ff:ff:ff:ff:ff:ff") * "destination MAC address (IEEE 802.3 §3.2.4)",
    "src" / Default(MacAddress(), "00:00:00:00:00:00") * "source MAC address (IEEE 802.3 §3.2.5)",
    "_tpid" / Peek(Int16ub),
    "vlan" / If(this._tpid == TPID_8021Q, vlan_tag) * "802.1Q tag, or None when untagged (IEEE 802.1Q §9.3)",
    "ethertype" / Default(ETHERTYPE, "ipv4") * "payload protocol, an EtherType >= 0x0600 (IEEE 802.3 §3.2.6)",
)
"""Ethernet II header; ``Ethernet`` adds the payload dispatch."""

# Where a tag's TPID (else the EtherType) stands, from the declaration's layout; the TPID as bytes.
_TYPE_OFFSET = header_layout(ethernet_header).offsets["ethertype"]
_TPID_BYTES = TPID_8021Q.to_bytes(2, "big")


class EthernetLayer(Layer):
    """Ethernet II frame: header, then the payload decoded by EtherType through the registry."""

    def decode(self, data: bytes, base: int, context) -> Container:
        if len(data) < HEADER_LENGTH:
            if len(data) >= _TYPE_OFFSET:
                raise FormatError("ethernet", "ethertype", base + _TYPE_OFFSET,
                                  f"truncated: needs {HEADER_LENGTH} bytes, has {len(data)}")
            raise self.truncated(len(data), HEADER_LENGTH, base)
        length = HEADER_LENGTH
        if data[_TYPE_OFFSET:_TYPE_OFFSET + 2] == _TPID_BYTES:
            length = TAGGED_HEADER_LENGTH
            if len(data) < length:
                raise self.truncated_tag(len(data), base)
        container = self.parse_header(data[:length], base)
        container.pop("_tpid", None)
        container.payload = decode_payload(ETHERTYPES, container.ethertype, data[length:], base + length, Container())
        return container

    def truncated_tag(self, data_length: int, base: int):
        field = "vlan" if data_length < 16 else "ethertype"
        return FormatError("ethernet", field, base + (12 if field == "vlan" else 16),
                           f"truncated: an 802.1Q-tagged header needs {TAGGED_HEADER_LENGTH} bytes, has {data_length}")

    def encode(self, obj, context) -> bytes:
        values = dict(obj)
        values["_tpid"] = TPID_8021Q if values.get("vlan") is not None else None
        header = self.build_header(values)
        ethertype = values.get("ethertype")
        if ethertype is None:
            ethertype = "ipv4"
        payload = encode_payload(ETHERTYPES, ethertype, values.get("payload"), Container())
        return header + payload


Ethernet = EthernetLayer("ethernet", ethernet_header, "Ethernet II frame (IEEE 802.3), optional 802.1Q tag")
