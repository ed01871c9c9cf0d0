"""TCP benchmark: netstack against the kernel over a TAP, beside the ceilings, in one run.

    sudo python benchmarks/tcp.py [--mb 200] [--connections 1000] [--requests 2000] [--no-gso]

Measured (every kernel peer in a private namespace created here and deleted at the end; documentation
addresses only; every loop bounded):

1. in-process cost per data segment: ``Stack.receive`` of prebuilt in-order 1448-byte segments to the
   discard service, ``Stack.tick`` after every 16 (a driver batch: the ACKs go out), no I/O:
   µs/segment and the MB/s it would allow;
2. bulk kernel -> netstack (discard service, port 9) over the TAP, MB/s;
3. bulk netstack -> kernel (netstack sends to a kernel socket that reads), MB/s; the TAP driver
   writes runs of segments as one TCP segmentation offload frame (``run_tap(gso=True)``, the default;
   ``--no-gso`` writes every frame alone, for comparison);
4. connection setup rate: sequential kernel connect + close to netstack, connections/s;
5. request/response latency: 1-byte echo round trips from a kernel client, µs (mean, p50, p99);
6. ceiling: kernel -> kernel TCP through a minimal Python L2 bridge between two TAPs (1500 MTU), MB/s;
7. the kernel alone: kernel -> kernel TCP over a veth pair, MB/s.

Needs root (namespaces, TAPs). Prints one table; copy it into docs/performance.md (TCP section).
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import netstack  # noqa: E402
from netstack.formats import fast  # noqa: E402
from netstack.formats.arp import ARP_REQUEST  # noqa: E402
from netstack.drivers.netns import NetworkNamespace, call_in_namespace  # noqa: E402
from netstack.apps.services import start_services  # noqa: E402
from netstack.engine.stack import Stack  # noqa: E402
from netstack.drivers.tap import create_tap  # noqa: E402
from netstack.engine.tcp.endpoint import TcpServer, TcpStream  # noqa: E402
from netstack.engine.tcp.layer import TcpLayer  # noqa: E402
from netstack.apps.tcp_services import tcp_layer_of  # noqa: E402

STACK_IP = "192.0.2.2"
HOST_IP = "192.0.2.1"
BLOCK = os.urandom(1 << 20)


def in_process_segment_cost(count: int = 20000) -> float:
    """µs per in-order data segment through Stack.receive -> TCP -> discard (no I/O)."""
    peer_mac, peer = bytes.fromhex("020000000001"), bytes([192, 0, 2, 1])
    stack = Stack(ip=f"{STACK_IP}/24")
    stack.start(0.0)
    layer = TcpLayer.attach(stack)
    start_services(stack, ["discard"])

    def frame(seq, ack, flags, payload=b"", options=()):
        tcp = fast.encode_tcp(peer, stack.address, 40000, 9, seq=seq, ack=ack, flags=flags, window=65535,
                              options=options, payload=payload)
        ip = fast.encode_ipv4(peer, stack.address, fast.IP_PROTOCOL_TCP, tcp, ttl=64, identification=1, flags=fast.IP_DF)
        return fast.encode_ethernet(stack.mac, peer_mac, fast.ETHERTYPE_IPV4, ip)

    stack.receive(fast.encode_ethernet(b"\xff" * 6, peer_mac, fast.ETHERTYPE_ARP, fast.encode_arp(
        op=ARP_REQUEST, sha=peer_mac, spa=peer, tha=bytes(6), tpa=stack.address)), 0.001)
    nop = (fast.OPT_NOP, None)
    out = stack.receive(frame(1000, 0, fast.SYN, options=[
        (fast.OPT_MSS, 1460), (fast.OPT_SACK_PERMITTED, None), nop, nop, (fast.OPT_TIMESTAMPS, (100, 0)),
        nop, (fast.OPT_WINDOW_SCALE, 7)]), 0.002)
    iss = fast.decode_tcp(out[-1], fast.ETHERNET_LAYOUT.size + fast.IPV4_LAYOUT.size).seq
    stack.receive(frame(1001, iss + 1, fast.ACK, options=[nop, nop, (fast.OPT_TIMESTAMPS, (101, 0))]), 0.003)
    payload = bytes(1448)
    frames = [frame(1001 + i * 1448, iss + 1, fast.ACK, payload, options=[nop, nop, (fast.OPT_TIMESTAMPS, (102 + i, 0))])
              for i in range(count)]
    now = 0.01
    started = time.perf_counter()
    sent = 0
    for index, f in enumerate(frames):
        now += 1e-5
        sent += len(stack.receive(f, now))
        if index % 16 == 15:  # the driver's batch ends: due timers run (the ACK for the burst)
            sent += len(stack.tick(now))
    elapsed = time.perf_counter() - started
    assert sent >= count // 16, "no ACKs were sent"
    assert layer.connections, "the benchmark connection vanished"
    return elapsed / count * 1e6


def _kernel_to_netstack(ns, megabytes: int) -> float:
    with ns.socket() as sock:
        sock.settimeout(30)
        sock.connect((STACK_IP, 9))
        started = time.monotonic()
        for _ in range(megabytes):
            sock.sendall(BLOCK)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)  # discard closes once it has everything
        return megabytes * len(BLOCK) / (time.monotonic() - started) / 1e6


def _netstack_to_kernel(ns, running, megabytes: int) -> float:
    listener = ns.socket()
    listener.bind((HOST_IP, 6001))
    listener.listen(1)
    listener.settimeout(30)
    total = megabytes * len(BLOCK)
    result = {}

    def reader():
        conn, _ = listener.accept()
        with conn:
            got = 0
            started = time.monotonic()
            while True:
                data = conn.recv(1 << 20)
                if not data:
                    break
                got += len(data)
            result["rate"] = got / (time.monotonic() - started) / 1e6
            result["got"] = got

    thread = threading.Thread(target=reader)
    thread.start()
    layer = running.call(tcp_layer_of, running.stack)
    state = {"sent": 0}

    block = memoryview(BLOCK)  # slices without copying a megabyte per wake-up

    def pump(stream, now):
        while state["sent"] < total and stream.writable and not stream.connecting:
            n = stream.send(block[: min(len(BLOCK), total - state["sent"])], now)
            if not n:
                return
            state["sent"] += n
        if state["sent"] >= total and not state.get("closed"):
            state["closed"] = True
            stream.close(now)

    def start():
        stream = TcpStream.connect(layer, bytes(map(int, HOST_IP.split("."))), 6001)
        stream.on_event = pump
        return stream

    running.call(start)
    thread.join(120)
    listener.close()
    if result.get("got") != total:
        raise RuntimeError(f"netstack -> kernel: {result.get('got')} of {total} bytes arrived")
    return result["rate"]


def _setup_rate(ns, count: int) -> float:
    started = time.monotonic()
    for _ in range(count):
        with ns.socket() as sock:
            sock.settimeout(5)
            sock.connect((STACK_IP, 9))
    return count / (time.monotonic() - started)


def _request_response(ns, count: int) -> list[float]:
    with ns.socket() as sock:
        sock.settimeout(5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect((STACK_IP, 7))
        times = []
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(b"x")
            if sock.recv(1) != b"x":
                raise RuntimeError("echo returned something else")
            times.append((time.perf_counter() - started) * 1e6)
        return times


def _kernel_pair_rate(ns_a, ns_b, server_ip: str, megabytes: int) -> float:
    listener = ns_b.socket()
    listener.bind((server_ip, 6002))
    listener.listen(1)
    listener.settimeout(30)
    result = {}

    def reader():
        conn, _ = listener.accept()
        with conn:
            got = 0
            while True:
                data = conn.recv(1 << 20)
                if not data:
                    break
                got += len(data)
            result["got"] = got

    thread = threading.Thread(target=reader)
    thread.start()
    with ns_a.socket() as sock:
        sock.settimeout(30)
        sock.connect((server_ip, 6002))
        started = time.monotonic()
        for _ in range(megabytes):
            sock.sendall(BLOCK)
        sock.shutdown(socket.SHUT_WR)
        thread.join(120)
        elapsed = time.monotonic() - started
    listener.close()
    return result.get("got", 0) / elapsed / 1e6


def bridge_ceiling(megabytes: int) -> float:
    """Kernel -> kernel through a minimal Python L2 bridge between two TAPs (one per namespace)."""
    with NetworkNamespace() as ns_a, NetworkNamespace() as ns_b:
        fd_a = call_in_namespace(ns_a.name, create_tap, "nstbra", "198.51.100.1/24", 1500)
        fd_b = call_in_namespace(ns_b.name, create_tap, "nstbrb", "198.51.100.2/24", 1500)
        os.set_blocking(fd_a, False)
        os.set_blocking(fd_b, False)
        stop = threading.Event()

        def bridge():
            selector = selectors.DefaultSelector()
            selector.register(fd_a, selectors.EVENT_READ, fd_b)
            selector.register(fd_b, selectors.EVENT_READ, fd_a)
            while not stop.is_set():
                for key, _ in selector.select(0.1):
                    for _ in range(64):
                        try:
                            frame = os.read(key.fd, 65536)
                        except BlockingIOError:
                            break
                        try:
                            os.write(key.data, frame)
                        except OSError:
                            pass

        thread = threading.Thread(target=bridge, daemon=True)
        thread.start()
        try:
            return _kernel_pair_rate(ns_a, ns_b, "198.51.100.2", megabytes)
        finally:
            stop.set()
            thread.join(2)
            os.close(fd_a)
            os.close(fd_b)


def veth_kernel(megabytes: int) -> float:
    with NetworkNamespace() as ns_a, NetworkNamespace() as ns_b:
        ns_a.run(["ip", "link", "add", "nstva", "type", "veth", "peer", "name", "nstvb", "netns", ns_b.name], check=True)
        ns_a.run(["ip", "addr", "add", "203.0.113.1/24", "dev", "nstva"], check=True)
        ns_a.run(["ip", "link", "set", "nstva", "up"], check=True)
        ns_b.run(["ip", "addr", "add", "203.0.113.2/24", "dev", "nstvb"], check=True)
        ns_b.run(["ip", "link", "set", "nstvb", "up"], check=True)
        return _kernel_pair_rate(ns_a, ns_b, "203.0.113.2", megabytes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="megabytes per bulk transfer (default 200)")
    parser.add_argument("--connections", type=int, default=1000, help="sequential connections (default 1000)")
    parser.add_argument("--requests", type=int, default=2000, help="echo round trips (default 2000)")
    parser.add_argument("--no-gso", action="store_true", help="write every frame to the TAP alone (no offload)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("benchmarks/tcp.py needs root (namespaces and TAP devices)", file=sys.stderr)
        return 2
    rows = []
    cost = in_process_segment_cost()
    rows.append(("in-process cost per 1448-byte data segment (Stack.receive -> discard)",
                 f"{cost:.1f} µs  (= {1448 / cost:.0f} MB/s)"))
    with NetworkNamespace() as ns:
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        with netstack.run_tap(tap="nstbench0", ip=f"{STACK_IP}/24", host_ip=f"{HOST_IP}/24", netns=ns.name,
                              gso=not args.no_gso) as running:
            running.call(start_services, running.stack, ["echo", "discard"])
            rows.append(("bulk kernel -> netstack (discard), TAP, 1500 MTU", f"{_kernel_to_netstack(ns, args.mb):.1f} MB/s"))
            rows.append(("bulk netstack -> kernel, TAP, 1500 MTU", f"{_netstack_to_kernel(ns, running, args.mb):.1f} MB/s"))
            rows.append(("connection setup (sequential connect + close)", f"{_setup_rate(ns, args.connections):.0f} /s"))
            times = sorted(_request_response(ns, args.requests))
            rows.append(("request/response, 1 byte echo (mean / p50 / p99)",
                         f"{statistics.mean(times):.0f} / {times[len(times) // 2]:.0f} / "
                         f"{times[int(len(times) * 0.99)]:.0f} µs"))
    rows.append(("ceiling: kernel -> kernel via Python L2 bridge between two TAPs", f"{bridge_ceiling(args.mb):.1f} MB/s"))
    rows.append(("kernel -> kernel over a veth pair", f"{veth_kernel(args.mb * 5):.1f} MB/s"))
    width = max(len(name) for name, _ in rows)
    print(f"{'measurement':<{width}}  result")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
