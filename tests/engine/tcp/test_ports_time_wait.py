"""Ephemeral ports (RFC 6056 §3.3.4 double-hash, Linux's range 32768-60999) and reuse of our own
TIME-WAIT 4-tuples for new active opens when timestamps make it safe (RFC 6191, Linux tcp_tw_reuse)."""

from __future__ import annotations

import errno
import gc

import pytest

import netstack.sim as sim
from netstack.machines.tcp_connection import TcpState
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer
from netstack.engine.tcp.ports import EphemeralPorts

A = bytes([192, 0, 2, 1])
B = bytes([192, 0, 2, 2])
C = bytes([192, 0, 2, 3])


def test_default_range_is_linuxs():
    assert TcpConfig().ephemeral_ports == (32768, 60999)
    ports = EphemeralPorts(b"k" * 16)
    chosen = [ports.choose(A, B, 80, lambda p: True) for _ in range(2000)]
    assert all(32768 <= p <= 60999 for p in chosen)


def test_rfc6056_3_3_4_one_destination_walks_sequentially_from_a_keyed_offset():
    ports = EphemeralPorts(b"k" * 16)
    first = [ports.choose(A, B, 80, lambda p: True) for _ in range(5)]
    span = 60999 - 32768 + 1
    assert [(p - first[0]) % span for p in first] == [0, 1, 2, 3, 4]
    # another destination starts elsewhere, and its choices do not move this destination's counter
    other = ports.choose(A, C, 80, lambda p: True)
    assert other != first[-1] + 1
    assert ports.choose(A, B, 80, lambda p: True) == 32768 + (first[0] - 32768 + 5) % span
    # another key, other offsets: ports cannot be predicted without the secret
    assert EphemeralPorts(b"z" * 16).choose(A, B, 80, lambda p: True) != first[0]


def test_busy_ports_are_skipped_and_exhaustion_is_reported():
    ports = EphemeralPorts(b"k" * 16, (1000, 1009))
    taken = set()
    for _ in range(10):
        taken.add(ports.choose(A, B, 80, lambda p: p not in taken))
    assert taken == set(range(1000, 1010))
    assert ports.choose(A, B, 80, lambda p: p not in taken) is None


def test_the_range_is_validated():
    for bad in ((0, 10), (60000, 59999), (1, 70000), [1, 2]):
        with pytest.raises(ValueError, match="ephemeral_ports"):
            TcpConfig(ephemeral_ports=bad)


def _churn(net, a, b, ta, server, count, gap=0.0, on_each=None):
    """``count`` sequential connect / client-close / server-close; the client ends in TIME-WAIT."""
    for i in range(count):
        client = a.call(TcpStream.connect, ta, B, 80, net.clock)
        assert net.run_until(lambda: server.pending or client.closed, timeout=5), i
        if client.error is not None:
            return i, client.error
        accepted = b.call(server.accept)
        a.call(client.close)
        assert net.run_until(lambda: accepted.at_eof, timeout=5)
        b.call(accepted.close)
        assert net.run_until(lambda: client.state is TcpState.TIME_WAIT, timeout=5)
        if gap:
            net.run(gap)
        if on_each is not None:
            on_each(i)
    return count, None


def _world(client_config):
    net = sim.Network(seed=4)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.0005)
    ta = TcpLayer.attach(a.stack, client_config)
    tb = TcpLayer.attach(b.stack)
    return net, a, b, ta, TcpServer(tb, 80)


def _connect_error(net, a, ta):
    try:
        a.call(TcpStream.connect, ta, B, 80, net.clock)  # the stack's own clock moves only with events
    except OSError as error:
        return error.errno
    return None


def test_rfc6191_time_wait_four_tuples_of_ours_are_reused_when_timestamps_protect_them():
    net, a, b, ta, server = _world(TcpConfig(ephemeral_ports=(40000, 40009)))
    done, error = _churn(net, a, b, ta, server, 100, gap=0.2)
    assert (done, error) == (100, None)
    assert a.stack.counters["tcp.time_wait_reused_outgoing"] == 90


def test_without_reuse_ten_ports_in_time_wait_run_out():
    net, a, b, ta, server = _world(TcpConfig(ephemeral_ports=(40000, 40009), time_wait_reuse=False))
    assert _churn(net, a, b, ta, server, 10, gap=0.2) == (10, None)
    assert _connect_error(net, a, ta) == errno.EADDRNOTAVAIL


def test_reuse_waits_a_second_after_the_last_timestamp():
    net, a, b, ta, server = _world(TcpConfig(ephemeral_ports=(40000, 40009)))
    assert _churn(net, a, b, ta, server, 10) == (10, None)  # all ten in TIME-WAIT within a second
    assert _connect_error(net, a, ta) == errno.EADDRNOTAVAIL
    net.run(1.0)
    assert _connect_error(net, a, ta) is None


def test_without_timestamps_time_wait_is_never_reused():
    net, a, b, ta, server = _world(TcpConfig(ephemeral_ports=(40000, 40009), timestamps=False))
    assert _churn(net, a, b, ta, server, 10, gap=0.2) == (10, None)
    net.run(5.0)
    assert _connect_error(net, a, ta) == errno.EADDRNOTAVAIL


@pytest.mark.slow
def test_100000_sequential_connections_from_one_client_to_one_port_with_flat_memory():
    """The issue's churn: it stopped at 16,384 with EADDRNOTAVAIL. Memory is bounded by the TIME-WAIT
    limit: once it is reached (about 41 s of virtual time here) the number of live objects stays put."""
    net, a, b, ta, server = _world(TcpConfig())
    samples = {}

    def sample(i):
        if i + 1 in (40_000, 70_000, 100_000):
            gc.collect()
            samples[i + 1] = (len(gc.get_objects()), len(ta.connections))

    assert _churn(net, a, b, ta, server, 100_000, on_each=sample) == (100_000, None)
    objects = [samples[k][0] for k in sorted(samples)]
    assert max(objects) <= 1.02 * objects[0], samples
    assert all(held <= TcpConfig().time_wait_limit + 1 for _, held in samples.values()), samples
