"""Audit of issue 2 "Bad input": every length field that lies is refused by BOTH paths, naming the field.

test_fast.py's agreement property mutates random bytes, which rarely lands on the one nibble that
matters (removing the fast path's ``ihl < 5`` check passed the whole suite); these cases hit each
length field on purpose, with every lying value, and check both the declarative ``Frame``/layer parse
and the generated fast decoder raise FormatError for the same layer and field.
"""

from __future__ import annotations

import pytest

from netstack.formats import IPv4, TCP, UDP, FormatError, Frame
from netstack.formats.fast import decode_ipv4, decode_tcp, decode_udp

SRC, DST = "192.0.2.1", "198.51.100.2"
SRC_BYTES, DST_BYTES = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 2])

DATAGRAM = IPv4.build({"src": SRC, "dst": DST, "protocol": 253, "payload": b"0123456789abcdef"})  # 36 bytes
SEGMENT = TCP.build({"src_port": 1, "dst_port": 2, "options": [("mss", 1460)], "payload": b"data"},
                    src=SRC, dst=DST)  # 24-byte header
USER_DATAGRAM = UDP.build({"src_port": 1, "dst_port": 2, "payload": b"0123456789"}, src=SRC, dst=DST)


def _both_refuse(declarative, fast, data: bytes, layer: str, field: str) -> None:
    with pytest.raises(FormatError) as slow_error:
        declarative(data)
    with pytest.raises(FormatError) as fast_error:
        fast(data)
    assert (slow_error.value.layer, slow_error.value.field) == (layer, field), slow_error.value
    assert (fast_error.value.layer, fast_error.value.field) == (layer, field), fast_error.value
    assert slow_error.value.offset == fast_error.value.offset


def _with_ihl(ihl: int) -> bytes:
    data = bytearray(DATAGRAM)
    data[0] = 0x40 | ihl
    return bytes(data)


@pytest.mark.parametrize("ihl", range(5))
def test_ihl_below_5_is_refused(ihl):
    _both_refuse(IPv4.parse, decode_ipv4, _with_ihl(ihl), "ipv4", "ihl")


@pytest.mark.parametrize("ihl", [10, 15])  # 40 and 60 header bytes, only 36 present
def test_ihl_beyond_the_data_is_refused(ihl):
    _both_refuse(IPv4.parse, decode_ipv4, _with_ihl(ihl), "ipv4", "options")


@pytest.mark.parametrize("total_length", [0, 1, 19, 37, 65535])
def test_total_length_that_lies_is_refused(total_length):
    data = bytearray(DATAGRAM)
    data[2:4] = total_length.to_bytes(2, "big")
    _both_refuse(IPv4.parse, decode_ipv4, bytes(data), "ipv4", "total_length")


@pytest.mark.parametrize("data_offset", range(5))
def test_data_offset_below_5_is_refused(data_offset):
    data = bytearray(SEGMENT)
    data[12] = data_offset << 4
    _both_refuse(lambda d: TCP.parse(d, src=SRC, dst=DST), lambda d: decode_tcp(d, 0, None, SRC_BYTES, DST_BYTES),
                 bytes(data), "tcp", "data_offset")


@pytest.mark.parametrize("data_offset", [8, 15])
def test_data_offset_beyond_the_segment_is_refused(data_offset):
    data = bytearray(SEGMENT)
    data[12] = data_offset << 4
    _both_refuse(lambda d: TCP.parse(d, src=SRC, dst=DST), lambda d: decode_tcp(d, 0, None, SRC_BYTES, DST_BYTES),
                 bytes(data), "tcp", "data_offset")


@pytest.mark.parametrize("length", [0, 7, 19, 65535])
def test_udp_length_that_lies_is_refused(length):
    data = bytearray(USER_DATAGRAM)
    data[4:6] = length.to_bytes(2, "big")
    _both_refuse(lambda d: UDP.parse(d, src=SRC, dst=DST), lambda d: decode_udp(d, 0, None, SRC_BYTES, DST_BYTES),
                 bytes(data), "udp", "length")


def test_a_lying_ihl_inside_a_frame_names_ipv4_and_its_offset():
    frame = Frame.build({"payload": {"src": SRC, "dst": DST, "protocol": 253, "payload": b"x" * 8}})
    data = bytearray(frame)
    data[14] = 0x43
    with pytest.raises(FormatError) as error:
        Frame.parse(bytes(data))
    assert (error.value.layer, error.value.field, error.value.offset) == ("ipv4", "ihl", 14)
    assert "ipv4" in str(error.value) and "ihl" in str(error.value) and "14" in str(error.value)


# --- `netstack decode` arguments (issue 2 item 6: bad input is one clear line, never a traceback) ---


@pytest.mark.parametrize("text, words", [
    ("zz", "'z' is not a hex digit"),
    ("00 0g", "'g' is not a hex digit"),
    ("abc", "3 hex digits: not a whole number of bytes"),
    ("", "no hex digits given"),
])
def test_decode_bad_hex_says_what_is_wrong(capfd, text, words):
    from netstack.cli import main

    assert main(["decode", "--hex", text]) == 1
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.strip() == f"netstack decode: hex: {words}"


@pytest.mark.parametrize("count", ["0", "-1", "x"])
def test_decode_count_must_be_a_positive_number(capfd, count):
    from netstack.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["decode", "--hex", "00", "-c", count])
    assert exited.value.code == 2
    assert "argument -c/--count" in capfd.readouterr().err
