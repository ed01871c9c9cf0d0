"""Extension registry (netstack/formats/registry.py): user protocols decoded by Frame."""

import pytest
from construct import Bytes, GreedyBytes, Int8ub, Int16ub, Struct

from netstack.formats import ETHERTYPE, IP_PROTOCOL, Frame, register_ethertype, register_ip_protocol
from netstack.formats import unregister_ethertype, unregister_ip_protocol
from netstack.formats.registry import ethertype_schemas, ip_protocol_schemas

# A made-up transport: a port, a one-byte message kind, then data (253 is for experiments, RFC 3692).
toy_transport = Struct("port" / Int16ub, "kind" / Int8ub, "payload" / GreedyBytes)
# A made-up link protocol on the local experimental EtherType 0x88B5 (IEEE 802).
toy_link = Struct("hops" / Int8ub, "tag" / Bytes(3), "payload" / GreedyBytes)


@pytest.fixture
def registered():
    register_ip_protocol(253, "toy", toy_transport)
    register_ethertype(0x88B5, "toylink", toy_link)
    yield
    unregister_ip_protocol(253)
    unregister_ethertype(0x88B5)


def test_user_ip_protocol_round_trips_through_frame(registered):
    frame = {"payload": {"src": "192.0.2.1", "dst": "192.0.2.2", "protocol": "toy", "payload": {"port": 7, "kind": 1, "payload": b"hello"}}}
    data = Frame.build(frame)
    assert data[14 + 9] == 253
    parsed = Frame.parse(data)
    assert parsed.payload.protocol == "toy"
    assert parsed.payload.payload.port == 7 and parsed.payload.payload.payload == b"hello"
    assert Frame.build(parsed) == data
    assert 253 in ip_protocol_schemas() and IP_PROTOCOL.names()[253] == "toy"


def test_user_ethertype_round_trips(registered):
    data = Frame.build({"ethertype": "toylink", "payload": {"hops": 3, "tag": b"abc", "payload": b"z"}})
    parsed = Frame.parse(data)
    assert parsed.ethertype == "toylink" and parsed.payload.hops == 3
    assert Frame.build(parsed) == data
    assert ethertype_schemas()[0x88B5].name == "toylink" and ETHERTYPE.names()[0x88B5] == "toylink"


def test_unregistered_payload_is_bytes_again(registered):
    unregister_ip_protocol(253)
    data = Frame.build({"payload": {"dst": "192.0.2.2", "protocol": 253, "payload": b"\x00\x07\x01hi"}})
    assert Frame.parse(data).payload.payload == b"\x00\x07\x01hi"


def test_user_schema_errors_become_format_errors(registered):
    from netstack.formats import FormatError

    data = Frame.build({"payload": {"dst": "192.0.2.2", "protocol": 253, "payload": b"\x00"}})
    with pytest.raises(FormatError) as raised:
        Frame.parse(data)
    assert raised.value.layer == "toy" and raised.value.offset == 34


def test_bad_registrations_are_refused():
    with pytest.raises(ValueError):
        register_ip_protocol(256, "big", toy_transport)
    with pytest.raises(TypeError):
        register_ip_protocol(252, "notaschema", object())
    with pytest.raises(ValueError):
        register_ip_protocol(252, "tcp", toy_transport)  # the name tcp belongs to 6


def test_unregister_forgets_the_name_but_not_builtin_ones(registered):
    unregister_ip_protocol(253)
    assert 253 not in IP_PROTOCOL.names()
    unregister_ip_protocol(6)  # a built-in: its schema goes, its name stays
    try:
        assert IP_PROTOCOL.names()[6] == "tcp"
    finally:
        from netstack.formats.tcp import TCP

        register_ip_protocol(6, "tcp", TCP)
