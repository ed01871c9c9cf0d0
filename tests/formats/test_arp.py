"""ARP schema (netstack/formats/arp.py)."""

import pytest
from hypothesis import given

from netstack.formats import ARP, FormatError

from tests.support.format_inputs import arp_packets


@given(arp_packets())
def test_round_trip(packet):
    data = ARP.build(packet)
    parsed = ARP.parse(data)
    for name, value in packet.items():
        assert parsed[name] == value
    assert (parsed.hlen, parsed.plen, parsed.htype, parsed.ptype) == (6, 4, "ethernet", "ipv4")
    assert ARP.build(parsed) == data


def test_request_layout_rfc_826():
    data = ARP.build({"sha": "02:00:5e:00:53:01", "spa": "192.0.2.1", "tpa": "192.0.2.2"})
    assert data.hex() == "0001080006040001" + "02005e005301" + "c0000201" + "000000000000" + "c0000202"


def test_other_address_sizes():
    data = bytes.fromhex("0006080008040002") + bytes(range(8)) + bytes(4) + bytes(8) + bytes(4)
    parsed = ARP.parse(data)
    assert parsed.sha == "00:01:02:03:04:05:06:07" and parsed.hlen == 8
    assert ARP.build(parsed) == data


def test_truncation():
    data = ARP.build({"sha": "02:00:5e:00:53:01", "spa": "192.0.2.1", "tpa": "192.0.2.2"})
    for cut in range(len(data)):
        with pytest.raises(FormatError) as raised:
            ARP.parse(data[:cut])
        assert raised.value.layer == "arp" and raised.value.field is not None
