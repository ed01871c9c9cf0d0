"""``encode_plain_frame`` (netstack/formats/frame_encoder.py): the straight-line encoder of the common
Ethernet/IPv4/UDP|TCP frame gives the bytes of the declarative builder and of the general layer
encoders, on strategy-drawn frames written the way programs write them (int flags, bytes or text
addresses, option tuples), dicts and crafted stacks alike, edits after composition included; and
it leaves everything else to the general path."""

from construct import Container
from hypothesis import given, strategies as st

from netstack.errors import FormatError
from netstack.formats import Ethernet, Frame
from netstack.formats.craft import IP, TCP, UDP, Ether
from netstack.formats.fields import ipv4_to_bytes, mac_to_bytes
from netstack.formats.frame_encoder import encode_frame, encode_plain_frame
from netstack.formats.ipv4 import IP_FLAGS
from netstack.formats.tcp import TCP_FLAGS
from netstack.strategies import ipv4_packets, mac_addresses, tcp_segments, udp_datagrams

_TRANSPORTS = st.one_of(tcp_segments().map(lambda segment: ("tcp", segment)),
                        udp_datagrams().map(lambda datagram: ("udp", datagram)))


def _flags(drawn: dict, declaration) -> int:
    return sum(mask for name, mask in declaration.flags.items() if drawn.get(name))


def _option(option: dict):
    value = option["value"]
    if isinstance(value, list):  # SACK blocks
        value = tuple((block["left"], block["right"]) for block in value)
    elif isinstance(value, dict):  # timestamps
        value = (value["ts_value"], value["ts_echo_reply"])
    return (option["kind"], value)


@st.composite
def plain_frames(draw):
    """(Ethernet fields, IPv4 fields, transport layer, its fields, payload) as a program writes them."""
    packet = draw(ipv4_packets(fragments=False, payload=_TRANSPORTS))
    as_bytes = draw(st.booleans())
    ipv4 = {"src": ipv4_to_bytes(packet["src"]) if as_bytes else packet["src"],
            "dst": ipv4_to_bytes(packet["dst"]) if as_bytes else packet["dst"],
            "protocol": packet["protocol"], "ttl": packet["ttl"], "identification": packet["identification"],
            "tos": (packet["tos"]["dscp"] << 2) | packet["tos"]["ecn"], "flags": _flags(packet["flags"], IP_FLAGS)}
    transport = dict(packet["payload"])
    payload = transport.pop("payload")
    if packet["protocol"] == "tcp":
        transport["flags"] = _flags(transport["flags"], TCP_FLAGS)
        transport["options"] = [_option(option) for option in transport["options"]]
    ethernet = {"dst": draw(mac_addresses()), "src": draw(mac_addresses())}
    if as_bytes:
        ethernet = {key: mac_to_bytes(value) for key, value in ethernet.items()}
    return ethernet, ipv4, TCP if packet["protocol"] == "tcp" else UDP, transport, payload


@given(plain_frames())
def test_the_plain_path_builds_what_the_other_paths_build(drawn):
    ethernet, ipv4, layer, transport, payload = drawn
    frame = dict(ethernet, payload=dict(ipv4, payload=dict(transport, payload=payload)))
    data = encode_plain_frame(frame)
    assert data is not None  # the plain path took it
    assert data == Ethernet.build(frame)  # the declarative builder
    assert data == encode_frame(Container(frame))  # the general layer encoders (a Container is not plain)
    assert Frame.parse(data).payload.payload.checksum_ok is not False


@given(plain_frames(), st.integers(0, 255))
def test_crafted_plain_stacks_and_their_edits_build_alike(drawn, ttl):
    ethernet, ipv4, layer, transport, payload = drawn
    stack = Ether(**ethernet) / IP(**ipv4) / layer(**transport) / payload
    assert bytes(stack) == Ethernet.build(stack.container())
    stack[IP].ttl = ttl
    stack[layer].dst_port = (transport["dst_port"] + 1) % 65536
    edited = bytes(stack)
    assert edited == Ethernet.build(stack.container())
    decoded = Frame.parse(edited)
    assert decoded.payload.ttl == ttl and decoded.payload.payload.dst_port == (transport["dst_port"] + 1) % 65536


def test_what_is_not_plain_goes_to_the_general_path():
    frame = {"dst": "02:00:5e:00:53:01", "payload": {"dst": "192.0.2.1", "protocol": "udp",
                                                   "payload": {"dst_port": 9, "payload": b"x"}}}
    assert encode_plain_frame(frame) is not None
    for outer, inner, transport in (
        ({"vlan": {"pcp": 0, "dei": 0, "vid": 5}}, {}, {}),  # a VLAN tag
        ({}, {"options": b"\x01\x01\x01\x01"}, {}),  # IPv4 options
        ({}, {"flags": {"df": True}}, {}),  # flags as a container
        ({}, {"ttl": 64.0}, {}),  # not an int: the declarative builder refuses it
        ({}, {}, {"checksum": 0x1234}),  # an explicit checksum, kept as given
        ({}, {}, {"payload": bytearray(b"x")}),
    ):
        odd = dict(frame, **outer, payload=dict(frame["payload"], **inner,
                                                 payload=dict(frame["payload"]["payload"], **transport)))
        assert encode_plain_frame(odd) is None, (outer, inner, transport)


def test_an_option_list_changed_in_place_is_encoded_again():
    """Option bytes are remembered by the list while it holds the very same option tuples."""
    options = [("mss", 1460), ("nop", None), ("wscale", 7)]
    frame = {"payload": {"dst": "192.0.2.1", "protocol": "tcp", "payload": {"dst_port": 80, "options": options}}}
    first = Frame.build(frame)
    assert Frame.build(frame) == first == Ethernet.build(frame)
    options[0] = ("mss", 536)
    assert Frame.build(frame) == Ethernet.build(frame) != first
    options.append(("sack_permitted", None))
    assert Frame.build(frame) == Ethernet.build(frame)
    options[0] = ("mss", 536.0)  # equal to 536, but the declarative builder refuses a float
    try:
        Ethernet.build(frame)
    except FormatError as expected:
        try:
            Frame.build(frame)
        except FormatError as error:
            assert (error.layer, error.field) == (expected.layer, expected.field)
        else:
            raise AssertionError("a float option value was taken from the remembered bytes")
    else:
        raise AssertionError("the declarative builder took a float option value")
