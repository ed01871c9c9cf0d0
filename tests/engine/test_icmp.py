"""Audit of issue 4 item 5: a received ICMP error reaches the endpoint it quotes as the right errno.

test_stack.py covers port unreachable (ECONNREFUSED) and fragmentation-needed; these cover the other
codes a router sends (RFC 792, RFC 1122 §3.2.2.1: net/host/protocol unreachable, time exceeded,
parameter problem), source quench (RFC 6633: ignored), errors about our echo requests, and quotes too
short to name an endpoint (RFC 792: IP header + 64 bits).
"""

from __future__ import annotations

import errno

import pytest
from tests.support.crafting import ipv4_frame

from netstack import Stack
from netstack.engine.icmp import Pinger

PEER = bytes([192, 0, 2, 1])
ROUTER = "192.0.2.1"  # the peer doubles as the router that reports the error
FAR = ("198.51.100.7", 4000)


def _stack_with_endpoint():
    stack = Stack(ip="192.0.2.2/24", gateway="192.0.2.1")
    stack.start(0.0)
    from tests.support.crafting import arp_frame

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
    from tests.support.crafting import arp_frame

    stack.receive(arp_frame("request"), 0.0)
    stack.poll_output()
    pinger = Pinger(stack, PEER, identifier=0x77)
    pinger.send(1.0)
    (request,) = stack.poll_output()
    stack.receive(ipv4_frame({"type": "time_exceeded", "code": 0, "payload": request[14:14 + 28]}), 1.5)
    assert pinger.errors == [(1, errno.EHOSTUNREACH)]
