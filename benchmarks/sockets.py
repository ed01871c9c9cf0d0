"""Socket API benchmark: what netstack's BSD-like sockets cost on top of its TCP, in one run.

    sudo python benchmarks/sockets.py [--mb 200] [--requests 5000]

Every kernel peer is a separate process (no shared GIL) inside a private namespace created here and
deleted at the end; documentation addresses only; every loop bounded. Measured:

1. bulk kernel -> netstack: a netstack socket ``recv_into`` a 1 MiB buffer, MB/s;
2. bulk netstack -> kernel: ``sendall`` of 1 MiB blocks, MB/s;
3. request/response: 1-byte round trips, blocking ``send`` + ``recv``, TCP_NODELAY, µs (mean, p50, p99);
4. the same round trips through ``selectors`` on a non-blocking socket;
5. one call onto the stack's thread (``getsockname``), µs.

Prints one table; the figures go to docs/sockets.md (Performance).
"""

from __future__ import annotations

import argparse
import selectors
import socket
import statistics
import subprocess
import sys
import time

import netstack
from netstack.drivers.netns import NetworkNamespace

STACK_IP, HOST_IP = "192.0.2.2", "192.0.2.1"
SENDER = ("import socket\nk = socket.create_connection(('{ip}', 5001))\nb = b'x' * 65536\nn = 0\n"
          "while n < {total}:\n    n += k.send(b)\nk.close()\n")
SINK = ("import socket\ns = socket.socket(); s.bind(('{ip}', 5002)); s.listen(); print('ready', flush=True)\n"
        "k, _ = s.accept(); n = 0\nwhile (d := k.recv(1 << 20)):\n    n += len(d)\nprint(n)\n")
ECHO = ("import socket\ns = socket.socket(); s.bind(('{ip}', 5003)); s.listen(); print('ready', flush=True)\n"
        "k, _ = s.accept(); k.setsockopt(6, 1, 1)\nwhile (d := k.recv(100)):\n    k.sendall(d)\n")


def _peer(ns, source: str) -> subprocess.Popen:
    process = ns.popen([sys.executable, "-c", source], stdout=subprocess.PIPE, text=True)
    if "ready" in source:
        process.stdout.readline()
    return process


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args(argv)
    total = args.mb * 1024 * 1024
    rows = []
    with NetworkNamespace() as ns, netstack.run_tap(tap="nstbench0", ip=f"{STACK_IP}/24",
                                                    host_ip=f"{HOST_IP}/24", netns=ns.name) as stack:
        with stack.socket() as server:
            server.bind(("", 5001))
            server.listen()
            sender = _peer(ns, SENDER.format(ip=STACK_IP, total=total))
            conn, _ = server.accept()
            buffer = bytearray(1 << 20)
            received = 0
            start = time.perf_counter()
            with conn:
                while n := conn.recv_into(buffer):
                    received += n
            elapsed = time.perf_counter() - start
            sender.wait(60)
        rows.append(("bulk kernel -> netstack, recv_into 1 MiB", f"{received / elapsed / 1e6:.0f} MB/s"))

        sink = _peer(ns, SINK.format(ip=HOST_IP))
        block = b"y" * (1 << 20)
        with stack.socket() as sock:
            sock.connect((HOST_IP, 5002))
            start = time.perf_counter()
            for _ in range(args.mb):
                sock.sendall(block)
        sunk = int(sink.communicate(timeout=120)[0].split()[-1])
        elapsed = time.perf_counter() - start
        rows.append(("bulk netstack -> kernel, sendall 1 MiB", f"{sunk / elapsed / 1e6:.0f} MB/s"))

        echo = _peer(ns, ECHO.format(ip=HOST_IP))
        with stack.socket() as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect((HOST_IP, 5003))
            samples = []
            for _ in range(args.requests):
                start = time.perf_counter()
                sock.send(b"q")
                sock.recv(10)
                samples.append(time.perf_counter() - start)
            rows.append(("request/response, blocking send + recv (mean / p50 / p99)", _latency(samples)))
            sock.setblocking(False)
            selector = selectors.DefaultSelector()
            selector.register(sock, selectors.EVENT_READ)
            samples = []
            for _ in range(args.requests):
                start = time.perf_counter()
                sock.send(b"q")
                selector.select(5)
                sock.recv(10)
                samples.append(time.perf_counter() - start)
            selector.close()
            rows.append(("request/response, selectors (mean / p50 / p99)", _latency(samples)))
        echo.wait(10)

        with stack.socket() as sock:
            start = time.perf_counter()
            for _ in range(20000):
                sock.getsockname()
            rows.append(("one call onto the stack's thread (getsockname)",
                         f"{(time.perf_counter() - start) / 20000 * 1e6:.1f} µs"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def _latency(samples) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return (f"{statistics.mean(samples) * 1e6:.0f} / {statistics.median(samples) * 1e6:.0f} / "
            f"{p99 * 1e6:.0f} µs")


if __name__ == "__main__":
    raise SystemExit(main())
