"""``Frame.parse``/``Frame.build`` on the generated codec (netstack/formats/frame_codec.py) equal the
declarative interpreter (``Ethernet``) on every strategy-drawn frame, malformed ones included: the same
containers, the same bytes, the same FormatError layer, field and offset."""

from hypothesis import given, strategies as st

from netstack.errors import FormatError
from netstack.formats import Ethernet, Frame
from netstack.formats.craft import IP, TCP, Ether, dissect
from netstack.formats.frame_codec import NotOurs
from netstack.formats.frame_encoder import encode_frame
from netstack.formats.frame_views import parse_frame
from netstack.strategies import frame_bytes, frames


def _outcome(parse, data):
    try:
        return "ok", parse(data)
    except FormatError as error:
        return "error", (error.layer, error.field, error.offset, error.reason)


def _same_containers(fast, declarative):
    assert fast == declarative
    if isinstance(declarative, dict):  # == ignores hidden keys and order; the API shows both
        assert [k for k in fast if not k.startswith("_")] == [k for k in declarative if not k.startswith("_")]
        assert fast.get("_derived") == declarative.get("_derived")
        for key, value in declarative.items():
            if isinstance(value, dict) or isinstance(value, list):
                _same_containers(fast[key], value)


@given(frame_bytes())
def test_parse_equals_the_declarative_parse(data):
    fast, declarative = _outcome(Frame.parse, data), _outcome(Ethernet.parse, data)
    assert fast[0] == declarative[0] == "ok"
    _same_containers(fast[1], declarative[1])


@given(frame_bytes(), st.data())
def test_malformed_frames_raise_the_same_error(data, draw):
    cut = draw.draw(st.integers(0, len(data)))
    flip = draw.draw(st.integers(0, max(len(data) - 1, 0)))
    damaged = bytearray(data[:cut])
    if damaged and draw.draw(st.booleans()):
        damaged[flip % len(damaged)] ^= draw.draw(st.integers(1, 255))
    damaged = bytes(damaged)
    fast, declarative = _outcome(Frame.parse, damaged), _outcome(Ethernet.parse, damaged)
    assert fast[0] == declarative[0]
    if fast[0] == "ok":
        _same_containers(fast[1], declarative[1])
    else:
        assert fast[1] == declarative[1]


@given(frames())
def test_build_equals_the_declarative_build(frame):
    try:
        expected = Ethernet.build(frame)
    except FormatError as error:
        try:
            Frame.build(frame)
        except FormatError as same:
            assert (same.layer, same.field) == (error.layer, error.field)
            return
        raise AssertionError(f"the fast build took what the declarative one refuses: {error}")
    assert Frame.build(frame) == expected
    parsed = Frame.parse(expected)
    assert Frame.build(parsed) == expected == Ethernet.build(parsed)


@given(frame_bytes())
def test_edited_frames_rebuild_alike(data):
    parsed = Frame.parse(data)
    payload = parsed.get("payload")
    if isinstance(payload, dict) and "ttl" in payload:
        payload["ttl"] = (payload["ttl"] + 1) % 256
        inner = payload.get("payload")
        if isinstance(inner, dict) and "window" in inner:
            inner["window"] = 512
    assert Frame.build(parsed) == Ethernet.build(parsed)


def test_the_fast_paths_are_taken():
    syn = Ether() / IP(dst="192.0.2.1") / TCP(dst_port=80, flags="S", options=[("mss", 1460), ("timestamps", (1, 0))])
    data = bytes(syn)
    assert parse_frame(data) == Ethernet.parse(data)  # no NotOurs: the generated codec decoded it
    assert encode_frame(syn.container()) == data == Ethernet.build(syn.container())
    assert dissect(data)[TCP].options[1].value.ts_value == 1
    try:
        encode_frame({"payload": {"dst": "192.0.2.1", "protocol": "tcp", "payload": {"dst_port": 1, "bogus": 1}}})
    except NotOurs:
        pass
    else:
        raise AssertionError("a field the declaration lacks must go to the declarative builder")


def test_crafted_option_lists_are_not_confused():
    """Option lists are encoded once and remembered: by value and type, never a dict for another."""
    def frame(options):
        return (Ether() / IP(dst="192.0.2.1") / TCP(dst_port=1, options=options)).container()

    for options in ([("mss", 1460)], [("mss", 536)], [{"kind": "mss", "value": 1460}], [{"kind": "mss", "value": 536}],
                    [("mss", True)], [("sack", [(1, 2)])], [("sack", [(1, 3)])]):
        assert Frame.build(frame(options)) == Ethernet.build(frame(options))
    for options in ([("mss", 1460.0)], [("timestamps", (1.0, 0))], [("sack", ((1.0, 2),))]):
        Frame.build(frame([(kind, tuple(int(item) if not isinstance(item, tuple) else tuple(map(int, item))
                                        for item in value) if isinstance(value, tuple) else int(value))
                           for kind, value in options]))  # the int spelling first: cached
        try:
            Frame.build(frame(options))
        except FormatError as error:
            assert error.layer == "tcp_options"
        else:
            raise AssertionError(f"{options}: floats must be refused as the declarative builder refuses them")
