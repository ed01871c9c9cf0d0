"""What scapy users reach for, on crafted and dissected frames: summary, show, hexdump, ``in``, the
missing-layer error and ``answers`` (netstack/formats/crafted.py, text.py, answers.py)."""

import pytest

from netstack.formats.answers import answers
from netstack.formats.text import summary_line
from netstack.formats.craft import ARP, ICMP, IP, TCP, UDP, Ether, MissingLayer, dissect

CLIENT_MAC, SERVER_MAC = "02:00:5e:00:53:02", "02:00:5e:00:53:01"
CLIENT, SERVER = "192.0.2.2", "192.0.2.1"


def _ip(src=CLIENT, dst=SERVER, **fields):
    mac = (CLIENT_MAC, SERVER_MAC) if src == CLIENT else (SERVER_MAC, CLIENT_MAC)
    return Ether(src=mac[0], dst=mac[1]) / IP(src=src, dst=dst, **fields)


SYN = _ip() / TCP(src_port=40000, dst_port=80, seq=1000, flags="S", options=[("mss", 1460), ("wscale", 7)])
SYN_ACK = _ip(SERVER, CLIENT) / TCP(src_port=80, dst_port=40000, seq=5000, ack=1001, flags="SA")
ECHO = _ip() / ICMP(type="echo_request", identifier=7, sequence=3) / b"ping"
ECHO_REPLY = _ip(SERVER, CLIENT) / ICMP(type="echo_reply", identifier=7, sequence=3) / b"ping"
DATAGRAM = _ip(identification=42) / UDP(src_port=40001, dst_port=33434) / b"probe"


def _unreachable(quoted: bytes, source="198.51.100.9"):
    return _ip(source, CLIENT) / ICMP(type="destination_unreachable", code=3) / quoted


def test_missing_layer_is_a_short_key_error():
    frame = dissect(bytes(SYN))
    with pytest.raises(KeyError) as error:
        frame[UDP]
    assert isinstance(error.value, MissingLayer)
    assert str(error.value) == "no UDP layer in Ethernet/IPv4/TCP"
    assert TCP in frame and IP in frame and UDP not in frame and ARP not in frame


def test_summary_lines():
    assert SYN.summary() == ("192.0.2.2 → 192.0.2.1 TCP 62 40000 → 80 [SYN] Seq=1000 Win=65535 Len=0 MSS=1460 WS=128")
    assert SYN_ACK.summary().startswith("192.0.2.1 → 192.0.2.2 TCP 54 80 → 40000 [SYN, ACK] Seq=5000 Ack=1001 ")
    assert ECHO.summary() == "192.0.2.2 → 192.0.2.1 ICMP 46 Echo (ping) request  id=0x0007, seq=3/768, ttl=64"
    assert DATAGRAM.summary() == "192.0.2.2 → 192.0.2.1 UDP 47 40001 → 33434 Len=5"
    who_has = Ether(src=CLIENT_MAC) / ARP(sha=CLIENT_MAC, spa=CLIENT, tpa=SERVER)
    assert who_has.summary() == "02:00:5e:00:53:02 → ff:ff:ff:ff:ff:ff ARP 42 Who has 192.0.2.1? Tell 192.0.2.2"
    error = _unreachable(bytes(DATAGRAM[IP]))
    assert "ICMP" in error.summary() and "Destination unreachable (Port unreachable)" in error.summary()
    assert dissect(bytes(SYN)).summary() == SYN.summary()
    assert summary_line(bytes(SYN)[:30]) == ("02:00:5e:00:53:02 → 02:00:5e:00:53:01 IPv4 30 "
                                            "[Malformed: ipv4.dst at offset 30: truncated: needs 20 bytes, has 16]")


def test_show_gives_every_field_with_its_meaning():
    text = dissect(bytes(SYN)).show(file=False)
    lines = text.splitlines()
    assert lines[0].startswith("Ethernet II frame")
    assert any(line.split() [:3] == ["ttl", "=", "64"] and "time to live" in line for line in lines)
    assert any(line.split()[:3] == ["flags", "=", "syn"] and "control bits" in line for line in lines)
    assert any(line.split()[:3] == ["data_offset", "=", "7"] for line in SYN.show(file=False).splitlines())  # computed
    assert "TCP segment (RFC 9293)" in lines


def test_hexdump():
    assert ECHO.hexdump().splitlines()[0] == "0000  02 00 5e 00 53 01 02 00 5e 00 53 02 08 00 45 00  ..^.S...^.S...E."


def test_answers_pairs():
    assert SYN_ACK.answers(SYN) and not SYN.answers(SYN_ACK)
    assert not SYN_ACK.answers(_ip() / TCP(src_port=40000, dst_port=80, seq=2000, flags="S"))  # wrong ack
    rst = _ip(SERVER, CLIENT) / TCP(src_port=80, dst_port=40000, ack=1001, flags="RA")
    assert rst.answers(SYN)
    assert ECHO_REPLY.answers(ECHO) and not ECHO.answers(ECHO_REPLY)
    other = _ip(SERVER, CLIENT) / ICMP(type="echo_reply", identifier=7, sequence=4)
    assert not other.answers(ECHO)
    quote = bytes(DATAGRAM[IP])[:28]  # header + 8 bytes, as routers quote (RFC 792)
    assert _unreachable(quote).answers(DATAGRAM)
    other_datagram = _ip(identification=42) / UDP(src_port=40001, dst_port=33435) / b"probe"
    assert not _unreachable(quote).answers(other_datagram)
    reply = Ether(src=SERVER_MAC) / ARP(op="reply", sha=SERVER_MAC, spa=SERVER, tha=CLIENT_MAC, tpa=CLIENT)
    request = Ether(src=CLIENT_MAC) / ARP(sha=CLIENT_MAC, spa=CLIENT, tpa=SERVER)
    assert reply.answers(request) and not request.answers(reply)
    assert answers(bytes(ECHO_REPLY), bytes(ECHO)) and not answers(b"junk", bytes(ECHO))
    udp_reply = _ip(SERVER, CLIENT) / UDP(src_port=33434, dst_port=40001)
    assert udp_reply.answers(DATAGRAM) and not udp_reply.answers(SYN)
