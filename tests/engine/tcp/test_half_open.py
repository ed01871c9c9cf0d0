"""Half-open lifetime: SYN-ACK retries apart from SYN retries (Linux tcp_synack_retries 5), jittered
handshake retransmissions, and a burst of 1,000 simultaneous connects to a default listener."""

from __future__ import annotations

import pytest

import netstack.sim as sim
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer
from netstack.engine.tcp.segment import SYN, TcpSegment
from netstack.engine.tcp.wire import encode_segment

B = bytes([192, 0, 2, 2])


def _pair(server_config=None, client_config=None, seed=5):
    net = sim.Network(seed=seed)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.001)
    return net, a, b, TcpLayer.attach(a.stack, client_config), TcpLayer.attach(b.stack, server_config)


def test_a_half_open_child_retries_its_syn_ack_synack_retries_times_then_goes():
    net, a, b, ta, tb = _pair(TcpConfig(synack_retries=5, max_syn_retransmits=6, syn_cookies="off"))
    TcpServer(tb, 80)
    src = bytes([192, 0, 2, 1])  # a SYN whose SYN-ACKs are never answered
    b._transmit = lambda frames: None
    b.call(tb.receive, src, B, encode_segment(TcpSegment(30000, 80, 99, 0, SYN, 65535), src, B), net.clock)
    listener = tb.listeners[(None, 80)]
    assert len(listener.half_open) == 1
    net.run(60)  # 1+2+4+8+16 = 31 s (+ up to 25 % jitter) for five retransmissions, then 32 s more
    assert len(listener.half_open) == 1
    net.run(50)
    assert not listener.half_open and not tb.connections
    assert b.stack.counters["tcp.retransmissions"] == 5


def test_syn_retries_stay_apart_from_syn_ack_retries():
    net, a, b, ta, tb = _pair(client_config=TcpConfig(max_syn_retransmits=2, synack_retries=9))
    a._transmit = lambda frames: None  # our SYNs go nowhere
    stream = a.call(TcpStream.connect, ta, B, 80)
    net.run_until(lambda: stream.closed, 30)
    assert a.stack.counters["tcp.retransmissions"] == 2 and stream.closed


def test_handshake_retransmissions_are_spread_and_reproducible():
    def retransmit_times(seed):
        net, a, b, ta, tb = _pair(client_config=TcpConfig(syn_retransmit_jitter=0.25), seed=seed)
        a._transmit = lambda frames: None
        streams = [a.call(TcpStream.connect, ta, B, 80) for _ in range(20)]
        return [s.conn.retransmit_deadline for s in streams]

    first = retransmit_times(5)
    assert len(set(first)) == 20  # no two in lockstep
    assert all(1.0 <= t <= 1.25 for t in first)  # RTO 1 s stretched by at most 25 %
    assert retransmit_times(5) == first  # the same seed, the same spread


def _burst(server_config, client_config, count=1000):
    net, a, b, ta, tb = _pair(server_config, client_config)
    server = TcpServer(tb, 80)  # default backlog: 128
    accepted = []

    def take(srv, now):
        while (stream := srv.accept()) is not None:
            accepted.append(stream)

    server.on_accept = take
    # one connection first, so ARP is resolved and the burst's SYNs arrive in the same instant
    warm = a.call(TcpStream.connect, ta, B, 80)
    assert net.run_until(lambda: warm.connected, 5)
    streams = [a.call(TcpStream.connect, ta, B, 80) for _ in range(count)]
    assert net.run_until(lambda: all(s.connected or s.closed for s in streams), 300)
    net.run(1)
    return b.stack.counters, streams, accepted


@pytest.mark.parametrize("cookies", ["when_full", "off"])
def test_a_burst_of_1000_simultaneous_connects_to_a_default_listener_all_complete(cookies):
    counters, streams, accepted = _burst(TcpConfig(syn_cookies=cookies), TcpConfig())
    failed = [s for s in streams if not s.connected]
    assert not failed, f"{len(failed)} of 1000 failed, first error {failed[0].error}"
    assert len(accepted) == 1001
    if cookies == "off":  # the jitter alone carries it: the refused SYNs return spread out
        assert counters.get("tcp.syncookies.sent", 0) == 0 and counters["tcp.drop.syn_backlog_full"] == 872
    else:  # the backlog takes 128 (one slot is the warm-up's, already accepted), cookies the rest
        assert counters["tcp.syncookies.sent"] == 1000 - 128 and counters["tcp.syncookies.recv_ok"] == 872


def test_without_jitter_or_cookies_the_burst_returns_in_lockstep_waves():
    """The issue's measurement, kept as the control: each wave of retransmitted SYNs arrives in one
    instant and the backlog admits 128 of it; seven waves (the SYN and six retransmissions) admit 896."""
    counters, streams, accepted = _burst(TcpConfig(syn_cookies="off", syn_retransmit_jitter=0),
                                         TcpConfig(syn_retransmit_jitter=0))
    assert sum(s.connected for s in streams) == 7 * 128
