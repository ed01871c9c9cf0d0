"""Which schema decodes the payload: EtherType and IP protocol number tables, open to user protocols.

Like scapy's ``bind_layers(IP, TCP, proto=6)``, the value of a selector field chooses the payload's
schema. Netstack's own layers register themselves when their module is imported (``ipv4`` registers
EtherType 0x0800, ``tcp`` IP protocol 6, ...). User code registers more, without editing netstack::

    from construct import Int16ub, Struct, GreedyBytes
    from netstack.formats import Frame, register_ip_protocol

    toy = Struct("port" / Int16ub, "payload" / GreedyBytes)
    register_ip_protocol(253, "toy", toy)          # 253: RFC 3692 experimentation number
    frame = Frame.parse(data)                        # frame.payload.payload is now a toy Container

API (read by ``Frame``, ``netstack decode``/``explain`` and ``netstack.strategies``):

``register_ethertype(number, name, schema)`` / ``register_ip_protocol(number, name, schema)``
    Bind ``number`` to ``schema`` (any construct: a ``Layer`` or a plain ``Struct``) and name it in the
    ``ETHERTYPE`` / ``IP_PROTOCOL`` enums, so containers show ``ethertype="name"`` and builds accept
    the name. Re-registering a number replaces its schema. ``ValueError`` if the name is taken by
    another number.
``unregister_ethertype(number)`` / ``unregister_ip_protocol(number)``
    Undo a registration; the number loses its name too, unless netstack itself names it.
``ethertype_schemas()`` / ``ip_protocol_schemas()``
    ``{number: Registration(number, name, schema)}`` snapshot, for tools that list every schema.
``ETHERTYPE``, ``IP_PROTOCOL``
    The ``NamedNumber`` enums (``.names()`` gives number -> name).
``decode_payload(table, number, data, base, context)`` / ``encode_payload(table, number, obj, context)``
    What the layers call: decode with the registered schema (bytes when none is registered), errors as
    ``FormatError``. ``context`` carries ``src``/``dst`` (IP addresses as bytes) for IP payloads.

A plain construct schema sees the context keys ``src``/``dst`` (4-byte addresses) when it sits on IPv4,
so it can declare a pseudo-header checksum with ``this._.src`` style expressions if it needs one.
"""

from __future__ import annotations

from typing import NamedTuple

from construct import Construct, ConstructError, Container, Int8ub, Int16ub

from netstack.errors import FormatError
from netstack.formats.fields import NamedNumber

# The numbers netstack names; every other module imports them from here (one source).
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_VLAN = 0x8100  # the 802.1Q tag protocol identifier (IEEE 802.1Q §9.5)
ETHERTYPE_IPV6 = 0x86DD
IP_PROTOCOL_ICMP = 1
IP_PROTOCOL_TCP = 6
IP_PROTOCOL_UDP = 17

ETHERTYPE = NamedNumber(Int16ub, ipv4=ETHERTYPE_IPV4, arp=ETHERTYPE_ARP, vlan=ETHERTYPE_VLAN, ipv6=ETHERTYPE_IPV6)
"""EtherType (IEEE 802 numbers, IANA ieee-802-numbers registry), 16 bits."""

IP_PROTOCOL = NamedNumber(Int8ub, icmp=IP_PROTOCOL_ICMP, tcp=IP_PROTOCOL_TCP, udp=IP_PROTOCOL_UDP)
"""IPv4 protocol number (IANA protocol-numbers registry, RFC 791 §3.1), 8 bits."""


class Registration(NamedTuple):
    number: int
    name: str
    schema: Construct


class ProtocolTable:
    """number -> Registration, plus the enum naming those numbers."""

    def __init__(self, what: str, enum: NamedNumber, limit: int, owner: str):
        self.what = what
        self.owner = owner  # the layer whose payload this table selects
        self.enum_field = "ethertype" if owner == "ethernet" else "protocol"
        self.enum = enum
        self.limit = limit
        self.entries: dict[int, Registration] = {}
        self.builtin_names = dict(enum.ksymapping)  # names netstack gives; never removed

    def register(self, number: int, name: str, schema: Construct) -> None:
        if not isinstance(number, int) or not 0 <= number <= self.limit:
            raise ValueError(f"{self.what} must be an int in 0..{self.limit}, got {number!r}")
        if not isinstance(schema, Construct):
            raise TypeError(f"schema for {self.what} {number} must be a construct, got {type(schema).__name__}")
        self.enum.add(number, name)
        self.entries[number] = Registration(number, name, schema)

    def unregister(self, number: int) -> None:
        entry = self.entries.pop(number, None)
        if entry is not None and number not in self.builtin_names:
            self.enum.remove(number)

    def schema(self, number) -> Construct | None:
        entry = self.entries.get(int(number) if not isinstance(number, str) else self.enum.number(number))
        return entry.schema if entry else None


ETHERTYPES = ProtocolTable("EtherType", ETHERTYPE, 0xFFFF, "ethernet")
IP_PROTOCOLS = ProtocolTable("IP protocol number", IP_PROTOCOL, 0xFF, "ipv4")


def register_ethertype(number: int, name: str, schema: Construct) -> None:
    """Decode Ethernet payloads with EtherType ``number`` using ``schema``; name the number ``name``."""
    ETHERTYPES.register(number, name, schema)


def register_ip_protocol(number: int, name: str, schema: Construct) -> None:
    """Decode IPv4 payloads with protocol ``number`` using ``schema``; name the number ``name``."""
    IP_PROTOCOLS.register(number, name, schema)


def unregister_ethertype(number: int) -> None:
    ETHERTYPES.unregister(number)


def unregister_ip_protocol(number: int) -> None:
    IP_PROTOCOLS.unregister(number)


def ethertype_schemas() -> dict[int, Registration]:
    return dict(ETHERTYPES.entries)


def ip_protocol_schemas() -> dict[int, Registration]:
    return dict(IP_PROTOCOLS.entries)


def decode_payload(table: ProtocolTable, number, data: bytes, base: int, context):
    """The payload decoded by the schema registered for ``number``, or ``data`` when there is none."""
    schema = table.schema(number)
    if schema is None:
        return data
    decode = getattr(schema, "decode", None)
    if decode is not None and callable(decode) and hasattr(schema, "layer"):
        return decode(data, base, context)
    try:
        container = schema.parse(data, **{k: v for k, v in context.items() if not k.startswith("_")})
    except ConstructError as error:
        name = table.entries[int(number)].name
        raise FormatError(name, None, base, str(error).split("\n")[-1]) from None
    if isinstance(container, Container):
        container.pop("_io", None)
    return container


def encode_payload(table: ProtocolTable, number, obj, context) -> bytes:
    """``obj`` built by the schema registered for ``number``; bytes pass through unchanged."""
    if obj is None:
        return b""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if hasattr(obj, "to_container"):
        obj = obj.to_container()
    if not isinstance(obj, dict):
        raise FormatError(table.owner, "payload", None, f"needs bytes or a dict/container, got {type(obj).__name__}")
    try:
        schema = table.schema(number)
    except (FormatError, TypeError, ValueError):
        raise FormatError(table.owner, table.enum_field, None, f"unknown {table.what} {number!r}") from None
    if schema is None:
        raise FormatError(table.owner, "payload", None, f"no schema registered for {table.what} {number!r} to build a {type(obj).__name__} payload")
    encode = getattr(schema, "encode", None)
    if encode is not None and hasattr(schema, "layer"):
        return encode(obj, context)
    try:
        return schema.build(obj, **{k: v for k, v in context.items() if not k.startswith("_")})
    except ConstructError as error:
        name = table.entries[int(table.enum.number(number))].name
        raise FormatError(name, None, None, str(error).split("\n")[-1]) from None
