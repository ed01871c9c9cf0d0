"""TIME-WAIT is bounded per stack (``TcpConfig.time_wait_limit``, Linux's tcp_max_tw_buckets): short
connections closed by our side would otherwise each hold a TCB for 2 x MSL."""

from __future__ import annotations

import pytest

import netstack.sim as sim
from netstack.machines.tcp_connection import TcpState
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer


def _short_connections(count: int, limit: int):
    net = sim.Network(seed=3)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.0005)
    client_layer = TcpLayer.attach(a.stack, TcpConfig(time_wait_limit=limit))
    server_layer = TcpLayer.attach(b.stack, TcpConfig())
    server = TcpServer(server_layer, 80, backlog=count)
    for _ in range(count):
        client = a.call(TcpStream.connect, client_layer, bytes([192, 0, 2, 2]), 80, net.clock)
        assert net.run_until(lambda: server.pending, timeout=5)
        accepted = b.call(server.accept)
        a.call(client.close)  # we close first: our side goes to TIME-WAIT
        assert net.run_until(lambda: accepted.at_eof, timeout=5)
        b.call(accepted.close)
        assert net.run_until(lambda: client.state is TcpState.TIME_WAIT, timeout=5)
    waiting = [c for c in client_layer.connections.values() if c.state is TcpState.TIME_WAIT]
    return net, client_layer, waiting


def test_time_wait_connections_beyond_the_limit_are_forgotten_oldest_first():
    net, layer, waiting = _short_connections(count=6, limit=2)
    try:
        assert len(waiting) == 2
        assert layer.counters.get("tcp.time_wait_overflow") == 4
    finally:
        net.close()


def test_below_the_limit_every_connection_keeps_its_time_wait():
    net, layer, waiting = _short_connections(count=3, limit=16)
    try:
        assert len(waiting) == 3
        assert layer.counters.get("tcp.time_wait_overflow", 0) == 0
    finally:
        net.close()


def test_the_limit_is_validated():
    with pytest.raises(ValueError, match="time_wait_limit"):
        TcpConfig(time_wait_limit=0)
