"""TCP schema (netstack/formats/tcp.py): round trips, computed fields, checksum, bad input."""

import pytest
from hypothesis import given

from netstack.formats import TCP, FormatError
from netstack.formats.checksum import transport_checksum

from tests.support.format_inputs import tcp_segments

SRC, DST = "192.0.2.1", "198.51.100.7"


@given(tcp_segments())
def test_build_then_parse_keeps_the_drawn_fields_and_is_a_fixed_point(segment):
    data = TCP.build(segment, src=SRC, dst=DST)
    parsed = TCP.parse(data, src=SRC, dst=DST)
    for name in ("src_port", "dst_port", "seq", "ack", "window", "urgent_pointer"):
        if name in segment:
            assert parsed[name] == segment[name]
    assert int(TCP.header.build({"data_offset": 5, "flags": parsed.flags, "src_port": 0, "dst_port": 0, "checksum": 0, "options": b""})[13]) == segment.get("flags", 0)
    assert parsed.payload == segment.get("payload", b"")
    assert parsed.checksum_ok is True
    assert parsed.data_offset * 4 == len(data) - len(parsed.payload)
    assert TCP.build(parsed, src=SRC, dst=DST) == data
    assert TCP.parse(TCP.build(parsed, src=SRC, dst=DST), src=SRC, dst=DST) == parsed


def test_syn_with_options_matches_the_rfc_layout():
    data = TCP.build(
        {"src_port": 49152, "dst_port": 80, "seq": 1, "flags": "S", "options": [("mss", 1460), ("nop", None), ("wscale", 7)]},
        src=SRC,
        dst=DST,
    )
    assert data[:4] == bytes.fromhex("c0000050")
    assert data[12] == 7 << 4  # 20 + 8 option bytes = 7 words
    assert data[13] == 0x02
    assert data[20:28] == bytes.fromhex("020405b401030307")
    assert transport_checksum(bytes([192, 0, 2, 1]), bytes([198, 51, 100, 7]), 6, data) == 0


def test_flag_spellings_agree():
    base = {"src_port": 1, "dst_port": 2}
    spellings = ["SA", "syn|ack", {"syn": True, "ack": True}, 0x12]
    built = {TCP.build(dict(base, flags=flags), src=SRC, dst=DST) for flags in spellings}
    assert len(built) == 1
    assert TCP.parse(built.pop()).flags.syn is True


def test_explicit_checksum_and_data_offset_are_kept_and_reported_bad():
    data = TCP.build({"src_port": 1, "dst_port": 2, "checksum": 0xBEEF}, src=SRC, dst=DST)
    parsed = TCP.parse(data, src=SRC, dst=DST)
    assert parsed.checksum == 0xBEEF and parsed.checksum_ok is False
    assert TCP.build(parsed, src=SRC, dst=DST) == data  # a wrong checksum is kept on rebuild


def test_edited_segment_gets_a_fresh_checksum():
    parsed = TCP.parse(TCP.build({"src_port": 1, "dst_port": 2}, src=SRC, dst=DST), src=SRC, dst=DST)
    parsed.window = 1000
    parsed.payload = b"more"
    assert TCP.parse(TCP.build(parsed, src=SRC, dst=DST), src=SRC, dst=DST).checksum_ok is True


def test_checksum_unknown_without_addresses_and_build_needs_them():
    data = TCP.build({"src_port": 1, "dst_port": 2}, src=SRC, dst=DST)
    assert TCP.parse(data).checksum_ok is None
    with pytest.raises(FormatError, match="src and dst"):
        TCP.build({"src_port": 1, "dst_port": 2})


@pytest.mark.parametrize("cut", range(0, 28))
def test_truncation_anywhere_raises_format_error_naming_the_field(cut):
    data = TCP.build({"src_port": 1, "dst_port": 2, "options": [("mss", 1460), ("nop", None), ("wscale", 7)]}, src=SRC, dst=DST)
    with pytest.raises(FormatError) as raised:
        TCP.parse(data[:cut])
    assert raised.value.layer in ("tcp", "tcp_options")
    assert raised.value.field is not None and raised.value.offset is not None


@pytest.mark.parametrize(
    "data_offset, field, offset", [(4, "data_offset", 12), (0, "data_offset", 12), (15, "data_offset", 12)]
)
def test_lying_data_offset(data_offset, field, offset):
    data = bytearray(TCP.build({"src_port": 1, "dst_port": 2}, src=SRC, dst=DST))
    data[12] = data_offset << 4
    with pytest.raises(FormatError) as raised:
        TCP.parse(bytes(data))
    assert (raised.value.layer, raised.value.field, raised.value.offset) == ("tcp", field, offset)
    assert "tcp.data_offset at offset 12" in str(raised.value)
