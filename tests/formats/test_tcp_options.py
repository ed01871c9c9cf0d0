"""TCP options (netstack/formats/tcp_options.py): every kind, unknown kinds raw, bad lengths."""

import pytest
from hypothesis import given

from netstack.formats import FormatError
from netstack.formats.tcp_options import decode_options, encode_options

from tests.support.format_inputs import tcp_option_lists


def _plain(option):
    """A decoded option as the (kind name or number, value) tuple the strategy drew."""
    kind = str(option.kind) if not isinstance(option.kind, int) or isinstance(option.kind, str) else option.kind
    value = option.value
    if kind == "sack":
        value = [(block.left, block.right) for block in value]
    elif kind == "timestamps":
        value = (value.ts_value, value.ts_echo_reply)
    return (kind, value)


@given(tcp_option_lists)
def test_round_trip_of_drawn_lists(options):
    data = encode_options(options)
    decoded = decode_options(data)
    expected = [(kind, list(value) if kind == "sack" else value) for kind, value in options]
    assert [_plain(option) for option in decoded] == expected
    assert encode_options(decoded) == data
    assert decode_options(encode_options(decoded)) == decoded


def test_unknown_kind_is_kept_byte_for_byte():
    data = bytes([99, 5, 1, 2, 3, 1, 0, 0])
    decoded = decode_options(data)
    assert decoded[0].kind == 99 and decoded[0].length == 5 and decoded[0].value == b"\x01\x02\x03"
    assert decoded[2].kind == "eol" and decoded[2].value == b"\x00"
    assert encode_options(decoded) == data


def test_explicit_length_is_kept_for_crafting():
    assert encode_options([{"kind": "mss", "length": 9, "value": 1460}]) == bytes([2, 9, 5, 180])


@pytest.mark.parametrize(
    "data, offset, reason",
    [
        (bytes([2]), 1, "no length byte"),
        (bytes([2, 0, 0, 0]), 1, "below 2"),
        (bytes([99, 1, 0, 0]), 1, "below 2"),
        (bytes([1, 2, 9, 0, 0]), 2, "overruns"),
        (bytes([2, 5, 0, 0, 0]), 1, "cannot have length 5"),
        (bytes([5, 11] + [0] * 9), 1, "cannot have length 11"),
        (bytes([8, 9] + [0] * 7), 1, "cannot have length 9"),
    ],
)
def test_bad_lengths_raise_format_error_with_offset(data, offset, reason):
    with pytest.raises(FormatError, match=reason) as raised:
        decode_options(data, 20)
    assert (raised.value.layer, raised.value.field, raised.value.offset) == ("tcp_options", "length", 20 + offset)
