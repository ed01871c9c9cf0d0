"""UDP broadcast needs SO_BROADCAST (EACCES otherwise, as Linux), on the simulated network."""

from __future__ import annotations

import errno
import socket

import pytest

from tests.support.sim_hosts import socket_hosts

A_IP, B_IP = "192.0.2.2", "192.0.2.3"


@pytest.fixture
def net():
    return socket_hosts(seed=3)


@pytest.mark.parametrize("target", ["255.255.255.255", "192.0.2.255"])
def test_broadcast_without_so_broadcast_is_eacces_for_sendto_and_connect(net, target):
    sender = net.a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    assert sender.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) == 0
    with pytest.raises(PermissionError) as error:
        sender.sendto(b"hello", (target, 9999))
    assert error.value.errno == errno.EACCES
    with pytest.raises(PermissionError):
        sender.connect((target, 9999))
    assert net.a.stack.counters["udp.drop.broadcast_not_allowed"] == 2
    sender.sendto(b"unicast is fine", (B_IP, 9999))


@pytest.mark.parametrize("target", ["255.255.255.255", "192.0.2.255"])
def test_broadcast_with_so_broadcast_reaches_the_link(net, target):
    receiver = net.b.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("", 9999))
    receiver.settimeout(2)
    sender = net.a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    assert sender.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) == 1
    sender.sendto(b"to all", (target, 9999))
    data, (host, _) = receiver.recvfrom(100)
    assert data == b"to all" and host == A_IP
    # switched off again after bind: the endpoint follows the option
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 0)
    with pytest.raises(PermissionError):
        sender.sendto(b"again", (target, 9999))


def test_engine_endpoint_refuses_broadcast_until_allowed(net):
    endpoint = net.a.call(net.a.stack.udp_bind, 0)
    with pytest.raises(OSError) as error:
        net.a.call(endpoint.sendto, b"x", ("255.255.255.255", 7), net.clock)
    assert error.value.errno == errno.EACCES
    endpoint.broadcast = True
    assert net.a.call(endpoint.sendto, b"x", ("255.255.255.255", 7), net.clock) == 1
