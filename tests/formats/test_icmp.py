"""ICMP schema (netstack/formats/icmp.py)."""

import pytest
from hypothesis import given

from netstack.formats import ICMP, IPv4, FormatError
from netstack.formats.icmp import original_datagram

from tests.support.format_inputs import icmp_messages


@given(icmp_messages())
def test_round_trip(message):
    data = ICMP.build(message)
    parsed = ICMP.parse(data)
    for name, value in message.items():
        assert parsed[name] == value
    assert parsed.checksum_ok is True
    assert ICMP.build(parsed) == data
    assert ICMP.parse(ICMP.build(parsed)) == parsed


def test_echo_request_layout():
    data = ICMP.build({"type": "echo_request", "identifier": 0x1234, "sequence": 1, "payload": b"abcd"})
    assert data[:2] == b"\x08\x00" and data[4:8] == bytes.fromhex("12340001")


def test_fragmentation_needed_quotes_the_original_datagram():
    original = IPv4.build({"src": "192.0.2.1", "dst": "198.51.100.1", "protocol": "udp", "payload": {"src_port": 5, "dst_port": 6, "payload": bytes(1400)}})
    data = ICMP.build({"type": "destination_unreachable", "code": 4, "next_hop_mtu": 1280, "payload": original[:28]})
    parsed = ICMP.parse(data)
    assert parsed.next_hop_mtu == 1280 and parsed.code == 4
    quote = original_datagram(parsed)
    assert quote.header.dst == "198.51.100.1" and quote.header.protocol == "udp" and quote.data == original[20:28]


def test_bad_checksum_still_decodes():
    data = bytearray(ICMP.build({"type": "echo_reply", "payload": b"x"}))
    data[-1] ^= 0xFF
    parsed = ICMP.parse(bytes(data))
    assert parsed.checksum_ok is False and parsed.type == "echo_reply"


def test_truncation():
    data = ICMP.build({"type": "echo_request"})
    for cut in range(8):
        with pytest.raises(FormatError) as raised:
            ICMP.parse(data[:cut])
        assert raised.value.layer == "icmp" and raised.value.field is not None
