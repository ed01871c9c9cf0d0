"""Strategies per protocol and for whole frames: what the declarations cannot say on their own.

Which fields the builders compute (lengths, checksums: left out), which option lists fit and are well
formed, which payload goes with which EtherType / protocol number (registered protocols included),
how a datagram is cut into fragments, and what a libpcap file holds. Every header field itself is
drawn from its declaration by ``declarations.for_schema``.
"""

from __future__ import annotations

from hypothesis import strategies as st

import construct as cs
from construct import Container

from netstack.formats import registry
from netstack.formats.arp import ARP
from netstack.formats.ethernet import Ethernet, vlan_tag
from netstack.formats.fields import IPv4Address, MacAddress
from netstack.formats.icmp import ERROR_TYPES, ICMP, ICMP_TYPE
from netstack.formats.ipv4 import IPv4
from netstack.formats.pcap import (
    LINKTYPE_ETHERNET,
    MAGIC_MICROSECONDS,
    MAGIC_NANOSECONDS,
    pcap_file_header,
    pcap_record_header,
)
from netstack.formats.tcp import TCP
from netstack.formats.tcp_options import OPT_NOP, OPTION_LENGTHS, SINGLE_BYTE_KINDS, TCP_OPTION_KIND, tcp_option_values
from netstack.formats.udp import UDP
from netstack.strategies.declarations import _LEAVE_OUT, LEAVE_OUT, PAYLOAD_MAX, _walk, for_schema
from netstack.formats.tcp_options import encode_option
from netstack.formats import Frame
from netstack.formats.pcap import PcapWriter


#: EtherTypes for a payload no protocol decodes: IEEE 802 "local experimental" 1 and 2 (IEEE 802 §9.2.2)
EXPERIMENTAL_ETHERTYPES = (0x88B5, 0x88B6)
#: IP protocol numbers for a payload no protocol decodes: RFC 3692 experimentation and testing
EXPERIMENTAL_IP_PROTOCOLS = (253, 254)
#: TCP option kinds IANA has not assigned (tcp-parameters "Reserved"): drawn as unknown options, which
#: netstack keeps raw (76-78 are skipped: known unauthorized uses that Wireshark decodes)
UNASSIGNED_OPTION_KINDS = (*range(35, 69), *range(79, 172), *range(175, 253))
#: ICMP types IANA lists as unassigned (icmp-parameters 44-252)
UNASSIGNED_ICMP_TYPES = tuple(range(44, 253))
#: Router Alert (RFC 2113 §2.1): copied flag, class 0, number 20, length 4, value 0
IPV4_ROUTER_ALERT = bytes((0x94, 4, 0, 0))


# --------------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------------


def mac_addresses() -> st.SearchStrategy[str]:
    """MAC addresses as text, "02:00:5e:00:53:01", any 48 bits (from the MacAddress declaration)."""
    return for_schema(MacAddress())


def ipv4_addresses() -> st.SearchStrategy[str]:
    """IPv4 addresses as text, any 32 bits (from the IPv4Address declaration)."""
    return for_schema(IPv4Address())


# --------------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------------


def _option_value(draw, kind: int):
    """A value for option ``kind`` from its value declaration, with a length the kind allows."""
    name = TCP_OPTION_KIND.ksymapping.get(kind)
    allowed = sorted(OPTION_LENGTHS.get(kind, range(2, 12)))
    if name == "window_scale":
        return draw(st.integers(0, 14))  # RFC 7323 §2.3: shifts above 14 are clamped, so not drawn
    declaration = tcp_option_values.get(name, cs.GreedyBytes)
    inner = declaration.subcon if isinstance(declaration, cs.Renamed) else declaration
    if isinstance(inner, cs.GreedyRange):  # SACK blocks: the count follows from the allowed lengths
        block_size = inner.subcon.sizeof()
        count = (draw(st.sampled_from(allowed)) - 2) // block_size
        return [_walk(draw, inner.subcon, Container(), {}) for _ in range(count)]
    if isinstance(inner, type(cs.GreedyBytes)):
        size = draw(st.sampled_from(allowed)) - 2
        return draw(st.binary(min_size=size, max_size=size))
    value = _walk(draw, inner, Container(), {})
    return None if value is _LEAVE_OUT else value


def _option_size(kind: int, value) -> int:
    if kind in SINGLE_BYTE_KINDS:
        return 1

    return len(encode_option({"kind": kind, "value": value}))


@st.composite
def tcp_options(draw, kinds=None, unknown_kinds=UNASSIGNED_OPTION_KINDS, max_length: int = 40):
    """Well-formed TCP option lists that fit in ``max_length`` bytes (at most 40, RFC 9293 §3.1).

    Each option is a dict ``{"kind": name or number, "value": ...}`` in the shape ``tcp_options``
    parses to (the length byte is computed by the builder). The list is padded to a 4-byte boundary
    the way the builder would (NOPs, or EOL and zero bytes), so the bytes are canonical. ``kinds``
    limits the named kinds drawn (default: all but EOL); ``unknown_kinds`` are drawn as raw options.
    """
    named = [number for number in sorted(TCP_OPTION_KIND.ksymapping) if number not in SINGLE_BYTE_KINDS]
    if kinds is not None:
        named = [TCP_OPTION_KIND.number(kind) for kind in kinds]
    choices = [*named, 1]
    if unknown_kinds:
        choices.append(-1)
    options, used = [], 0
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(choices))
        if kind == -1:
            kind = draw(st.sampled_from(unknown_kinds))
        value = None if kind == OPT_NOP else _option_value(draw, kind)
        size = _option_size(kind, value)
        if used + size > max_length:
            break
        options.append({"kind": TCP_OPTION_KIND.ksymapping.get(kind, kind), "value": value})
        used += size
    padding = -used % 4
    if padding and draw(st.booleans()):
        options.extend({"kind": "nop", "value": None} for _ in range(padding))
    elif padding:
        options.append({"kind": "eol", "value": bytes(padding - 1)})
    return options


@st.composite
def ipv4_options(draw, max_length: int = 40) -> bytes:
    """Well-formed IPv4 option bytes (RFC 791 §3.1): NOPs and Router Alerts (RFC 2113), padded with
    EOL (zero) to a 4-byte boundary as the builder pads them."""
    parts, used = [], 0
    for _ in range(draw(st.integers(0, 4))):
        part = draw(st.sampled_from([b"\x01", IPV4_ROUTER_ALERT]))
        if used + len(part) > max_length:
            break
        parts.append(part)
        used += len(part)
    raw = b"".join(parts)
    return raw + bytes(-len(raw) % 4)


# --------------------------------------------------------------------------------------------------
# One strategy per protocol
# --------------------------------------------------------------------------------------------------


def _payloads(max_size: int) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=max_size)


def _rules(defaults: dict, fixed: dict) -> dict:
    rules = dict(defaults)
    rules.update(fixed)
    return rules


def tcp_segments(options=None, payload_max: int = PAYLOAD_MAX, **fields) -> st.SearchStrategy[dict]:
    """TCP segments (RFC 9293 §3.1) as dicts for ``TCP.build`` (with ``src=``/``dst=``) or an IPv4
    payload. data_offset and checksum are left to the builder; reserved bits stay zero."""
    rules = _rules(
        {"data_offset": LEAVE_OUT, "checksum": LEAVE_OUT, "reserved": 0,
         "options": options if options is not None else tcp_options(), "payload": _payloads(payload_max)},
        fields,
    )
    return for_schema(TCP, **rules)


def udp_datagrams(payload_max: int = PAYLOAD_MAX, **fields) -> st.SearchStrategy[dict]:
    """UDP datagrams (RFC 768); length and checksum are left to the builder."""
    rules = _rules({"length": LEAVE_OUT, "checksum": LEAVE_OUT, "payload": _payloads(payload_max)}, fields)
    return for_schema(UDP, **rules)


@st.composite
def _quoted_datagram(draw) -> bytes:
    """An ICMP error's quote: the original IPv4 header and the first 8 bytes of its data (RFC 792)."""
    original = draw(ipv4_packets(payload=st.one_of(
        udp_datagrams().map(lambda udp: ("udp", udp)),
        tcp_segments(options=st.just([])).map(lambda tcp: ("tcp", tcp)),
    )))
    data = IPv4.build(original)
    header_length = IPv4.parse(data).ihl * 4
    return data[: header_length + 8]


@st.composite
def icmp_messages(draw, types=None, payload_max: int = PAYLOAD_MAX, **fields):
    """ICMP messages (RFC 792). The type is a named one or an unassigned number; the per-type fields
    come from the declaration's Switch; error messages (3, 4, 5, 11, 12) quote an original datagram,
    timestamp messages carry their three 32-bit timestamps. The checksum is left to the builder."""
    if types is None:
        type_choice = st.one_of(st.sampled_from(sorted(ICMP_TYPE.names().values())),
                                st.sampled_from(UNASSIGNED_ICMP_TYPES))
    else:
        type_choice = st.sampled_from(list(types))
    message_type = fields.pop("type", None)
    if message_type is None:
        message_type = draw(type_choice)
    elif isinstance(message_type, st.SearchStrategy):
        message_type = draw(message_type)
    number = ICMP_TYPE.number(message_type)
    if number in ERROR_TYPES:
        payload = _quoted_datagram()
    elif number in (13, 14):
        payload = st.binary(min_size=12, max_size=12)  # originate, receive, transmit (RFC 792)
    else:
        payload = _payloads(payload_max)
    rules = _rules({"type": message_type, "checksum": LEAVE_OUT, "payload": payload}, fields)
    return draw(for_schema(ICMP, **rules))


def arp_packets(**fields) -> st.SearchStrategy[dict]:
    """ARP packets (RFC 826) for Ethernet and IPv4 (hlen 6, plen 4); the operation is any 16-bit
    number, named when it is request or reply."""
    rules = _rules({"htype": "ethernet", "ptype": "ipv4", "hlen": 6, "plen": 4}, fields)
    return for_schema(ARP, **rules)


def _unregistered(numbers, table) -> list[int]:
    """The experimental numbers nobody registered a schema for (their payload stays bytes)."""
    return [number for number in numbers if number not in table.entries]


def _registered(table, builtin: set[int]):
    """(number, name, strategy) for each protocol registered in ``table`` beyond netstack's own."""
    return [(entry.number, entry.name, for_schema(entry.schema))
            for entry in table.entries.values() if entry.number not in builtin]


@st.composite
def ipv4_packets(draw, payload=None, fragments: bool = True, **fields):
    """IPv4 datagrams (RFC 791 §3.1) as dicts for ``IPv4.build``.

    The payload is an ICMP, UDP or TCP message, a registered protocol's value, or raw bytes under an
    experimental protocol number (RFC 3692); with ``fragments`` some datagrams are fragments (MF set
    and a multiple of 8 bytes, or a non-zero offset) whose payload stays bytes, as Frame decodes them.
    ``payload`` (a strategy of ``(protocol, value)`` pairs) overrides the choice. version, ihl, total_length and checksum
    are left to the builder; the reserved flag stays clear; options are well formed.
    """
    rules = {"version": LEAVE_OUT, "ihl": LEAVE_OUT, "total_length": LEAVE_OUT, "checksum": LEAVE_OUT,
             "options": ipv4_options(), "protocol": LEAVE_OUT, "flags": LEAVE_OUT,
             "fragment_offset": LEAVE_OUT}
    packet = draw(for_schema(IPv4, **rules))
    fragment = fragments and payload is None and draw(st.integers(0, 5)) == 0
    if fragment:
        names = sorted(entry.name for entry in registry.IP_PROTOCOLS.entries.values())
        protocol = draw(st.sampled_from([*names, *_unregistered(EXPERIMENTAL_IP_PROTOCOLS, registry.IP_PROTOCOLS)]))
        if draw(st.booleans()):  # a first or middle fragment: MF set, data a multiple of 8 bytes
            body = draw(st.binary(min_size=8, max_size=PAYLOAD_MAX).map(lambda b: b[: len(b) - len(b) % 8]))
            flags, offset = {"reserved": False, "df": False, "mf": True}, draw(st.integers(0, 8191))
        else:  # the last fragment
            body = draw(st.binary(max_size=PAYLOAD_MAX))
            flags, offset = {"reserved": False, "df": False, "mf": False}, draw(st.integers(1, 8191))
        packet.update(flags=flags, fragment_offset=offset, protocol=protocol, payload=body)
    else:
        if payload is None:
            builtins = [("tcp", tcp_segments()), ("udp", udp_datagrams()), ("icmp", icmp_messages())]
            protocol, body = _draw_next_layer(draw, builtins, registry.IP_PROTOCOLS, {1, 6, 17},
                                              EXPERIMENTAL_IP_PROTOCOLS)
        else:
            protocol, body = draw(payload)
        packet.update(
            flags={"reserved": False, "df": draw(st.booleans()), "mf": False}, fragment_offset=0,
            protocol=protocol, payload=body,
        )
    for name, value in fields.items():
        packet[name] = draw(value) if isinstance(value, st.SearchStrategy) else value
    return packet


@st.composite
def ethernet_frames(draw, payload=None, vlan: bool = True, **fields):
    """Ethernet II frames (optionally 802.1Q-tagged) as dicts for ``Frame.build``.

    The payload is an ARP packet, an IPv4 datagram (any of :func:`ipv4_packets`), a registered
    protocol's value, or raw bytes under an IEEE 802 local experimental EtherType. ``payload`` (a
    strategy of ``(ethertype, value)`` pairs) overrides the choice.
    """
    header = draw(for_schema(Ethernet, vlan=None, ethertype=LEAVE_OUT))
    if vlan and draw(st.integers(0, 4)) == 0:
        header["vlan"] = draw(for_schema(vlan_tag))
    if payload is None:
        ipv4 = ("ipv4", ipv4_packets())
        builtins = [ipv4, ipv4, ipv4, ("arp", arp_packets())]  # IPv4 weighted: it has the most to cover
        ethertype, body = _draw_next_layer(draw, builtins, registry.ETHERTYPES, {registry.ETHERTYPE_IPV4, registry.ETHERTYPE_ARP},
                                           EXPERIMENTAL_ETHERTYPES)
    else:
        ethertype, body = draw(payload)
    header.update(ethertype=ethertype, payload=body)
    for name, value in fields.items():
        header[name] = draw(value) if isinstance(value, st.SearchStrategy) else value
    return header


def frames(**options) -> st.SearchStrategy[dict]:
    """Whole Ethernet frames: ARP, IPv4 with ICMP/UDP/TCP (options, fragments), registered protocols.

    Same as :func:`ethernet_frames`; build them with ``Frame.build``.
    """
    return ethernet_frames(**options)


def frame_bytes(**options) -> st.SearchStrategy[bytes]:
    """The bytes of :func:`frames`, as they would cross a TAP device."""
    return frames(**options).map(Frame.build)


@st.composite
def fragmented_datagrams(draw, fragment_size: int | None = None):
    """``(datagram, fragments)``: an unfragmented IPv4 datagram (dict) and the list of fragment
    dicts it cuts into (RFC 791 §3.2: every fragment but the last carries a multiple of 8 data bytes,
    the offset counts 8-byte units, MF is set on all but the last). Fragments are in order; shuffle
    them with ``st.permutations`` to test reassembly."""
    data_bytes = st.binary(min_size=1, max_size=200)  # so that the datagram needs 2 fragments or more
    datagram = draw(ipv4_packets(fragments=False, payload=st.one_of(
        udp_datagrams(payload=data_bytes).map(lambda udp: ("udp", udp)),
        tcp_segments(payload=data_bytes).map(lambda tcp: ("tcp", tcp)),
        icmp_messages(types=["echo_request"], payload=data_bytes).map(lambda icmp: ("icmp", icmp)),
    )))
    data = IPv4.build(datagram)
    header_length = IPv4.parse(data).ihl * 4
    body = data[header_length:]
    if fragment_size is None:
        fragment_size = draw(st.integers(1, (len(body) - 1) // 8)) * 8
    elif fragment_size % 8 or fragment_size >= len(body):
        raise ValueError(f"fragment_size {fragment_size} must be a multiple of 8 below {len(body)}")
    pieces = []
    for start in range(0, len(body), fragment_size):
        chunk = body[start:start + fragment_size]
        last = start + fragment_size >= len(body)
        piece = {key: value for key, value in datagram.items() if key != "payload"}
        piece.update(
            flags={"reserved": False, "df": False, "mf": not last},
            fragment_offset=start // 8,
            payload=chunk,
        )
        pieces.append(piece)
    return datagram, pieces


def pcap_file_headers(**fields) -> st.SearchStrategy[dict]:
    """libpcap file headers (pcap-savefile(5)): either magic number, version 2.4, zone and sigfigs 0,
    Ethernet link type, any snaplen from 1 to 2^18."""
    rules = _rules({"magic_number": st.sampled_from([MAGIC_MICROSECONDS, MAGIC_NANOSECONDS]),
                    "version_minor": 4, "thiszone": 0, "sigfigs": 0, "snaplen": st.integers(1, 1 << 18),
                    "linktype": LINKTYPE_ETHERNET}, fields)
    return for_schema(pcap_file_header, **rules)


@st.composite
def pcap_files(draw, frames_strategy=None, max_frames: int = 6) -> bytes:
    """A whole libpcap file (bytes) of drawn frames with increasing timestamps, as PcapWriter writes it."""
    import io


    frames = draw(st.lists(frames_strategy or frame_bytes(), max_size=max_frames))
    start = draw(st.integers(0, 2**31 - 1 - max_frames))
    buffer = io.BytesIO()
    writer = PcapWriter(buffer)
    for index, frame in enumerate(frames):
        writer.write(frame, start + index + draw(st.integers(0, 999_999)) / 1e6)
    writer.flush()
    return buffer.getvalue()


def values_for(name: str) -> st.SearchStrategy:
    """The strategy for a schema by its ``netstack explain`` name (registered protocols included)."""
    builtin = {
        "ethernet": ethernet_frames, "frame": frames, "arp": arp_packets, "ipv4": ipv4_packets,
        "icmp": icmp_messages, "udp": udp_datagrams, "tcp": tcp_segments, "tcp_options": tcp_options,
        "vlan": lambda: for_schema(vlan_tag),
        "pcap": pcap_files,
        "pcap_file_header": pcap_file_headers,
        "pcap_record_header": lambda: for_schema(pcap_record_header),
    }
    if name in builtin:
        return builtin[name]()
    for table in (registry.ETHERTYPES, registry.IP_PROTOCOLS):
        for entry in table.entries.values():
            if entry.name == name:
                return for_schema(entry.schema)
    raise KeyError(f"no schema named {name!r}")


def _draw_next_layer(draw, builtins, table, builtin_numbers, experimental):
    """(number or name, value) of the next layer: one of ``builtins``, a protocol registered in
    ``table`` by a user, or raw bytes under an experimental number nobody registered."""
    choices = list(builtins)
    choices += [(name, strategy) for _, name, strategy in _registered(table, builtin_numbers)]
    raw_numbers = _unregistered(experimental, table)
    if raw_numbers:
        choices.append((None, st.binary(max_size=PAYLOAD_MAX)))
    number, chosen = draw(st.sampled_from(choices))
    if number is None:
        number = draw(st.sampled_from(raw_numbers))
    return number, draw(chosen)
