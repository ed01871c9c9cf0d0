"""TCP Fast Open through the socket API on the simulated network, both ends netstack: ``TCP_FASTOPEN`` on
the listener, ``MSG_FASTOPEN`` and ``TCP_FASTOPEN_CONNECT`` on the client, and the fallback."""

from __future__ import annotations

import socket

import pytest

from tests.support.sim_hosts import socket_hosts

A_IP, B_IP = "192.0.2.2", "192.0.2.3"
MSG_FASTOPEN = getattr(socket, "MSG_FASTOPEN", 0x20000000)
TCP_FASTOPEN_CONNECT = getattr(socket, "TCP_FASTOPEN_CONNECT", 30)


@pytest.fixture
def net():
    return socket_hosts(seed=3)


def _listener(net, fastopen=16):
    server = net.b.socket(socket.AF_INET, socket.SOCK_STREAM)
    if fastopen:
        server.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, fastopen)
    server.bind(("", 8080))
    server.listen()
    server.settimeout(10)
    return server


def _round(net, server, send):
    client = net.a.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(10)
    send(client)
    conn, _ = server.accept()
    data = conn.recv(100)
    conn.close()
    client.close()
    return data


def test_msg_fastopen_first_asks_for_a_cookie_then_sends_data_in_the_syn(net):
    server = _listener(net)
    first = _round(net, server, lambda c: c.sendto(b"hello one", MSG_FASTOPEN, (B_IP, 8080)))
    second = _round(net, server, lambda c: c.sendto(b"hello two", MSG_FASTOPEN, (B_IP, 8080)))
    assert (first, second) == (b"hello one", b"hello two")
    a, b = net.a.stack.counters, net.b.stack.counters
    assert b["tcp.fastopen.cookie_sent"] == 1 and b["tcp.fastopen.accepted"] == 1
    assert a["tcp.fastopen.client_data_acked"] == 1 and a.get("tcp.fastopen.client_fallback", 0) == 0


def test_tcp_fastopen_connect_defers_the_syn_to_the_first_send(net):
    server = _listener(net)
    _round(net, server, lambda c: c.sendto(b"get a cookie", MSG_FASTOPEN, (B_IP, 8080)))

    def send(client):
        client.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
        assert client.getsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT) == 1
        client.connect((B_IP, 8080))
        assert net.b.stack.counters.get("tcp.passive_opens", 0) == 1  # no SYN yet
        client.sendall(b"in the SYN")

    assert _round(net, server, send) == b"in the SYN"
    assert net.b.stack.counters["tcp.fastopen.accepted"] == 1


def test_a_server_without_fast_open_gets_the_data_once_after_the_handshake(net):
    server = _listener(net, fastopen=0)
    # a cookie the client remembers from before, which this server no longer honours
    net.a.socket().close()  # attaches a's TCP
    layer = net.a.stack.transport(6)
    layer.fastopen_client_cache[bytes([192, 0, 2, 3])] = b"\x01" * 8
    data = _round(net, server, lambda c: c.sendto(b"fallback", MSG_FASTOPEN, (B_IP, 8080)))
    assert data == b"fallback"
    assert net.a.stack.counters["tcp.fastopen.client_fallback"] == 1
