"""UDP schema (netstack/formats/udp.py)."""

import pytest
from hypothesis import given

from netstack.formats import UDP, FormatError

from tests.support.format_inputs import udp_datagrams

SRC, DST = "192.0.2.1", "203.0.113.9"


@given(udp_datagrams())
def test_round_trip(datagram):
    data = UDP.build(datagram, src=SRC, dst=DST)
    parsed = UDP.parse(data, src=SRC, dst=DST)
    assert (parsed.src_port, parsed.dst_port, parsed.payload) == (datagram["src_port"], datagram["dst_port"], datagram["payload"])
    assert parsed.length == len(data) and parsed.checksum_ok is True and parsed.checksum != 0
    assert UDP.build(parsed, src=SRC, dst=DST) == data
    assert UDP.parse(UDP.build(parsed, src=SRC, dst=DST), src=SRC, dst=DST) == parsed


def test_zero_checksum_means_none():
    data = UDP.build({"src_port": 1, "dst_port": 2, "checksum": 0, "payload": b"x"})
    assert UDP.parse(data, src=SRC, dst=DST).checksum_ok is None


def test_bad_checksum_is_reported_not_raised():
    data = bytearray(UDP.build({"src_port": 1, "dst_port": 2, "payload": b"x"}, src=SRC, dst=DST))
    data[-1] ^= 1
    assert UDP.parse(bytes(data), src=SRC, dst=DST).checksum_ok is False


@pytest.mark.parametrize("length, reason", [(7, "below"), (100, "exceeds")])
def test_lying_length(length, reason):
    data = bytearray(UDP.build({"src_port": 1, "dst_port": 2, "payload": b"abcd"}, src=SRC, dst=DST))
    data[4:6] = length.to_bytes(2, "big")
    with pytest.raises(FormatError, match=reason) as raised:
        UDP.parse(bytes(data))
    assert (raised.value.layer, raised.value.field, raised.value.offset) == ("udp", "length", 4)


def test_truncation():
    for cut in range(8):
        with pytest.raises(FormatError) as raised:
            UDP.parse(bytes(cut))
        assert raised.value.field in ("src_port", "dst_port", "length", "checksum")
