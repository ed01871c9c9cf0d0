"""tshark, an independent decoder, reads a pcap of many drawn frames written by netstack.

Checks: no frame is malformed or carries an expert error (checksum validation on), every checksum
tshark can verify is good, and ``tshark -T fields`` agrees with netstack's decoding on addresses,
ports, seq/ack, flags, options and the per-type ICMP fields. Wireshark's application dissectors are
switched off (a drawn UDP payload to port 53 is not DNS), so only the layers netstack decodes are judged.
"""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netstack import strategies
from netstack.formats import Frame
from netstack.formats.pcap import write_pcap

from tests.support.external_tools import require_tool

#: the dissectors netstack's layers correspond to; every other Wireshark protocol is disabled
KEPT_PROTOCOLS = {"frame", "eth", "ethertype", "vlan", "arp", "ip", "icmp", "udp", "tcp", "data"}

TSHARK_PREFERENCES = [
    "-o", "ip.check_checksum:TRUE",
    "-o", "tcp.check_checksum:TRUE",
    "-o", "udp.check_checksum:TRUE",
    "-o", "ip.defragment:FALSE",               # judge each fragment, do not reassemble drawn ones
    "-o", "tcp.analyze_sequence_numbers:FALSE",  # drawn segments are not one conversation
    "-o", "tcp.relative_sequence_numbers:FALSE",
]

FIELDS = [
    "frame.number", "eth.src", "eth.dst", "vlan.id", "vlan.priority", "arp.opcode", "arp.src.hw_mac",
    "arp.src.proto_ipv4", "arp.dst.hw_mac", "arp.dst.proto_ipv4", "ip.src", "ip.dst", "ip.ttl", "ip.id",
    "ip.proto", "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "ip.checksum.status", "icmp.type",
    "icmp.code", "icmp.checksum.status", "icmp.ident", "icmp.seq", "icmp.mtu", "udp.srcport", "udp.dstport",
    "udp.length", "udp.checksum.status", "tcp.srcport", "tcp.dstport", "tcp.seq", "tcp.ack", "tcp.flags",
    "tcp.window_size_value", "tcp.urgent_pointer", "tcp.checksum.status", "tcp.option_kind",
    "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_le", "tcp.options.sack_re",
    "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "tcp.options.tfo.cookie",
]


@pytest.fixture(scope="module")
def tshark(tmp_path_factory):
    path = require_tool("tshark")
    config = tmp_path_factory.mktemp("wireshark-config")
    protocols = subprocess.run([path, "-G", "protocols"], capture_output=True, text=True, check=True).stdout
    disabled = [line.split("\t")[2] for line in protocols.splitlines() if line.count("\t") >= 2]
    disabled = [name for name in disabled if name not in KEPT_PROTOCOLS and not name.startswith("_ws.")]
    (config / "disabled_protos").write_text("\n".join(disabled) + "\n")

    def run(pcap, *arguments) -> str:
        result = subprocess.run(
            [path, "-n", "-r", str(pcap), *TSHARK_PREFERENCES, *arguments],
            capture_output=True, text=True, env={"WIRESHARK_CONFIG_DIR": str(config), "PATH": "/usr/bin:/bin"},
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run


def _collect(strategy, count: int) -> list[bytes]:
    """``count`` frames drawn from ``strategy`` (reproducibly), as bytes."""
    drawn: list[bytes] = []

    @settings(max_examples=count, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(frame):
        drawn.append(Frame.build(frame))

    draw()
    return drawn


def _ipv4_frames(transport: str, values) -> st.SearchStrategy:
    packets = strategies.ipv4_packets(payload=values.map(lambda value: (transport, value)))
    return strategies.ethernet_frames(payload=packets.map(lambda packet: ("ipv4", packet)))


@pytest.fixture(scope="module")
def drawn_frames() -> list[bytes]:
    return (
        _collect(strategies.frames(), 150)
        + _collect(_ipv4_frames("tcp", strategies.tcp_segments()), 120)
        + _collect(_ipv4_frames("udp", strategies.udp_datagrams()), 40)
        + _collect(_ipv4_frames("icmp", strategies.icmp_messages()), 60)
    )


@pytest.fixture(scope="module")
def pcap(tmp_path_factory, drawn_frames):
    path = tmp_path_factory.mktemp("pcap") / "drawn.pcap"
    write_pcap(path, [(1_700_000_000 + index / 1000, frame) for index, frame in enumerate(drawn_frames)])
    return path


def test_tshark_finds_nothing_malformed(tshark, pcap, drawn_frames):
    summary = tshark(pcap)
    assert len(summary.splitlines()) == len(drawn_frames)
    bad = tshark(pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error")
    assert bad == "", f"tshark flags these frames:\n{bad}"


def test_the_checker_sees_a_bad_checksum(tshark, tmp_path, drawn_frames):
    """The previous test can fail: one flipped payload bit is reported."""
    segment = next(frame for frame in drawn_frames if frame[12:14] == b"\x08\x00" and frame[23] == 6
                   and not isinstance(Frame.parse(frame).payload.payload, bytes))
    broken = bytearray(segment)
    window = 14 + (segment[14] & 0x0F) * 4 + 14  # a byte of the TCP window, covered by the checksum
    broken[window] ^= 0x40
    path = tmp_path / "broken.pcap"
    write_pcap(path, [(1.0, bytes(broken))])
    assert tshark(path, "-Y", "_ws.malformed || _ws.expert.severity >= error") != ""


def _expected(frame) -> dict[str, str]:
    """The tshark field values netstack's own decoding of ``frame`` predicts (first occurrences,
    options all occurrences)."""
    expected = {"eth.src": frame.src, "eth.dst": frame.dst}
    if frame.vlan is not None:
        expected["vlan.id"] = str(frame.vlan.vid)
        expected["vlan.priority"] = str(frame.vlan.pcp)
    packet = frame.payload
    if frame.ethertype == "arp":
        expected.update({
            "arp.opcode": str(int(packet.op)), "arp.src.hw_mac": packet.sha, "arp.src.proto_ipv4": packet.spa,
            "arp.dst.hw_mac": packet.tha, "arp.dst.proto_ipv4": packet.tpa,
        })
    if frame.ethertype != "ipv4":
        return expected
    expected.update({
        "ip.src": packet.src, "ip.dst": packet.dst, "ip.ttl": str(packet.ttl),
        "ip.id": f"0x{packet.identification:04x}", "ip.proto": str(int(packet.protocol)),
        "ip.flags.df": str(int(packet.flags.df)), "ip.flags.mf": str(int(packet.flags.mf)),
        "ip.frag_offset": str(packet.fragment_offset), "ip.checksum.status": "1",
    })
    message = packet.payload
    if isinstance(message, bytes):
        return expected
    if packet.protocol == "icmp":
        expected.update({"icmp.type": str(int(message.type)), "icmp.code": str(message.code),
                         "icmp.checksum.status": "1"})
        if message.type in ("echo_request", "echo_reply"):
            expected.update({"icmp.ident": str(message.identifier), "icmp.seq": str(message.sequence)})
        if message.type == "destination_unreachable" and message.code == 4:
            expected["icmp.mtu"] = str(message.next_hop_mtu)
    elif packet.protocol == "udp":
        expected.update({"udp.srcport": str(message.src_port), "udp.dstport": str(message.dst_port),
                         "udp.length": str(message.length), "udp.checksum.status": "1"})
    elif packet.protocol == "tcp":
        flags = sum(1 << bit for bit, name in enumerate(("fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"))
                    if message.flags[name])
        expected.update({
            "tcp.srcport": str(message.src_port), "tcp.dstport": str(message.dst_port),
            "tcp.seq": str(message.seq), "tcp.ack": str(message.ack), "tcp.flags": f"0x{flags:04x}",
            "tcp.window_size_value": str(message.window), "tcp.urgent_pointer": str(message.urgent_pointer),
            "tcp.checksum.status": "1",
        })
        expected.update(_expected_options(message.options))
    return expected


def _expected_options(options) -> dict[str, str]:
    kinds, values = [], {"mss_val": [], "wscale.shift": [], "sack_le": [], "sack_re": [],
                         "timestamp.tsval": [], "timestamp.tsecr": [], "tfo.cookie": []}
    for option in options:
        kinds.append(int(option.kind))
        if option.kind == "eol":
            kinds.extend(0 for _ in option.value)  # Wireshark lists each zero padding byte as an EOL
        elif option.kind == "mss":
            values["mss_val"].append(option.value)
        elif option.kind == "window_scale":
            values["wscale.shift"].append(option.value)
        elif option.kind == "sack":
            values["sack_le"].extend(block.left for block in option.value)
            values["sack_re"].extend(block.right for block in option.value)
        elif option.kind == "timestamps":
            values["timestamp.tsval"].append(option.value.ts_value)
            values["timestamp.tsecr"].append(option.value.ts_echo_reply)
        elif option.kind == "tfo" and option.value:
            values["tfo.cookie"].append(option.value.hex())
    expected = {"tcp.option_kind": "|".join(map(str, kinds))}
    for name, found in values.items():
        expected[f"tcp.options.{name}"] = "|".join(map(str, found))
    return expected


def test_tshark_fields_agree_with_our_decoding(tshark, pcap, drawn_frames):
    arguments = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=/t"]
    for field in FIELDS:
        arguments += ["-e", field]
    rows = tshark(pcap, *arguments).splitlines()
    assert len(rows) == len(drawn_frames)
    compared = 0
    disagreements = []
    for data, row in zip(drawn_frames, rows):
        seen = dict(zip(FIELDS, row.split("\t")))
        for field, value in _expected(Frame.parse(data)).items():
            theirs = seen[field]
            if not field.startswith("tcp.option"):
                theirs = theirs.split("|")[0]  # an ICMP error repeats the quoted header's fields
            compared += 1
            if theirs != value:
                disagreements.append(f"frame {seen['frame.number']}: {field} tshark {theirs!r}, netstack {value!r}")
    assert disagreements == []
    assert compared > 20 * len(drawn_frames) // 2  # the comparison really ran over most frames
