"""``Frame.build`` on the codec generated from the declarations (``fast``), and the converters
``Frame.parse``'s views use (``frame_views``).

The public API keeps its shapes: ``Frame.parse`` returns the same nested ``Container``s as the
declarative layers (names for enums, ``Container``s of booleans for flags, text addresses, the option
list, ``checksum_ok``, ``padding``, the hidden ``_derived``), and ``Frame.build`` / ``bytes(Ether() /
IP() / TCP())`` the same bytes; only the work behind them changes: the headers are unpacked and packed
by ``fast``'s generated ``struct`` code, and each decoded value is turned into its container form by a
converter read from the declaration (``converter``: an ``Enum`` gives its name, a ``FlagsEnum`` its
flag container, an address field its text, a ``BitStruct`` its sub-fields). Nothing restates a header.
On build, each layer's plain int fields are read by one generated reader with the declared defaults.

Construct's interpreter stays behind the same objects for what the generated codec does not cover:
a protocol a user registered (or a built-in number re-registered), and any value the fast builder
cannot take as is (an explicit option ``length``, a field the declaration does not have, ...). A frame
that fails to decode is decoded again declaratively, so its ``FormatError`` (layer, field, offset) is
exactly the declarative one. ``tests/formats/test_frame_codec.py`` checks both paths agree on every
strategy-drawn frame, malformed ones included.
"""

from __future__ import annotations

import struct
from operator import itemgetter

from construct import Container, Default, Enum, Flag, FlagsEnum, Renamed, Struct, Subconstruct

from netstack.errors import FormatError
from netstack.formats import fast
from netstack.formats.crafted import Crafted
from netstack.formats.ethernet import ethernet_header
from netstack.formats.fields import AddressField, Flattened
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
    function = eval(compile(f"lambda value: {expression}", "<netstack.formats.frame_codec>", "eval"), {"Container": Container})
    function.makes_container = True  # a value the user may edit in place (frame_views keeps it once made)
    return function


def field_converters(header) -> list[tuple[str, object]]:
    """(field, converter) for every field of a header declaration, flattened members expanded."""
    found = []
    for sc in header.subcons:
        if isinstance(sc, Flattened) and isinstance(_unwrap(sc.subcon), Struct):
            found.extend(field_converters(_unwrap(sc.subcon)))
        elif sc.name and not sc.name.startswith("_") and not isinstance(sc, Flattened):
            found.append((sc.name, converter(sc)))
    return found


_KIND_NUMBERS = TCP_OPTION_KIND.encmapping  # names and aliases ("wscale", "ts") -> kind
#: the layers this module decodes and builds; another schema under their numbers means "not ours"


class NotOurs(Exception):
    """A frame or value the generated codec does not cover: the declarative path takes it."""


_ETHERNET_KEYS = {"dst", "src", "vlan", "ethertype", "payload"}
_IPV4_KEYS = {"version", "ihl", "tos", "total_length", "identification", "flags", "fragment_offset", "ttl",
              "protocol", "checksum", "src", "dst", "options", "checksum_ok", "payload", "padding", "_derived"}
_TCP_KEYS = {"src_port", "dst_port", "seq", "ack", "data_offset", "reserved", "flags", "window", "checksum",
             "urgent_pointer", "options", "checksum_ok", "payload", "_derived"}
_OPTION_KEYS = {"kind", "value", "length"}
#: the keys of a dict written by hand (no length, checksum, padding or _derived to look at): a shorter path
_ETHERNET_GIVEN = _ETHERNET_KEYS - {"vlan"}
_IPV4_GIVEN = _IPV4_KEYS - {"version", "ihl", "total_length", "checksum", "options", "checksum_ok", "padding", "_derived"}
_TCP_GIVEN = _TCP_KEYS - {"data_offset", "checksum", "_derived"}
_UDP_KEYS = {"src_port", "dst_port", "length", "checksum", "checksum_ok", "payload", "padding", "_derived"}
_UDP_GIVEN = {"src_port", "dst_port", "payload"}
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


def _options_key(options):
    """The cache key of an option list: each (kind, value) with the value's type, a tuple value with
    its items' types ((1.0, 0) == (1, 0), but only ints are valid); None (not cached) for dict
    options, lists, and SACK blocks (nested tuples: they change with every segment anyway)."""
    key = []
    for option in options:
        if option.__class__ is not tuple or len(option) != 2:
            return None
        kind, value = option
        value_type = value.__class__
        if value_type is tuple:
            value_type = (*map(type, value),)
            if tuple in value_type:
                return None
        key.append((kind, value, value_type))
    return tuple(key)


def _encoded_options(options) -> bytes:
    try:
        key = _options_key(options)
        encoded = _OPTION_BYTES.get(key) if key is not None else None
    except TypeError:  # an unhashable value (a list): not a key
        key = encoded = None
    if encoded is None:
        encoded = fast.encode_tcp_options(_option_pairs(options), pad=False)
        if key is not None:
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


def _reads(name: str, defaults: dict, fields, ints) -> tuple[str, dict]:
    """(statements, names they use) reading ``fields`` of ``obj`` into locals, each ``get(field, its
    declared default)``, and checking that ``ints`` are plain ints (a field without a default must be
    given), for a layer encoder's ``{read}``. A plain dict is read in one step: merged over the
    defaults, then one ``itemgetter`` (C code, no call a field); anything else (a parsed view) by ``get``."""
    names = ", ".join(fields)
    values = {field: defaults.get(field) for field in fields}
    lines = ["get = obj.get"]
    for field in fields:
        default = values[field]
        if default is None:
            lines.append(f"{field} = get({field!r})")
        elif default.__class__ in (int, bytes, str):  # written as a constant
            lines.append(f"{field} = get({field!r}, {default!r})")
        else:
            raise TypeError(f"{name}: the default of {field} is no constant: {default!r}")
    for field in ints:
        lines += [f"if {field}.__class__ is not int:", f"    {field} = _plain_int({field}, {field!r})"]
    return "\n    ".join(lines), {}


def _layer_encoder(name: str, template: str, defaults: dict, fields, ints):
    """``template`` (a layer encoder's source) with its ``{read}`` generated from the declared
    defaults (``_reads``), compiled in this module's namespace."""
    source, names = _reads(name, defaults, fields, ints)
    namespace = globals()
    namespace.update(names)
    exec(compile(template.replace("{read}", source), f"<netstack.formats.frame_codec: {name}>", "exec"), namespace)
    return namespace[name]


#: flag spellings ("S", "SA", "syn|ack"; "df") -> the int, for the few a program uses again and again
_TCP_FLAG_TEXT: dict = {}
_IP_FLAG_TEXT: dict = {}


def _explicit(value, derived, key):
    """``Layer.wanted`` for a value already read: None (compute it) when absent, or when a parsed
    container's value was right (``_derived``) and is unchanged; else the explicit value."""
    if value is None or derived and key in derived and derived[key] == value:
        return None
    return value


def _given(get, length, checksum):
    """(length, checksum) as given explicitly (``_explicit``); (None, None) for the usual dict with neither."""
    length_value, checksum_value = get(length), get(checksum)
    if length_value is None and checksum_value is None:
        return None, None
    derived = get("_derived")
    return _explicit(length_value, derived, length), _explicit(checksum_value, derived, checksum)


def _flag_text(value, convert, cache: dict) -> int:
    """``convert(value)``, remembered in ``cache`` when ``value`` is a plain str."""
    number = convert(value)
    if value.__class__ is str:
        if len(cache) >= ADDRESS_CACHE_SIZE:
            cache.clear()
        cache[value] = number
    return number


_encode_tcp = _layer_encoder("_encode_tcp", """
def _encode_tcp(obj, src, dst):
    keys = obj.keys()
    computed = not keys <= _TCP_GIVEN  # a length, checksum or _derived to look at (a parsed container)
    if computed and not keys <= _TCP_KEYS:
        raise NotOurs("tcp")
    {read}
    # encoded unpadded: encode_tcp pads them only when data_offset is computed, as the declaration's builder
    options = _encoded_options(options) if options else b""
    if flags.__class__ is not int:
        number = _TCP_FLAG_TEXT.get(flags) if flags.__class__ is str else None
        flags = number if number is not None else _flag_text(flags, _tcp_flags, _TCP_FLAG_TEXT)
    if payload.__class__ is not bytes:
        payload = _bytes(payload, "payload")
    data_offset, checksum = _given(obj.get, "data_offset", "checksum") if computed else (None, None)
    return _fast_encode_tcp(src, dst, src_port, dst_port, seq, ack, flags, window, urgent_pointer, options, payload,
                            data_offset, reserved, checksum)
""", _TCP_DEFAULTS, ("src_port", "dst_port", "seq", "ack", "window", "urgent_pointer", "reserved", "options", "flags",
                     "payload"), ("src_port", "dst_port", "seq", "ack", "window", "urgent_pointer", "reserved"))


_encode_udp = _layer_encoder("_encode_udp", """
def _encode_udp(obj, src, dst):
    keys = obj.keys()
    computed = not keys <= _UDP_GIVEN
    if computed and not keys <= _UDP_KEYS:
        raise NotOurs("udp")
    {read}
    if payload.__class__ is not bytes:
        payload = _bytes(payload, "payload")
    if not computed:
        return _fast_encode_udp(src, dst, src_port, dst_port, payload)
    length, checksum = _given(obj.get, "length", "checksum")
    padding = obj.get("padding")
    datagram = _fast_encode_udp(src, dst, src_port, dst_port, payload, length, checksum)
    return datagram if not padding else datagram + _bytes(padding, "padding")
""", _UDP_DEFAULTS, ("src_port", "dst_port", "payload"), ("src_port", "dst_port"))  # dst_port absent: NotOurs


_TRANSPORT_ENCODERS = {fast.IP_PROTOCOL_TCP: (_encode_tcp, TCP), fast.IP_PROTOCOL_UDP: (_encode_udp, UDP)}


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


def _protocol_number(protocol) -> int:
    if protocol is None or isinstance(protocol, str) and not hasattr(protocol, "__int__"):
        try:
            protocol = IP_PROTOCOLS.enum.number(protocol) if protocol is not None else None
        except FormatError:
            raise NotOurs("protocol") from None
    if protocol is None:
        raise NotOurs("protocol")
    return int(protocol)


#: the declared defaults as the fast builder takes them: the TOS byte as one int, the address as bytes
_IPV4_BUILD_DEFAULTS = dict(_IPV4_DEFAULTS, tos=(_IPV4_DEFAULTS["tos"]["dscp"] << 2) | _IPV4_DEFAULTS["tos"]["ecn"],
                            src=fast.ipv4_bytes(_IPV4_DEFAULTS["src"]))
_encode_ipv4 = _layer_encoder("_encode_ipv4", """
def _encode_ipv4(obj):
    keys = obj.keys()
    computed = not keys <= _IPV4_GIVEN  # lengths, checksum, options, padding, version or _derived given
    if computed and not keys <= _IPV4_KEYS:
        raise NotOurs("ipv4")
    {read}
    if dst.__class__ is not bytes or len(dst) != 4:
        if dst is None:
            raise NotOurs("ipv4")
        dst = _address(dst, _ipv4_bytes)
    if computed and obj.get("version", 4) != 4:
        raise NotOurs("ipv4")
    if src.__class__ is not bytes or len(src) != 4:
        src = _address(src or "0.0.0.0", _ipv4_bytes)
    if protocol.__class__ is not int:
        number = _PROTOCOL_NAMES.get(protocol) if protocol.__class__ is str else None  # "tcp": the registry's name
        protocol = number if number is not None else _protocol_number(protocol)
    if payload.__class__ is not bytes:
        if isinstance(payload, Crafted):
            payload = payload.fields
        if isinstance(payload, dict):
            encoder = _TRANSPORT_ENCODERS.get(protocol)
            entry = _PROTOCOL_ENTRIES.get(protocol)
            if encoder is None or entry is None or entry.schema is not encoder[1]:  # a registered schema builds it
                raise NotOurs("payload")
            payload = encoder[0](payload, src, dst)
        else:
            payload = _bytes(payload, "payload")
    if tos.__class__ is not int:
        if isinstance(tos, dict):
            tos = (tos.get("dscp", 0) << 2) | tos.get("ecn", 0)
        tos = _plain_int(tos or 0, "tos")
    if flags.__class__ is not int:
        number = _IP_FLAG_TEXT.get(flags) if flags.__class__ is str else None
        flags = number if number is not None else _flag_text(flags, _ipv4_flags, _IP_FLAG_TEXT)
    if not computed:
        return _fast_encode_ipv4(src, dst, protocol, payload, ttl, identification, flags, fragment_offset, tos)
    get = obj.get
    options = get("options")
    if options.__class__ is not bytes:
        options = _bytes(options, "options")
    derived = get("_derived")
    ihl, total_length, checksum = get("ihl"), get("total_length"), get("checksum")
    if ihl is not None or total_length is not None or checksum is not None:
        ihl, total_length = _explicit(ihl, derived, "ihl"), _explicit(total_length, derived, "total_length")
        checksum = _explicit(checksum, derived, "checksum")
    padding = get("padding")
    packet = _fast_encode_ipv4(src, dst, protocol, payload, ttl, identification, flags, fragment_offset, tos, options,
                               ihl, total_length, checksum)
    return packet if not padding else packet + _bytes(padding, "padding")
""", _IPV4_BUILD_DEFAULTS, ("dst", "src", "protocol", "payload", "tos", "flags", "ttl", "identification", "fragment_offset"),
    ("ttl", "identification", "fragment_offset"))


def encode_frame(obj) -> bytes:
    """The bytes ``Frame.build(obj)`` gives, built by the generated codec; ``NotOurs`` for what it
    does not cover (the declarative builder then builds it, or raises its FormatError)."""
    try:
        if not isinstance(obj, dict):
            raise NotOurs("ethernet")
        keys = obj.keys()
        get = obj.get
        if not keys <= _ETHERNET_GIVEN and (not keys <= _ETHERNET_KEYS or get("vlan") is not None):
            raise NotOurs("ethernet")
        ethertype = get("ethertype")
        if ethertype is not None and ethertype != _IPV4 and ethertype != "ipv4":
            raise NotOurs("ethertype")
        entry = _ETHERTYPE_ENTRIES.get(_IPV4)
        if entry is None or entry.schema is not IPv4:
            raise NotOurs("ethertype")
        payload = get("payload")
        if isinstance(payload, Crafted):  # a crafted frame's layers: their fields, as container() gives
            payload = payload.fields
        body = _encode_ipv4(payload) if isinstance(payload, dict) else _bytes(payload, "payload")
        dst, src = get("dst"), get("src")
        if dst.__class__ is not bytes or len(dst) != 6:
            dst = _address(dst or _DEFAULT_DST, _mac_bytes)
        if src.__class__ is not bytes or len(src) != 6:
            src = _address(src or _DEFAULT_SRC, _mac_bytes)
        return _fast_encode_ethernet(dst, src, _IPV4, body)
    except (FormatError, struct.error, OverflowError, TypeError, ValueError, KeyError, AttributeError):
        raise NotOurs("a value the declarative builder checks") from None


_fast_encode_ethernet, _fast_encode_ipv4 = fast.encode_ethernet, fast.encode_ipv4
_fast_encode_tcp, _fast_encode_udp = fast.encode_tcp, fast.encode_udp
_ipv4_bytes, _mac_bytes = fast.ipv4_bytes, fast.mac_bytes
_IPV4 = fast.ETHERTYPE_IPV4
_DEFAULT_DST, _DEFAULT_SRC = _ETHERNET_DEFAULTS["dst"], _ETHERNET_DEFAULTS["src"]
#: the registry's live tables: a built-in number is built here only while its built-in layer holds it
_ETHERTYPE_ENTRIES, _PROTOCOL_ENTRIES = ETHERTYPES.entries, IP_PROTOCOLS.entries
_PROTOCOL_NAMES = IP_PROTOCOLS.enum.encmapping  # names and aliases -> number, as the enum builds them

__all__ = ["NotOurs", "converter", "encode_frame", "field_converters", "field_defaults"]
