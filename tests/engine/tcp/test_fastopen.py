"""TCP Fast Open server (RFC 7413) on a simulated stack: a client that crafts its SYNs asks for a cookie,
then sends data in the SYN; the data is delivered once, acknowledged by the SYN-ACK; fallbacks."""

from __future__ import annotations

import pytest

import netstack.sim as sim
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer
from netstack.engine.tcp.layer import TcpLayer
from netstack.engine.tcp.segment import ACK, SYN, TcpSegment
from netstack.engine.tcp.wire import decode_segment, encode_segment

A = bytes([192, 0, 2, 1])
B = bytes([192, 0, 2, 2])


class Server:
    def __init__(self, backlog=16):
        self.net = sim.Network(seed=13)
        self.a = self.net.host("192.0.2.1/24")
        self.b = self.net.host("192.0.2.2/24")
        self.net.link(self.a, self.b, delay=0.001)
        self.layer = TcpLayer.attach(self.b.stack, TcpConfig(fastopen_backlog=backlog))
        self.server = TcpServer(self.layer, 80)
        self.accepted = []
        self.server.on_accept = lambda srv, now: self.accepted.append(srv.accept())
        self.sent = []
        keep = self.b._transmit
        self.b._transmit = lambda frames: (self.sent.extend(frames), keep(frames))

    def syn(self, port, isn, cookie, data=b""):
        seg = TcpSegment(port, 80, isn, 0, SYN, 65535, data, mss=1460, fastopen_cookie=cookie)
        self.b.call(self.layer.receive, A, B, encode_segment(seg, A, B), self.net.clock)
        self.net.run(0.01)
        return self.syn_ack(port)

    def ack(self, port, seq, ack):
        seg = TcpSegment(port, 80, seq, ack, ACK, 65535)
        self.b.call(self.layer.receive, A, B, encode_segment(seg, A, B), self.net.clock)
        self.net.run(0.01)

    def syn_ack(self, port):
        segs = [decode_segment(f[34:], B, A)[0] for f in self.sent if len(f) >= 54 and f[23] == 6]
        answers = [s for s in segs if s.dst_port == port and s.flags & (SYN | ACK) == SYN | ACK]
        return answers[-1] if answers else None


def test_rfc7413_cookie_request_then_data_in_the_syn_delivered_once():
    world = Server()
    reply = world.syn(40000, 1000, b"")  # an empty option asks for a cookie
    assert reply.ack == 1001 and reply.fastopen_cookie and len(reply.fastopen_cookie) == 8
    cookie = reply.fastopen_cookie
    world.ack(40000, 1001, reply.seq + 1)
    assert world.accepted  # an ordinary connection meanwhile

    reply = world.syn(40001, 5000, cookie, b"GET / HTTP/1.0\r\n\r\n")
    assert reply.ack == 5001 + 18  # the SYN-ACK acknowledges the data (§4.2.2)
    # the SYN is retransmitted (as if our SYN-ACK were lost): its data is not delivered twice
    again = world.syn(40001, 5000, cookie, b"GET / HTTP/1.0\r\n\r\n")
    assert again.ack == 5001 + 18
    world.ack(40001, 5001 + 18, reply.seq + 1)
    assert len(world.accepted) == 2
    stream = world.accepted[1]
    assert world.b.call(stream.recv, 1000) == b"GET / HTTP/1.0\r\n\r\n"
    assert not stream.readable  # nothing more: delivered once
    assert world.b.stack.counters["tcp.fastopen.accepted"] == 1


def test_an_invalid_cookie_gets_a_new_one_and_the_data_is_left_for_the_retransmission():
    world = Server()
    reply = world.syn(40002, 7000, b"\x00" * 8, b"data")
    assert reply.ack == 7001 and len(reply.fastopen_cookie) == 8  # only the SYN is acknowledged
    assert world.b.stack.counters["tcp.fastopen.cookie_invalid"] == 1


def test_cookies_are_per_client_address_and_keyed():
    world = Server()
    cookie = world.layer.fastopen.cookie(A)
    assert world.layer.fastopen.valid(A, cookie)
    assert not world.layer.fastopen.valid(bytes([192, 0, 2, 3]), cookie)
    assert not world.layer.fastopen.valid(A, cookie[:4])


def test_pending_fast_open_children_are_bounded():
    world = Server(backlog=1)
    cookie = world.layer.fastopen.cookie(A)
    first = world.syn(40010, 100, cookie, b"one")
    second = world.syn(40011, 200, cookie, b"two")
    assert first.ack == 104 and second.ack == 201  # the second waits for the handshake (§5.1)
    assert world.b.stack.counters["tcp.fastopen.overflow"] == 1


def test_fast_open_is_off_by_default():
    world = Server(backlog=0)
    reply = world.syn(40020, 100, world.layer.fastopen.cookie(A), b"data")
    assert reply.ack == 101 and reply.fastopen_cookie is None


def test_fastopen_backlog_is_validated():
    with pytest.raises(ValueError, match="fastopen_backlog"):
        TcpConfig(fastopen_backlog=-1)
