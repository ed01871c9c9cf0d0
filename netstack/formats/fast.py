"""The fast path: struct codecs generated at import time from the construct declarations.

The engine decodes and builds every frame with these functions. Header layouts (field order, names,
widths, bit groups) are read from ``ethernet.ethernet_header``, ``ipv4.ipv4_header``,
``tcp.tcp_header``, ... by ``netstack.formats.codegen``; the option codecs from
``tcp_options.tcp_option_values``. Nothing here restates a header. The rules around the headers (length
checks, checksums) are the same as the declarative ``Layer``s' and raise the same
``FormatError(layer, field, offset)``; ``tests/formats/test_fast.py`` proves both paths agree.

Decoding
--------
Every ``decode_*`` takes the buffer (``bytes``, ``bytearray`` or ``memoryview``; never copied), the
offset where the layer starts and, below Ethernet, ``end``: where the layer's bytes end (default
``len(buf)``; pass the enclosing IPv4 ``payload_end`` so Ethernet padding is not taken for data).
It returns a tuple-based record: attributes named as the schema fields, raw values (addresses as
bytes, enums and flags as ints), plus:

``offset``          where the layer starts in ``buf``
``header_length``   bytes of header (options included)
``payload_offset``  ``offset + header_length``
``payload_end``     end of the payload in ``buf``
``payload``         property: ``bytes(buf[payload_offset:payload_end])`` (copied on each access)
``buf``             the buffer

Records (``_fields``, ``_asdict()``, tuple equality):

``decode_ethernet(buf, offset=0) -> EthernetHeader``
    ``dst, src`` (6 bytes), ``ethertype`` (int, the one after the tag), ``vlan`` (None or
    ``VlanTag(pcp, dei, vid)``).
``decode_arp(buf, offset=0, end=None) -> ArpPacket``
    ``htype, ptype, hlen, plen, op, sha, spa, tha, tpa`` (addresses as bytes of hlen/plen).
``decode_ipv4(buf, offset=0, end=None) -> Ipv4Header``
    ``end`` may lie past ``len(buf)``: ``total_length`` is checked against ``end`` while the header must
    be present in ``buf``. That reads the IPv4 header quoted in an ICMP error (RFC 792: header + 8
    bytes of a longer datagram) with ``decode_ipv4(buf, quote_offset, quote_offset + 65535)``;
    ``payload_end`` may then exceed ``len(buf)``. The other decoders clip ``end`` to ``len(buf)``.

    ``version, ihl, tos`` (the 8-bit int: DSCP << 2 | ECN), ``total_length, identification, flags``
    (3 bits: ``IP_DF``, ``IP_MF``), ``fragment_offset`` (8-byte units), ``ttl, protocol, checksum``,
    ``src, dst`` (4 bytes), ``options`` (bytes), ``checksum_ok`` (bool). ``payload_end`` is
    ``offset + total_length``.
``decode_icmp(buf, offset=0, end=None) -> IcmpHeader``
    ``type, code, checksum, checksum_ok`` and every per-type field of the declaration
    (``identifier, sequence, unused, next_hop_mtu, pointer, gateway, rest_of_header``), None where
    the type does not have it.
``decode_udp(buf, offset=0, end=None, src=None, dst=None) -> UdpHeader``
    ``src_port, dst_port, length, checksum, checksum_ok``: True/False, None when checksum is 0 (none
    sent) or src/dst (4-byte IPv4 addresses, for the pseudo-header) are not given.
    ``payload_end`` is ``offset + length``.
``decode_tcp(buf, offset=0, end=None, src=None, dst=None) -> TcpHeader``
    ``src_port, dst_port, seq, ack, data_offset, reserved, flags`` (int; test with ``FIN`` ...
    ``CWR``), ``window, checksum, urgent_pointer``, ``options`` (tuple of ``(kind, value)``),
    ``checksum_ok`` (None without src/dst).

TCP option values by kind: ``OPT_EOL`` zero padding bytes after it; ``OPT_NOP`` None; ``OPT_MSS`` int;
``OPT_WINDOW_SCALE`` int; ``OPT_SACK_PERMITTED`` None; ``OPT_SACK`` tuple of ``(left, right)``;
``OPT_TIMESTAMPS`` ``(ts_value, ts_echo_reply)``; ``OPT_TFO`` cookie bytes; any other kind its raw
value bytes.

Encoding
--------
Keyword builders return bytes; lengths and checksums left as None are computed, explicit values are
kept (to craft broken packets). Addresses are bytes (text is accepted, slower).

``encode_ethernet(dst, src, ethertype, payload=b"", vlan=None)``
    ``vlan``: None or ``(pcp, dei, vid)``.
``encode_arp(op, sha, spa, tpa, tha=bytes(6), htype=1, ptype=0x0800)`` (hlen/plen from the addresses)
``encode_ipv4(src, dst, protocol, payload=b"", ttl=64, identification=0, flags=0,
fragment_offset=0, tos=0, options=b"", ihl=None, total_length=None, checksum=None, version=4)``
    returns header + payload; options are zero-padded to 4 bytes when ihl is None.
``encode_icmp(type, code=0, payload=b"", checksum=None, **fields)``
    ``fields``: the type's fields (``identifier``, ``sequence``, ``next_hop_mtu``, ...), default 0.
``encode_udp(src, dst, src_port, dst_port, payload=b"", length=None, checksum=None)``
    src/dst: IPv4 addresses for the pseudo-header. A computed checksum of 0 is sent as 0xFFFF.
``encode_tcp(src, dst, src_port, dst_port, seq=0, ack=0, flags=0, window=65535, urgent_pointer=0,
options=(), payload=b"", data_offset=None, reserved=0, checksum=None)``
    ``options``: iterable of ``(kind, value)`` (kind an int or name) or already-encoded bytes;
    padded with zeros (EOL) to a 4-byte boundary when data_offset is None.
``encode_tcp_options(options, pad=True) -> bytes`` and ``decode_tcp_options(buf, start, end)`` (generated in
``fast_tcp_options`` from the option declarations).

Bad input raises ``FormatError`` with the same (layer, field, offset) as ``Frame.parse`` (offsets count
from the start of ``buf``); nothing else escapes, and a zero-length option cannot loop.

Constants
---------
TCP flags ``FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80``; IPv4 flags
``IP_DF=0b010 IP_MF=0b001``; option kinds ``OPT_EOL OPT_NOP OPT_MSS OPT_WINDOW_SCALE OPT_SACK_PERMITTED
OPT_SACK OPT_TIMESTAMPS OPT_TFO``; ``ETHERTYPE_IPV4 ETHERTYPE_ARP ETHERTYPE_VLAN``; ``IP_PROTOCOL_ICMP
IP_PROTOCOL_TCP IP_PROTOCOL_UDP``. All read from the declarations. ``encode_icmp`` takes the type as
an int (``icmp.ICMP_TYPE.number("echo_request")`` names it).

Text helpers: ``ipv4_text(b)``, ``mac_text(b)``, ``ipv4_bytes(text)``, ``mac_bytes(text)``.
The generated code is readable: ``print(netstack.formats.fast.GENERATED_SOURCE)``.
"""

from __future__ import annotations

import struct


from netstack.errors import FormatError
from netstack.formats import arp as arp_schema
from netstack.formats import ethernet as ethernet_schema
from netstack.formats import icmp as icmp_schema
from netstack.formats import ipv4 as ipv4_schema
from netstack.formats import tcp as tcp_schema
from netstack.formats import tcp_options as options_schema
from netstack.formats import udp as udp_schema
from netstack.formats.checksum import fold
from netstack.formats.codegen import LayoutError, header_layout, make_record, sum_expression
from netstack.formats.fast_tcp_options import OPTIONS_SOURCE as _OPTIONS_SOURCE
from netstack.formats.fast_tcp_options import decode_tcp_options, encode_tcp_options
from netstack.formats.fields import Flattened, ipv4_to_bytes, ipv4_to_text, mac_to_bytes, mac_to_text
from netstack.formats.ipv4 import IP_DF, IP_MF
from netstack.formats.registry import (
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_VLAN,
    IP_PROTOCOL_ICMP,
    IP_PROTOCOL_TCP,
    IP_PROTOCOL_UDP,
)
from netstack.formats.tcp import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG
from netstack.formats.tcp_options import (
    OPT_EOL,
    OPT_MSS,
    OPT_NOP,
    OPT_SACK,
    OPT_SACK_PERMITTED,
    OPT_TFO,
    OPT_TIMESTAMPS,
    OPT_WINDOW_SCALE,
)

# --- the constants above are declared beside the declarations and re-exported here (see __all__) --------

ipv4_text = ipv4_to_text
mac_text = mac_to_text
ipv4_bytes = ipv4_to_bytes
mac_bytes = mac_to_bytes

# --- layouts read from the declarations ---------------------------------------------------------------

ETHERNET_LAYOUT = header_layout(ethernet_schema.ethernet_header)
VLAN_LAYOUT = header_layout(ethernet_schema.vlan_tag)
ARP_LAYOUT = header_layout(arp_schema.arp_header, {"hlen": 6, "plen": 4})
# The part before the addresses, for other address sizes (addresses of length 0 drop out).
ARP_FIXED_LAYOUT = header_layout(arp_schema.arp_header, {"hlen": 0, "plen": 0})
ARP_FIXED_LAYOUT.slots = [slot for slot in ARP_FIXED_LAYOUT.slots if slot.code != "0s"]
IPV4_LAYOUT = header_layout(ipv4_schema.ipv4_header)
ICMP_LAYOUT = header_layout(icmp_schema.icmp_header)
UDP_LAYOUT = header_layout(udp_schema.udp_header)
TCP_LAYOUT = header_layout(tcp_schema.tcp_header)

_icmp_switch = next(sc.subcon for sc in icmp_schema.icmp_header.subcons if isinstance(sc, Flattened))
ICMP_CASE_LAYOUTS = {key: header_layout(case) for key, case in _icmp_switch.cases.items() if isinstance(key, int)}
ICMP_DEFAULT_LAYOUT = header_layout(_icmp_switch.default)
ICMP_TYPE_FIELDS: list[str] = []
for _layout in list(ICMP_CASE_LAYOUTS.values()) + [ICMP_DEFAULT_LAYOUT]:
    for _name in _layout.field_names:
        if _name not in ICMP_TYPE_FIELDS:
            ICMP_TYPE_FIELDS.append(_name)

_POSITION = ["offset", "header_length", "payload_offset", "payload_end", "buf"]


def _payload(record):
    return bytes(record.buf[record.payload_offset : record.payload_end])


_PAYLOAD = {"payload": property(_payload, doc="bytes(buf[payload_offset:payload_end])")}

VlanTag = make_record("VlanTag", VLAN_LAYOUT.field_names, "802.1Q tag: pcp, dei, vid.")
EthernetHeader = make_record(
    "EthernetHeader", ETHERNET_LAYOUT.field_names + ["vlan"] + _POSITION, "Decoded Ethernet II header.", _PAYLOAD
)
ArpPacket = make_record("ArpPacket", ARP_LAYOUT.field_names + _POSITION, "Decoded ARP packet (RFC 826).", _PAYLOAD)
Ipv4Header = make_record(
    "Ipv4Header", IPV4_LAYOUT.field_names + ["options", "checksum_ok"] + _POSITION, "Decoded IPv4 header.", _PAYLOAD
)
IcmpHeader = make_record(
    "IcmpHeader", ICMP_LAYOUT.field_names + ICMP_TYPE_FIELDS + ["checksum_ok"] + _POSITION, "Decoded ICMP header.", _PAYLOAD
)
UdpHeader = make_record("UdpHeader", UDP_LAYOUT.field_names + ["checksum_ok"] + _POSITION, "Decoded UDP header.", _PAYLOAD)
TcpHeader = make_record(
    "TcpHeader", TCP_LAYOUT.field_names + ["options", "checksum_ok"] + _POSITION, "Decoded TCP header.", _PAYLOAD
)


def _const_error(struct_name, index, offset):
    return FormatError("ethernet", "vlan", offset, "bad constant in the 802.1Q tag")


def _indent(lines, depth):
    return "\n".join(" " * (4 * depth) + line for line in lines)


# --- layers: generated unpack/pack statements inside each layer's rules ---------------------------------


def _args(layout, skip=()):
    return ", ".join(name for name in layout.field_names if name not in skip)


def _generate_layers():
    namespace = {
        "FormatError": FormatError,
        "_new": tuple.__new__,
        "_const_error": _const_error,
        "_S_ETH": struct.Struct(ETHERNET_LAYOUT.format),
        "_S_VLAN": struct.Struct(VLAN_LAYOUT.format),
        "_S_ETHERTYPE": struct.Struct("!" + ETHERNET_LAYOUT.slots[-1].code),
        "_S_ARP": struct.Struct(ARP_LAYOUT.format),
        "_S_ARP_FIXED": struct.Struct(ARP_FIXED_LAYOUT.format),
        "_S_IP": struct.Struct(IPV4_LAYOUT.format),
        "_S_ICMP": struct.Struct(ICMP_LAYOUT.format),
        "_S_UDP": struct.Struct(UDP_LAYOUT.format),
        "_S_TCP": struct.Struct(TCP_LAYOUT.format),
        "_ETHERNET": ethernet_schema.Ethernet,
        "_ARP": arp_schema.ARP,
        "_IPV4": ipv4_schema.IPv4,
        "_ICMP": icmp_schema.ICMP,
        "_UDP": udp_schema.UDP,
        "_TCP": tcp_schema.TCP,
        "EthernetHeader": EthernetHeader,
        "VlanTag": VlanTag,
        "ArpPacket": ArpPacket,
        "Ipv4Header": Ipv4Header,
        "IcmpHeader": IcmpHeader,
        "UdpHeader": UdpHeader,
        "TcpHeader": TcpHeader,
        "decode_tcp_options": decode_tcp_options,
        "encode_tcp_options": encode_tcp_options,
        "mac_bytes": mac_to_bytes,
        "ipv4_bytes": ipv4_to_bytes,
        "_from_bytes": int.from_bytes,
        "_fold": fold,
        "TPID": ethernet_schema.TPID_8021Q,
    }
    if ETHERNET_LAYOUT.field_names != ["dst", "src", "ethertype"] or VLAN_LAYOUT.size != 4:
        raise LayoutError("the Ethernet declaration changed shape: update the Ethernet rules in fast.py")

    # ICMP per-type fields: one branch per case of the declaration's Switch.
    icmp_decode = []
    icmp_encode = []
    cases: dict[str, list[int]] = {}
    for key, layout in ICMP_CASE_LAYOUTS.items():
        cases.setdefault(layout.format + "|" + ",".join(layout.field_names), []).append(key)
    for number, (signature, keys) in enumerate(cases.items()):
        layout = ICMP_CASE_LAYOUTS[keys[0]]
        name = f"_S_ICMP_CASE{number}"
        namespace[name] = struct.Struct(layout.format)
        keyword = "if" if number == 0 else "elif"
        test = f"type == {keys[0]}" if len(keys) == 1 else f"type in {tuple(sorted(keys))!r}"
        icmp_decode.append(f"{keyword} {test}:")
        icmp_decode += ["    " + line for line in layout.unpack_lines(name, "buf", "offset + 4")]
        icmp_encode.append(f"{keyword} {test}:")
        for field_name in layout.field_names:
            default = "b'\\x00\\x00\\x00\\x00'" if field_name == "gateway" else "0"
            icmp_encode.append(f"    {field_name} = fields.get({field_name!r}, {default})")
            if field_name == "gateway":
                icmp_encode.append("    if gateway.__class__ is not bytes: gateway = ipv4_bytes(gateway)")
        icmp_encode.append(f"    rest = {name}.pack({layout.pack_arguments()})")
    namespace["_S_ICMP_DEFAULT"] = struct.Struct(ICMP_DEFAULT_LAYOUT.format)
    icmp_decode.append("else:")
    icmp_decode += ["    " + line for line in ICMP_DEFAULT_LAYOUT.unpack_lines("_S_ICMP_DEFAULT", "buf", "offset + 4")]
    icmp_encode += ["else:", "    rest = bytes(fields.get('rest_of_header', b'\\x00\\x00\\x00\\x00'))"]
    icmp_fields_reset = [f"{name} = None" for name in ICMP_TYPE_FIELDS]

    ip_fields = IPV4_LAYOUT.field_names
    tcp_fields = TCP_LAYOUT.field_names
    source = f'''
def decode_ethernet(buf, offset=0):
    available = len(buf) - offset
    if available < 14:
        if available >= 12:
            raise FormatError("ethernet", "ethertype", offset + 12, "truncated: needs 14 bytes, has %d" % available)
        raise _ETHERNET.truncated(available, 14, offset)
{_indent(ETHERNET_LAYOUT.unpack_lines("_S_ETH", "buf", "offset"), 1)}
    if ethertype == TPID:
        if available < 18:
            raise _ETHERNET.truncated_tag(available, offset)
{_indent(VLAN_LAYOUT.unpack_lines("_S_VLAN", "buf", "offset + 12"), 2)}
        vlan = _new(VlanTag, ({", ".join(VLAN_LAYOUT.field_names)},))
        ethertype, = _S_ETHERTYPE.unpack_from(buf, offset + 16)  # the EtherType slot, after the tag
        header_length = 18
    else:
        vlan = None
        header_length = 14
    return _new(EthernetHeader, ({", ".join(ETHERNET_LAYOUT.field_names)}, vlan, offset, header_length, offset + header_length, len(buf), buf))


def encode_ethernet(dst, src, ethertype, payload=b"", vlan=None):
    if dst.__class__ is not bytes:
        dst = mac_bytes(dst)
    if src.__class__ is not bytes:
        src = mac_bytes(src)
    if vlan is None:
        return _S_ETH.pack({ETHERNET_LAYOUT.pack_arguments()}) + payload
    {", ".join(VLAN_LAYOUT.field_names)} = vlan
    # dst, src, then the tag (its TPID in the EtherType position), then the EtherType slot again
    return _S_ETH.pack(dst, src, TPID) + _S_VLAN.pack({VLAN_LAYOUT.pack_arguments()})[2:] + _S_ETHERTYPE.pack(ethertype) + payload


def decode_arp(buf, offset=0, end=None):
    if end is None or end > len(buf):
        end = len(buf)
    available = end - offset
    if available < 8:
        raise _ARP.truncated(available, 8, offset)
    hlen = buf[offset + 4]
    plen = buf[offset + 5]
    length = 8 + 2 * hlen + 2 * plen
    if available < length:
        _ARP.decode(bytes(buf[offset:end]), offset, None)  # raises the declarative path's FormatError
    if hlen == 6 and plen == 4:
{_indent(ARP_LAYOUT.unpack_lines("_S_ARP", "buf", "offset"), 2)}
    else:
        htype, ptype, hlen, plen, op = _S_ARP_FIXED.unpack_from(buf, offset)
        position = offset + 8
        sha = bytes(buf[position : position + hlen])
        spa = bytes(buf[position + hlen : position + hlen + plen])
        tha = bytes(buf[position + hlen + plen : position + 2 * hlen + plen])
        tpa = bytes(buf[position + 2 * hlen + plen : position + length - 8])
    return _new(ArpPacket, ({", ".join(ARP_LAYOUT.field_names)}, offset, length, offset + length, end, buf))


def encode_arp(op, sha, spa, tpa, tha=b"\\x00\\x00\\x00\\x00\\x00\\x00", htype=1, ptype=0x0800):
    if sha.__class__ is not bytes:
        sha = mac_bytes(sha)
    if tha.__class__ is not bytes:
        tha = mac_bytes(tha)
    if spa.__class__ is not bytes:
        spa = ipv4_bytes(spa)
    if tpa.__class__ is not bytes:
        tpa = ipv4_bytes(tpa)
    hlen = len(sha)
    plen = len(spa)
    if hlen == 6 and plen == 4:
        return _S_ARP.pack({ARP_LAYOUT.pack_arguments()})
    return _S_ARP_FIXED.pack(htype, ptype, hlen, plen, op) + sha + spa + tha + tpa


def decode_ipv4(buf, offset=0, end=None):
    if end is None:
        end = len(buf)
    available = end - offset
    present = len(buf) - offset  # less than available only for a quote read with end past the buffer
    if available < 20 or present < 20:
        raise _IPV4.truncated(min(available, present), 20, offset)
{_indent(IPV4_LAYOUT.unpack_lines("_S_IP", "buf", "offset"), 1)}
    if version != 4:
        raise FormatError("ipv4", "version", offset, "version %d, expected 4" % version)
    if ihl < 5:
        raise FormatError("ipv4", "ihl", offset, "ihl %d is below the minimum 5 (20 bytes)" % ihl)
    header_length = ihl * 4
    if header_length > available or header_length > present:
        raise FormatError("ipv4", "options", offset + 20, "ihl %d says %d header bytes, has %d" % (ihl, header_length, min(available, present)))
    if total_length < header_length:
        raise FormatError("ipv4", "total_length", offset + 2, "total_length %d is below the header length %d" % (total_length, header_length))
    if total_length > available:
        raise FormatError("ipv4", "total_length", offset + 2, "total_length %d exceeds the %d bytes present" % (total_length, available))
    payload_offset = offset + header_length
    total = _from_bytes(buf[offset:payload_offset], "big")
    checksum_ok = total % 0xFFFF == 0 and total != 0
    options = bytes(buf[offset + 20 : payload_offset]) if header_length > 20 else b""
    return _new(Ipv4Header, ({", ".join(ip_fields)}, options, checksum_ok, offset, header_length, payload_offset, offset + total_length, buf))


def encode_ipv4(src, dst, protocol, payload=b"", ttl=64, identification=0, flags=0, fragment_offset=0, tos=0,
                options=b"", ihl=None, total_length=None, checksum=None, version=4):
    if src.__class__ is not bytes:
        src = ipv4_bytes(src)
    if dst.__class__ is not bytes:
        dst = ipv4_bytes(dst)
    if options:
        options = bytes(options)
        if ihl is None:
            if len(options) & 3:
                options += bytes(-len(options) & 3)
            ihl = 5 + (len(options) >> 2)
    elif ihl is None:
        ihl = 5
    if total_length is None:
        total_length = 20 + len(options) + len(payload)
{_indent(IPV4_LAYOUT.group_lines(), 1)}
    if checksum is None:
        total = {sum_expression(IPV4_LAYOUT, ("checksum",), grouped=True)}
        if options:
            total += _from_bytes(options, "big")
        residue = total % 0xFFFF
        checksum = 0xFFFF ^ residue if residue else 0
    return _S_IP.pack({IPV4_LAYOUT.pack_arguments(grouped=True)}) + options + payload


def decode_icmp(buf, offset=0, end=None):
    if end is None or end > len(buf):
        end = len(buf)
    available = end - offset
    if available < 8:
        raise _ICMP.truncated(available, 8, offset)
{_indent(ICMP_LAYOUT.unpack_lines("_S_ICMP", "buf", "offset"), 1)}
{_indent(icmp_fields_reset, 1)}
{_indent(icmp_decode, 1)}
    segment = buf[offset:end]
    if available & 1:
        total = _from_bytes(segment, "big") << 8
    else:
        total = _from_bytes(segment, "big")
    checksum_ok = total % 0xFFFF == 0 and total != 0
    return _new(IcmpHeader, ({", ".join(ICMP_LAYOUT.field_names + ICMP_TYPE_FIELDS)}, checksum_ok, offset, 8, offset + 8, end, buf))


def encode_icmp(type, code=0, payload=b"", checksum=None, **fields):
{_indent(icmp_encode, 1)}
    if checksum is None:
        message = _S_ICMP.pack(type, code, 0) + rest + payload
        total = _from_bytes(message, "big")
        if len(message) & 1:
            total <<= 8
        residue = total % 0xFFFF
        checksum = 0xFFFF ^ residue if residue else (0 if total else 0xFFFF)
    return _S_ICMP.pack({ICMP_LAYOUT.pack_arguments()}) + rest + payload


def decode_udp(buf, offset=0, end=None, src=None, dst=None):
    if end is None or end > len(buf):
        end = len(buf)
    available = end - offset
    if available < 8:
        raise _UDP.truncated(available, 8, offset)
{_indent(UDP_LAYOUT.unpack_lines("_S_UDP", "buf", "offset"), 1)}
    if length < 8:
        raise FormatError("udp", "length", offset + 4, "length %d is below the 8-byte header" % length)
    if length > available:
        raise FormatError("udp", "length", offset + 4, "length %d exceeds the %d bytes present" % (length, available))
    if src is None or dst is None or checksum == 0:
        checksum_ok = None
    else:
        total = _from_bytes(buf[offset : offset + length], "big")
        if length & 1:
            total <<= 8
        total += _from_bytes(src + dst, "big") + 17 + length  # src||dst = src + dst (mod 0xFFFF)
        if length > 512:
            total = _fold(total)
        checksum_ok = total % 0xFFFF == 0
    return _new(UdpHeader, ({", ".join(UDP_LAYOUT.field_names)}, checksum_ok, offset, 8, offset + 8, offset + length, buf))


def encode_udp(src, dst, src_port, dst_port, payload=b"", length=None, checksum=None):
    if length is None:
        length = 8 + len(payload)
    if checksum is None:
        if src.__class__ is not bytes:
            src = ipv4_bytes(src)
        if dst.__class__ is not bytes:
            dst = ipv4_bytes(dst)
        total = _from_bytes(payload, "big")
        if len(payload) & 1:
            total <<= 8  # the odd last byte is padded with a zero byte (RFC 1071)
        total += {sum_expression(UDP_LAYOUT, ("checksum",))} + _from_bytes(src + dst, "big") + 17 + length
        if length > 512:
            total = _fold(total)
        residue = total % 0xFFFF
        checksum = (0xFFFF ^ residue) if residue else 0
        if checksum == 0:
            checksum = 0xFFFF  # RFC 768: a computed zero is sent as all ones
    return _S_UDP.pack({UDP_LAYOUT.pack_arguments()}) + payload


def decode_tcp(buf, offset=0, end=None, src=None, dst=None):
    if end is None or end > len(buf):
        end = len(buf)
    available = end - offset
    if available < 20:
        raise _TCP.truncated(available, 20, offset)
{_indent(TCP_LAYOUT.unpack_lines("_S_TCP", "buf", "offset"), 1)}
    if data_offset < 5:
        raise FormatError("tcp", "data_offset", offset + 12, "data_offset %d is below the minimum 5 (20 bytes)" % data_offset)
    header_length = data_offset << 2
    if header_length > available:
        raise FormatError("tcp", "data_offset", offset + 12, "data_offset %d says %d header bytes, has %d" % (data_offset, header_length, available))
    options = decode_tcp_options(buf, offset + 20, offset + header_length) if header_length > 20 else ()
    if src is None or dst is None:
        checksum_ok = None
    else:
        total = _from_bytes(buf[offset:end], "big")
        if available & 1:
            total <<= 8
        total += _from_bytes(src + dst, "big") + 6 + available  # src||dst = src + dst (mod 0xFFFF)
        if available > 512:
            total = _fold(total)
        checksum_ok = total % 0xFFFF == 0
    return _new(TcpHeader, ({", ".join(tcp_fields)}, options, checksum_ok, offset, header_length, offset + header_length, end, buf))


def encode_tcp(src, dst, src_port, dst_port, seq=0, ack=0, flags=0, window=65535, urgent_pointer=0, options=(),
               payload=b"", data_offset=None, reserved=0, checksum=None):
    if options:
        if options.__class__ is not bytes:
            options = encode_tcp_options(options)
        elif data_offset is None and len(options) & 3:
            options += bytes(-len(options) & 3)
    else:
        options = b""
    if data_offset is None:
        data_offset = 5 + (len(options) >> 2)
{_indent(TCP_LAYOUT.group_lines(), 1)}
    if checksum is None:
        if src.__class__ is not bytes:
            src = ipv4_bytes(src)
        if dst.__class__ is not bytes:
            dst = ipv4_bytes(dst)
        length = 20 + len(options) + len(payload)
        if len(options) & 1:  # only with hand-made odd options: sum the joined bytes
            checksum = 0
            total = _from_bytes(_S_TCP.pack({TCP_LAYOUT.pack_arguments()}) + options + payload + b"\\x00" * (length & 1), "big")
        else:
            # header, options and payload summed apart: each part before the payload has an even length
            total = _from_bytes(payload, "big")
            if length & 1:
                total <<= 8  # the odd last byte is padded with a zero byte (RFC 1071)
            if options:
                total += _from_bytes(options, "big")
            total += {sum_expression(TCP_LAYOUT, ("checksum",), grouped=True)}
        total += _from_bytes(src + dst, "big") + 6 + length
        if length > 512:
            total = _fold(total)
        residue = total % 0xFFFF
        checksum = (0xFFFF ^ residue) if residue else 0
    return _S_TCP.pack({TCP_LAYOUT.pack_arguments(grouped=True)}) + options + payload
'''
    exec(compile(source, "<netstack.formats.fast: layers>", "exec"), namespace)
    return namespace, source


_namespace, GENERATED_SOURCE = _generate_layers()
GENERATED_SOURCE = _OPTIONS_SOURCE + GENERATED_SOURCE
"""All generated code, for reading (``python -c "from netstack.formats import fast; print(fast.GENERATED_SOURCE)"``)."""

decode_ethernet = _namespace["decode_ethernet"]
encode_ethernet = _namespace["encode_ethernet"]
decode_arp = _namespace["decode_arp"]
encode_arp = _namespace["encode_arp"]
decode_ipv4 = _namespace["decode_ipv4"]
encode_ipv4 = _namespace["encode_ipv4"]
decode_icmp = _namespace["decode_icmp"]
encode_icmp = _namespace["encode_icmp"]
decode_udp = _namespace["decode_udp"]
encode_udp = _namespace["encode_udp"]
decode_tcp = _namespace["decode_tcp"]
encode_tcp = _namespace["encode_tcp"]

__all__ = [
    "ACK", "CWR", "ECE", "FIN", "PSH", "RST", "SYN", "URG",
    "IP_DF", "IP_MF",
    "OPT_EOL", "OPT_NOP", "OPT_MSS", "OPT_WINDOW_SCALE", "OPT_SACK_PERMITTED", "OPT_SACK", "OPT_TIMESTAMPS", "OPT_TFO",
    "ETHERTYPE_IPV4", "ETHERTYPE_ARP", "ETHERTYPE_VLAN", "IP_PROTOCOL_ICMP", "IP_PROTOCOL_TCP", "IP_PROTOCOL_UDP",
    "EthernetHeader", "VlanTag", "ArpPacket", "Ipv4Header", "IcmpHeader", "UdpHeader", "TcpHeader",
    "decode_ethernet", "encode_ethernet", "decode_arp", "encode_arp", "decode_ipv4", "encode_ipv4",
    "decode_icmp", "encode_icmp", "decode_udp", "encode_udp", "decode_tcp", "encode_tcp",
    "decode_tcp_options", "encode_tcp_options",
    "ipv4_text", "mac_text", "ipv4_bytes", "mac_bytes",
]
