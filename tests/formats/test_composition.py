"""Stacking with ``/`` extends an expression's temporaries in place (netstack/formats/ownership.py,
``Crafted.__truediv__``) and copies whatever someone else holds: the frames are those of the
declarative builder on every strategy-drawn frame, and an edit after composition never reaches a
template, an operand or a layer held elsewhere (a copy-on-write bug fails here)."""

import copy

import pytest
from hypothesis import given

from netstack.formats import Frame, crafted, ownership
from netstack.formats.craft import IP, TCP, UDP, Ether
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOLS
from netstack.strategies import frames

_TABLES = {"ethernet": ("ethertype", ETHERTYPES), "ipv4": ("protocol", IP_PROTOCOLS)}


def _parts(frame: dict):
    """([(layer, its fields without the payload)], the innermost payload) of a drawn frame dict."""
    parts, layer, fields = [], Ether, dict(frame)
    while True:
        payload = fields.pop("payload", None)
        parts.append((layer, fields))
        selector = _TABLES.get(layer.layer)
        upper = selector[1].schema(fields[selector[0]]) if selector and isinstance(payload, dict) else None
        if upper is None or not hasattr(upper, "layer"):
            return parts, payload
        layer, fields = upper, dict(payload)


def _stacked(parts, tail):
    """The parts stacked in one expression of temporaries, as a user writes it (no names, so the
    intermediate stacks are extended in place)."""
    (first, a), *rest = parts
    if not rest:
        return first(**a) / tail if tail is not None else first(**a)
    (second, b), *rest = rest
    if not rest:
        return first(**a) / second(**b) / tail if tail is not None else first(**a) / second(**b)
    (third, c), = rest
    return first(**a) / second(**b) / third(**c) / tail if tail is not None else first(**a) / second(**b) / third(**c)


def test_the_interpreter_tells_temporaries_apart():
    """On CPython the calibration holds, so the in-place path below is the one tested."""
    assert ownership.TEMPORARY_LEFT > 0 and ownership.TEMPORARY_RIGHT > 0 and ownership.PRIVATE > 0


def test_an_expression_of_temporaries_copies_nothing_and_named_operands_are_copied(monkeypatch):
    copies = []
    original = crafted.Crafted._copy_chain

    def counted(self):
        copies.append(self.layer.layer)
        return original(self)

    monkeypatch.setattr(crafted.Crafted, "_copy_chain", counted)
    frame = Ether() / IP(dst="192.0.2.1") / TCP(dst_port=80, flags="S") / b"data"
    assert copies == [] and bytes(frame)[14 + 9] == 6
    base = Ether() / IP(dst="192.0.2.1")
    udp = UDP(dst_port=9)
    base / udp
    assert sorted(copies) == ["ethernet", "udp"]  # the named template and the named right operand


@given(frames())
def test_stacked_temporaries_build_what_the_declarative_builder_builds(frame):
    parts, tail = _parts(frame)
    stack = _stacked(parts, tail)
    expected = Frame.build(frame)
    assert bytes(stack) == expected
    assert Frame.build(stack.container()) == expected


@given(frames())
def test_edits_after_composition_reach_only_the_edited_stack(frame):
    parts, tail = _parts(frame)
    snapshot = copy.deepcopy([fields for _, fields in parts])
    if len(parts) < 2:
        return
    (first, a), (second, b), *rest = parts
    base = first(**a) / second(**b)  # a template, named: every stack below copies it
    before = base.container()
    one = base / (rest[0][0](**rest[0][1]) if rest else b"one") / b"tail"
    two = base / b"two"
    for stack in (one, two):
        stack[second].payload_marker = 1  # an edit to the copy's second layer ...
        stack[first].fields["edited"] = True
    assert base.container() == before  # ... never reaches the template
    assert "payload_marker" not in base[second].fields and "edited" not in base.fields
    assert one[second].fields["payload"] is not two[second].fields["payload"]
    assert [fields for _, fields in parts] == snapshot  # nor the dicts the layers were made from


def test_an_inner_layer_held_elsewhere_is_not_extended():
    """A temporary stack whose inner layer or dict a function kept: ``/`` must copy it."""
    kept = []

    def keep_inner(stack):
        kept.append(stack.payload)
        return stack

    def keep_dict(stack):
        kept.append(stack.fields)
        return stack

    frame = keep_inner(Ether() / IP(dst="192.0.2.1")) / UDP(dst_port=9)
    assert "payload" not in kept[0].fields and kept[0].fields.get("protocol") is None
    assert frame[UDP].dst_port == 9
    frame = keep_dict(Ether()) / IP(dst="192.0.2.1")
    assert "payload" not in kept[1] and kept[1].get("ethertype") is None
    assert bytes(frame)[12:14] == b"\x08\x00"


def test_a_right_operand_held_elsewhere_is_not_adopted():
    tcp = TCP(dst_port=80)
    frame = Ether() / IP(dst="192.0.2.1") / tcp / b"payload"
    frame[TCP].window = 1
    assert tcp.fields == {"dst_port": 80}
    held = IP(dst="192.0.2.1") / TCP(dst_port=1)
    frame = Ether() / held / b"x"
    assert "payload" not in held[TCP].fields and held.fields.get("protocol") == 6
    assert frame[TCP].payload == b"x"


def test_a_dissected_stack_is_copied_before_it_is_extended():
    from netstack.formats.craft import dissect

    data = bytes(Ether() / IP(dst="192.0.2.1") / UDP(dst_port=9) / b"x")
    frame = dissect(data)
    longer = frame / b"more"  # the UDP layer's payload was bytes: it becomes b"more" in the copy only
    assert frame[UDP].payload == b"x" and longer[UDP].payload == b"more"
    with pytest.raises(TypeError):
        Ether() / 3
