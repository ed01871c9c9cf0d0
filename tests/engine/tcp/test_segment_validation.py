"""RFC 5961 §5 ACK validation and the per-connection challenge-ACK limit of §7, replayed on simulated
stacks by an off-path attacker who knows the 4-tuple and an in-window sequence number."""

from __future__ import annotations

import pytest

import netstack.sim as sim
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer
from netstack.engine.tcp.segment import ACK, PSH, RST, TcpSegment
from netstack.engine.tcp.segment_validation import ChallengeAckLimiter, ack_acceptable
from netstack.engine.tcp.wire import decode_segment, encode_segment

A = bytes([192, 0, 2, 1])
B = bytes([192, 0, 2, 2])
MASK = 0xFFFFFFFF


@pytest.mark.parametrize("snd_una", [1000, 0, 0xFFFFFF00])
def test_rfc5961_5_2_acceptable_ack_range(snd_una):
    snd_nxt, wnd = (snd_una + 500) & MASK, 3000
    assert ack_acceptable(snd_una, snd_nxt, wnd, snd_una)
    assert ack_acceptable(snd_una, snd_nxt, wnd, snd_nxt)
    assert ack_acceptable(snd_una, snd_nxt, wnd, (snd_una - wnd) & MASK)  # the lower edge is included
    assert not ack_acceptable(snd_una, snd_nxt, wnd, (snd_una - wnd - 1) & MASK)
    assert not ack_acceptable(snd_una, snd_nxt, wnd, (snd_nxt + 1) & MASK)
    assert not ack_acceptable(snd_una, snd_nxt, wnd, (snd_una + (1 << 31)) & MASK)


def test_limiter_allows_one_reply_per_interval():
    limiter = ChallengeAckLimiter(0.5)
    allowed = [t / 1000 for t in range(1000) if limiter.allow(t / 1000)]
    assert allowed == [0.0, 0.5] and limiter.limited == 998


class Established:
    """A client (A) and server (B) connection; the attacker injects segments to the server's TCB."""

    def __init__(self, connections=1, config=None):
        self.net = net = sim.Network(seed=21)
        self.a = net.host("192.0.2.1/24")
        self.b = net.host("192.0.2.2/24")
        net.link(self.a, self.b, delay=0.001)
        self.ta = TcpLayer.attach(self.a.stack)
        self.tb = TcpLayer.attach(self.b.stack, config)
        server = TcpServer(self.tb, 80)
        self.clients = [self.a.call(TcpStream.connect, self.ta, B, 80) for _ in range(connections)]
        assert net.run_until(lambda: server.pending == connections, 5)
        self.servers = [self.b.call(server.accept) for _ in range(connections)]
        # some data from the server so SND.UNA has moved and MAX.SND.WND is known
        for stream in self.servers:
            self.b.call(stream.send, b"s" * 5000)
        net.run(0.5)
        self.sent = []
        keep = self.b._transmit
        self.b._transmit = lambda frames: (self.sent.extend(frames), keep(frames))

    def inject(self, index, seq_offset, ack, flags=ACK | PSH, payload=b""):
        conn = self.servers[index].conn
        seg = TcpSegment(conn.remote_port, conn.local_port, (conn.rcv.nxt + seq_offset) & MASK, ack & MASK, flags,
                         1000, payload)
        if conn.use_timestamps:
            seg.tsval, seg.tsecr = conn.timestamp_state.ts_recent, 0
        self.b.call(self.tb.receive, A, B, encode_segment(seg, A, B), self.net.clock)

    def acks_to(self, index):
        port = self.servers[index].conn.remote_port
        segs = [decode_segment(f[34:], B, A)[0] for f in self.sent if len(f) >= 54 and f[23] == 6]
        return [s for s in segs if s.dst_port == port and s.flags & ACK and not s.flags & RST and not s.payload]


def test_rfc5961_5_blind_data_with_an_ack_far_below_snd_una_is_dropped_with_a_challenge_ack():
    world = Established()
    conn = world.servers[0].conn
    rcv_nxt = conn.rcv.nxt
    world.inject(0, 10, conn.snd.una - conn.snd.max_wnd - 70_000, payload=b"EVIL")
    assert conn.rcv.nxt == rcv_nxt and not conn.rcv.buffer.queue.held and not world.servers[0].readable
    assert world.b.stack.counters["tcp.drop.ack_too_old"] == 1
    challenge = world.acks_to(0)
    assert len(challenge) == 1 and challenge[0].seq == conn.snd.max and challenge[0].ack == rcv_nxt
    # the real peer still talks to us: the connection is intact
    world.a.call(world.clients[0].send, b"real")
    world.net.run(0.5)
    assert world.b.call(world.servers[0].recv, 100) == b"real"


def test_an_old_duplicate_ack_inside_max_snd_wnd_keeps_its_text():
    world = Established()
    conn = world.servers[0].conn
    world.inject(0, 0, conn.snd.una - 10, payload=b"fine")
    assert world.b.call(world.servers[0].recv, 100) == b"fine"
    assert world.b.stack.counters.get("tcp.drop.ack_too_old", 0) == 0


def test_rate_limit_holds_under_1000_bad_segments_a_second():
    world = Established()
    conn = world.servers[0].conn
    for i in range(1000):
        world.inject(0, 10, conn.snd.una - conn.snd.max_wnd - 70_000, payload=b"x")
        world.net.run(0.001)
    assert 2 <= len(world.acks_to(0)) <= 3  # one per 500 ms
    assert world.b.stack.counters["tcp.challenge_acks_limited"] >= 997


def test_100_in_window_resets_get_one_challenge_ack_and_do_not_reset():
    world = Established()
    for _ in range(100):
        world.inject(0, 100, world.servers[0].conn.snd.una, flags=RST)
    assert len(world.acks_to(0)) == 1
    assert world.servers[0].connected


def test_the_limit_is_per_connection_never_global():
    """CVE-2016-5696: with a shared limit, using it up on one connection silences another's challenge
    ACKs, which an attacker observes. Here the second connection still answers."""
    world = Established(connections=2)
    for _ in range(100):
        world.inject(0, 100, world.servers[0].conn.snd.una, flags=RST)
    world.inject(1, 100, world.servers[1].conn.snd.una, flags=RST)
    assert len(world.acks_to(0)) == 1 and len(world.acks_to(1)) == 1


def test_invalid_ratelimit_zero_answers_every_one():
    world = Established(config=TcpConfig(invalid_ratelimit=0))
    for _ in range(10):
        world.inject(0, 100, world.servers[0].conn.snd.una, flags=RST)
    assert len(world.acks_to(0)) == 10
