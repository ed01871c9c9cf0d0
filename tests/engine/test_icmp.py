"""ICMP errors, sent and received (RFC 792, RFC 1122 §3.2.2).

Sent: port and protocol unreachable quoting the datagram, rate limited by a token bucket, never about a
broadcast. Received: an error reaches the endpoint it quotes as the right errno - every code a router
sends (net/host/protocol/port unreachable, time exceeded, parameter problem), fragmentation needed
lowering the path MTU (RFC 1191), source quench ignored (RFC 6633), errors about our echo requests -
and is dropped when the quote is too short to name an endpoint (IP header + 64 bits) or names someone
else's datagram.
"""

from __future__ import annotations

import errno

import pytest

from netstack import Stack
from netstack.engine.icmp import Pinger
from netstack.formats import Frame

from tests.support.crafting import PEER, RecordingTransport, arp_frame, ipv4_frame, parsed, resolved_stack

ROUTER = "192.0.2.1"  # the peer doubles as the router that reports the error
FAR = ("198.51.100.7", 4000)


# ------------------------------------------------------------------------------------- sent
def test_port_unreachable_rate_limited_by_token_bucket():
    stack = resolved_stack(icmp_error_rate=1.0, icmp_error_burst=5)
    datagram = {"src_port": 5000, "dst_port": 4444, "payload": b"hello"}
    sent = sum(len(stack.receive(ipv4_frame(datagram, protocol="udp"), 10.0)) for _ in range(20))
    assert sent == 5
    assert stack.counters["icmp.error_rate_limited"] == 15
    assert len(stack.receive(ipv4_frame(datagram, protocol="udp"), 11.0)) == 1  # one token back per second


def test_port_unreachable_quotes_the_datagram():
    stack = resolved_stack()
    frame = ipv4_frame({"src_port": 5000, "dst_port": 4444, "payload": b"hello"}, protocol="udp")
    (error,) = parsed(stack.receive(frame, 1.0))
    icmp = error.payload.payload
    assert (str(icmp.type), icmp.code) == ("destination_unreachable", 3)
    assert frame[14:] in Frame.build(error)  # the whole original datagram is quoted (< 576 bytes)


def test_unknown_protocol_gets_protocol_unreachable():
    stack = resolved_stack()
    (error,) = parsed(stack.receive(ipv4_frame(b"\x00" * 8, protocol=253), 1.0))
    assert (str(error.payload.payload.type), error.payload.payload.code) == ("destination_unreachable", 2)


def test_no_icmp_error_about_a_broadcast_datagram():
    stack = resolved_stack()
    frame = ipv4_frame({"src_port": 5000, "dst_port": 4444, "payload": b""}, protocol="udp",
                       dst="192.0.2.255", eth_dst="ff:ff:ff:ff:ff:ff")
    assert stack.receive(frame, 1.0) == []
    assert stack.counters["udp.drop.port_closed"] == 1


# --------------------------------------------------------------------------------- received
def _stack_with_endpoint():
    stack = Stack(ip="192.0.2.2/24", gateway="192.0.2.1")
    stack.start(0.0)
    stack.receive(arp_frame("request"), 0.0)  # the gateway's MAC is known
    stack.poll_output()
    endpoint = stack.udp_bind(5353)
    endpoint.sendto(b"hello far away", FAR, 1.0)
    (sent,) = stack.poll_output()
    return stack, endpoint, sent[14:]


@pytest.mark.parametrize("icmp_type, code, expected", [
    ("destination_unreachable", 0, errno.ENETUNREACH),
    ("destination_unreachable", 1, errno.EHOSTUNREACH),
    ("destination_unreachable", 2, errno.ENOPROTOOPT),
    ("destination_unreachable", 3, errno.ECONNREFUSED),
    ("destination_unreachable", 13, errno.EHOSTUNREACH),  # communication administratively prohibited
    ("time_exceeded", 0, errno.EHOSTUNREACH),
])
def test_router_error_reaches_the_udp_endpoint_as_errno(icmp_type, code, expected):
    stack, endpoint, datagram = _stack_with_endpoint()
    error = {"type": icmp_type, "code": code, "payload": datagram[:28]}
    stack.receive(ipv4_frame(error, src=ROUTER), 2.0)
    assert endpoint.error == expected, errno.errorcode.get(endpoint.error)
    assert stack.counters["udp.error_delivered"] == 1


def test_parameter_problem_reaches_the_endpoint_as_eproto():
    stack, endpoint, datagram = _stack_with_endpoint()
    stack.receive(ipv4_frame({"type": 12, "code": 0, "pointer": 8, "payload": datagram[:28]}, src=ROUTER), 2.0)
    assert endpoint.error == errno.EPROTO


def test_source_quench_is_ignored_rfc6633():
    stack, endpoint, datagram = _stack_with_endpoint()
    stack.receive(ipv4_frame({"type": 4, "code": 0, "payload": datagram[:28]}, src=ROUTER), 2.0)
    assert endpoint.error is None or endpoint.error == 0
    assert stack.counters["icmp.source_quench_ignored"] == 1


def test_quote_shorter_than_header_and_8_bytes_is_dropped():
    stack, endpoint, datagram = _stack_with_endpoint()
    stack.receive(ipv4_frame({"type": "destination_unreachable", "code": 1, "payload": datagram[:24]},
                             src=ROUTER), 2.0)
    assert endpoint.error is None or endpoint.error == 0
    assert stack.counters["icmp.drop.bad_quote"] == 1


def test_error_about_another_port_is_not_delivered():
    stack, endpoint, datagram = _stack_with_endpoint()
    other = bytearray(datagram[:28])
    other[20:22] = (5354).to_bytes(2, "big")  # quoted source port: nobody is bound there
    stack.receive(ipv4_frame({"type": "destination_unreachable", "code": 1, "payload": bytes(other)},
                             src=ROUTER), 2.0)
    assert endpoint.error is None or endpoint.error == 0
    assert stack.counters["udp.drop.error_without_endpoint"] == 1


def test_error_about_our_echo_request_reaches_the_pinger():
    stack = Stack(ip="192.0.2.2/24")
    stack.start(0.0)
    stack.receive(arp_frame("request"), 0.0)
    stack.poll_output()
    pinger = Pinger(stack, PEER, identifier=0x77)
    pinger.send(1.0)
    (request,) = stack.poll_output()
    stack.receive(ipv4_frame({"type": "time_exceeded", "code": 0, "payload": request[14:14 + 28]}), 1.5)
    assert pinger.errors == [(1, errno.EHOSTUNREACH)]


def test_fragmentation_needed_lowers_path_mtu_and_reaches_the_transport():
    stack = resolved_stack()
    transport = RecordingTransport()
    stack.register_transport(6, transport)
    stack.send_ip(PEER, 6, bytes(1400), 1.0)
    (sent,) = stack.poll_output()
    original = sent[14:14 + 28]
    error = {"type": "destination_unreachable", "code": 4, "next_hop_mtu": 1280, "payload": original}
    stack.receive(ipv4_frame(error), 2.0)
    assert stack.path_mtu(PEER) == 1280
    assert transport.errors == [(errno.EMSGSIZE, stack.address, PEER, original[20:28])]
    assert stack.path_mtu(PEER) == 1280
    stack.tick(2.0 + 601)
    assert stack.path_mtu(PEER) == 1500  # RFC 1191 §6.3: the estimate ages out


def test_icmp_error_quoting_someone_else_is_dropped():
    stack = resolved_stack()
    transport = RecordingTransport()
    stack.register_transport(6, transport)
    forged = bytearray(ipv4_frame(b"\x00" * 8, protocol=6, src="192.0.2.9", dst="192.0.2.1")[14:])
    stack.receive(ipv4_frame({"type": "destination_unreachable", "code": 3, "payload": bytes(forged)}), 1.0)
    assert transport.errors == []
    assert stack.counters["icmp.drop.not_our_datagram"] == 1
