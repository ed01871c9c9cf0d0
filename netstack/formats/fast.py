"""The fast path: struct codecs generated at import time from the construct declarations.

The engine decodes and builds every frame with these functions. Header layouts (field order, names,
widths, bit groups) are read from ``ethernet.ethernet_header``, ``ipv4.ipv4_header``,
``tcp.tcp_header``, ... by ``netstack.formats.codegen``; the option codecs from
``tcp_options.tcp_option_values``; the integrity rules (length checks, IHL/data-offset bounds) from
each header module's rule table (``ipv4.IPV4_RULES``, ``tcp.TCP_RULES``, ``udp.UDP_RULES``,
``icmp.ICMP_RULES``; ``netstack.formats.rules``), which the declarative ``Layer``s evaluate too, so both
raise the same ``FormatError(layer, field, offset)``. Nothing here restates a header or a rule: the
generator is ``netstack.formats.fast_layers``; ``tests/formats/test_fast.py`` proves both paths agree,
``tests/formats/test_rules.py`` that a rule changed in its table changes both.

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
IP_PROTOCOL_TCP IP_PROTOCOL_UDP``. Each is declared once beside its declaration (``tcp``,
``tcp_options``, ``ipv4``, ``registry``) and re-exported here. ``encode_icmp`` takes the type as an int
(``icmp.ECHO_REQUEST`` ..., declared in ``netstack.formats.icmp`` with the codes).
Header offsets: ``*_LAYOUT.offsets`` (field -> byte offset) and ``*_LAYOUT.reader(*fields)`` (a
``struct.Struct`` for some leading fields, e.g. the ports an ICMP error quotes).

Text helpers: ``ipv4_text(b)``, ``mac_text(b)``, ``ipv4_bytes(text)``, ``mac_bytes(text)``.
The generated code is readable: ``print(netstack.formats.fast.GENERATED_SOURCE)``.
"""

from __future__ import annotations

from netstack.formats.fast_layers import (
    ARP_FIXED_LAYOUT,
    ARP_LAYOUT,
    ETHERNET_LAYOUT,
    ICMP_CASE_LAYOUTS,
    ICMP_DEFAULT_LAYOUT,
    ICMP_LAYOUT,
    ICMP_TYPE_FIELDS,
    IPV4_LAYOUT,
    TCP_LAYOUT,
    UDP_LAYOUT,
    VLAN_LAYOUT,
    ArpPacket,
    EthernetHeader,
    IcmpHeader,
    Ipv4Header,
    TcpHeader,
    UdpHeader,
    VlanTag,
    generate_layers,
)
from netstack.formats.fast_tcp_options import OPTIONS_SOURCE as _OPTIONS_SOURCE
from netstack.formats.fast_tcp_options import decode_tcp_options, encode_tcp_options
from netstack.formats.fields import ipv4_to_bytes, ipv4_to_text, mac_to_bytes, mac_to_text
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

# The constants above are declared beside the declarations; fast re-exports them for the engine.

ipv4_text = ipv4_to_text
mac_text = mac_to_text
ipv4_bytes = ipv4_to_bytes
mac_bytes = mac_to_bytes

# --- the generated functions (netstack.formats.fast_layers) ---------------------------------------------

_namespace, GENERATED_SOURCE = generate_layers()
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
