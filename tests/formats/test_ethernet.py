"""Ethernet schema (netstack/formats/ethernet.py), 802.1Q tag included."""

import pytest

from netstack.formats import Ethernet, FormatError


def test_untagged_and_tagged_round_trip():
    for vlan in (None, {"pcp": 5, "dei": True, "vid": 4094}):
        data = Ethernet.build({"dst": "02:00:5e:00:53:01", "src": "02:00:5e:00:53:02", "vlan": vlan, "ethertype": 0x88B5, "payload": b"hi"})
        parsed = Ethernet.parse(data)
        assert parsed.vlan == vlan and parsed.payload == b"hi" and parsed.ethertype == 0x88B5
        assert Ethernet.build(parsed) == data
    assert data[12:16] == bytes.fromhex("8100bffe")


def test_defaults():
    data = Ethernet.build({"ethertype": 0x88B5})
    assert data == b"\xff" * 6 + bytes(6) + b"\x88\xb5"


def test_addresses_accept_bytes_and_reject_nonsense():
    assert Ethernet.build({"dst": bytes(6), "src": bytes(6), "ethertype": 1})[:12] == bytes(12)
    with pytest.raises(FormatError):
        Ethernet.build({"dst": "not a mac", "ethertype": 1})


@pytest.mark.parametrize("cut", range(18))
def test_truncation(cut):
    data = Ethernet.build({"vlan": {"vid": 1}, "ethertype": 0x88B5})
    with pytest.raises(FormatError) as raised:
        Ethernet.parse(data[:cut])
    assert raised.value.layer == "ethernet" and raised.value.field in ("dst", "src", "ethertype", "vlan")
