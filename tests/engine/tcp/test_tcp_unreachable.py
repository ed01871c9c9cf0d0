"""A TCP connect to a neighbour that does not answer ARP fails with EHOSTUNREACH when the neighbour
entry goes FAILED (RFC 1122 §3.3.1.4, RFC 4861 §7.3.3), in virtual time on the simulator:

- never resolved: 3 broadcast requests 1 s apart, then FAILED (Linux: ~3 s);
- learned (STALE, from the peer's gratuitous ARP) and then silent: DELAY 5 s, 3 unicast probes 1 s
  apart, FAILED at ~9 s with nothing queued (Linux reports queued packets only); the SYN sent while
  probing is resolved again at once (3 broadcast requests) and told at ~12 s, instead of waiting for
  the SYN retransmission of 15 s to start that cycle (18 s before).
"""

from __future__ import annotations

import errno

import pytest

from netstack.machines.arp_neighbour import NeighbourState

from tests.support.sim_hosts import socket_hosts

A_IP, B_IP, NOBODY_IP = "192.0.2.2", "192.0.2.3", "192.0.2.99"


@pytest.fixture
def net():
    return socket_hosts(seed=5, a_ip=A_IP, b_ip=B_IP)


def _connect_time(net, address: str) -> tuple[int | None, float]:
    client = net.a.socket()
    client.settimeout(None)
    start = net.clock
    try:
        client.connect((address, 80))
    except OSError as error:
        return error.errno, net.clock - start
    finally:
        client.close()
    return None, net.clock - start


def test_connect_to_an_address_nobody_answers_is_unreachable_within_5_s(net):
    code, elapsed = _connect_time(net, NOBODY_IP)
    assert code == errno.EHOSTUNREACH
    assert 2.5 < elapsed < 5.0  # 3 requests 1 s apart (Linux mcast_solicit 3, retrans_time 1 s)
    counters = net.a.stack.counters
    assert counters.get("arp.request_sent") == 3
    assert counters.get("tcp.icmp_errors") == 1


def test_connect_to_a_learned_neighbour_that_went_silent_fails_when_the_probes_fail(net):
    net.ab.loss = 1.0  # b's gratuitous ARP is already on the wire: a learns b (STALE), then silence
    code, elapsed = _connect_time(net, B_IP)
    assert code == errno.EHOSTUNREACH
    # first retransmission (1 s) -> DELAY, 5 s -> PROBE, 3 probes 1 s apart -> FAILED at 9 s, resolved
    # again for the SYN sent meanwhile -> FAILED at 12 s with it queued; before: 18 s
    assert 11.5 < elapsed < 13.0
    stack = net.a.stack
    assert stack.counters.get("arp.resolve_again") == 1
    assert stack.counters.get("arp.state.incomplete") == 2  # the first lookup, then the one re-resolution
    assert stack.counters.get("tcp.icmp_errors") == 1
    assert stack.arp.lookup(bytes([192, 0, 2, 3])).state is NeighbourState.FAILED


def test_new_traffic_to_a_failed_entry_resolves_again_and_fails_again(net):
    assert _connect_time(net, NOBODY_IP)[0] == errno.EHOSTUNREACH
    entry = net.a.stack.arp.lookup(bytes([192, 0, 2, 99]))
    assert entry.state is NeighbourState.FAILED
    code, elapsed = _connect_time(net, NOBODY_IP)  # the documented design: FAILED is not forever
    assert code == errno.EHOSTUNREACH and 2.5 < elapsed < 5.0
    assert net.a.stack.counters.get("arp.request_sent") == 6


def test_a_neighbour_confirmed_in_delay_is_not_resolved_again(net):
    server = net.b.socket()
    server.bind(("", 80))
    server.listen()
    client = net.a.socket()
    client.settimeout(30)
    client.connect((B_IP, 80))
    conn, _ = server.accept()
    entry = net.a.stack.arp.lookup(bytes([192, 0, 2, 3]))
    net.run(60)  # idle: REACHABLE -> STALE
    assert entry.state is NeighbourState.STALE
    client.sendall(b"x" * 10)  # STALE -> DELAY; TCP's ACK confirms (or the probe is answered)
    assert conn.recv(10) == b"x" * 10
    net.run(20)
    assert entry.state is not NeighbourState.FAILED
    assert net.a.stack.counters.get("arp.resolve_again") is None
    assert client.getsockopt(1, 4) == 0  # SO_ERROR: nothing reported
    client.close()
    conn.close()
    server.close()
