"""Frame (netstack/formats/frame.py): whole frames down the layers, inverse build, edit and rebuild."""

import random

from hypothesis import given

from netstack.formats import Frame, FormatError

from tests.support.format_inputs import frames


@given(frames())
def test_parse_build_inverse(frame):
    data = Frame.build(frame)
    parsed = Frame.parse(data)
    assert Frame.build(parsed) == data
    assert Frame.parse(Frame.build(parsed)) == parsed
    assert parsed.dst == frame["dst"]


def test_layers_nest_down_to_bytes():
    data = Frame.build({"payload": {"dst": "192.0.2.9", "protocol": "tcp", "payload": {"src_port": 1, "dst_port": 80, "flags": "S", "payload": b"x"}}})
    frame = Frame.parse(data)
    assert frame.ethertype == "ipv4" and frame.payload.protocol == "tcp" and frame.payload.payload.payload == b"x"


def test_edit_inner_layer_and_rebuild_fixes_every_length_and_checksum():
    frame = Frame.parse(Frame.build({"payload": {"src": "192.0.2.1", "dst": "192.0.2.9", "protocol": "tcp", "payload": {"src_port": 1, "dst_port": 80}}}))
    frame.payload.payload.payload = b"new data"
    frame.payload.payload.options = [("mss", 536)]
    again = Frame.parse(Frame.build(frame))
    assert again.payload.checksum_ok and again.payload.payload.checksum_ok
    assert again.payload.total_length == 20 + 24 + 8 and again.payload.payload.data_offset == 6


@given(frames())
def test_truncation_and_mutation_raise_only_format_error(frame):
    data = Frame.build(frame)
    rng = random.Random(len(data))
    for cut in range(len(data)):
        try:
            Frame.parse(data[:cut])
        except FormatError:
            pass
    for _ in range(20):
        index = rng.randrange(len(data))
        mutated = data[:index] + bytes([rng.randrange(256)]) + data[index + 1 :]
        try:
            parsed = Frame.parse(mutated)
        except FormatError:
            continue
        assert Frame.build(parsed) == mutated
