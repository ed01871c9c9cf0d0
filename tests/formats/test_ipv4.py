"""IPv4 schema (netstack/formats/ipv4.py): round trips, computed fields, checksum, lying lengths."""

import pytest
from hypothesis import given

from netstack.formats import IPv4, FormatError
from netstack.formats.checksum import internet_checksum

from tests.support.format_inputs import ipv4_packets


@given(ipv4_packets())
def test_build_then_parse_keeps_the_drawn_fields_and_is_a_fixed_point(packet):
    data = IPv4.build(packet)
    parsed = IPv4.parse(data)
    assert (parsed.src, parsed.dst) == (packet["src"], packet["dst"])
    assert parsed.ttl == packet.get("ttl", 64)
    assert parsed.tos == packet.get("tos", {"dscp": 0, "ecn": 0})
    assert parsed.flags.df == packet.get("flags", {}).get("df", False)
    assert parsed.options == packet.get("options", b"")
    assert parsed.total_length == len(data) and parsed.ihl * 4 == 20 + len(parsed.options)
    assert parsed.checksum_ok is True and internet_checksum(data[: parsed.ihl * 4]) == 0
    if packet["protocol"] != 99:
        assert parsed.payload.checksum_ok is True
    assert IPv4.build(parsed) == data
    assert IPv4.parse(IPv4.build(parsed)) == parsed


def test_known_header_from_rfc_1071_style_example():
    # The worked example header of the IPv4 checksum (checksum 0xb861, ttl 64, protocol 17).
    header = bytes.fromhex("450000730000400040 11b861c0a80001c0a800c7".replace(" ", ""))
    parsed = IPv4.header.parse(header)
    assert parsed.checksum == 0xB861 and internet_checksum(header) == 0
    assert parsed.flags.df is True and parsed.identification == 0 and parsed.protocol == "udp"
    # The same header over zero bytes: decoding reaches UDP, whose length 0 lies.
    with pytest.raises(FormatError, match="udp.length at offset 24"):
        IPv4.parse(header + bytes(0x73 - 20))


def test_fragment_payload_stays_bytes():
    data = IPv4.build({"dst": "192.0.2.1", "protocol": "udp", "flags": {"mf": True}, "payload": b"\x00" * 16})
    assert IPv4.parse(data).payload == b"\x00" * 16


def test_padding_after_total_length_is_kept():
    data = IPv4.build({"dst": "192.0.2.1", "protocol": 99, "payload": b"ab"}) + bytes(10)
    parsed = IPv4.parse(data)
    assert parsed.payload == b"ab" and parsed.padding == bytes(10)
    assert IPv4.build(parsed) == data


def test_explicit_wrong_values_are_kept():
    data = IPv4.build({"dst": "192.0.2.1", "protocol": 99, "checksum": 1, "total_length": 25, "payload": b"abcde"})
    parsed = IPv4.parse(data)
    assert parsed.checksum == 1 and parsed.checksum_ok is False
    parsed.ttl = 3  # the checksum was wrong at parse time, so it stays as given
    assert IPv4.parse(IPv4.build(parsed)).checksum == 1


def test_edit_and_rebuild_recomputes_lengths_and_checksum():
    parsed = IPv4.parse(IPv4.build({"dst": "192.0.2.1", "protocol": 99, "payload": b"abc"}))
    parsed.payload = b"a longer payload"
    parsed.ttl = 1
    again = IPv4.parse(IPv4.build(parsed))
    assert again.total_length == 20 + 16 and again.checksum_ok is True and again.ttl == 1


@pytest.mark.parametrize(
    "patch, field, offset",
    [
        ({0: 0x65}, "version", 0),
        ({0: 0x44}, "ihl", 0),
        ({0: 0x4F}, "options", 20),
        ({2: 0, 3: 10}, "total_length", 2),
        ({2: 0xFF, 3: 0xFF}, "total_length", 2),
    ],
)
def test_lying_header_fields(patch, field, offset):
    data = bytearray(IPv4.build({"dst": "192.0.2.1", "protocol": 99, "payload": b"abcd"}))
    for index, value in patch.items():
        data[index] = value
    with pytest.raises(FormatError) as raised:
        IPv4.parse(bytes(data))
    assert (raised.value.layer, raised.value.field, raised.value.offset) == ("ipv4", field, offset)


def test_truncation_at_every_byte():
    data = IPv4.build({"dst": "192.0.2.1", "protocol": "udp", "options": b"\x01\x01\x01\x00", "payload": {"src_port": 1, "dst_port": 2, "payload": b"xyz"}})
    for cut in range(len(data)):
        with pytest.raises(FormatError) as raised:
            IPv4.parse(data[:cut])
        assert raised.value.layer == "ipv4" and raised.value.field is not None


def test_dst_is_required():
    with pytest.raises(FormatError, match="ipv4.dst"):
        IPv4.build({"protocol": 99})
