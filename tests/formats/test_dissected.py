"""``dissect`` (netstack/formats/frame_views.py ``dissect_frame``, ``DissectedLayer``): layers that read
their view's state directly, make the view only when ``fields`` is needed, and verify TCP/UDP
checksums only when read. On every strategy-drawn frame, any interleaving of reads, edits (through
the layer or its dict) and materialisations gives what the eager Crafted layers over the declarative
container give, and the same bytes (or the same FormatError) when rebuilt."""

from hypothesis import given, strategies as st

from netstack.errors import FormatError
from netstack.formats import Ethernet
from netstack.formats.craft import IP, TCP, UDP, Ether, dissect
from netstack.formats.crafted import wrap
from netstack.formats.layer_view import LayerView
from netstack.strategies import frame_bytes

#: int fields an edit flips the lowest bit of (within range whatever the value)
_EDITABLE = ("ttl", "identification", "window", "seq", "src_port", "dst_port", "urgent_pointer", "identifier")


def _built(frame):
    try:
        return "ok", bytes(frame)
    except FormatError as error:
        return "error", (error.layer, error.field)


def _fields(layer):
    return [key for key in layer.fields if not key.startswith("_")]


@given(frame_bytes(), st.data())
def test_any_reads_and_edits_match_the_eager_layers(data, draw):
    lazy, eager = dissect(data), wrap(Ethernet, Ethernet.parse(data))
    lazy_layers, eager_layers = list(lazy.layers()), list(eager.layers())
    assert [layer.layer for layer in lazy_layers] == [layer.layer for layer in eager_layers]
    for _ in range(draw.draw(st.integers(0, 12))):
        index = draw.draw(st.integers(0, len(eager_layers) - 1))
        mine, reference = lazy_layers[index], eager_layers[index]
        keys = [key for key in _fields(reference) if key != "payload"]
        operation = draw.draw(st.sampled_from(["attribute", "item", "edit", "edit item", "materialise", "checksum"]))
        if operation in ("attribute", "item") and keys:
            key = draw.draw(st.sampled_from(keys))
            read = getattr if operation == "attribute" else (lambda layer, name: layer.fields[name])
            assert read(mine, key) == read(reference, key), key
        elif operation.startswith("edit"):
            editable = [key for key in _EDITABLE if key in keys]
            if editable:
                key = draw.draw(st.sampled_from(editable))
                value = reference.fields[key] ^ 1
                for layer in (mine, reference):
                    if operation == "edit":
                        setattr(layer, key, value)
                    else:
                        layer.fields[key] = value
                assert getattr(mine, key) == value and mine.fields[key] == value
        elif operation == "materialise":
            assert list(mine.fields) == list(reference.fields)
        else:
            assert mine.fields.get("checksum_ok") == reference.fields.get("checksum_ok")
            assert mine.fields.get("_derived") == reference.fields.get("_derived")
    assert [_fields(layer) for layer in lazy.layers()] == [_fields(layer) for layer in eager.layers()]
    assert lazy == eager
    assert _built(lazy) == _built(eager)


def test_the_view_is_made_only_when_the_dict_is_needed():
    data = bytes(Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / TCP(dst_port=80, flags="S") / b"x")
    frame = dissect(data)
    segment = frame[TCP]
    assert segment.dst_port == 80 and frame[IP].ttl == 64
    segment.window = 7  # written into the shared state, not a view
    assert segment.window == 7
    view = segment.fields
    assert isinstance(view, LayerView) and view["window"] == 7 and view._state is segment._s
    view["window"] = 9
    assert segment.window == 9
    list(view)  # materialised: the layer reads the dict from now on
    assert view._state is None and segment.window == 9
    view["window"] = 11
    del view["urgent_pointer"]
    assert segment.window == 11 and "urgent_pointer" not in segment.fields
    assert Ethernet.parse(bytes(frame)).payload.payload.window == 11


def test_a_checksum_is_verified_when_read():
    data = bytearray(bytes(Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / UDP(dst_port=9) / b"abcd"))
    assert dissect(bytes(data))[UDP].checksum_ok is True
    data[-1] ^= 0xFF  # the UDP payload changed, its checksum not
    frame = dissect(bytes(data))
    assert frame[UDP].checksum_ok is False and frame[UDP].fields["_derived"] == {"length": 12}
    assert frame[IP].checksum_ok is True
