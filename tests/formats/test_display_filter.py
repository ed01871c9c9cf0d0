"""Display filters (netstack/formats/display_filter.py): operators, names, values, precedence, errors.
(tests/presentation/test_decode_lines.py compares what they select with tshark's filters.)"""

import pytest

from netstack.errors import FormatError
from netstack.formats.craft import ICMP, IP, TCP, UDP, Ether
from netstack.formats.display_filter import FIELDS, compile_filter

SYN = bytes(Ether(src="02:00:5e:00:53:02") / IP(src="192.0.2.2", dst="192.0.2.1", ttl=9)
            / TCP(src_port=40000, dst_port=80, flags="S", options=[("mss", 1460)]) / b"GET /")
PING = bytes(Ether() / IP(dst="192.0.2.1") / ICMP(type="echo_request", identifier=3))


@pytest.mark.parametrize("text, syn, ping", [
    ("tcp", True, False),
    ("tcp.dst_port == 80", True, False),
    ("tcp.dst_port == 0x50", True, False),
    ("tcp.dst_port != 80", False, False),  # a missing layer's field matches nothing, != included
    ("tcp.flags.syn && !tcp.flags.ack", True, False),
    ("ipv4.ttl < 10", True, False),
    ("ipv4.ttl >= 64", False, True),
    ("ipv4.protocol == icmp", False, True),
    ("icmp.type == echo_request and icmp.identifier == 3", False, True),
    ("ethernet.src == 02:00:5e:00:53:02", True, False),
    ("ipv4.dst == 192.0.2.1 and (tcp or icmp)", True, True),
    ("not tcp or ipv4.ttl == 9", True, True),
    ("tcp or icmp and ipv4.ttl == 9", True, False),  # and binds tighter than or
    ("tcp.payload contains \"GET\"", True, False),
    ("tcp.payload contains 47:45:54", True, False),
    ("tcp.checksum_ok == true", True, False),
    ("frame.len > 60", True, False),
    ("udp", False, False),
])
def test_filters(text, syn, ping):
    test = compile_filter(text)
    assert (test(SYN), test(PING)) == (syn, ping)


@pytest.mark.parametrize("text, message", [
    ("tcp.dport == 80", "unknown field 'tcp.dport'"),
    ("ip.src == 192.0.2.1", "unknown layer 'ip'"),
    ("tcp.flags.bogus", "unknown flag"),
    ("ipv4.src == 300.1.1.1", "not a value of ipv4.src"),
    ("icmp.type == nonsense", "not a value of icmp.type"),
    ("tcp.dst_port ==", "unexpected end"),
    ("(tcp", "unexpected end"),
    ("tcp )", "unexpected ')'"),
    ("tcp == 1", "compare a field of tcp"),
])
def test_bad_filters_say_what_is_wrong(text, message):
    with pytest.raises(FormatError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        compile_filter(text)
    assert error.value.layer == "filter"


def test_a_damaged_frame_keeps_the_layers_before_the_damage():
    truncated = SYN[:40]
    assert compile_filter("ipv4.src == 192.0.2.2")(truncated) is False  # the IPv4 header itself is cut
    assert compile_filter("ethernet")(truncated) and not compile_filter("tcp")(truncated)
    udp = bytes(Ether() / IP(dst="192.0.2.1") / UDP(dst_port=53) / b"x")
    assert compile_filter("ipv4 and not udp.dst_port == 53")(udp[:-1] + b"") is False


def test_field_names_come_from_the_declarations():
    assert "dst_port" in FIELDS["tcp"] and "ttl" in FIELDS["ipv4"] and "tpa" in FIELDS["arp"]
    assert "buf" not in FIELDS["tcp"] and "payload" in FIELDS["udp"]
