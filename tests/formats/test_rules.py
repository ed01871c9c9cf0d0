"""Each header rule is stated once (``netstack.formats.rules``) and both codec paths obey that one statement."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from netstack.formats import FormatError, fast, fast_layers, icmp, ipv4, tcp, udp
from netstack.formats.rules import Derive, HeaderRules, Rule

TABLES = [ipv4.IPV4_RULES, tcp.TCP_RULES, udp.UDP_RULES, icmp.ICMP_RULES]
LAYERS = {"ipv4": ipv4.IPv4, "tcp": tcp.TCP, "udp": udp.UDP, "icmp": icmp.ICMP}


@pytest.mark.parametrize("rules", TABLES, ids=lambda rules: rules.layer)
def test_the_generated_decoder_is_written_from_the_rule_table(rules):
    decoder = fast.GENERATED_SOURCE[fast.GENERATED_SOURCE.index(f"def decode_{rules.layer}("):]
    decoder = decoder[: decoder.index("\ndef ")]
    for line in rules.truncation_source(f"_{rules.layer.upper()}") + rules.check_source():
        assert "    " + line in decoder


@pytest.mark.parametrize("rules", TABLES, ids=lambda rules: rules.layer)
def test_no_rule_is_written_again_by_hand(rules):
    """Neither the generator's template nor the declarative decode spells a rule's condition or reason."""
    hand_written = inspect.getsource(fast_layers) + inspect.getsource(type(LAYERS[rules.layer]).decode)
    for step in rules.steps:
        if isinstance(step, Rule):
            assert step.broken not in hand_written
            assert step.reason not in hand_written
    assert f"available < {rules.minimum}" not in hand_written


def _udp(length_field: int, payload: bytes) -> bytes:
    return fast.encode_udp(b"\xc0\x00\x02\x01", b"\xc0\x00\x02\x02", 1000, 2000, payload, length=length_field)


def _both_paths(data: bytes):
    """The FormatError (layer, field, offset) of the generated and of the declarative decode, or None."""
    outcomes = []
    for decode in (lambda: fast_layers.generate_layers()[0]["decode_udp"](data), lambda: udp.UDP.parse(data)):
        try:
            decode()
            outcomes.append(None)
        except FormatError as error:
            outcomes.append((error.layer, error.field, error.offset, error.reason))
    return outcomes


def test_changing_a_bound_in_the_table_changes_both_paths(monkeypatch):
    datagram = _udp(10, b"ab")  # length 10: legal under RFC 768's 8-byte minimum
    assert _both_paths(datagram) == [None, None]
    stricter = [dataclasses.replace(step, broken="length < 12", reason="length %d is below 12")
                if isinstance(step, Rule) and step.broken == "length < 8" else step
                for step in udp.UDP_RULES.steps]
    table = HeaderRules("udp", udp.udp_header, udp.UDP_RULES.minimum, tuple(stricter))
    monkeypatch.setattr(udp, "UDP_RULES", table)
    assert _both_paths(datagram) == [("udp", "length", 4, "length 10 is below 12")] * 2


def test_a_new_rule_in_the_table_reaches_both_paths(monkeypatch):
    """A row added to the TCP table (here: reserved bits must be zero) is enforced by both decoders."""
    segment = fast.encode_tcp(b"\xc0\x00\x02\x01", b"\xc0\x00\x02\x02", 1, 2, reserved=3)
    table = HeaderRules("tcp", tcp.tcp_header, tcp.TCP_RULES.minimum, tcp.TCP_RULES.steps + (
        Rule("reserved", "reserved != 0", "reserved bits %d are not zero", "reserved"),))
    monkeypatch.setattr(tcp, "TCP_RULES", table)
    generated = fast_layers.generate_layers()[0]["decode_tcp"]
    with pytest.raises(FormatError) as fast_error:
        generated(segment)
    values = {"available": len(segment), "data_offset": 5, "reserved": 3}
    with pytest.raises(FormatError) as table_error:
        table.check(values, 0)
    assert (fast_error.value.field, fast_error.value.offset) == (table_error.value.field, table_error.value.offset)
    assert fast_error.value.offset == 12 and fast_error.value.reason == "reserved bits 3 are not zero"


def test_error_offsets_come_from_the_declared_layout():
    assert ipv4.IPV4_RULES.offset_of("total_length") == fast.IPV4_LAYOUT.offsets["total_length"] == 2
    assert ipv4.IPV4_RULES.offset_of("options") == fast.IPV4_LAYOUT.size == 20  # after the fixed part
    assert tcp.TCP_RULES.offset_of("data_offset") == fast.TCP_LAYOUT.offsets["data_offset"] == 12
    assert udp.UDP_RULES.offset_of("length") == 4


def test_derived_values_are_returned_to_the_declarative_decoder():
    values = ipv4.IPV4_RULES.check({"available": 60, "present": 60, "version": 4, "ihl": 6, "total_length": 60}, 0)
    assert values["header_length"] == 24
    assert any(isinstance(step, Derive) and step.name == "header_length" for step in ipv4.IPV4_RULES.steps)


def test_udp_checksum_policy_is_one_pair_of_constants():
    """RFC 768: received zero means none; a computed zero is sent as all ones, on both paths."""
    assert (udp.NO_CHECKSUM, udp.COMPUTED_ZERO_SENT_AS) == (0, 0xFFFF)
    decoder = fast.GENERATED_SOURCE[fast.GENERATED_SOURCE.index("def decode_udp("):]
    assert f"checksum == {udp.NO_CHECKSUM}" in decoder[: decoder.index("\ndef ")]
    datagram = _udp(10, b"ab")
    unchecked = datagram[:6] + b"\x00\x00" + datagram[8:]
    assert fast.decode_udp(unchecked, 0, None, b"\xc0\x00\x02\x01", b"\xc0\x00\x02\x02").checksum_ok is None
    assert udp.UDP.parse(unchecked, src=b"\xc0\x00\x02\x01", dst=b"\xc0\x00\x02\x02").checksum_ok is None
