"""``Frame.build`` and ``bytes(Ether() / IP() / TCP())`` on the codec generated from the declarations.

``encode_frame`` gives the bytes the declarative ``Ethernet.build`` gives, or raises ``NotOurs`` for
what it does not cover (a registered protocol, a value the fast builder cannot take as is: an
explicit option ``length``, a field the declaration does not have, ...), which the declarative
builder then builds or refuses with its ``FormatError``. Two paths, both generated:

* the common frame, Ethernet/IPv4/UDP or TCP written by hand or crafted (plain dicts with no
  length, checksum or option fields, plain values): ``encode_plain_frame``, one straight-line
  function generated from the header layouts (``codegen``: the same group, sum and pack expressions
  as ``fast``'s encoders) that reads the three dicts, packs the three headers and sums both checksums
  without a call per layer (RFC 791 §3.1, RFC 768, RFC 9293 §3.1: lengths and checksums computed);
* anything else (a parsed container to rebuild, explicit lengths or checksums, text flags, IPv4
  options, ...): a layer encoder a layer (``_encode_ipv4`` ...), each generated from a template with
  its field reads and declared defaults inline, calling ``fast.encode_*``.

``tests/formats/test_frame_codec.py`` checks ``Frame.build`` against the declarative builder on every
strategy-drawn frame, ``tests/formats/test_plain_frames.py`` the plain path against the general one.
"""

from __future__ import annotations

import struct
from operator import is_

from netstack.errors import FormatError
from netstack.formats import fast
from netstack.formats.checksum import fold as _fold  # noqa: F401 (the generated code sums with it)
from netstack.formats.codegen import LayoutError, sum_expression
from netstack.formats.crafted import Crafted
from netstack.formats.ethernet import ethernet_header
from netstack.formats.frame_codec import NotOurs, field_defaults
from netstack.formats.fast_layers import ETHERNET_LAYOUT, IPV4_LAYOUT, TCP_LAYOUT, UDP_LAYOUT
from netstack.formats.ipv4 import IP_FLAGS, IPV4_RULES, IPv4, ipv4_header
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, IP_PROTOCOLS
from netstack.formats.tcp import TCP, TCP_FLAGS, TCP_RULES, flags_value, tcp_header
from netstack.formats.tcp_options import OPTION_LENGTHS, TCP_OPTION_KIND
from netstack.formats.udp import COMPUTED_ZERO_SENT_AS, UDP

_KIND_NUMBERS = TCP_OPTION_KIND.encmapping  # names and aliases ("wscale", "ts") -> kind


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
#: id of an option list -> (the list, its option tuples then, their bytes); bounded like the others
_OPTIONS_BY_LIST: dict = {}


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
    """The option list's bytes (unpadded), remembered: by the list itself while it holds the very same
    option tuples (a program crafting with one list: no key to build), else by value and type."""
    remembered = _OPTIONS_BY_LIST.get(id(options))
    if remembered is not None:
        held, items, encoded = remembered
        if held is options and len(options) == len(items) and all(map(is_, options, items)):
            return encoded
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
    if key is not None:  # hashable immutable values: the same tuples always encode the same way
        if len(_OPTIONS_BY_LIST) >= ADDRESS_CACHE_SIZE:
            _OPTIONS_BY_LIST.clear()
        _OPTIONS_BY_LIST[id(options)] = (options, tuple(options), encoded)  # held: its id stays its own
    return encoded


def _natural_length(kind, value):
    if kind in (fast.OPT_EOL, fast.OPT_NOP):
        return None
    if kind == fast.OPT_SACK:
        return 2 + 8 * len(value)
    if kind in (fast.OPT_MSS, fast.OPT_WINDOW_SCALE, fast.OPT_SACK_PERMITTED, fast.OPT_TIMESTAMPS):
        return min(OPTION_LENGTHS[kind])
    return 2 + len(value) if isinstance(value, (bytes, bytearray)) else None


def _reads(defaults: dict, fields, source: str = "obj", prefix: str = "") -> list[str]:
    """Statements reading ``fields`` of the dict ``source`` into locals named ``prefix + field``,
    each ``get(field, its declared default)`` (a constant in the code; no default: None)."""
    lines = [f"get = {source}.get"]
    for field in fields:
        default = defaults.get(field)
        if default is None:
            lines.append(f"{prefix}{field} = get({field!r})")
        elif default.__class__ in (int, bytes, str):
            lines.append(f"{prefix}{field} = get({field!r}, {default!r})")
        else:
            raise TypeError(f"the default of {field} is no constant: {default!r}")
    return lines


def _layer_encoder(name: str, template: str, defaults: dict, fields, ints):
    """``template`` (a layer encoder's source) with its ``{read}``: ``fields`` read with their declared
    defaults (``_reads``) and ``ints`` checked to be plain ints; compiled in this module's namespace."""
    lines = _reads(defaults, fields)
    for field in ints:
        lines += [f"if {field}.__class__ is not int:", f"    {field} = _plain_int({field}, {field!r})"]
    namespace = globals()
    exec(compile(template.replace("{read}", "\n    ".join(lines)), f"<netstack.formats.frame_encoder: {name}>", "exec"),
         namespace)
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


# --- the common frame in one generated function ------------------------------------------------------


def _plain_checks(prefix: str, ints, strings=()) -> list[str]:
    """``return None`` (the general path takes it) unless the ``ints`` are plain ints and the
    ``strings`` plain bytes."""
    tests = [f"{prefix}{name}.__class__ is not int" for name in ints]
    tests += [f"{prefix}{name}.__class__ is not bytes" for name in strings]
    return [f"if {' or '.join(tests)}:", "    return None"]


def _plain_frame_source() -> str:
    """``encode_plain_frame``'s source: the three dicts read with their declared defaults (``_reads``),
    values converted as the layer encoders convert them (anything else: None, the general path), then
    the headers packed and summed with ``codegen``'s expressions, as ``fast.encode_*`` do."""
    ipv4_sum = sum_expression(IPV4_LAYOUT, ("checksum",), "ipv4_", grouped=True)
    addresses = "_from_bytes(ipv4_src + ipv4_dst, 'big')"
    if addresses not in ipv4_sum:
        raise LayoutError("the IPv4 declaration no longer ends with its two addresses")
    ipv4_sum = ipv4_sum.replace(addresses, "addresses")  # summed once for the header and the pseudo-header
    headers = f"{ETHERNET_LAYOUT.pack_arguments('ethernet_')}, {IPV4_LAYOUT.pack_arguments('ipv4_', grouped=True)}"
    ip_ints, tcp_ints = ("tos", "ttl", "identification", "fragment_offset"), (
        "src_port", "dst_port", "seq", "ack", "window", "urgent_pointer", "reserved")
    body = [
        "if frame.__class__ is not dict or not frame.keys() <= _ETHERNET_GIVEN:",
        "    return None",
        "packet = frame.get('payload')",
        "if packet.__class__ is Crafted:",
        "    packet = packet.fields",
        "if packet.__class__ is not dict or not packet.keys() <= _IPV4_GIVEN:",
        "    return None",
        "ethertype = frame.get('ethertype')",
        "if ethertype is not None and ethertype != _IPV4 and ethertype != 'ipv4':",
        "    return None",
        "entry = _ETHERTYPE_ENTRIES.get(_IPV4)",
        "if entry is None or entry.schema is not IPv4:",
        "    return None",
        *_reads(_IPV4_BUILD_DEFAULTS, ("dst", "src", "protocol", "payload", "flags", *ip_ints), "packet", "ipv4_"),
        *_plain_checks("ipv4_", ip_ints),
        "if ipv4_protocol.__class__ is not int:",
        "    ipv4_protocol = _PROTOCOL_NAMES.get(ipv4_protocol) if ipv4_protocol.__class__ is str else None",
        "if ipv4_flags.__class__ is not int:",
        "    ipv4_flags = _IP_FLAG_TEXT.get(ipv4_flags) if ipv4_flags.__class__ is str else None",
        "    if ipv4_flags is None:",
        "        return None",
        "if ipv4_dst.__class__ is not bytes or len(ipv4_dst) != 4:",
        "    if ipv4_dst is None:",
        "        return None",
        "    ipv4_dst = _address(ipv4_dst, _ipv4_bytes)",
        "if ipv4_src.__class__ is not bytes or len(ipv4_src) != 4:",
        "    ipv4_src = _address(ipv4_src or '0.0.0.0', _ipv4_bytes)",
        "transport = ipv4_payload",
        "if transport.__class__ is Crafted:",
        "    transport = transport.fields",
        "entry = _PROTOCOL_ENTRIES.get(ipv4_protocol)",
        "if transport.__class__ is not dict or entry is None:",
        "    return None",
        "addresses = _from_bytes(ipv4_src + ipv4_dst, 'big')",
        f"if ipv4_protocol == {IP_PROTOCOL_UDP} and entry.schema is UDP and transport.keys() <= _UDP_GIVEN:",
        *["    " + line for line in _reads(_UDP_DEFAULTS, ("src_port", "dst_port", "payload"), "transport", "udp_")],
        *["    " + line for line in _plain_checks("udp_", ("src_port", "dst_port"), ("payload",))],
        f"    udp_length = {UDP_LAYOUT.size} + len(udp_payload)",
        "    total = _from_bytes(udp_payload, 'big')",
        "    if udp_length & 1:",
        "        total <<= 8  # the odd last byte is padded with a zero byte (RFC 1071)",
        f"    total += {sum_expression(UDP_LAYOUT, ('checksum',), 'udp_')} + addresses + {IP_PROTOCOL_UDP} + udp_length",
        "    if udp_length > 512:",
        "        total = _fold(total)",
        "    residue = total % 0xFFFF",
        f"    udp_checksum = 0xFFFF ^ residue if residue else {COMPUTED_ZERO_SENT_AS:#x}  # RFC 768: a computed zero is sent as all ones",
        "    segment_length = udp_length",
        f"elif ipv4_protocol == {IP_PROTOCOL_TCP} and entry.schema is TCP and transport.keys() <= _TCP_GIVEN:",
        *["    " + line for line in _reads(_TCP_DEFAULTS, (*tcp_ints, "options", "flags", "payload"), "transport", "tcp_")],
        *["    " + line for line in _plain_checks("tcp_", tcp_ints, ("payload",))],
        "    if tcp_flags.__class__ is not int:",
        "        tcp_flags = _TCP_FLAG_TEXT.get(tcp_flags) if tcp_flags.__class__ is str else None",
        "        if tcp_flags is None:",
        "            return None",
        "    options = _encoded_options(tcp_options) if tcp_options else b''",
        "    if len(options) & 3:",
        "        options += bytes(-len(options) & 3)  # EOL padding to a 4-byte boundary",
        f"    tcp_data_offset = {TCP_RULES.minimum >> 2} + (len(options) >> 2)",
        *["    " + line for line in TCP_LAYOUT.group_lines("tcp_")],
        f"    tcp_length = {TCP_RULES.minimum} + len(options) + len(tcp_payload)",
        "    total = _from_bytes(tcp_payload, 'big')",
        "    if tcp_length & 1:",
        "        total <<= 8  # the odd last byte is padded with a zero byte (RFC 1071)",
        "    if options:",
        "        total += _from_bytes(options, 'big')",
        f"    total += {sum_expression(TCP_LAYOUT, ('checksum',), 'tcp_', grouped=True)} + addresses + {IP_PROTOCOL_TCP} + tcp_length",
        "    if tcp_length > 512:",
        "        total = _fold(total)",
        "    residue = total % 0xFFFF",
        "    tcp_checksum = 0xFFFF ^ residue if residue else 0",
        "    segment_length = tcp_length",
        "else:",
        "    return None",
        *_reads(_ETHERNET_DEFAULTS, ("dst", "src"), "frame", "ethernet_"),
        "if ethernet_dst.__class__ is not bytes or len(ethernet_dst) != 6:",
        "    ethernet_dst = _address(ethernet_dst or _DEFAULT_DST, _mac_bytes)",
        "if ethernet_src.__class__ is not bytes or len(ethernet_src) != 6:",
        "    ethernet_src = _address(ethernet_src or _DEFAULT_SRC, _mac_bytes)",
        f"ipv4_version, ipv4_ihl = {_IPV4_DEFAULTS['version']}, {IPV4_RULES.minimum >> 2}",
        f"ipv4_total_length = {IPV4_RULES.minimum} + segment_length",
        *IPV4_LAYOUT.group_lines("ipv4_"),
        f"residue = ({ipv4_sum}) % 0xFFFF",
        "ipv4_checksum = 0xFFFF ^ residue if residue else 0",
        "ethernet_ethertype = _IPV4",
        # the three headers in one pack (_S_*_FRAME: the layouts' formats joined), then the data
        f"if ipv4_protocol == {IP_PROTOCOL_UDP}:",
        f"    return _S_UDP_FRAME.pack({headers}, {UDP_LAYOUT.pack_arguments('udp_')}) + udp_payload",
        f"return _S_TCP_FRAME.pack({headers}, {TCP_LAYOUT.pack_arguments('tcp_', grouped=True)}) + options + tcp_payload",
    ]
    return "def encode_plain_frame(frame):\n    " + "\n    ".join(body) + "\n"


def encode_frame(obj) -> bytes:
    """The bytes ``Frame.build(obj)`` gives, built by the generated codec; ``NotOurs`` for what it
    does not cover (the declarative builder then builds it, or raises its FormatError)."""
    try:
        data = encode_plain_frame(obj)
        if data is not None:
            return data
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
_S_UDP_FRAME, _S_TCP_FRAME = (struct.Struct("!" + "".join(layout.format.lstrip("!") for layout in (ETHERNET_LAYOUT, IPV4_LAYOUT, upper)))
                              for upper in (UDP_LAYOUT, TCP_LAYOUT))
_from_bytes = int.from_bytes

PLAIN_FRAME_SOURCE = _plain_frame_source()
"""``encode_plain_frame``'s generated source, for reading."""
exec(compile(PLAIN_FRAME_SOURCE, "<netstack.formats.frame_encoder: encode_plain_frame>", "exec"), globals())


__all__ = ["encode_frame", "encode_plain_frame"]
