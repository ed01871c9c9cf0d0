"""Every truncation and every single-byte mutation of valid frames decodes or raises FormatError.

Nothing else may escape the decoders (no IndexError, struct.error, construct error, KeyError), nothing
hangs, and a mutated frame that decodes rebuilds to the same bytes (nothing was silently misread).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netstack import strategies
from netstack.formats import ARP, ICMP, TCP, UDP, FormatError, Frame, IPv4

SRC, DST = "192.0.2.1", "198.51.100.2"


def decodes_or_format_error(parse, data: bytes):
    """The container, or None after a FormatError; anything else fails the test."""
    try:
        return parse(data)
    except FormatError as error:
        assert error.layer and str(error)
        return None


def check_all_damage(parse, build, data: bytes, replacements):
    for end in range(len(data)):
        decodes_or_format_error(parse, data[:end])
    for position in range(len(data)):
        for replacement in replacements:
            mutated = bytearray(data)
            mutated[position] = replacement if replacement != data[position] else replacement ^ 0xFF
            mutated = bytes(mutated)
            parsed = decodes_or_format_error(parse, mutated)
            if parsed is not None:
                assert build(parsed) == mutated, f"byte {position} -> {mutated[position]:#04x} misread"


REPLACEMENTS = st.lists(st.integers(0, 255), min_size=1, max_size=3, unique=True).map(lambda v: [0x00, 0xFF, *v])


@given(strategies.frame_bytes(), REPLACEMENTS)
def test_damaged_frames_decode_or_raise_format_error(data, replacements):
    check_all_damage(Frame.parse, Frame.build, data, replacements)


@given(strategies.tcp_segments(), REPLACEMENTS)
def test_damaged_tcp_segments(segment, replacements):
    data = TCP.build(segment, src=SRC, dst=DST)
    check_all_damage(lambda b: TCP.parse(b, src=SRC, dst=DST), lambda c: TCP.build(c, src=SRC, dst=DST),
                     data, replacements)


@given(st.one_of(
    strategies.udp_datagrams().map(lambda v: (UDP, UDP.build(v, src=SRC, dst=DST))),
    strategies.icmp_messages().map(lambda v: (ICMP, ICMP.build(v))),
    strategies.arp_packets().map(lambda v: (ARP, ARP.build(v))),
    strategies.ipv4_packets().map(lambda v: (IPv4, IPv4.build(v))),
), REPLACEMENTS)
def test_damaged_layers_alone(layer_and_data, replacements):
    layer, data = layer_and_data
    check_all_damage(lambda b: layer.parse(b, src=SRC, dst=DST), lambda c: layer.build(c, src=SRC, dst=DST),
                     data, replacements)


@given(st.binary(max_size=80))
def test_random_bytes_decode_or_raise_format_error(data):
    decodes_or_format_error(Frame.parse, data)
