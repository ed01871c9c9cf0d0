"""``fuzz(template)`` (netstack/strategies/fuzz.py): the template's fields kept, the rest drawn, every
frame builds and decodes back with the template's layers in order."""

from hypothesis import given

from netstack.formats import Frame
from netstack.formats.craft import ARP, ICMP, IP, TCP, UDP, Ether, dissect
from netstack.strategies import fuzz


@given(fuzz(Ether(dst="02:00:5e:00:53:01") / IP(dst="192.0.2.1") / TCP(dst_port=80, flags="S")))
def test_fuzzed_tcp_keeps_the_template(frame):
    decoded = dissect(bytes(frame))
    assert [layer.layer.layer for layer in decoded.layers()] == ["ethernet", "ipv4", "tcp"]
    assert decoded.dst == "02:00:5e:00:53:01" and decoded[IP].dst == "192.0.2.1"
    assert decoded[TCP].dst_port == 80 and decoded[TCP].flags.syn and not decoded[TCP].flags.ack
    assert decoded[IP].checksum_ok and decoded[TCP].checksum_ok
    assert Frame.build(Frame.parse(bytes(frame))) == bytes(frame)


@given(fuzz(Ether() / IP(dst="192.0.2.1") / UDP(dst_port=53) / b"fixed payload"))
def test_fuzzed_udp_keeps_a_bytes_payload(frame):
    decoded = dissect(bytes(frame))
    assert decoded[UDP].payload == b"fixed payload" and decoded[UDP].dst_port == 53


@given(fuzz(ICMP(type="echo_request")))
def test_fuzz_a_layer_alone(message):
    assert message.layer is ICMP and ICMP.parse(bytes(message)).type == "echo_request"


@given(fuzz(Ether(ethertype="arp") / ARP(op="request")))
def test_fuzzed_arp(frame):
    assert dissect(bytes(frame))[ARP].op == "request"
