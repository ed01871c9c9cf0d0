"""Building from wrong values raises FormatError naming the layer and field, never another exception."""

import pytest

from netstack.formats import ARP, ICMP, TCP, UDP, Frame, FormatError, IPv4

ADDRESSES = {"src": "192.0.2.1", "dst": "192.0.2.2"}

CASES = [
    (TCP, {"src_port": "abc", "dst_port": 1}, ADDRESSES, "tcp", "src_port"),
    (TCP, {"dst_port": 70000}, ADDRESSES, "tcp", "dst_port"),
    (TCP, {"dst_port": 1, "flags": "XYZ"}, ADDRESSES, "tcp", "flags"),
    (TCP, {"dst_port": 1, "options": 5}, ADDRESSES, "tcp_options", None),
    (TCP, {"dst_port": 1, "options": [("bogus", 1)]}, ADDRESSES, "tcp_options", "kind"),
    (TCP, {"dst_port": 1, "options": [("mss", "x")]}, ADDRESSES, "tcp_options", "value"),
    (TCP, {"dst_port": 1, "payload": 5}, ADDRESSES, "tcp", "payload"),
    (TCP, {"dst_port": 1}, {"src": "nonsense", "dst": "192.0.2.2"}, "tcp", "pseudo_header"),
    (UDP, {"dst_port": 1, "length": 70000}, ADDRESSES, "udp", "length"),
    (IPv4, {"dst": "300.1.1.1", "protocol": 1}, {}, "ipv4", "dst"),
    (IPv4, {"dst": "192.0.2.1", "protocol": "tcp", "ttl": 300, "payload": {"dst_port": 1}}, {}, "ipv4", "ttl"),
    (IPv4, {"dst": "192.0.2.1", "protocol": 99, "payload": [1, 2]}, {}, "ipv4", "payload"),
    (Frame, {"ethertype": "bogus", "payload": b""}, {}, "ethernet", "ethertype"),
    (Frame, {"src": "zz"}, {}, "ethernet", "src"),
    (Frame, {"payload": 5}, {}, "ethernet", "payload"),
    (Frame, {"vlan": {"vid": 5000}}, {}, "ethernet", "vlan"),
    (ICMP, {"type": "bogus"}, {}, "icmp", "type"),
    (ICMP, {"type": 8, "identifier": -1}, {}, "icmp", "identifier"),
    (ARP, {"sha": "zz", "spa": "192.0.2.1", "tpa": "192.0.2.1"}, {}, "arp", "sha"),
    (ARP, {"sha": "02:00:5e:00:53:01", "spa": "192.0.2.300", "tpa": "192.0.2.1"}, {}, "arp", "spa"),
]


@pytest.mark.parametrize("layer, values, context, name, field", CASES)
def test_wrong_values(layer, values, context, name, field):
    with pytest.raises(FormatError) as raised:
        layer.build(values, **context)
    assert (raised.value.layer, raised.value.field) == (name, field)


def test_parse_wants_bytes():
    with pytest.raises(FormatError, match="needs bytes"):
        Frame.parse("not bytes")
