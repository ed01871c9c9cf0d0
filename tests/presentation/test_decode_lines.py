"""``netstack decode``'s one line a frame and its ``-Y`` display filter, against tshark on a capture of
every protocol netstack declares (Ethernet with and without 802.1Q, ARP request/reply, IPv4 and a
fragment, ICMP echo, unreachable and time exceeded, UDP, TCP with options, data and RST); stdin, -c
and a bad filter."""

import io
import subprocess
import sys

import pytest

from netstack.cli import main
from netstack.formats import pcap
from netstack.formats.craft import ARP, ICMP, IP, TCP, UDP, Ether
from netstack.formats.text import summary_columns
from tests.support.external_tools import require_tool

A_MAC, B_MAC = "02:00:5e:00:53:02", "02:00:5e:00:53:01"
A, B = "192.0.2.2", "192.0.2.1"


def _ab(**fields):
    return Ether(src=A_MAC, dst=B_MAC) / IP(src=A, dst=B, **fields)


def _ba(**fields):
    return Ether(src=B_MAC, dst=A_MAC) / IP(src=B, dst=A, **fields)


PROBE = _ab(identification=7) / UDP(src_port=40001, dst_port=33434) / b"probe"
FRAMES = [
    Ether(src=A_MAC) / ARP(sha=A_MAC, spa=A, tpa=B),
    Ether(src=B_MAC, dst=A_MAC) / ARP(op="reply", sha=B_MAC, spa=B, tha=A_MAC, tpa=A),
    _ab() / ICMP(type="echo_request", identifier=1, sequence=1) / b"abcdefgh",
    _ba() / ICMP(type="echo_reply", identifier=1, sequence=1) / b"abcdefgh",
    PROBE,
    _ba() / ICMP(type="destination_unreachable", code=3) / bytes(PROBE[IP])[:28],
    _ab() / TCP(src_port=40000, dst_port=80, seq=1000, flags="S",
                options=[("mss", 1460), ("nop", None), ("wscale", 7), ("sack_permitted", None), ("timestamps", (1, 0))]),
    _ba() / TCP(src_port=80, dst_port=40000, seq=5000, ack=1001, flags="SA", options=[("mss", 1460)]),
    _ab() / TCP(src_port=40000, dst_port=80, seq=1001, ack=5001, flags="PA") / b"GET / HTTP/1.0\r\n\r\n",
    _ab(identification=9, fragment_offset=1, protocol="udp") / b"abcd",  # a last fragment
    Ether(src=A_MAC, dst=B_MAC, vlan={"pcp": 0, "dei": False, "vid": 5}) / IP(src=A, dst=B) / UDP(src_port=40002, dst_port=40003) / b"x",
    _ab(ttl=1) / ICMP(type="time_exceeded") / bytes(PROBE[IP])[:28],
    _ab() / TCP(src_port=40000, dst_port=80, seq=1019, ack=5001, flags="RA"),
]
TSHARK_OPTIONS = ["-n", "--disable-protocol", "http", "-o", "tcp.relative_sequence_numbers:FALSE",
                  "-o", "tcp.analyze_sequence_numbers:FALSE", "-o", "ip.defragment:FALSE"]
#: our display filter, tshark's spelling of it
FILTERS = [
    ("tcp.dst_port == 80", "tcp.dstport == 80 and not icmp"),
    ("tcp.flags.syn and not tcp.flags.ack", "tcp.flags.syn == 1 and tcp.flags.ack == 0"),
    ("icmp.type == echo_request or icmp.type == echo_reply", "icmp.type == 8 or icmp.type == 0"),
    ("arp.op == reply", "arp.opcode == 2"),
    ("udp and ipv4.src == 192.0.2.2", "udp and ip.src == 192.0.2.2 and not icmp"),
    ("ipv4.fragment_offset > 0", "ip.frag_offset > 0"),
    ("frame.len >= 60 && !arp", "frame.len >= 60 and not arp"),
    ("ethernet.vlan", "vlan"),
    ("tcp.payload contains \"GET\"", "tcp.payload contains \"GET\""),
    ("ipv4.ttl < 2", "ip.ttl < 2"),
]


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("decode") / "every-protocol.pcap"
    pcap.write(path, [(1_700_000_000 + index / 1000, bytes(frame)) for index, frame in enumerate(FRAMES)])
    return path


def _tshark(path, *arguments):
    tshark = require_tool("tshark")
    result = subprocess.run([tshark, "-r", str(path), *TSHARK_OPTIONS, *arguments], capture_output=True, text=True,
                            timeout=60, check=True)
    return result.stdout.splitlines()


def _decode(capsys, *arguments) -> list[str]:
    assert main(["decode", *arguments]) == 0
    return capsys.readouterr().out.splitlines()


def test_summary_columns_match_tshark(capture, capsys):
    fields = _tshark(capture, "-T", "fields", "-E", "separator=|", "-e", "_ws.col.Source", "-e", "_ws.col.Destination",
                     "-e", "_ws.col.Protocol", "-e", "frame.len", "-e", "_ws.col.Info")
    assert len(fields) == len(FRAMES)
    lines = _decode(capsys, str(capture))
    for number, (frame, theirs, line) in enumerate(zip(FRAMES, fields, lines), start=1):
        source, destination, protocol, length, info = theirs.split("|")
        ours = summary_columns(bytes(frame))
        assert ours[:4] == (source, destination, protocol, int(length)), f"frame {number}: {ours} vs {theirs}"
        # ours is tshark's Info, or its beginning (tshark adds state: "(request in 3)")
        assert info.startswith(ours[4]) and len(ours[4]) > 10, f"frame {number}: {ours[4]!r} vs {info!r}"
        assert line.split(None, 2)[0] == str(number) and line.endswith(f"{source} → {destination} {protocol} {length} {ours[4]}")


@pytest.mark.parametrize("ours, theirs", FILTERS)
def test_display_filter_selects_what_tshark_selects(capture, capsys, ours, theirs):
    expected = [int(number) for number in _tshark(capture, "-Y", theirs, "-T", "fields", "-e", "frame.number")]
    shown = [int(line.split()[0]) for line in _decode(capsys, "-Y", ours, str(capture))]
    assert expected, f"tshark's {theirs!r} matches nothing: the case tests nothing"
    assert shown == expected


def test_count_stdin_verbose_and_bad_filter(capture, capsys, monkeypatch):
    assert len(_decode(capsys, "-c", "3", str(capture))) == 3
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(capture.read_bytes())))
    assert len(_decode(capsys, "-", "-Y", "tcp")) == 4
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(capture.read_bytes())))
    tree = "\n".join(_decode(capsys, "-V", "-c", "1"))
    assert tree.startswith("Frame 1: 42 bytes") and "ARP packet (RFC 826)" in tree
    assert main(["decode", "-Y", "tcp.dport == 80", str(capture)]) == 1
    err = capsys.readouterr().err
    assert "unknown field 'tcp.dport'" in err and "dst_port" in err and "Traceback" not in err


def test_decode_reads_a_pipe(capture):
    result = subprocess.run([sys.executable, "-m", "netstack", "decode", "-Y", "arp"], input=capture.read_bytes(),
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.decode().splitlines()) == 2
