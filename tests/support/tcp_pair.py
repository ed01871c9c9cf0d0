"""Two TcpConnections wired back to back in memory, with a tiny event loop (sans-I/O TCP tests).

The loop delivers each side's outbox to the other after ``delay`` seconds (optionally dropping or
reordering by a seeded rule) and jumps the clock to the next deadline when nothing is in flight, so
minutes of protocol time take milliseconds.
"""

from __future__ import annotations

import heapq
import itertools
import random

from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.connection import TcpConnection
from netstack.engine.tcp.segment import ACK, SYN
from netstack.machines.tcp_connection import TcpState

# Timestamps and window scaling off: windows and segment sizes are then exact numbers of bytes.
NO_TS = dict(timestamps=False, window_scaling=False)

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


def established(pair: Pair) -> Pair:
    """Connect ``pair`` and run it until both ends are ESTABLISHED."""
    pair.a.connect(pair.now)
    assert pair.run(pair.established)
    return pair


def record_times(pair: Pair) -> list:
    """Make ``pair`` note (time, sender, segment) of everything it sends."""
    sent = []
    previous = pair.drop

    def note(name, seg):
        sent.append((pair.now, name, seg))
        return previous(name, seg) if previous is not None else False

    pair.drop = note
    return sent
