"""SYN cookies (RFC 4987 §3.6, Linux's layout): the cookie arithmetic, the options kept in the TSval, and
handshakes on simulated stacks in the three modes (off / when_full / always)."""

from __future__ import annotations

import random

import pytest

import netstack.sim as sim
from netstack.machines.tcp_connection import TcpState
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer
from netstack.engine.tcp.segment import ACK, RST, SYN, TcpSegment
from netstack.engine.tcp.syn_cookies import (
    COOKIE_PERIOD, MSS_TABLE, SynCookies, decode_timestamp_options, encode_timestamp_options, mss_index_for,
)
from netstack.engine.tcp.wire import decode_segment, encode_segment

A = bytes([192, 0, 2, 1])
B = bytes([192, 0, 2, 2])
FOUR = (B, 80, A, 40000)


def test_cookie_round_trip_carries_the_mss_index():
    cookies = SynCookies(b"k" * 16)
    for index in range(len(MSS_TABLE)):
        cookie = cookies.make(FOUR, 123456, index, now=10.0)
        assert cookies.check(FOUR, 123456, cookie, now=10.0) == index


def test_cookie_is_valid_for_the_current_and_previous_period_only():
    cookies = SynCookies(b"k" * 16)
    cookie = cookies.make(FOUR, 7, 3, now=100.0)
    assert cookies.check(FOUR, 7, cookie, now=100.0 + COOKIE_PERIOD) == 3  # previous counter
    assert cookies.check(FOUR, 7, cookie, now=100.0 + 2 * COOKIE_PERIOD) is None  # too old


def test_forged_cookies_fail():
    cookies = SynCookies(b"k" * 16)
    cookie = cookies.make(FOUR, 7, 2, now=5.0)
    # another client ISN (the layout is additive, as Linux's: a seen cookie shifted by a few units only
    # moves the MSS index, which gives nothing to an attacker who already sees the 4-tuple's traffic)
    assert cookies.check(FOUR, 7 + 100_000, cookie, now=5.0) is None
    assert cookies.check((B, 80, A, 40001), 7, cookie, now=5.0) is None  # another 4-tuple
    assert SynCookies(b"x" * 16).check(FOUR, 7, cookie, now=5.0) is None  # another key
    # a blind guess passes with probability 2/256 x 4/2^24 (counter byte, index): none of 5,000
    rng = random.Random(1)
    guesses = [rng.getrandbits(32) for _ in range(5000)]
    assert sum(cookies.check(FOUR, 7, g, now=5.0) is not None for g in guesses if g != cookie) == 0


def test_mss_index_is_the_largest_entry_not_above_the_clients_mss():
    assert [MSS_TABLE[mss_index_for(m)] for m in (None, 536, 1299, 1300, 1459, 1460, 9000)] == [
        536, 536, 536, 1300, 1440, 1460, 1460]


@pytest.mark.parametrize("wscale, sack, ecn", [(7, True, False), (None, False, True), (14, True, True), (0, False, False)])
def test_options_in_the_timestamp_round_trip_and_never_run_ahead(wscale, sack, ecn):
    for tsval in (0x12345678, 0x40, 0xFFFFFFC0, 0x3F):
        value = encode_timestamp_options(tsval, wscale, sack, ecn)
        assert decode_timestamp_options(value) == (wscale, sack, ecn)
        assert 0 <= (tsval - value) & 0xFFFFFFFF < 64  # at most 63 ticks earlier, never later


def _hosts(server_config, client_config=None):
    net = sim.Network(seed=11)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.001)
    ta = TcpLayer.attach(a.stack, client_config)
    tb = TcpLayer.attach(b.stack, server_config)
    server = TcpServer(tb, 80)
    accepted = []
    server.on_accept = lambda srv, now: accepted.append(srv.accept())
    return net, a, b, ta, tb, server, accepted


def test_always_mode_handshake_restores_mss_window_scale_and_sack():
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig(syn_cookies="always"), TcpConfig(mss=1400))
    stream = a.call(TcpStream.connect, ta, B, 80)
    assert net.run_until(lambda: accepted, 5)
    conn = accepted[0].conn
    counters = b.stack.counters
    assert counters["tcp.syncookies.sent"] == 1 and counters["tcp.syncookies.recv_ok"] == 1
    assert not tb.listeners[(None, 80)].half_open  # no state was kept for the SYN
    # MSS 1400 -> table entry 1300, minus the timestamps option
    assert conn.options.send_mss == 1300 - 12
    assert conn.options.snd_wscale == stream.conn.options.rcv_wscale > 0
    assert conn.options.rcv_wscale == stream.conn.options.snd_wscale > 0
    assert conn.options.sack_permitted and conn.options.timestamps
    # and the connection carries data both ways with those options (a scaled window)
    a.call(stream.send, b"q" * 200_000)
    got = bytearray()

    def drained() -> bool:
        if accepted[0].readable:
            got.extend(b.call(accepted[0].recv, 1 << 20))
        return len(got) >= 200_000

    assert net.run_until(drained, 10)
    assert bytes(got) == b"q" * 200_000
    assert conn.snd.wnd > 0xFFFF  # only a restored window scale can say so


def test_without_client_timestamps_a_cookie_keeps_only_the_mss():
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig(syn_cookies="always"), TcpConfig(timestamps=False))
    stream = a.call(TcpStream.connect, ta, B, 80)
    assert net.run_until(lambda: accepted, 5)
    opts = accepted[0].conn.options
    assert (opts.send_mss, opts.snd_wscale, opts.rcv_wscale, opts.sack_permitted) == (1460, 0, 0, False)
    assert stream.conn.options.snd_wscale == 0  # our SYN-ACK offered no scaling, so the client uses none


def _spoofed_syn(tb, b, source_last_octet: int, port: int, now: float) -> None:
    src = bytes([192, 0, 2, source_last_octet])
    syn = TcpSegment(port, 80, 1000 * port, 0, SYN, 65535, mss=1460)
    b.call(tb.receive, src, B, encode_segment(syn, src, B), now)


def test_full_backlog_plus_one_real_client_completes_with_a_cookie():
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig(syn_backlog=8))
    for i in range(8):
        _spoofed_syn(tb, b, 100 + i, 30000 + i, net.clock)  # their SYN-ACKs go unanswered
    listener = tb.listeners[(None, 80)]
    assert len(listener.half_open) == 8 and b.stack.counters.get("tcp.syncookies.sent", 0) == 0
    stream = a.call(TcpStream.connect, ta, B, 80)
    assert net.run_until(lambda: accepted, 5)
    assert stream.connected and accepted[0].state is TcpState.ESTABLISHED
    assert b.stack.counters["tcp.syncookies.sent"] == 1 and b.stack.counters["tcp.syncookies.recv_ok"] == 1
    assert len(listener.half_open) == 8  # the flood's entries did not grow


def test_backlog_full_and_cookies_off_drops_the_real_client_until_a_slot_is_pruned():
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig(syn_backlog=8, syn_cookies="off"))
    for i in range(8):
        _spoofed_syn(tb, b, 100 + i, 30000 + i, net.clock)
    stream = a.call(TcpStream.connect, ta, B, 80)
    net.run(0.5)
    assert not accepted and b.stack.counters["tcp.drop.syn_backlog_full"] == 1
    # after the flood's SYN-ACKs were retransmitted once, the client's retransmitted SYN prunes one
    assert net.run_until(lambda: accepted, 10)
    assert b.stack.counters["tcp.syn_backlog_pruned"] >= 1
    assert b.stack.counters.get("tcp.syncookies.sent", 0) == 0


def test_when_full_mode_keeps_state_while_the_backlog_has_room():
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig())
    a.call(TcpStream.connect, ta, B, 80)
    assert net.run_until(lambda: accepted, 5)
    assert b.stack.counters.get("tcp.syncookies.sent", 0) == 0 and b.stack.counters["tcp.passive_opens"] == 1


def test_an_ack_with_a_forged_cookie_is_reset_and_counted():
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig(syn_cookies="always"))
    sent = []
    b._transmit = lambda frames, keep=b._transmit: (sent.extend(frames), keep(frames))
    src = bytes([192, 0, 2, 1])
    forged = TcpSegment(40000, 80, 5001, 0xDEADBEEF, ACK, 1000)
    b.call(tb.receive, src, B, encode_segment(forged, src, B), net.clock)
    assert b.stack.counters["tcp.syncookies.recv_failed"] == 1
    assert not accepted and not tb.connections
    net.run(0.1)  # the reset may wait for ARP
    resets = [decode_segment(f[34:], B, src)[0] for f in sent if len(f) >= 54 and f[23] == 6]
    assert any(seg.flags & RST and seg.seq == 0xDEADBEEF for seg in resets)


def test_cookie_acks_are_not_checked_when_no_cookie_went_out():
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig())  # when_full, backlog never full
    src = bytes([192, 0, 2, 1])
    stray = TcpSegment(40000, 80, 5001, 0xDEADBEEF, ACK, 1000)
    b.call(tb.receive, src, B, encode_segment(stray, src, B), net.clock)
    assert b.stack.counters.get("tcp.syncookies.recv_failed", 0) == 0
    assert b.stack.counters["tcp.resets_sent"] == 1


def test_syn_cookie_mode_is_validated():
    with pytest.raises(ValueError, match="syn_cookies"):
        TcpConfig(syn_cookies="sometimes")
