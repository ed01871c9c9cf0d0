"""``Frame.parse`` and ``Frame.build`` on the codec generated from the declarations (``fast``).

The public API keeps its shapes: ``Frame.parse`` returns the same nested ``Container``s as the
declarative layers (names for enums, ``Container``s of booleans for flags, text addresses, the option
list, ``checksum_ok``, ``padding``, the hidden ``_derived``), and ``Frame.build`` / ``bytes(Ether() /
IP() / TCP())`` the same bytes; only the work behind them changes: the headers are unpacked and packed
by ``fast``'s generated ``struct`` code, and each decoded value is turned into its container form by a
converter read from the declaration (an ``Enum`` gives its name, a ``FlagsEnum`` its flag container,
an address field its text, a ``BitStruct`` its sub-fields). Nothing restates a header.

Construct's interpreter stays behind the same objects for what the generated codec does not cover:
a protocol a user registered (or a built-in number re-registered), and any value the fast builder
cannot take as is (an explicit option ``length``, a field the declaration does not have, ...). A frame
that fails to decode is decoded again declaratively, so its ``FormatError`` (layer, field, offset) is
exactly the declarative one. ``tests/formats/test_frame_codec.py`` checks both paths agree on every
strategy-drawn frame, malformed ones included.
"""

from __future__ import annotations

import struct

from construct import Container, Default, Enum, Flag, FlagsEnum, ListContainer, Renamed, Struct, Subconstruct

from netstack.errors import FormatError
from netstack.formats import fast
from netstack.formats.arp import ARP
from netstack.formats.ethernet import EthernetLayer, ethernet_header, vlan_tag
from netstack.formats.fields import AddressField, Flattened
from netstack.formats.icmp import ICMP, icmp_header
from netstack.formats.layer import Layer
from netstack.formats.ipv4 import IP_FLAGS, IPv4, ipv4_header
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOLS
from netstack.formats.tcp import TCP, TCP_FLAGS, flags_value, tcp_header
from netstack.formats.tcp_options import OPTION_LENGTHS, TCP_OPTION_KIND
from netstack.formats.udp import UDP

# --- decoded value -> container value, read from the declarations ------------------------------------


def _identity(value):
    return value


def _unwrap(construct):
    while isinstance(construct, Subconstruct) and not isinstance(construct, (Enum, FlagsEnum, AddressField, Flattened)):
        construct = construct.subcon
    return construct


def _bit_width(construct) -> int:
    construct = _unwrap(construct)
    return 1 if construct is Flag else construct.length


def converter(construct):
    """The function turning ``fast``'s raw value of a field into the declarative container's value."""
    construct = _unwrap(construct)
    if isinstance(construct, FlagsEnum):
        bits = ", ".join(f"{name}=value & {mask} != 0" for name, mask in construct.flags.items())
        return _generated(f"Container(_flagsenum=True, {bits})")
    if isinstance(construct, Enum):
        labels = construct.decmapping

        def label(value):
            return labels.get(value, value)

        label.labels = labels  # read by _compile_fill to inline the lookup
        return label
    if isinstance(construct, AddressField):
        return construct.to_text
    if construct is Flag:
        return bool
    if isinstance(construct, Struct):  # a BitStruct (unwrapped): the byte's bits split into its fields
        parts = []
        shift = sum(_bit_width(sc) for sc in construct.subcons)
        for sc in construct.subcons:
            shift -= _bit_width(sc)
            parts.append((sc.name, shift, (1 << _bit_width(sc)) - 1))
        return _generated("Container(" + ", ".join(f"{name}=(value >> {at}) & {mask}" for name, at, mask in parts) + ")")
    return _identity


def _generated(expression: str):
    """``lambda value: <expression>`` compiled once (a flag or bit-field container, written out)."""
    return eval(compile(f"lambda value: {expression}", "<netstack.formats.frame_codec>", "eval"), {"Container": Container})


def field_converters(header) -> list[tuple[str, object]]:
    """(field, converter) for every field of a header declaration, flattened members expanded."""
    found = []
    for sc in header.subcons:
        if isinstance(sc, Flattened) and isinstance(_unwrap(sc.subcon), Struct):
            found.extend(field_converters(_unwrap(sc.subcon)))
        elif sc.name and not sc.name.startswith("_") and not isinstance(sc, Flattened):
            found.append((sc.name, converter(sc)))
    return found


_KIND_LABELS = TCP_OPTION_KIND.decmapping
_KIND_NUMBERS = TCP_OPTION_KIND.encmapping  # names and aliases ("wscale", "ts") -> kind
#: the layers this module decodes and builds; another schema under their numbers means "not ours"
_BUILTIN = {(ETHERTYPES, 0x0800): IPv4, (ETHERTYPES, 0x0806): ARP, (IP_PROTOCOLS, 1): ICMP,
            (IP_PROTOCOLS, 6): TCP, (IP_PROTOCOLS, 17): UDP}


def _ours(table, number) -> bool:
    layer = _BUILTIN.get((table, number))
    entry = table.entries.get(number)
    return layer is not None and entry is not None and entry.schema is layer


def _compile_fill(record_type, fields, name: str):
    """A function ``record -> Container`` for ``fields`` of a generated record, as generated code:
    a plain value is read by its tuple index, a name or flag container through its converter."""
    namespace = {"Container": Container}
    items = []
    for field, convert in fields:
        index = record_type._fields.index(field)
        if convert is _identity:
            items.append(f"{field}=r[{index}]")
        elif getattr(convert, "labels", None) is not None:
            namespace[f"_labels_{field}"] = convert.labels
            items.append(f"{field}=_labels_{field}.get(r[{index}], r[{index}])")
        else:
            namespace[f"_convert_{field}"] = convert
            items.append(f"{field}=_convert_{field}(r[{index}])")
    source = f"def {name}(r):\n    return Container({', '.join(items)})\n"
    exec(compile(source, f"<netstack.formats.frame_codec: {name}>", "exec"), namespace)
    return namespace[name]


_ETHERNET_FIELDS = [(name, convert) for name, convert in field_converters(ethernet_header) if name != "vlan"]
_fill_ethernet = _compile_fill(fast.EthernetHeader, _ETHERNET_FIELDS[:2], "fill_ethernet")
_ethertype_label = _ETHERNET_FIELDS[2][1]
_fill_vlan = _compile_fill(fast.VlanTag, field_converters(vlan_tag), "fill_vlan")
_fill_ipv4 = _compile_fill(fast.Ipv4Header, [(name, convert) for name, convert in field_converters(ipv4_header)
                                             if name != "options"], "fill_ipv4")
_fill_tcp = _compile_fill(fast.TcpHeader, [(name, convert) for name, convert in field_converters(tcp_header)
                                           if name != "options"], "fill_tcp")
_fill_icmp = _compile_fill(fast.IcmpHeader, field_converters(icmp_header), "fill_icmp")
_ICMP_SWITCH = next(_unwrap(sc.subcon) for sc in icmp_header.subcons if isinstance(sc, Flattened))
_ICMP_CASES = {key: _compile_fill(fast.IcmpHeader, field_converters(case), f"fill_icmp_{key}")
               for key, case in _ICMP_SWITCH.cases.items() if isinstance(key, int)}
_fill_icmp_default = _compile_fill(fast.IcmpHeader, field_converters(_ICMP_SWITCH.default), "fill_icmp_default")
_fill_arp = _compile_fill(fast.ArpPacket, field_converters(ARP.header), "fill_arp")
_fill_udp = _compile_fill(fast.UdpHeader, field_converters(UDP.header), "fill_udp")


def _option_container(kind, value):
    """One option as the declarative decoder gives it: Container(kind, length, value)."""
    label = _KIND_LABELS.get(kind, kind)
    if kind == fast.OPT_NOP:
        return Container(kind=label, length=None, value=None)
    if kind == fast.OPT_EOL:
        return Container(kind=label, length=None, value=value)
    if kind == fast.OPT_SACK:
        blocks = ListContainer(Container(left=left, right=right) for left, right in value)
        return Container(kind=label, length=2 + 8 * len(blocks), value=blocks)
    if kind == fast.OPT_TIMESTAMPS:
        return Container(kind=label, length=10, value=Container(ts_value=value[0], ts_echo_reply=value[1]))
    if kind in (fast.OPT_MSS, fast.OPT_WINDOW_SCALE, fast.OPT_SACK_PERMITTED):
        return Container(kind=label, length=min(OPTION_LENGTHS[kind]), value=value)
    return Container(kind=label, length=2 + len(value), value=value)


# --- decoding ---------------------------------------------------------------------------------------


class NotOurs(Exception):
    """A frame or value the generated codec does not cover: the declarative path takes it."""


def _derived(record, *lengths) -> dict:
    """The ``_derived`` a declarative layer records: its length fields, and its checksum when right."""
    derived = {name: getattr(record, name) for name in lengths}
    if record.checksum_ok:
        derived["checksum"] = record.checksum
    return derived


def _tcp(data, packet):
    segment = fast.decode_tcp(data, packet.payload_offset, packet.payload_end, packet.src, packet.dst)
    container = _fill_tcp(segment)
    container["options"] = ListContainer([_option_container(kind, value) for kind, value in segment.options])
    container["checksum_ok"] = segment.checksum_ok
    container["payload"] = data[segment.payload_offset : packet.payload_end]
    container["_derived"] = _derived(segment, "data_offset")
    return container


def _udp(data, packet):
    datagram = fast.decode_udp(data, packet.payload_offset, packet.payload_end, packet.src, packet.dst)
    container = _fill_udp(datagram)
    container["checksum_ok"] = datagram.checksum_ok
    container["payload"] = data[datagram.payload_offset : datagram.payload_end]
    container["padding"] = data[datagram.payload_end : packet.payload_end]
    container["_derived"] = _derived(datagram, "length")
    return container


def _icmp(data, packet):
    message = fast.decode_icmp(data, packet.payload_offset, packet.payload_end)
    container = _fill_icmp(message)
    container.update(_ICMP_CASES.get(message.type, _fill_icmp_default)(message))
    container["checksum_ok"] = message.checksum_ok
    container["payload"] = data[message.payload_offset : packet.payload_end]
    container["_derived"] = _derived(message)
    return container


_TRANSPORTS = {fast.IP_PROTOCOL_TCP: _tcp, fast.IP_PROTOCOL_UDP: _udp, fast.IP_PROTOCOL_ICMP: _icmp}


def _ipv4(data, offset):
    packet = fast.decode_ipv4(data, offset)
    container = _fill_ipv4(packet)
    container["options"] = packet.options
    container["checksum_ok"] = packet.checksum_ok
    protocol = packet.protocol
    if packet.fragment_offset or packet.flags & fast.IP_MF:
        container["payload"] = data[packet.payload_offset : packet.payload_end]
    elif protocol in _TRANSPORTS and _ours(IP_PROTOCOLS, protocol):
        container["payload"] = _TRANSPORTS[protocol](data, packet)
    elif protocol in IP_PROTOCOLS.entries:
        raise NotOurs(protocol)
    else:
        container["payload"] = data[packet.payload_offset : packet.payload_end]
    container["padding"] = data[packet.payload_end :]
    container["_derived"] = _derived(packet, "ihl", "total_length")
    return container


def _arp(data, offset):
    packet = fast.decode_arp(data, offset)
    if packet.hlen != 6 or packet.plen != 4:
        raise NotOurs("arp addresses")
    container = _fill_arp(packet)
    container["padding"] = data[packet.payload_offset :]
    return container


def decode_frame(data: bytes) -> Container:
    """The container ``Frame.parse(data)`` gives, decoded by the generated codec; ``NotOurs`` when
    the frame needs a registered schema, ``FormatError`` when it is malformed."""
    link = fast.decode_ethernet(data)
    container = _fill_ethernet(link)
    container["vlan"] = None if link.vlan is None else _fill_vlan(link.vlan)
    container["ethertype"] = _ethertype_label(link.ethertype)
    ethertype = link.ethertype
    if ethertype == fast.ETHERTYPE_IPV4 and _ours(ETHERTYPES, ethertype):
        container["payload"] = _ipv4(data, link.payload_offset)
    elif ethertype == fast.ETHERTYPE_ARP and _ours(ETHERTYPES, ethertype):
        container["payload"] = _arp(data, link.payload_offset)
    elif ethertype in ETHERTYPES.entries:
        raise NotOurs(ethertype)
    else:
        container["payload"] = data[link.payload_offset :]
    return container


class FastFrameLayer(EthernetLayer):
    """``Frame``: the Ethernet layer whose ``parse`` and ``build`` run on the generated codec."""

    def parse(self, data, **contextkw):
        if isinstance(data, (bytes, bytearray, memoryview)) and not contextkw:
            data = bytes(data)
            try:
                return decode_frame(data)
            except (NotOurs, FormatError):
                pass  # the declarative path decodes it, or raises its own FormatError
        return super().parse(data, **contextkw)

    def encode(self, obj, context) -> bytes:
        try:
            return encode_frame(obj)
        except NotOurs:
            return super().encode(obj, context)


# --- encoding ---------------------------------------------------------------------------------------

_ETHERNET_KEYS = {"dst", "src", "vlan", "ethertype", "payload"}
_IPV4_KEYS = {"version", "ihl", "tos", "total_length", "identification", "flags", "fragment_offset", "ttl",
              "protocol", "checksum", "src", "dst", "options", "checksum_ok", "payload", "padding", "_derived"}
_TCP_KEYS = {"src_port", "dst_port", "seq", "ack", "data_offset", "reserved", "flags", "window", "checksum",
             "urgent_pointer", "options", "checksum_ok", "payload", "_derived"}
_OPTION_KEYS = {"kind", "value", "length"}
_UDP_KEYS = {"src_port", "dst_port", "length", "checksum", "checksum_ok", "payload", "padding", "_derived"}
_FLAG_MASKS = dict(TCP_FLAGS.flags)
_TCP_FLAG_NAMES = {*_FLAG_MASKS, "_flagsenum"}
_IP_FLAG_MASKS = dict(IP_FLAGS.flags)
_IP_FLAG_NAMES = {*_IP_FLAG_MASKS, "_flagsenum"}


def field_defaults(header) -> dict:
    """field -> the default its declaration gives (``Default(..., value)``), flattened members expanded."""
    found = {}
    for sc in header.subcons:
        if isinstance(sc, Flattened) and isinstance(_unwrap(sc.subcon), Struct):
            found.update(field_defaults(_unwrap(sc.subcon)))
        elif sc.name:
            inner = sc
            while isinstance(inner, Renamed):  # the name, then the doc text, then the Default
                inner = inner.subcon
            if isinstance(inner, Default):
                found[sc.name] = inner.value
    return found


_TCP_DEFAULTS = field_defaults(tcp_header)
_UDP_DEFAULTS = field_defaults(UDP.header)
_IPV4_DEFAULTS = field_defaults(ipv4_header)
_ETHERNET_DEFAULTS = field_defaults(ethernet_header)


#: address text -> bytes, for the addresses a program sends to again and again; bounded
_ADDRESSES: dict = {}
ADDRESS_CACHE_SIZE = 4096
_ADDRESS_LENGTHS = {fast.ipv4_bytes: 4, fast.mac_bytes: 6}
#: encoded option lists by their (kind, value) tuples, for the lists a program crafts again and again
_OPTION_BYTES: dict = {}


def _address(value, to_bytes) -> bytes:
    if value.__class__ is bytes and len(value) == _ADDRESS_LENGTHS[to_bytes]:
        return value
    key = (value, value.__class__, to_bytes)  # the type too: 3221225985.0 == 3221225985, only the int is valid
    raw = _ADDRESSES.get(key)
    if raw is None:
        raw = to_bytes(value)
        if len(_ADDRESSES) >= ADDRESS_CACHE_SIZE:
            _ADDRESSES.clear()
        _ADDRESSES[key] = raw
    return raw


_wanted = Layer.wanted  # None when the value is to be computed, else the explicit value


def _plain_int(value, field):
    if value.__class__ is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise NotOurs(field)


def _bytes(value, field):
    if value is None:
        return b""
    if value.__class__ is bytes:
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise NotOurs(field)


def _tcp_flags(value) -> int:
    if value is None:
        return 0
    if value.__class__ is int:
        return value
    if not isinstance(value, dict):
        try:
            value = flags_value(value)  # "S", "SA": scapy's letters -> "syn|ack"
        except FormatError:
            raise NotOurs("flags") from None
        if isinstance(value, int):
            return value
        if not isinstance(value, str):
            raise NotOurs("flags")
        value = dict.fromkeys(value.split("|"), True)  # "syn|ack": FlagsEnum's spelling
    if not value.keys() <= _TCP_FLAG_NAMES:
        raise NotOurs("flags")
    return sum([mask for name, mask in _FLAG_MASKS.items() if value.get(name)])


def _option_pairs(options):
    """(kind, value) pairs ``fast.encode_tcp_options`` takes, or NotOurs (an explicit length, ...)."""
    pairs = []
    for option in options:
        if isinstance(option, dict):
            kind, value, length = option.get("kind"), option.get("value"), option.get("length")
            if not option.keys() <= _OPTION_KEYS:
                raise NotOurs("options")
        elif isinstance(option, tuple) and len(option) == 2:
            (kind, value), length = option, None
        else:
            raise NotOurs("options")
        number = kind if kind.__class__ is int else _KIND_NUMBERS.get(kind)
        if number is None:
            raise NotOurs("options")
        if number == fast.OPT_SACK and value is not None:
            value = tuple((block["left"], block["right"]) if isinstance(block, dict) else tuple(block) for block in value)
        elif number == fast.OPT_TIMESTAMPS and isinstance(value, dict):
            value = (value["ts_value"], value["ts_echo_reply"])
        elif number == fast.OPT_EOL and value is None:
            value = b""
        natural = _natural_length(number, value)
        if length is not None and length != natural:
            raise NotOurs("options")  # a broken length crafted on purpose: the declarative builder keeps it
        pairs.append((number, value))
    return pairs


def _encoded_options(options) -> bytes:
    try:
        # the value's type is part of the key: 1460.0 == 1460, but only the int is a valid MSS
        key = tuple([(option[0], option[1], option[1].__class__) if option.__class__ is tuple and len(option) == 2
                     else {} for option in options])  # {}: unhashable, so a dict option is never a key
        encoded = _OPTION_BYTES.get(key)
    except (TypeError, ValueError):  # dicts, or values in lists: not a key, encode them every time
        return fast.encode_tcp_options(_option_pairs(options), pad=False)
    if encoded is None:
        encoded = fast.encode_tcp_options(_option_pairs(options), pad=False)
        if len(_OPTION_BYTES) >= ADDRESS_CACHE_SIZE:
            _OPTION_BYTES.clear()
        _OPTION_BYTES[key] = encoded
    return encoded


def _natural_length(kind, value):
    if kind in (fast.OPT_EOL, fast.OPT_NOP):
        return None
    if kind == fast.OPT_SACK:
        return 2 + 8 * len(value)
    if kind in (fast.OPT_MSS, fast.OPT_WINDOW_SCALE, fast.OPT_SACK_PERMITTED, fast.OPT_TIMESTAMPS):
        return min(OPTION_LENGTHS[kind])
    return 2 + len(value) if isinstance(value, (bytes, bytearray)) else None


def _encode_tcp(obj, src, dst) -> bytes:
    if not obj.keys() <= _TCP_KEYS or "dst_port" not in obj or obj.get("dst_port") is None:
        raise NotOurs("tcp")
    options = obj.get("options")
    # encoded unpadded: encode_tcp pads them only when data_offset is computed, as the declaration's builder
    options = _encoded_options(options) if options else b""
    value = _TCP_DEFAULTS.get
    return fast.encode_tcp(
        src, dst, _plain_int(obj.get("src_port", value("src_port")), "src_port"), _plain_int(obj["dst_port"], "dst_port"),
        _plain_int(obj.get("seq", value("seq")), "seq"), _plain_int(obj.get("ack", value("ack")), "ack"),
        _tcp_flags(obj.get("flags")), _plain_int(obj.get("window", value("window")), "window"),
        _plain_int(obj.get("urgent_pointer", value("urgent_pointer")), "urgent_pointer"), options,
        _bytes(obj.get("payload"), "payload"), _wanted(obj, "data_offset"),
        _plain_int(obj.get("reserved", value("reserved")), "reserved"), _wanted(obj, "checksum"),
    )


def _encode_udp(obj, src, dst) -> bytes:
    if not obj.keys() <= _UDP_KEYS or obj.get("dst_port") is None:
        raise NotOurs("udp")
    payload = _bytes(obj.get("payload"), "payload")
    return fast.encode_udp(src, dst, _plain_int(obj.get("src_port", _UDP_DEFAULTS["src_port"]), "src_port"), _plain_int(obj["dst_port"], "dst_port"),
                           payload, _wanted(obj, "length"), _wanted(obj, "checksum")) + _bytes(obj.get("padding"), "padding")


_TRANSPORT_ENCODERS = {fast.IP_PROTOCOL_TCP: _encode_tcp, fast.IP_PROTOCOL_UDP: _encode_udp}


def _ipv4_flags(value) -> int:
    if value is None:
        return 0
    if value.__class__ is int:
        return value
    if isinstance(value, str):  # "df|mf": FlagsEnum's spelling
        value = dict.fromkeys(value.split("|"), True)
    if isinstance(value, dict):
        if not value.keys() <= _IP_FLAG_NAMES:
            raise NotOurs("flags")
        return sum(mask for name, mask in _IP_FLAG_MASKS.items() if value.get(name))
    raise NotOurs("flags")


def _encode_ipv4(obj) -> bytes:
    if not obj.keys() <= _IPV4_KEYS or obj.get("dst") is None or obj.get("version", 4) != 4:
        raise NotOurs("ipv4")
    src = _address(obj.get("src") or "0.0.0.0", fast.ipv4_bytes)
    dst = _address(obj["dst"], fast.ipv4_bytes)
    protocol = obj.get("protocol")
    payload = obj.get("payload")
    if protocol is None or isinstance(protocol, str) and not hasattr(protocol, "__int__"):
        try:
            protocol = IP_PROTOCOLS.enum.number(protocol) if protocol is not None else None
        except FormatError:
            raise NotOurs("protocol") from None
    if protocol is None:
        raise NotOurs("protocol")
    protocol = int(protocol)
    if isinstance(payload, dict):
        encoder = _TRANSPORT_ENCODERS.get(protocol)
        if encoder is None or not _ours(IP_PROTOCOLS, protocol):
            raise NotOurs("payload")
        payload = encoder(payload, src, dst)
    else:
        payload = _bytes(payload, "payload")
    tos = obj.get("tos") or 0
    if isinstance(tos, dict):
        tos = (tos.get("dscp", 0) << 2) | tos.get("ecn", 0)
    options = _bytes(obj.get("options"), "options")
    value = _IPV4_DEFAULTS.get
    return fast.encode_ipv4(
        src, dst, protocol, payload, _plain_int(obj.get("ttl", value("ttl")), "ttl"),
        _plain_int(obj.get("identification", value("identification")), "identification"), _ipv4_flags(obj.get("flags")),
        _plain_int(obj.get("fragment_offset", value("fragment_offset")), "fragment_offset"), _plain_int(tos, "tos"), options,
        _wanted(obj, "ihl"), _wanted(obj, "total_length"), _wanted(obj, "checksum"),
    ) + _bytes(obj.get("padding"), "padding")


def encode_frame(obj) -> bytes:
    """The bytes ``Frame.build(obj)`` gives, built by the generated codec; ``NotOurs`` for what it
    does not cover (the declarative builder then builds it, or raises its FormatError)."""
    try:
        return _encode_ethernet(obj)
    except (FormatError, struct.error, OverflowError, TypeError, ValueError, KeyError, AttributeError):
        raise NotOurs("a value the declarative builder checks") from None


def _encode_ethernet(obj) -> bytes:
    if not isinstance(obj, dict) or not obj.keys() <= _ETHERNET_KEYS or obj.get("vlan") is not None:
        raise NotOurs("ethernet")
    ethertype = obj.get("ethertype")
    payload = obj.get("payload")
    if ethertype is None or ethertype == "ipv4" or ethertype == fast.ETHERTYPE_IPV4:
        if not _ours(ETHERTYPES, fast.ETHERTYPE_IPV4):
            raise NotOurs("ethertype")
        body = _encode_ipv4(payload) if isinstance(payload, dict) else _bytes(payload, "payload")
        number = fast.ETHERTYPE_IPV4
    else:
        raise NotOurs("ethertype")
    defaults = _ETHERNET_DEFAULTS
    return fast.encode_ethernet(_address(obj.get("dst") or defaults["dst"], fast.mac_bytes),
                                _address(obj.get("src") or defaults["src"], fast.mac_bytes), number, body)

__all__ = ["FastFrameLayer", "NotOurs", "decode_frame", "encode_frame", "field_converters"]
