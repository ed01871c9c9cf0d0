"""TcpConnection as a sans-I/O object: two TCBs wired back to back in memory (``tests.support.tcp_pair``).

Scenario tests are named after the RFC passage they replay: handshakes, data transfer, persist and SWS
avoidance, congestion control driven through the machine, the §3.10.7.4 acceptability table, close,
TIME-WAIT and resets. Each asserts what its rule demands, so breaking the rule fails the test.
"""

from __future__ import annotations

import errno
import random

import pytest

from netstack.errors import TransitionError
from netstack.machines.congestion import CongestionPhase
from netstack.machines.tcp_connection import TcpState
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.connection import TcpConnection
from netstack.engine.tcp.segment import ACK, FIN, RST, SYN, TcpSegment
from netstack.engine.tcp.seqnum import SEQ_MASK

from tests.support.tcp_pair import A_IP, B_IP, NO_TS, Pair, established, finish, record_times, transfer


# ------------------------------------------------------------------------------------ handshakes
def test_rfc9293_3_5_three_way_handshake_and_options():
    pair = Pair()
    pair.a.connect(0.0)
    syn = pair.a.outbox[0]
    assert syn.flags == SYN and syn.seq == 1000 and syn.mss == 1460 and syn.wscale == 7  # covers the autotuned receive buffer (6 MiB), as Linux
    assert syn.sack_permitted and syn.tsval is not None
    pair.run(pair.established)
    assert pair.a.state is TcpState.ESTABLISHED and pair.b.state is TcpState.ESTABLISHED
    assert pair.a.options.timestamps and pair.a.options.sack_permitted
    assert pair.a.snd.mss == 1460 - 12 and pair.b.snd.wscale == 7
    synack = next(seg for name, seg in pair.log if name == "b")
    assert synack.flags == SYN | ACK and synack.ack == 1001 and synack.seq == 5000


def test_rfc7323_options_only_echoed_when_offered():
    pair = Pair(TcpConfig(timestamps=False, window_scaling=False, sack_permitted=False))
    pair.a.connect(0.0)
    pair.run(pair.established)
    synack = next(seg for name, seg in pair.log if name == "b")
    assert synack.wscale is None and synack.tsval is None and not synack.sack_permitted
    assert pair.b.snd.wscale == 0 and pair.b.rcv.wscale == 0 and not pair.b.use_timestamps


def test_rfc9293_3_10_7_3_rst_acknowledging_syn_refuses():
    pair = Pair(server=False)
    pair.a.connect(0.0)
    syn = pair.a.outbox.pop()
    pair.a.segment_arrived(TcpSegment(80, 40000, 0, syn.seq + 1, RST | ACK, 0), 0.01)
    assert pair.a.dead and pair.a.error == errno.ECONNREFUSED and pair.a.state is TcpState.CLOSED


def test_rfc9293_3_10_7_3_rst_without_acceptable_ack_is_ignored():
    pair = Pair(server=False)
    pair.a.connect(0.0)
    pair.a.outbox.clear()
    pair.a.segment_arrived(TcpSegment(80, 40000, 0, 12345, RST | ACK, 0), 0.01)
    assert pair.a.state is TcpState.SYN_SENT and not pair.a.dead


def test_rfc9293_3_10_7_3_bad_ack_in_syn_sent_gets_reset():
    pair = Pair(server=False)
    pair.a.connect(0.0)
    pair.a.outbox.clear()
    pair.a.segment_arrived(TcpSegment(80, 40000, 777, 999999, SYN | ACK, 1000), 0.01)
    assert [s.flags for s in pair.a.outbox] == [RST] and pair.a.outbox[0].seq == 999999
    assert pair.a.state is TcpState.SYN_SENT


def test_syn_retransmission_then_give_up_with_etimedout():
    pair = Pair(server=False, config_a=TcpConfig(max_syn_retransmits=3))
    pair.a.connect(0.0)
    pair.run(lambda: pair.a.dead)
    syns = [seg for name, seg in pair.log if name == "a" and seg.flags & SYN]
    assert len(syns) == 4  # the first SYN and three retransmissions
    assert pair.a.error == errno.ETIMEDOUT
    # RFC 6298 (5.5): each wait doubles: 1, 2, 4, 8 s
    assert pair.now == pytest.approx(1 + 2 + 4 + 8)


def test_simultaneous_open_rfc9293_figure_7():
    a = TcpConnection(A_IP, 1, B_IP, 2, iss=100)
    b = TcpConnection(B_IP, 2, A_IP, 1, iss=300)
    a.connect(0.0)
    b.connect(0.0)
    syn_a, syn_b = a.outbox.pop(), b.outbox.pop()
    a.segment_arrived(syn_b, 0.1)
    b.segment_arrived(syn_a, 0.1)
    assert a.state is TcpState.SYN_RECEIVED and b.state is TcpState.SYN_RECEIVED
    sa_a, sa_b = a.outbox.pop(), b.outbox.pop()
    assert sa_a.flags == SYN | ACK and sa_b.flags == SYN | ACK
    a.segment_arrived(sa_b, 0.2)
    b.segment_arrived(sa_a, 0.2)
    assert a.state is TcpState.ESTABLISHED and b.state is TcpState.ESTABLISHED


# ------------------------------------------------------------------------------------ data transfer
@pytest.mark.parametrize("size", [0, 1, 1447, 1448, 1449, 100_000, 1_000_000])
def test_bulk_transfer_both_directions_exact(size):
    a_data = bytes(random.Random(size).randbytes(size))
    b_data = bytes(random.Random(size + 1).randbytes(size // 3))
    pair = Pair()
    got_a, got_b = transfer(pair, a_data, b_data)
    assert got_b == a_data and got_a == b_data
    finish(pair)


def test_transfer_with_loss_and_reordering_is_exact():
    data = random.Random(1).randbytes(300_000)
    pair = Pair(loss=0.1, reorder=0.1, seed=3)
    got_a, got_b = transfer(pair, data, data[:50_000])
    assert got_b == data and got_a == data[:50_000]
    assert pair.a.stats["retransmissions"] > 0
    finish(pair)


def test_small_buffers_and_no_window_scaling():
    cfg = TcpConfig(send_buffer=3000, receive_buffer=4000, window_scaling=False, timestamps=False)
    data = random.Random(2).randbytes(200_000)
    pair = Pair(cfg, cfg)
    got_a, got_b = transfer(pair, data, b"", read=700)
    assert got_b == data
    finish(pair)


def test_rfc1122_4_2_3_2_delayed_ack_every_second_full_segment():
    pair = Pair(config_b=TcpConfig(ack_at_batch_end=False))
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.log.clear()
    pair.a.send(bytes(1448 * 10), pair.now)
    pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    acks = [seg for name, seg in pair.log if name == "b"]
    data = [seg for name, seg in pair.log if name == "a" and seg.payload]
    assert len(data) == 10
    assert [a.ack - pair.a.snd.iss - 1 for a in acks] == [1448 * k for k in (2, 4, 6, 8, 10)]


def test_ack_at_batch_end_one_ack_per_burst():
    """Segments that arrive together get one ACK after the burst (the driver's batch), at once."""
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.log.clear()
    # the initial window (3 segments for this MSS) leaves at once, then 6 (slow start counts bytes):
    # two bursts, each of at least two segments
    pair.a.send(bytes(1448 * 9), pair.now)
    started = pair.now
    pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    acks = [seg for name, seg in pair.log if name == "b"]
    assert 1 <= len(acks) < 5
    assert acks[0].ack - pair.a.snd.iss - 1 == 3 * 1448  # one ACK for the whole first burst
    assert pair.now - started < 0.01  # and no delayed-ACK wait


def test_delayed_ack_timer_acknowledges_a_lone_segment_within_200ms():
    pair = Pair(config_b=TcpConfig(delayed_ack=0.1))
    pair.a.connect(0.0)
    pair.run(pair.established)
    t0 = pair.now
    pair.a.send(bytes(1448), t0)  # full-sized, no PSH quick-ack rule
    pair.log.clear()
    pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    assert 0.1 <= pair.now - t0 <= 0.2 + 0.01


def test_rfc896_nagle_holds_small_segments_while_data_is_in_flight():
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.a.outbox.clear()
    for _ in range(5):
        pair.a.send(b"x", pair.now)
    assert len([s for s in pair.a.outbox if s.payload]) == 1
    pair.a.outbox.clear()
    pair.a.set_nodelay(True, pair.now)
    assert [len(s.payload) for s in pair.a.outbox] == [4]
    pair.a.send(b"y", pair.now)
    assert [len(s.payload) for s in pair.a.outbox] == [4, 1]


def test_zero_window_probing_and_window_update():
    """RFC 9293 §3.8.6.1: a receiver that stops reading closes the window; the sender probes."""
    cfg_b = TcpConfig(receive_buffer=8192, window_scaling=False)
    pair = Pair(config_b=cfg_b)
    pair.a.connect(0.0)
    pair.run(pair.established)
    data = random.Random(5).randbytes(50_000)
    pair.a.send(data, pair.now)
    pair.run(max_time=pair.now + 30)
    assert pair.b.rcv.adv == pair.b.rcv.nxt  # window closed
    assert pair.a.stats["zero_window_probes"] >= 2
    assert len(pair.b.rcv.buffer) == 8192
    got = bytearray()
    while len(got) < len(data):
        got += pair.b.recv(100_000, pair.now)
        pair.run(lambda: len(pair.b.rcv.buffer) > 0 or pair.a.snd.una == pair.a.snd.max, max_time=pair.now + 120)
    assert bytes(got) == data


def test_half_close_data_still_flows_the_other_way():
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.a.shutdown(pair.now)
    pair.run(lambda: pair.b.rcv.fin_received and pair.a.state is TcpState.FIN_WAIT_2)
    assert pair.b.state is TcpState.CLOSE_WAIT and pair.b.at_eof
    with pytest.raises(TransitionError) as err:
        pair.a.send(b"more", pair.now)
    assert err.value.errno == errno.EPIPE
    reply = random.Random(9).randbytes(200_000)
    pair.b.send(reply, pair.now)
    got = bytearray()
    pair.run(lambda: (got.extend(pair.a.recv(1 << 20, pair.now)) or len(got) == len(reply)) and pair.b.snd.buffer.free > 0 and pair.b.snd.una == pair.b.snd.max)
    assert bytes(got) == reply
    pair.b.close(pair.now)
    pair.run(lambda: pair.b.dead)
    assert pair.a.state is TcpState.TIME_WAIT and pair.b.state is TcpState.CLOSED


def test_simultaneous_close_through_closing_rfc9293_figure_13():
    pair = Pair(delay=0.01)
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.a.close(pair.now)
    pair.b.close(pair.now)
    pair.run(lambda: pair.a.state is TcpState.TIME_WAIT and pair.b.state is TcpState.TIME_WAIT)
    states = {pair.a.state, pair.b.state}
    assert states == {TcpState.TIME_WAIT}
    pair.run(lambda: pair.a.dead and pair.b.dead)
    assert pair.now >= 60  # 2 x MSL


def test_time_wait_acks_retransmitted_fin_and_restarts():
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.a.close(pair.now)
    pair.run(lambda: pair.a.state is TcpState.FIN_WAIT_2)
    pair.b.close(pair.now)
    fin = pair.b.outbox[-1]
    assert fin.flags & FIN
    pair.run(lambda: pair.a.state is TcpState.TIME_WAIT)
    first_deadline = pair.a.time_wait_deadline
    pair.now += 10
    pair.a.segment_arrived(fin, pair.now)  # the same FIN again
    assert pair.a.outbox and pair.a.outbox[-1].flags == ACK
    assert pair.a.time_wait_deadline == pytest.approx(first_deadline + 10)


def test_rfc5961_rst_in_window_but_not_exact_gets_challenge_ack():
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    rcv_nxt = pair.a.rcv.nxt
    pair.a.segment_arrived(TcpSegment(80, 40000, rcv_nxt + 10, 0, RST, 0), pair.now)
    assert pair.a.state is TcpState.ESTABLISHED and pair.a.outbox[-1].flags == ACK
    pair.a.segment_arrived(TcpSegment(80, 40000, rcv_nxt, 0, RST, 0), pair.now)
    assert pair.a.dead and pair.a.error == errno.ECONNRESET


def test_rfc5961_syn_in_established_gets_challenge_ack():
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.a.segment_arrived(TcpSegment(80, 40000, pair.a.rcv.nxt, 0, SYN, 1000), pair.now)
    assert pair.a.state is TcpState.ESTABLISHED and pair.a.outbox[-1].flags == ACK


def test_abort_sends_rst_and_peer_sees_econnreset():
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.a.abort(pair.now)
    assert pair.a.dead and pair.a.outbox[-1].flags & RST
    pair.run(lambda: pair.b.dead)
    assert pair.b.error == errno.ECONNRESET
    with pytest.raises(TransitionError) as err:
        pair.b.send(b"x", pair.now)
    assert err.value.errno == errno.ECONNRESET


def test_close_with_unread_data_resets_rfc2525():
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.a.send(b"unread", pair.now)
    pair.run(lambda: len(pair.b.rcv.buffer) == 6)
    pair.b.close(pair.now)
    assert pair.b.outbox[-1].flags & RST
    pair.run(lambda: pair.a.dead)
    assert pair.a.error == errno.ECONNRESET


def test_retransmission_give_up_reports_etimedout():
    pair = Pair(config_a=TcpConfig(max_retransmits=4))
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.drop = lambda name, seg: True  # the network dies
    pair.a.send(b"hello", pair.now)
    pair.run(lambda: pair.a.dead)
    assert pair.a.error == errno.ETIMEDOUT
    assert pair.a.stats["rto_firings"] == 5


def test_keepalive_probes_and_timeout():
    cfg = TcpConfig(keepalive=True, keepalive_idle=10, keepalive_interval=2, keepalive_count=3)
    pair = Pair(config_a=cfg)
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.run(max_time=pair.now + 15)
    probes = [seg for name, seg in pair.log if name == "a" and seg.seq == (pair.a.snd.max - 1) & 0xFFFFFFFF and not seg.payload]
    assert probes and pair.a.state is TcpState.ESTABLISHED  # answered, still alive
    pair.drop = lambda name, seg: name == "b"
    pair.run(lambda: pair.a.dead, max_time=pair.now + 100)
    assert pair.a.error == errno.ETIMEDOUT


def test_rfc6093_urgent_data_is_delivered_in_line_and_pointer_ignored():
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    seg = TcpSegment(80, 40000, pair.a.rcv.nxt, pair.a.snd.nxt, ACK | 0x20, 1000, b"urgent!", urgent_pointer=3)
    pair.a.segment_arrived(seg, pair.now)
    assert pair.a.recv(100, pair.now) == b"urgent!"


def test_rfc9293_3_10_8_user_timeout_aborts_with_etimedout():
    pair = Pair(config_a=TcpConfig(user_timeout=5.0, max_retransmits=100))
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.drop = lambda name, seg: True
    started = pair.now
    pair.a.send(b"lost", pair.now)
    pair.run(lambda: pair.a.dead)
    assert pair.a.error == errno.ETIMEDOUT
    assert 5.0 <= pair.now - started < 6.0


def test_rfc1191_smaller_path_mtu_shrinks_segments_and_resends():
    pair = Pair()
    pair.a.connect(0.0)
    pair.run(pair.established)
    pair.a.outbox.clear()
    pair.a.send(bytes(5000), pair.now)
    assert max(len(s.payload) for s in pair.a.outbox) == 1448
    pair.a.outbox.clear()
    pair.a.path_mtu_changed(1000, pair.now)
    assert pair.a.snd.mss == 1000 - 40 - 12
    assert [len(s.payload) for s in pair.a.outbox] == [948]  # the first segment again, smaller
    assert pair.a.outbox[0].seq == pair.a.snd.una
    got = bytearray()
    pair.run(lambda: (got.extend(pair.b.recv(1 << 20, pair.now)) or len(got) == 5000))
    assert bytes(got) == bytes(5000)


# ------------------------------------------------------------ persist and SWS avoidance (RFC 1122)
def test_zero_window_probes_back_off_exponentially():
    """RFC 1122 §4.2.2.17 / RFC 9293 §3.8.6.1: probes of a zero window come ever further apart."""
    pair = established(Pair(config_b=TcpConfig(receive_buffer=4096, **NO_TS), config_a=TcpConfig(**NO_TS)))
    sent = record_times(pair)
    pair.a.send(bytes(20_000), pair.now)
    pair.run(max_time=pair.now + 200)
    assert pair.b.rcv.adv == pair.b.rcv.nxt  # the window is closed and stays closed
    full = pair.b.rcv.nxt
    probes = [t for t, name, seg in sent if name == "a" and len(seg.payload) == 1 and seg.seq == full]
    assert len(probes) >= 4, probes
    gaps = [b - a for a, b in zip(probes, probes[1:])]
    for earlier, later in zip(gaps, gaps[1:]):
        assert later >= 1.9 * earlier or later >= 59.0, gaps  # doubling up to the 60 s cap
    assert pair.a.state is TcpState.ESTABLISHED and not pair.a.dead  # answered probes are no failure
    assert pair.a.stats["zero_window_probes"] == len(probes)


def test_receiver_sws_avoidance_keeps_the_window_shut_for_small_reads():
    """RFC 1122 §4.2.3.3: after a zero window, reading less than min(MSS, buffer/2) opens nothing."""
    pair = established(Pair(config_b=TcpConfig(receive_buffer=8192, **NO_TS), config_a=TcpConfig(**NO_TS)))
    pair.a.send(bytes(30_000), pair.now)
    pair.run(max_time=pair.now + 5)
    assert pair.b.rcv.adv == pair.b.rcv.nxt
    sent = record_times(pair)
    assert len(pair.b.recv(500, pair.now)) == 500  # 500 < min(1460, 4096)
    pair.run(max_time=pair.now + 3)
    windows = [seg.window for _, name, seg in sent if name == "b"]
    assert windows and set(windows) == {0}, windows  # probes answered, window still zero
    assert pair.b.recv(4000, pair.now)  # now 4500 free: at least min(MSS, buffer/2)
    pair.run(max_time=pair.now + 0.5)
    opened = [seg.window for _, name, seg in sent if name == "b" and seg.window]
    assert opened and opened[0] >= 4096


def test_sender_sws_avoidance_waits_for_a_useful_window():
    """RFC 1122 §4.2.3.4: with more data queued, a window smaller than MSS and than half the largest
    window offered sends nothing (until the override timeout); a full MSS goes out at once."""
    cfg = TcpConfig(**NO_TS)
    pair = established(Pair(config_a=cfg, config_b=cfg))
    a = pair.a
    assert a.snd.max_wnd >= 60_000
    # the peer's ACK shrinks the usable window to 100 bytes while nothing is in flight
    small = TcpSegment(80, 40000, a.rcv.nxt, a.snd.max, ACK, 100)
    a.segment_arrived(small, pair.now)
    a.outbox.clear()
    a.send(bytes(10_000), pair.now)
    assert [s for s in a.outbox if s.payload] == []  # no 100-byte silly segment
    assert a.persist_deadline is not None  # the override timer runs instead
    wide = TcpSegment(80, 40000, a.rcv.nxt, a.snd.max, ACK, 3000)
    a.segment_arrived(wide, pair.now)
    sizes = [len(s.payload) for s in a.outbox if s.payload]
    assert sizes == [a.snd.mss] * (3000 // a.snd.mss)  # full segments only; the 80-byte rest waits


# ---------------------------------------------------------------------------------- congestion
def test_slow_start_grows_cwnd_and_an_rto_collapses_it_through_the_machine():
    """RFC 5681 §3.1: cwnd grows per ACK in slow start; after an RTO, cwnd = 1 MSS (loss window),
    ssthresh = max(FlightSize/2, 2 MSS), and the machine's phase says LOSS until the next new ACK."""
    pair = established(Pair(config_a=TcpConfig(congestion_control="reno")))
    a = pair.a
    initial = a.snd.cc.cwnd
    assert a.snd.cc.phase is CongestionPhase.SLOW_START
    a.send(bytes(200_000), pair.now)
    pair.run(lambda: a.snd.una == a.snd.max)
    assert a.snd.cc.cwnd > 4 * initial
    pair.drop = lambda name, seg: name == "b"  # ACKs are lost
    a.send(bytes(50_000), pair.now)
    flight = (a.snd.max - a.snd.una) & SEQ_MASK
    pair.run(lambda: a.stats["rto_firings"] >= 1)
    assert a.snd.cc.phase is CongestionPhase.LOSS
    assert a.snd.cc.cwnd == a.snd.mss
    assert a.snd.cc.ssthresh == max(flight // 2, 2 * a.snd.mss)
    pair.drop = None
    pair.run(lambda: a.snd.una == a.snd.max)
    assert a.snd.cc.phase in (CongestionPhase.SLOW_START, CongestionPhase.CONGESTION_AVOIDANCE)


def test_duplicate_acks_and_out_of_order_bytes_are_counted():
    """Issue 5 item 6: the counters for dup ACKs seen and out-of-order bytes queued move."""
    cfg = TcpConfig(**NO_TS)
    dropped = []
    armed = []

    def drop_one_data_segment(name, seg):
        if armed and name == "a" and seg.payload and not dropped:
            dropped.append(seg)
            return True
        return False

    pair = established(Pair(config_a=cfg, config_b=cfg, drop=drop_one_data_segment))
    warmup = bytes(100_000)  # opens cwnd so that enough segments follow the lost one
    pair.a.send(warmup, pair.now)
    pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    assert pair.b.recv(200_000, pair.now) == warmup
    armed.append(True)
    data = random.Random(8).randbytes(60_000)
    pair.a.send(data, pair.now)
    pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    assert dropped
    assert pair.b.stats["out_of_order_bytes"] >= pair.a.snd.mss
    assert pair.a.stats["dup_acks"] >= 3 and pair.a.stats["fast_retransmits"] == 1
    assert pair.b.recv(100_000, pair.now) == data


# ------------------------------------------------------- acceptability, close and TIME-WAIT
def test_acceptability_table_rfc9293_3_10_7_4():
    cfg = TcpConfig(receive_buffer=10_000, **NO_TS)
    pair = established(Pair(config_a=cfg, config_b=TcpConfig(**NO_TS)))
    a = pair.a
    nxt, una = a.rcv.nxt, a.snd.una
    wnd = (a.rcv.adv - nxt) & SEQ_MASK
    assert wnd == 10_000
    # beyond the window: dropped, answered with an ACK of RCV.NXT
    a.outbox.clear()
    a.segment_arrived(TcpSegment(80, 40000, (nxt + wnd + 10) & SEQ_MASK, una, ACK, 1000, b"late"), pair.now)
    assert [(s.flags, s.ack) for s in a.outbox] == [(ACK, nxt)] and len(a.rcv.buffer) == 0
    # an old duplicate wholly before RCV.NXT: the same
    a.outbox.clear()
    a.segment_arrived(TcpSegment(80, 40000, (nxt - 50) & SEQ_MASK, una, ACK, 1000, b"old" * 10), pair.now)
    assert [(s.flags, s.ack) for s in a.outbox] == [(ACK, nxt)] and len(a.rcv.buffer) == 0
    # straddling the left edge: only the new part is taken
    a.segment_arrived(TcpSegment(80, 40000, (nxt - 3) & SEQ_MASK, una, ACK, 1000, b"oldNEW"), pair.now)
    assert a.recv(100, pair.now) == b"NEW"
    # straddling the right edge: trimmed to the window
    nxt = a.rcv.nxt
    wnd = (a.rcv.adv - nxt) & SEQ_MASK
    a.segment_arrived(TcpSegment(80, 40000, nxt, una, ACK, 1000, bytes(wnd + 500)), pair.now)
    assert len(a.rcv.buffer) == wnd and a.rcv.nxt == (nxt + wnd) & SEQ_MASK
    # zero window: a segment with SEG.LEN > 0 at RCV.NXT is not acceptable (data or FIN); an ACK is
    assert a.rcv.adv == a.rcv.nxt
    for flags, payload in ((ACK, b"z"), (ACK | FIN, b"")):
        a.outbox.clear()
        a.segment_arrived(TcpSegment(80, 40000, a.rcv.nxt, una, flags, 1000, payload), pair.now)
        assert len(a.rcv.buffer) == wnd and [(s.flags, s.ack) for s in a.outbox] == [(ACK, a.rcv.nxt)]
        assert a.state is TcpState.ESTABLISHED
    a.send(b"q", pair.now)
    a.outbox.clear()
    a.segment_arrived(TcpSegment(80, 40000, a.rcv.nxt, a.snd.max, ACK, 1000), pair.now)
    assert a.snd.una == a.snd.max  # the empty ACK was taken


def test_data_arriving_after_close_is_answered_with_rst():
    """RFC 9293 §3.10.4 / RFC 1122 §4.2.2.13: the application closed; new data gets a reset."""
    pair = established(Pair())
    pair.b.close(pair.now)
    pair.run(lambda: pair.b.state is TcpState.FIN_WAIT_2)
    pair.a.send(b"nobody reads this", pair.now)
    pair.run(lambda: pair.a.dead)
    assert pair.a.error == errno.ECONNRESET
    assert any(seg.flags & RST for name, seg in pair.log if name == "b")
    assert pair.b.dead


def test_time_wait_lasts_two_configured_msl():
    pair = established(Pair(config_a=TcpConfig(msl=2.5)))
    pair.a.close(pair.now)
    pair.run(lambda: pair.a.state is TcpState.FIN_WAIT_2)
    pair.b.close(pair.now)
    pair.run(lambda: pair.a.state is TcpState.TIME_WAIT)
    entered = pair.now
    pair.run(lambda: pair.a.dead)
    assert pair.now - entered == pytest.approx(5.0, abs=0.01)
