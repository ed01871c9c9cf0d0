"""TcpConnection as a sans-I/O object: two TCBs wired back to back in memory, with a tiny event loop.

Scenario tests are named after the RFC passage they replay. The loop delivers each side's outbox to the
other after ``delay`` seconds (optionally dropping or reordering by a seeded rule) and jumps the clock
to the next deadline when nothing is in flight, so minutes of protocol time take milliseconds.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import random

import pytest

from netstack.errors import TransitionError
from netstack.machines.tcp_connection import TcpState
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.connection import TcpConnection
from netstack.engine.tcp.segment import ACK, FIN, RST, SYN, TcpSegment

A_IP = bytes([192, 0, 2, 1])
B_IP = bytes([192, 0, 2, 2])


class Pair:
    """Client ``a`` and server ``b`` (created from a's SYN, like a listener would)."""

    def __init__(self, config_a=None, config_b=None, *, delay=0.001, loss=0.0, reorder=0.0, seed=0,
                 iss_a=1000, iss_b=5000, drop=None, server=True):
        self.now = 0.0
        self.delay = delay
        self.loss = loss
        self.reorder = reorder
        self.random = random.Random(seed)
        self.drop = drop  # optional predicate(sender_name, segment) -> bool
        self.queue = []
        self.order = itertools.count()
        self.config_b = config_b or TcpConfig()
        self.iss_b = iss_b
        self.a = TcpConnection(A_IP, 40000, B_IP, 80, iss=iss_a, config=config_a or TcpConfig())
        self.b = None
        self.server = server
        self.log = []

    def _make_b(self):
        return TcpConnection(B_IP, 80, A_IP, 40000, iss=self.iss_b, config=self.config_b)

    def flush(self):
        for name, conn in (("a", self.a), ("b", self.b)):
            if conn is None:
                continue
            out, conn.outbox = conn.outbox, []
            for seg in out:
                self.log.append((name, seg))
                if self.drop is not None and self.drop(name, seg):
                    continue
                if self.loss and self.random.random() < self.loss:
                    continue
                extra = self.delay * 3 if self.reorder and self.random.random() < self.reorder else 0.0
                heapq.heappush(self.queue, (self.now + self.delay + extra, next(self.order), name, seg))

    def deliver(self, name, seg):
        if name == "a":
            if self.b is None:
                if seg.flags & SYN and not seg.flags & ACK and self.server:
                    self.b = self._make_b()
                    self.b.accept_syn(seg, self.now)
                return
            if not self.b.dead:
                self.b.segment_arrived(seg, self.now)
        elif not self.a.dead:
            self.a.segment_arrived(seg, self.now)

    def step(self) -> bool:
        self.flush()
        deadlines = [c.deadline for c in (self.a, self.b) if c is not None and c.deadline is not None]
        next_timer = min(deadlines) if deadlines else None
        if self.queue and (next_timer is None or self.queue[0][0] <= next_timer):
            when, _, name, seg = heapq.heappop(self.queue)
            self.now = max(self.now, when)
            self.deliver(name, seg)
        elif next_timer is not None:
            self.now = max(self.now, next_timer)
            for c in (self.a, self.b):
                if c is not None and c.deadline is not None and c.deadline <= self.now:
                    c.tick(self.now)
        else:
            return False
        self.flush()
        return True

    def run(self, until=None, limit=200_000, max_time=None):
        for _ in range(limit):
            if until is not None and until():
                return True
            if max_time is not None and self.now > max_time:
                return False
            if not self.step():
                return until() if until else True
        raise AssertionError("event limit reached")

    def established(self):
        return self.b is not None and self.a.state is TcpState.ESTABLISHED and self.b.state is TcpState.ESTABLISHED


def transfer(pair: Pair, a_data: bytes, b_data: bytes, *, chunk=65536, read=65536, half_close=True):
    """Both sides write their data, shut down, and read until EOF; returns (got_at_a, got_at_b)."""
    pair.a.connect(pair.now)
    assert pair.run(pair.established, max_time=600)
    got = {"a": bytearray(), "b": bytearray()}
    sent = {"a": 0, "b": 0}
    data = {"a": a_data, "b": b_data}
    conns = {"a": pair.a, "b": pair.b}

    def pump():
        for name, conn in conns.items():
            while sent[name] < len(data[name]) and conn.writable and not conn.dead:
                n = conn.send(data[name][sent[name]: sent[name] + chunk], pair.now)
                if n == 0:
                    break
                sent[name] += n
            if sent[name] == len(data[name]) and not conn.snd.fin_queued and half_close and not conn.dead:
                conn.shutdown(pair.now)
            while True:
                piece = conn.recv(read, pair.now)
                if not piece:
                    break
                got[name] += piece
        return all(c.at_eof for c in conns.values()) and all(sent[n] == len(data[n]) for n in data)

    for _ in range(2_000_000):
        if pump():
            break
        if not pair.step():
            pump()
            break
    pair.flush()
    return bytes(got["a"]), bytes(got["b"])


def finish(pair: Pair):
    """Run until both TCBs are gone or in TIME-WAIT."""
    done = lambda: all(c.dead or c.state is TcpState.TIME_WAIT for c in (pair.a, pair.b))
    assert pair.run(done, max_time=pair.now + 600)


# ------------------------------------------------------------------------------------ handshakes
def test_rfc9293_3_5_three_way_handshake_and_options():
    pair = Pair()
    pair.a.connect(0.0)
    syn = pair.a.outbox[0]
    assert syn.flags == SYN and syn.seq == 1000 and syn.mss == 1460 and syn.wscale == 3
    assert syn.sack_permitted and syn.tsval is not None
    pair.run(pair.established)
    assert pair.a.state is TcpState.ESTABLISHED and pair.b.state is TcpState.ESTABLISHED
    assert pair.a.options.timestamps and pair.a.options.sack_permitted
    assert pair.a.snd.mss == 1460 - 12 and pair.b.snd.wscale == 3
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
    pair.a.send(bytes(1448 * 10), pair.now)  # the initial window (3 segments for this MSS) leaves at once
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
