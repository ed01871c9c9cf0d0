"""TCP engine benchmark without I/O: two ``TcpConnection`` objects back to back in memory.

    python benchmarks/tcp_sans_io.py [--mb 12] [--rounds 5]

No root, no TAP, no clock inside the engine: ``a`` sends ``--mb`` megabytes to ``b`` in 1 MiB writes,
``b`` reads as data arrives; segments go straight from one outbox to the other and the clock jumps to
the next deadline when nothing is in flight. Two transfers:

- ``established``: ``b`` stays open, so ``b`` takes the data on header prediction
  (``TcpConnection._predicted``) and ``a`` its ACKs on ``_predicted_ack``;
- ``half-closed``: ``b`` shut down first (FIN-WAIT-2), so every segment takes the full SEGMENT ARRIVES
  path of RFC 9293 §3.10.7.4 (``_arrive_synchronized`` and its steps);
- ``request/response``: ``--requests`` 1-byte round trips, ``a`` (TCP_NODELAY) sends a byte, ``b`` reads
  it and echoes it, ``a`` reads the echo: per round trip each end sends one small segment, takes the
  peer's, and acknowledges by piggybacking; what loss recovery and ECN add to every small segment (the
  RACK transmit log, the probe timer, the scoreboard) shows here, the bulk rows amortise it.

glibc's malloc serves the multi-megabyte buffers of the bulk rows from fresh ``mmap`` pages or from
its heap depending on what the process freed before (its mmap threshold moves), and the page faults of
the first case cost up to 1 µs per segment: the same code measured 2.4 and 3.3 µs in different
trees. So the script re-runs itself with both thresholds fixed (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``) unless ``--system-malloc`` is given, and the figures compare code.

Prints CPU µs per 1448-byte data segment (per round trip for ``request/response``) (``time.process_time``, both ends together; the best of
``--rounds`` runs, so other processes on the machine disturb it less), and the part of it the sender
spends taking ACKs (``_predicted_ack`` or the full path, and the segments ``_output`` sends from there). Figures go to
docs/performance.md ("TCP sequence arithmetic and structure").
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from netstack.engine.tcp.connection import TcpConnection  # noqa: E402

A_IP, B_IP = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
DELAY = 0.0005
# glibc's largest mmap threshold (32 MiB on 64-bit): buffers up to it come from the heap, which is
# never trimmed below 1 GiB, so no run pays page faults another run does not
FIXED_MMAP_THRESHOLD = 32 << 20
FIXED_TRIM_THRESHOLD = 1 << 30


SENDER_TIME = [0.0]  # CPU seconds spent in the sender's (a's) segment_arrived


def _run(a: TcpConnection, b: TcpConnection, now: float, done, limit: int = 10_000_000) -> float:
    """Deliver outboxes in order (both directions, DELAY apart) and fire timers until ``done()``."""
    clock = time.process_time
    for _ in range(limit):
        if done():
            return now
        moved = False
        for src, dst in ((a, b), (b, a)):
            if src.outbox:
                out, src.outbox = src.outbox, []
                now += DELAY
                started = clock()
                for seg in out:
                    if not dst.dead:
                        dst.segment_arrived(seg, now)
                if dst is a:
                    SENDER_TIME[0] += clock() - started
                moved = True
        if not moved:
            deadlines = [c.deadline for c in (a, b) if c.deadline is not None]
            if not deadlines:
                return now
            now = max(now, min(deadlines))
            for c in (a, b):
                if c.deadline is not None and c.deadline <= now:
                    c.tick(now)
    raise RuntimeError("event limit reached")


def _connected() -> tuple[TcpConnection, TcpConnection, float]:
    """``a`` (192.0.2.1:40000) connected to ``b`` (192.0.2.2:9): both ends and the time."""
    a = TcpConnection(A_IP, 40000, B_IP, 9, iss=1000)
    b = TcpConnection(B_IP, 9, A_IP, 40000, iss=5000)
    now = 0.0
    a.connect(now)
    syn, a.outbox = a.outbox[0], []
    b.accept_syn(syn, now)
    return a, b, _run(a, b, now, lambda: a.established and b.established)


def transfer(data: bytes, *, half_closed: bool) -> tuple[float, float]:
    """CPU seconds for ``a`` -> ``b`` of ``data`` (handshake excluded): in all, and in ``a``'s handling
    of the ACKs (with the segments that sends)."""
    a, b, now = _connected()
    if half_closed:
        b.shutdown(now)
        now = _run(a, b, now, lambda: not b.outbox and not a.outbox)
    view = memoryview(data)
    sent = got = 0
    SENDER_TIME[0] = 0.0
    started = time.process_time()
    while got < len(data):
        while sent < len(data) and a.writable:
            n = a.send(view[sent: sent + (1 << 20)], now)
            if not n:
                break
            sent += n
        now = _run(a, b, now, lambda: not a.outbox and not b.outbox)
        piece = b.recv(1 << 22, now)
        got += len(piece)
        if not piece and not a.outbox and not b.outbox:
            deadlines = [c.deadline for c in (a, b) if c.deadline is not None]
            now = max(now, min(deadlines)) if deadlines else now + DELAY
            for c in (a, b):
                if c.deadline is not None and c.deadline <= now:
                    c.tick(now)
    return time.process_time() - started, SENDER_TIME[0]


def _one_byte(src: TcpConnection, dst: TcpConnection, now: float) -> float:
    """``src`` sends one byte, its segments reach ``dst`` DELAY later, ``dst`` reads it; the time."""
    src.send(b"x", now)
    out, src.outbox = src.outbox, []
    now += DELAY
    for seg in out:
        dst.segment_arrived(seg, now)
    if dst.recv(1, now) != b"x":
        raise RuntimeError("byte lost")
    return now


def request_response(requests: int) -> float:
    """CPU seconds for ``requests`` 1-byte echoes between ``a`` and ``b`` (handshake excluded)."""
    a, b, now = _connected()
    a.set_nodelay(True, now)
    b.set_nodelay(True, now)
    clock = time.process_time
    started = clock()
    for _ in range(requests):
        now = _one_byte(b, a, _one_byte(a, b, now))  # the request, then the reply
        for c in (a, b):  # a timer due by now (a delayed ACK): run it and deliver what it sent
            if c.deadline is not None and c.deadline <= now:
                c.tick(now)
        if a.outbox or b.outbox:
            now = _run(a, b, now, lambda: not a.outbox and not b.outbox)
    return clock() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=12, help="megabytes per transfer (default 12)")
    parser.add_argument("--rounds", type=int, default=5, help="transfers per figure, best kept (default 5)")
    parser.add_argument("--requests", type=int, default=20_000,
                        help="1-byte round trips per request/response figure (default 20000)")
    parser.add_argument("--system-malloc", action="store_true",
                        help="keep glibc's adaptive malloc thresholds (figures then vary with allocation history)")
    args = parser.parse_args()
    if not args.system_malloc and os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(FIXED_MMAP_THRESHOLD),
                   MALLOC_TRIM_THRESHOLD_=str(FIXED_TRIM_THRESHOLD))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    if args.mb < 1 or args.rounds < 1 or args.requests < 1:
        parser.error("--mb, --rounds and --requests must be at least 1")
    data = os.urandom(args.mb << 20)
    segments = len(data) / 1448
    for name, half_closed in (("established (header prediction)", False), ("half-closed (full path)", True)):
        runs = [transfer(data, half_closed=half_closed) for _ in range(args.rounds)]
        best = min(total for total, _ in runs)
        sender = min(ack for _, ack in runs)
        print(f"{name:34s} {best / segments * 1e6:6.2f} µs/segment  ({len(data) / best / 1e6:.0f} MB/s);"
              f"  of which the sender taking ACKs {sender / segments * 1e6:.2f}")
    best = min(request_response(args.requests) for _ in range(args.rounds))
    print(f"{'request/response (1 byte, nodelay)':34s} {best / args.requests * 1e6:6.2f} µs/round trip")


if __name__ == "__main__":
    main()
