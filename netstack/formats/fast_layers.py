"""The generated decode/encode functions of the layers (``netstack.formats.fast`` re-exports them).

``generate_layers()`` writes, for every header, Python source that unpacks and packs it with one
``struct.Struct`` whose layout ``netstack.formats.codegen`` read from the construct declaration, and
whose integrity checks are the header's rule table (``IPV4_RULES``, ``TCP_RULES``, ``UDP_RULES``,
``ICMP_RULES``, see ``netstack.formats.rules``) emitted as straight-line code: nothing here restates a
field, a length check or a checksum policy. Checksums are summed as one big integer (RFC 1071, see
``netstack.formats.checksum``). The source is compiled once, at import.
"""

from __future__ import annotations

import struct

from netstack.errors import FormatError
from netstack.formats import arp as arp_schema
from netstack.formats import ethernet as ethernet_schema
from netstack.formats import icmp as icmp_schema
from netstack.formats import ipv4 as ipv4_schema
from netstack.formats import tcp as tcp_schema
from netstack.formats import udp as udp_schema
from netstack.formats.checksum import fold
from netstack.formats.codegen import LayoutError, header_layout, make_record, sum_expression
from netstack.formats.fast_tcp_options import decode_tcp_options, encode_tcp_options
from netstack.formats.fields import Flattened, ipv4_to_bytes, mac_to_bytes
from netstack.formats.registry import ETHERTYPE_IPV4, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP

# --- layouts read from the declarations ---------------------------------------------------------------

ETHERNET_LAYOUT = header_layout(ethernet_schema.ethernet_header)
VLAN_LAYOUT = header_layout(ethernet_schema.vlan_tag)
ARP_LAYOUT = header_layout(
    arp_schema.arp_header, {"hlen": arp_schema.ETHERNET_ADDRESS_LENGTH, "plen": arp_schema.IPV4_ADDRESS_LENGTH}
)
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


def _checked_unpack(rules, layout, struct_name, layer_name):
    """A decoder's body up to its fields: the truncation rule, one unpack, then the header's rules."""
    lines = rules.truncation_source(layer_name) + layout.unpack_lines(struct_name, "buf", "offset") + rules.check_source()
    return _indent(lines, 1)


def _pseudo_header_verdict(span, length, protocol):
    """Statements setting ``checksum_ok`` for the segment ``buf[span]`` of ``length`` bytes: the ones'
    complement sum over pseudo-header, header and data is zero (RFC 9293 §3.1, RFC 768)."""
    return [f'total = _from_bytes(buf[{span}], "big")',
            f"if {length} & 1:",
            "    total <<= 8  # the odd last byte is padded with a zero byte (RFC 1071)",
            f'total += _from_bytes(src + dst, "big") + {protocol} + {length}  # src||dst = src + dst (mod 0xFFFF)',
            f"if {length} > 512:",
            "    total = _fold(total)",
            "checksum_ok = total % 0xFFFF == 0"]


def _args(layout, skip=()):
    return ", ".join(name for name in layout.field_names if name not in skip)


def generate_layers():
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
    # the rule tables of the header modules, emitted as statements (netstack.formats.rules)
    ipv4_rules, tcp_rules, udp_rules = ipv4_schema.IPV4_RULES, tcp_schema.TCP_RULES, udp_schema.UDP_RULES
    icmp_rules = icmp_schema.ICMP_RULES
    ip_minimum, tcp_minimum = ipv4_rules.minimum, tcp_rules.minimum
    eth_length, eth_tagged = ethernet_schema.HEADER_LENGTH, ethernet_schema.TAGGED_HEADER_LENGTH
    eth_type = ETHERNET_LAYOUT.offsets["ethertype"]
    arp_fixed, hlen_at, plen_at = arp_schema.FIXED_LENGTH, ARP_FIXED_LAYOUT.offsets["hlen"], ARP_FIXED_LAYOUT.offsets["plen"]
    mac_length, ip_length = arp_schema.ETHERNET_ADDRESS_LENGTH, arp_schema.IPV4_ADDRESS_LENGTH
    no_checksum, zero_sent_as = udp_schema.NO_CHECKSUM, udp_schema.COMPUTED_ZERO_SENT_AS
    source = f'''
def decode_ethernet(buf, offset=0):
    available = len(buf) - offset
    if available < {eth_length}:
        if available >= {eth_type}:
            raise FormatError("ethernet", "ethertype", offset + {eth_type}, "truncated: needs {eth_length} bytes, has %d" % available)
        raise _ETHERNET.truncated(available, {eth_length}, offset)
{_indent(ETHERNET_LAYOUT.unpack_lines("_S_ETH", "buf", "offset"), 1)}
    if ethertype == TPID:
        if available < {eth_tagged}:
            raise _ETHERNET.truncated_tag(available, offset)
{_indent(VLAN_LAYOUT.unpack_lines("_S_VLAN", "buf", "offset + 12"), 2)}
        vlan = _new(VlanTag, ({", ".join(VLAN_LAYOUT.field_names)},))
        ethertype, = _S_ETHERTYPE.unpack_from(buf, offset + {eth_tagged - 2})  # the EtherType slot, after the tag
        header_length = {eth_tagged}
    else:
        vlan = None
        header_length = {eth_length}
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
    if available < {arp_fixed}:
        raise _ARP.truncated(available, {arp_fixed}, offset)
    hlen = buf[offset + {hlen_at}]
    plen = buf[offset + {plen_at}]
    length = {arp_fixed} + 2 * hlen + 2 * plen
    if available < length:
        _ARP.decode(bytes(buf[offset:end]), offset, None)  # raises the declarative path's FormatError
    if hlen == {mac_length} and plen == {ip_length}:
{_indent(ARP_LAYOUT.unpack_lines("_S_ARP", "buf", "offset"), 2)}
    else:
        htype, ptype, hlen, plen, op = _S_ARP_FIXED.unpack_from(buf, offset)
        position = offset + {arp_fixed}
        sha = bytes(buf[position : position + hlen])
        spa = bytes(buf[position + hlen : position + hlen + plen])
        tha = bytes(buf[position + hlen + plen : position + 2 * hlen + plen])
        tpa = bytes(buf[position + 2 * hlen + plen : position + length - {arp_fixed}])
    return _new(ArpPacket, ({", ".join(ARP_LAYOUT.field_names)}, offset, length, offset + length, end, buf))


def encode_arp(op, sha, spa, tpa, tha=b"\\x00\\x00\\x00\\x00\\x00\\x00", htype={arp_schema.HARDWARE_TYPE_ETHERNET}, ptype={ETHERTYPE_IPV4}):
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
    if hlen == {mac_length} and plen == {ip_length}:
        return _S_ARP.pack({ARP_LAYOUT.pack_arguments()})
    return _S_ARP_FIXED.pack(htype, ptype, hlen, plen, op) + sha + spa + tha + tpa


def decode_ipv4(buf, offset=0, end=None):
    if end is None:
        end = len(buf)
    available = end - offset
    present = len(buf) - offset  # less than available only for a quote read with end past the buffer
{_checked_unpack(ipv4_rules, IPV4_LAYOUT, "_S_IP", "_IPV4")}
    payload_offset = offset + header_length
    total = _from_bytes(buf[offset:payload_offset], "big")
    checksum_ok = total % 0xFFFF == 0 and total != 0
    options = bytes(buf[offset + {ip_minimum} : payload_offset]) if header_length > {ip_minimum} else b""
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
            ihl = {ip_minimum >> 2} + (len(options) >> 2)
    elif ihl is None:
        ihl = {ip_minimum >> 2}
    if total_length is None:
        total_length = {ip_minimum} + len(options) + len(payload)
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
{_checked_unpack(icmp_rules, ICMP_LAYOUT, "_S_ICMP", "_ICMP")}
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
{_checked_unpack(udp_rules, UDP_LAYOUT, "_S_UDP", "_UDP")}
    if src is None or dst is None or checksum == {no_checksum}:  # RFC 768: the sender computed none
        checksum_ok = None
    else:
{_indent(_pseudo_header_verdict("offset : offset + length", "length", IP_PROTOCOL_UDP), 2)}
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
        total += {sum_expression(UDP_LAYOUT, ("checksum",))} + _from_bytes(src + dst, "big") + {IP_PROTOCOL_UDP} + length
        if length > 512:
            total = _fold(total)
        residue = total % 0xFFFF
        checksum = (0xFFFF ^ residue) if residue else 0
        if checksum == {no_checksum}:
            checksum = {zero_sent_as:#x}  # RFC 768: a computed zero is sent as all ones
    return _S_UDP.pack({UDP_LAYOUT.pack_arguments()}) + payload


def decode_tcp(buf, offset=0, end=None, src=None, dst=None):
    if end is None or end > len(buf):
        end = len(buf)
    available = end - offset
{_checked_unpack(tcp_rules, TCP_LAYOUT, "_S_TCP", "_TCP")}
    options = decode_tcp_options(buf, offset + {tcp_minimum}, offset + header_length) if header_length > {tcp_minimum} else ()
    if src is None or dst is None:
        checksum_ok = None
    else:
{_indent(_pseudo_header_verdict("offset:end", "available", IP_PROTOCOL_TCP), 2)}
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
        data_offset = {tcp_minimum >> 2} + (len(options) >> 2)
{_indent(TCP_LAYOUT.group_lines(), 1)}
    if checksum is None:
        if src.__class__ is not bytes:
            src = ipv4_bytes(src)
        if dst.__class__ is not bytes:
            dst = ipv4_bytes(dst)
        length = {tcp_minimum} + len(options) + len(payload)
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
        total += _from_bytes(src + dst, "big") + {IP_PROTOCOL_TCP} + length
        if length > 512:
            total = _fold(total)
        residue = total % 0xFFFF
        checksum = (0xFFFF ^ residue) if residue else 0
    return _S_TCP.pack({TCP_LAYOUT.pack_arguments(grouped=True)}) + options + payload
'''
    exec(compile(source, "<netstack.formats.fast: layers>", "exec"), namespace)
    return namespace, source


