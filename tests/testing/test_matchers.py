"""netstack.testing.matchers: names from the declarations, composition, relative numbers, integrity."""

from __future__ import annotations

import pytest

from netstack.formats import TCP
from netstack.testing import ExpectationFailed, IntegrityError, expect
from netstack.formats.craft import ICMP, IP, TCP as CraftTCP, UDP, Ether
from netstack.formats.fields import field_names
from netstack.testing.matchers import (
    ANY, FIELDS, all_of, any_of, between, decode, has, icmp, ipv4, not_, predicate, tcp, udp,
)

SYNACK = bytes(
    Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / IP(src="192.0.2.2", dst="192.0.2.1", ttl=64)
    / CraftTCP(src_port=7, dst_port=40000, seq=5000, ack=1001, flags="SA",
               options=[("mss", 1460), ("sack_permitted", None), ("timestamps", (9, 8))])
)


def layers(data=SYNACK):
    decoded, problems = decode(data)
    assert problems == []
    return decoded


def test_field_names_come_from_the_declarations():
    assert set(field_names(TCP.header)) <= set(FIELDS["tcp"])
    assert {"identifier", "sequence", "next_hop_mtu", "pointer"} <= set(FIELDS["icmp"])  # every Switch case


def test_unknown_field_is_refused_with_the_declared_names():
    with pytest.raises(TypeError) as error:
        tcp(flag="S")
    message = str(error.value)
    assert "'flag'" in message and "flags" in message and "urgent_pointer" in message


def test_unknown_flag_letter_and_option_name_are_refused():
    with pytest.raises(ValueError, match="unknown TCP flag"):
        tcp(flags="SX")
    with pytest.raises(ValueError, match="sack_permitted"):
        has(msss=1460)


def test_the_issue_example_matches_and_its_mutations_do_not():
    isn = 1000
    assert tcp(flags="SA", ack=isn + 1, options=has(mss=1460)).mismatch(layers()) is None
    assert "flags" in tcp(flags="S", ack=isn + 1).mismatch(layers())
    assert "1001" in tcp(ack=isn + 2).mismatch(layers())
    assert "mss" in tcp(options=has(mss=536)).mismatch(layers())
    assert tcp(options=has("sack_permitted", timestamps=(9, 8))).mismatch(layers()) is None


def test_nested_layers_and_composition():
    assert ipv4(tcp(src_port=7), ttl=between(1, 64), src="192.0.2.2").mismatch(layers()) is None
    assert ipv4(udp()).mismatch(layers()) == "no udp layer"
    assert any_of(1, 2).mismatch(2) is None and any_of(1, 2).mismatch(3) is not None
    assert all_of(between(1, 10), not_(5)).mismatch(5) is not None
    assert all_of(between(1, 10), not_(5)).mismatch(6) is None
    assert tcp(window=predicate(lambda w: w > 60000, "a wide window")).mismatch(layers()) is None
    assert tcp(window=lambda w: w < 100).mismatch(layers()) is not None
    assert tcp(flags=has("S")).mismatch(layers()) is None
    assert tcp(flags=has("R")).mismatch(layers()) is not None
    assert tcp(payload=ANY).mismatch(layers()) is None


def test_sequence_numbers_relative_to_the_connection():
    relative = {"seq": 4999, "ack": 1000}
    assert tcp(seq=1, ack=1).mismatch(layers(), relative=relative) is None
    assert tcp(seq=0).mismatch(layers(), relative=relative) is not None
    wrapped = {"seq": (5000 - 10) % (1 << 32), "ack": 0}
    assert tcp(seq=10).mismatch(layers(), relative=wrapped) is None
    assert between(2**32 - 5, 5, modulo=2**32).mismatch(2) is None


def test_integrity_is_checked_on_decode():
    data = bytearray(SYNACK)
    data[-1] ^= 0xFF  # inside the TCP options: the TCP checksum no longer holds
    _, problems = decode(bytes(data))
    assert any("tcp checksum" in p for p in problems)
    short_ip = bytearray(bytes(Ether() / IP(dst="192.0.2.2") / UDP(dst_port=7) / (b"x" * 100)))
    short_ip[16:18] = (28).to_bytes(2, "big")  # total length says 28 of 128 bytes: a lying length
    _, problems = decode(bytes(short_ip))
    assert problems, "a lying IPv4 total length went unnoticed"


def test_icmp_fields_of_any_type_are_matchable():
    ping = bytes(Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / ICMP(type="echo_reply", identifier=3, sequence=4))
    assert icmp(type="echo_reply", identifier=3, sequence=4).mismatch(layers(ping)) is None
    assert icmp(type=0).mismatch(layers(ping)) is None  # the number works as well as the name


def test_expect_checks_one_frame_integrity_first():
    isn = 1000
    received = expect(SYNACK, ipv4(tcp(flags="SA", ack=isn + 1), ttl=64))
    assert received["tcp"].seq == 5000
    with pytest.raises(ExpectationFailed, match="MISMATCH: flags SA != R"):
        expect(SYNACK, tcp(flags="R"))
    damaged = bytearray(SYNACK)
    damaged[22] ^= 1  # the TTL: the IPv4 header checksum fails
    with pytest.raises(IntegrityError, match="ipv4 checksum"):
        expect(bytes(damaged), tcp(flags="SA"))
