"""RFC 1071 checksum (netstack/formats/checksum.py) against a word-by-word reference."""

import struct

from hypothesis import given
from hypothesis import strategies as st

from netstack.formats.checksum import internet_checksum, pseudo_header, pseudo_header_sum, transport_checksum


def reference_checksum(data: bytes) -> int:
    """RFC 1071 §4.1 literally: add 16-bit words, fold the carries, complement."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@given(st.binary(max_size=300))
def test_matches_the_reference(data):
    assert internet_checksum(data) == reference_checksum(data)


@given(st.binary(max_size=100).filter(lambda d: any(d)))
def test_data_with_its_checksum_sums_to_zero(data):
    data += b"\x00" * (len(data) % 2)
    assert internet_checksum(data + internet_checksum(data).to_bytes(2, "big")) == 0


def test_edge_values():
    assert internet_checksum(b"") == 0xFFFF
    assert internet_checksum(b"\xff\xff") == 0
    assert internet_checksum(b"\x00\x01\xf2\x03\xf4\xf5\xf6\xf7") == reference_checksum(b"\x00\x01\xf2\x03\xf4\xf5\xf6\xf7")


@given(st.binary(min_size=4, max_size=4), st.binary(min_size=4, max_size=4), st.binary(max_size=80))
def test_pseudo_header_sum_equals_summing_the_bytes(src, dst, segment):
    explicit = reference_checksum(pseudo_header(src, dst, 6, len(segment)) + segment + b"\x00" * (len(segment) % 2))
    assert transport_checksum(src, dst, 6, segment) == explicit
    assert internet_checksum(segment, pseudo_header_sum(src, dst, 6, len(segment))) == explicit


@given(st.binary(min_size=500, max_size=70000))
def test_large_buffers_fold_to_the_same_checksum(data):
    assert internet_checksum(data) == reference_checksum(data)
