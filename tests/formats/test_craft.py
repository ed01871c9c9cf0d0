"""Crafting (netstack/formats/craft.py): scapy-style stacking, dissect, edit and rebuild."""

import pytest

from netstack.formats import Frame, FormatError
from netstack.formats.craft import ARP, ICMP, IP, TCP, UDP, Ether, dissect
from netstack.formats.checksum import internet_checksum, transport_checksum

SYN_OPTIONS = [("mss", 1460), ("nop", None), ("wscale", 7), ("sack_permitted", None), ("timestamps", (1, 0))]


def test_one_expression_builds_a_valid_syn_with_options():
    syn = Ether(dst="02:00:5e:00:53:01") / IP(src="192.0.2.2", dst="192.0.2.1") / TCP(dst_port=80, flags="S", options=SYN_OPTIONS)
    data = bytes(syn)
    assert len(data) == 14 + 20 + 20 + 20
    assert data[12:14] == b"\x08\x00" and data[14 + 9] == 6
    assert internet_checksum(data[14:34]) == 0
    assert transport_checksum(bytes([192, 0, 2, 2]), bytes([192, 0, 2, 1]), 6, data[34:]) == 0
    decoded = Frame.parse(data)
    assert decoded.payload.payload.flags.syn and decoded.payload.payload.dst_port == 80
    assert [str(option.kind) for option in decoded.payload.payload.options] == ["mss", "nop", "window_scale", "sack_permitted", "timestamps"]


def test_selector_fields_follow_the_stacked_layers():
    assert bytes(Ether() / ARP(sha="02:00:5e:00:53:02", spa="192.0.2.2", tpa="192.0.2.1"))[12:14] == b"\x08\x06"
    assert bytes(Ether() / IP(dst="192.0.2.1") / UDP(dst_port=9) / b"x")[14 + 9] == 17
    assert bytes(Ether() / IP(dst="192.0.2.1") / ICMP(type="echo_request"))[14 + 9] == 1


def test_stacking_copies_so_templates_can_be_reused():
    base = Ether() / IP(dst="192.0.2.1")
    first = base / UDP(dst_port=1)
    second = base / TCP(dst_port=2)
    assert "udp" in first and "tcp" not in first and "tcp" in second
    assert base.fields.get("payload") is not None and "udp" not in base


def test_dissect_edit_rebuild():
    data = bytes(Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / TCP(dst_port=80, flags="S") / b"hello")
    frame = dissect(data)
    frame[TCP].window = 512
    frame["ipv4"].ttl = 1
    frame[TCP].payload = b"hello, world"
    again = Frame.parse(bytes(frame))
    assert again.payload.ttl == 1 and again.payload.payload.window == 512
    assert again.payload.checksum_ok and again.payload.payload.checksum_ok
    assert again.payload.total_length == 20 + 20 + 12


def test_explicit_broken_checksum_is_kept():
    data = bytes(Ether() / IP(dst="192.0.2.1") / UDP(dst_port=9, checksum=0x1234))
    assert Frame.parse(data).payload.payload.checksum_ok is False


def test_unknown_field_access_and_missing_layer_are_clear():
    packet = Ether() / IP(dst="192.0.2.1")
    with pytest.raises(AttributeError, match="no field"):
        packet[IP].nonsense
    with pytest.raises(KeyError):
        packet[TCP]
    with pytest.raises(FormatError):
        bytes(Ether() / IP())  # no destination address
