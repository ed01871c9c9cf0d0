"""scapy as an independent oracle, both ways.

1. Frames netstack builds from drawn values dissect in scapy to the same field values, and every
   checksum equals the one scapy's own checksum code computes over the same bytes.
2. Frames scapy builds from drawn values decode with netstack to those values, checksums verified.
"""

from __future__ import annotations

import logging
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netstack import strategies
from netstack.formats import Frame

logging.getLogger("scapy").setLevel(logging.ERROR)
scapy_all = pytest.importorskip("scapy.all")
from scapy.layers.inet import in4_chksum  # noqa: E402
from scapy.utils import checksum as scapy_checksum  # noqa: E402

ARP_, ICMP_, IP_, TCP_, UDP_ = scapy_all.ARP, scapy_all.ICMP, scapy_all.IP, scapy_all.TCP, scapy_all.UDP
Dot1Q, Ether, Raw = scapy_all.Dot1Q, scapy_all.Ether, scapy_all.Raw

TCP_FLAG_BITS = ("fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr")

#: netstack option kind name -> scapy's TCPOptions name
SCAPY_OPTION_NAMES = {"eol": "EOL", "nop": "NOP", "mss": "MSS", "window_scale": "WScale",
                      "sack_permitted": "SAckOK", "sack": "SAck", "timestamps": "Timestamp", "tfo": "TFO"}


def tcp_flags_int(flags) -> int:
    return sum(1 << bit for bit, name in enumerate(TCP_FLAG_BITS) if flags[name])


def with_zeroed(data: bytes, offset: int) -> bytes:
    return data[:offset] + b"\x00\x00" + data[offset + 2:]


# --------------------------------------------------------------------------------------------------
# 1. netstack builds, scapy dissects
# --------------------------------------------------------------------------------------------------


def scapy_options_as_ours(options) -> list:
    """scapy's parsed TCP options in netstack's (kind, value) terms, EOL padding dropped as scapy does."""
    ours = []
    for name, value in options:
        if name == "SAck":
            value = [(value[i], value[i + 1]) for i in range(0, len(value), 2)]
        elif name == "Timestamp":
            value = tuple(value)
        elif name == "TFO" and isinstance(value, tuple):
            value = struct.pack("!II", *value)  # scapy reads an 8-byte cookie as two integers
        elif name in ("NOP", "EOL", "SAckOK"):
            value = None
        ours.append((name, value))
    return ours


def our_options_in_scapy_terms(options) -> list:
    expected = []
    for option in options:
        kind = option.kind
        name = SCAPY_OPTION_NAMES.get(kind, kind if isinstance(kind, int) else None)
        value = option.value
        if kind == "sack":
            value = [(block.left, block.right) for block in value]
        elif kind == "timestamps":
            value = (value.ts_value, value.ts_echo_reply)
        elif kind in ("nop", "eol", "sack_permitted"):
            value = None
        expected.append((name, value))
        if kind == "eol":
            break  # scapy stops at the end of the option list
    return expected


def check_scapy_dissects_like_us(data: bytes):
    ours = Frame.parse(data)
    theirs = Ether(data)
    assert (theirs.dst, theirs.src) == (ours.dst, ours.src)
    offset = 14
    if ours.vlan is not None:
        tag = theirs[Dot1Q]
        assert (tag.prio, tag.dei, tag.vlan) == (ours.vlan.pcp, int(ours.vlan.dei), ours.vlan.vid)
        assert tag.type == int(ours.ethertype)
        offset = 18
    else:
        assert theirs.type == int(ours.ethertype)
    packet = ours.payload
    if ours.ethertype == "arp":
        arp = theirs[ARP_]
        assert (arp.hwtype, arp.ptype, arp.hwlen, arp.plen, arp.op) == (
            int(packet.htype), int(packet.ptype), packet.hlen, packet.plen, int(packet.op))
        assert (arp.hwsrc, arp.psrc, arp.hwdst, arp.pdst) == (packet.sha, packet.spa, packet.tha, packet.tpa)
        return "arp"
    if ours.ethertype != "ipv4":
        return "other"
    ip = theirs[IP_]
    header = data[offset:offset + packet.ihl * 4]
    assert (ip.version, ip.ihl, ip.tos, ip.len, ip.id, ip.frag, ip.ttl, ip.proto) == (
        4, packet.ihl, packet.tos.dscp << 2 | packet.tos.ecn, packet.total_length, packet.identification,
        packet.fragment_offset, packet.ttl, int(packet.protocol))
    assert int(ip.flags) == packet.flags.reserved << 2 | packet.flags.df << 1 | packet.flags.mf
    assert (ip.src, ip.dst) == (packet.src, packet.dst)
    assert ip.chksum == packet.checksum == scapy_checksum(with_zeroed(header, 10))
    message = packet.payload
    if isinstance(message, bytes):
        return "fragment" if packet.flags.mf or packet.fragment_offset else "ipv4/raw"
    body = data[offset + packet.ihl * 4:offset + packet.total_length]
    if packet.protocol == "tcp":
        tcp = theirs[TCP_]
        assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.dataofs, tcp.reserved, int(tcp.flags)) == (
            message.src_port, message.dst_port, message.seq, message.ack, message.data_offset, message.reserved,
            tcp_flags_int(message.flags))
        assert (tcp.window, tcp.urgptr) == (message.window, message.urgent_pointer)
        assert tcp.chksum == message.checksum == in4_chksum(6, ip, with_zeroed(body, 16))
        assert scapy_options_as_ours(tcp.options) == our_options_in_scapy_terms(message.options)
    elif packet.protocol == "udp":
        udp = theirs[UDP_]
        assert (udp.sport, udp.dport, udp.len) == (message.src_port, message.dst_port, message.length)
        assert udp.chksum == message.checksum == (in4_chksum(17, ip, with_zeroed(body, 6)) or 0xFFFF)
    elif packet.protocol == "icmp":
        icmp = theirs[ICMP_]
        assert (icmp.type, icmp.code) == (int(message.type), message.code)
        assert icmp.chksum == message.checksum == scapy_checksum(with_zeroed(body, 2))
        if message.type in ("echo_request", "echo_reply"):
            assert (icmp.id, icmp.seq) == (message.identifier, message.sequence)
        if message.type == "destination_unreachable":
            assert icmp.nexthopmtu == message.next_hop_mtu
            assert icmp.reserved << 8 | icmp.length == message.unused
    return f"ipv4/{packet.protocol}"


@given(strategies.frames())
def test_scapy_dissects_our_frames_to_the_same_values(frame):
    check_scapy_dissects_like_us(Frame.build(frame))


def _tcp_frames():
    packets = strategies.ipv4_packets(payload=strategies.tcp_segments().map(lambda tcp: ("tcp", tcp)))
    return strategies.ethernet_frames(payload=packets.map(lambda packet: ("ipv4", packet)))


@given(_tcp_frames())
def test_scapy_reads_our_tcp_options(frame):
    check_scapy_dissects_like_us(Frame.build(frame))


def test_the_oracle_notices_a_wrong_value():
    data = Frame.build({"dst": "02:00:5e:00:53:01", "payload": {
        "src": "192.0.2.1", "dst": "192.0.2.2", "protocol": "udp",
        "payload": {"src_port": 7, "dst_port": 9, "payload": b"x"}}})
    assert check_scapy_dissects_like_us(data) == "ipv4/udp"
    broken = bytearray(data)
    broken[-2] ^= 0xFF  # UDP checksum
    with pytest.raises(AssertionError):
        check_scapy_dissects_like_us(bytes(broken))


# --------------------------------------------------------------------------------------------------
# 2. scapy builds, netstack decodes
# --------------------------------------------------------------------------------------------------


def scapy_ip_options(raw: bytes) -> list:
    options, index = [], 0
    while index < len(raw):
        if raw[index] == 1:
            options.append(scapy_all.IPOption_NOP())
            index += 1
        elif raw[index] == 0x94:
            options.append(scapy_all.IPOption_Router_Alert())
            index += 4
        else:  # zero padding: scapy pads the options to a 4-byte boundary itself
            break
    return options


def scapy_tcp_options(options) -> list:
    converted = []
    for option in options:
        kind, value = option["kind"], option["value"]
        if kind == "sack":
            converted.append(("SAck", tuple(edge for block in value for edge in (block["left"], block["right"]))))
        elif kind == "timestamps":
            converted.append(("Timestamp", (value["ts_value"], value["ts_echo_reply"])))
        elif kind == "sack_permitted":
            converted.append(("SAckOK", b""))
        elif kind == "eol":
            converted.append(("EOL", None))  # scapy pads after it with zeros, as the drawn value does
        elif kind in ("nop", "mss", "window_scale"):
            converted.append((SCAPY_OPTION_NAMES[kind], value))
        else:  # tfo and unknown kinds, raw
            converted.append((34 if kind == "tfo" else kind, value))
    return converted


def scapy_transport(protocol: str, value: dict):
    if protocol == "tcp":
        return TCP_(sport=value["src_port"], dport=value["dst_port"], seq=value["seq"], ack=value["ack"],
                    flags=tcp_flags_int(value["flags"]), window=value["window"], urgptr=value["urgent_pointer"],
                    options=scapy_tcp_options(value["options"])) / Raw(value["payload"])
    if protocol == "udp":
        return UDP_(sport=value["src_port"], dport=value["dst_port"]) / Raw(value["payload"])
    fields = {"type": int(value["type"] if not isinstance(value["type"], str) else
                          {"echo_request": 8, "echo_reply": 0, "destination_unreachable": 3}[value["type"]]),
              "code": value["code"]}
    if "identifier" in value:
        fields.update(id=value["identifier"], seq=value["sequence"])
    if "next_hop_mtu" in value:
        # scapy splits RFC 1191's 16 unused bits into reserved (8) and RFC 4884's length (8)
        fields.update(nexthopmtu=value["next_hop_mtu"], reserved=value["unused"] >> 8, length=value["unused"] & 0xFF)
    return ICMP_(**fields) / Raw(value["payload"])


@st.composite
def scapy_frames(draw):
    """(drawn value, frame scapy built from it) for Ethernet [802.1Q] IPv4 TCP/UDP/ICMP and ARP."""
    protocol = draw(st.sampled_from(["tcp", "udp", "icmp", "arp"]))
    ethernet = draw(strategies.ethernet_frames(payload=st.just(("arp", None))))
    if ethernet["vlan"] is not None:
        tag = ethernet["vlan"]
        link = Ether(dst=ethernet["dst"], src=ethernet["src"]) / Dot1Q(prio=tag["pcp"], dei=tag["dei"], vlan=tag["vid"])
    else:
        link = Ether(dst=ethernet["dst"], src=ethernet["src"])
    if protocol == "arp":
        arp = draw(strategies.arp_packets())
        ethernet.update(ethertype="arp", payload=arp)
        return ethernet, link / ARP_(hwtype=1, ptype=0x0800, hwlen=6, plen=4, op=int(
            {"request": 1, "reply": 2}.get(arp["op"], arp["op"])), hwsrc=arp["sha"], psrc=arp["spa"],
            hwdst=arp["tha"], pdst=arp["tpa"])
    transport = {
        "tcp": strategies.tcp_segments(),
        "udp": strategies.udp_datagrams(),
        "icmp": strategies.icmp_messages(types=["echo_request", "echo_reply", "destination_unreachable"]),
    }[protocol]
    packet = draw(strategies.ipv4_packets(payload=transport.map(lambda value: (protocol, value))))
    ethernet.update(ethertype="ipv4", payload=packet)
    flags = packet["flags"]
    ip = IP_(src=packet["src"], dst=packet["dst"], ttl=packet["ttl"], id=packet["identification"],
             tos=packet["tos"]["dscp"] << 2 | packet["tos"]["ecn"], flags=flags["df"] << 1 | flags["mf"],
             frag=packet["fragment_offset"], options=scapy_ip_options(packet["options"]))
    return ethernet, link / ip / scapy_transport(protocol, packet["payload"])


@given(scapy_frames())
def test_we_decode_scapys_frames_to_the_same_values(drawn_and_built):
    drawn, built = drawn_and_built
    data = bytes(built)
    parsed = Frame.parse(data)
    assert strategies.mismatches(drawn, parsed) == []
    if parsed.ethertype == "ipv4":
        assert parsed.payload.checksum_ok is True
        assert parsed.payload.payload.checksum_ok is True
    assert Frame.build(parsed) == data
