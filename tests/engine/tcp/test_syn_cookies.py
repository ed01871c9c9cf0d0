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


def test_a_repeated_final_ack_after_an_echo_makes_no_phantom_cookie_connection():
    """After a passive close, the client in TIME-WAIT may send its final ACK again. After an echo
    both sides sent as many bytes, so SEG.SEQ - 1 and SEG.ACK - 1 moved on together and would pass the
    (additive) cookie check: the layer must recognise the repeat instead of the listener accepting it."""
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig(syn_cookies="always"))
    stream = a.call(TcpStream.connect, ta, B, 80)
    assert net.run_until(lambda: accepted, 5)
    peer = accepted[0]
    a.call(stream.send, b"e" * 3000)
    a.call(stream.shutdown)
    echoed = bytearray()

    def all_read() -> bool:
        if peer.readable:
            echoed.extend(b.call(peer.recv, 1 << 16))
        return peer.at_eof

    assert net.run_until(all_read, 5)
    b.call(peer.send, bytes(echoed))
    b.call(peer.close)
    assert net.run_until(lambda: peer.closed and stream.state is TcpState.TIME_WAIT, 5)
    assert len(echoed) == 3000
    final_seq, final_ack = stream.conn.snd.nxt, stream.conn.rcv.nxt  # the client's final ACK, again
    final_ack_segment = TcpSegment(stream.local_address[1], 80, final_seq, final_ack, ACK, 65535)
    b.call(tb.receive, A, B, encode_segment(final_ack_segment, A, B), net.clock)
    net.run(1)
    assert len(accepted) == 1 and not tb.listeners[(None, 80)].accept_queue
    assert b.stack.counters["tcp.drop.after_close"] == 1
    assert b.stack.counters["tcp.syncookies.recv_ok"] == 1  # the handshake's only
    # the record lives two RTOs (no FIN of ours is retransmitted after that): then it is forgotten
    net.run(5)
    b.call(tb.receive, A, B, encode_segment(TcpSegment(stream.local_address[1], 80, 1, 1, RST, 0), A, B), net.clock)
    assert not tb._last_acked


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


@pytest.mark.parametrize("backlog, cookies", [(None, 200 - 128), (256, 0)])
def test_a_deeper_listen_backlog_raises_the_syn_queue_as_linux(backlog, cookies):
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig())  # syn_backlog 128
    tb.remove_listener(server.listener)
    TcpServer(tb, 80, backlog=backlog)
    for i in range(200):
        _spoofed_syn(tb, b, 100 + i % 150, 30000 + i, net.clock)
    listener = tb.listeners[(None, 80)]
    assert len(listener.half_open) == 200 - cookies
    assert b.stack.counters.get("tcp.syncookies.sent", 0) == cookies


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


def _tcp_frames_from(frames, src: bytes, dst: bytes):
    """(frame, segment) for the IPv4 TCP frames in ``frames`` (Ethernet + 20-byte IP header)."""
    for frame in frames:
        if len(frame) >= 54 and frame[23] == 6 and bytes(frame[26:30]) == src:
            yield frame, decode_segment(bytes(frame[34:]), src, dst)[0]


def test_lost_first_segments_of_a_cookie_connection_are_dropped_not_reset_and_retransmitted():
    # Only the first segment after the handshake (SEG.SEQ = ISN + 1) proves a cookie. When the
    # client's ACK and its first data segment are lost, the next one fails the check: it must be
    # dropped (the client retransmits from ISN + 1), not reset as an "ACK in LISTEN".
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig(syn_cookies="always"))
    lost = []
    keep = a._transmit

    def lossy(frames):
        passed = []
        for frame in frames:
            segs = list(_tcp_frames_from([frame], A, B))
            if segs and not segs[0][1].flags & SYN and len(lost) < 2:
                lost.append(segs[0][1])  # the ACK of the SYN-ACK and the next one
                continue
            passed.append(frame)
        return keep(passed)

    a._transmit = lossy
    stream = a.call(TcpStream.connect, ta, B, 80)
    payload = random.Random(3).randbytes(20_000)
    a.call(stream.send, payload)
    assert net.run_until(lambda: stream.connected, 5)
    a.call(stream.shutdown)  # (a CLOSE in SYN-SENT would delete the TCB)
    got = bytearray()

    def drained() -> bool:
        if accepted and accepted[0].readable:
            got.extend(b.call(accepted[0].recv, 1 << 20))
        return bool(accepted) and accepted[0].at_eof

    assert net.run_until(drained, 30)
    # the segments at ISN + 1 (the ACK completing the handshake, with or without data) were lost
    assert len(lost) == 2 and lost[0].seq == (stream.conn.snd.iss + 1) & 0xFFFFFFFF
    assert bytes(got) == payload and stream.error is None
    counters = b.stack.counters
    assert counters["tcp.drop.syncookie_after_gap"] >= 1
    assert counters.get("tcp.syncookies.recv_failed", 0) == 0 and counters.get("tcp.resets_sent", 0) == 0
    assert counters["tcp.syncookies.recv_ok"] == 1


def test_a_data_segment_far_from_any_cookie_still_gets_a_reset():
    net, a, b, ta, tb, server, accepted = _hosts(TcpConfig(syn_cookies="always"))
    src = bytes([192, 0, 2, 1])
    stray = TcpSegment(40000, 80, 5001, 0xDEADBEEF, ACK, 1000, payload=b"x" * 100)
    b.call(tb.receive, src, B, encode_segment(stray, src, B), net.clock)
    assert b.stack.counters["tcp.syncookies.recv_failed"] == 1 and b.stack.counters["tcp.resets_sent"] == 1
    assert b.stack.counters.get("tcp.drop.syncookie_after_gap", 0) == 0


def test_many_concurrent_cookie_connections_on_a_lossy_reordering_link_all_deliver_intact():
    # Every SYN gets a cookie; window scaling, timestamps and SACK ride in the TSval; frames are lost
    # and reordered, so a cookie connection's first segments often arrive after later ones.
    net = sim.Network(seed=5)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.002, loss=0.03, reorder=0.25, reorder_delay=0.004)
    ta = TcpLayer.attach(a.stack, TcpConfig(synack_retries=30, max_syn_retransmits=30))
    tb = TcpLayer.attach(b.stack, TcpConfig(syn_cookies="always"))
    server = TcpServer(tb, 80)
    accepted = []
    server.on_accept = lambda srv, now: accepted.append(srv.accept())
    rng = random.Random(7)
    payloads = {}
    streams = []
    for number in range(40):
        body = rng.randbytes(rng.randrange(3_000, 40_000))
        payloads[number.to_bytes(2, "big")] = body
        stream = a.call(TcpStream.connect, ta, B, 80)
        a.call(stream.send, number.to_bytes(2, "big") + body)
        streams.append(stream)
    received = {}
    assert net.run_until(lambda: all(s.connected for s in streams), 60)
    for stream in streams:
        a.call(stream.shutdown)

    def all_read() -> bool:
        for conn in accepted:
            if conn is not None and conn.readable:
                received.setdefault(id(conn), [conn, bytearray()])[1].extend(b.call(conn.recv, 1 << 20))
        return len(accepted) == 40 and all(conn.at_eof for conn in accepted)

    assert net.run_until(all_read, 120)
    assert all(s.error is None for s in streams)
    assert sorted(bytes(data[:2]) for _, data in received.values()) == sorted(payloads)
    assert all(bytes(data[2:]) == payloads[bytes(data[:2])] for _, data in received.values())
    counters = b.stack.counters
    assert counters["tcp.syncookies.recv_ok"] == 40 and counters.get("tcp.resets_sent", 0) == 0
    assert counters["tcp.drop.syncookie_after_gap"] >= 1  # the seed does lose/reorder first segments
    assert accepted[0].conn.options.snd_wscale > 0 and accepted[0].conn.options.timestamps


def test_a_cookie_ack_dropped_on_a_full_accept_queue_gets_in_with_the_retransmission():
    # The valid cookie ACK is dropped while the accept queue is full; the client, established, goes on
    # sending. Its later segments are dropped too (not reset); once the application accepts, the
    # client's retransmission from ISN + 1 creates the connection and every byte arrives.
    net = sim.Network(seed=11)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.001)
    ta = TcpLayer.attach(a.stack)
    tb = TcpLayer.attach(b.stack, TcpConfig(syn_cookies="always"))
    server = TcpServer(tb, 80, backlog=1)
    first = a.call(TcpStream.connect, ta, B, 80)  # both SYNs get cookies while the queue is empty
    second = a.call(TcpStream.connect, ta, B, 80)
    payload = random.Random(4).randbytes(30_000)
    a.call(second.send, payload)
    assert net.run_until(lambda: second.connected, 5)
    net.run(0.5)
    counters = b.stack.counters
    assert counters["tcp.drop.accept_queue_full"] >= 1 and counters["tcp.drop.syncookie_after_gap"] >= 1
    assert counters.get("tcp.resets_sent", 0) == 0 and second.error is None
    assert b.call(server.accept).remote_address[1] == first.local_address[1]
    accepted = []
    got = bytearray()

    def drained() -> bool:
        if not accepted and server.pending:
            accepted.append(b.call(server.accept))
        if accepted and accepted[0].readable:
            got.extend(b.call(accepted[0].recv, 1 << 20))
        return len(got) >= len(payload)

    assert net.run_until(drained, 30)
    assert bytes(got) == payload and second.error is None
