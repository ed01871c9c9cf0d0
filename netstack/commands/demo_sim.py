"""``netstack demo --sim``: the demo's tour on the simulated network, no privileges needed.

A second netstack stack (``peer``, 192.0.2.1) plays the kernel's part against ours (192.0.2.2) on a
``netstack.sim`` link: pings of 56 and 3,000 bytes, ARP, UDP echo and a closed port, a ping from our
stack; then TCP, with ``SIM_TCP_LOSS`` seeded frame loss on the link: an HTTP GET of the status page
over the socket API and a ``SIM_BULK_BYTES`` round trip through echo over the endpoint API, so the
result shows TCP retransmitting and still delivering every byte once, in order. Time is virtual and
the run is reproducible by ``--seed``: the hosts' secrets and the payloads come from it, so ``--pcap``
writes the same bytes every run.
"""

from __future__ import annotations

import hashlib
import random
import re
import socket
import time

from netstack.commands.demo_steps import (
    HOST_IP,
    STACK_IP,
    DemoContext,
    DemoFailure,
    check_stats_json,
    check_status_page,
    print_counters,
    print_table,
    run_steps,
)

# sim echo size: from 4 MiB up some seeds stall in a zero-window exchange (ACKs on segments that
# meet a zero receive window are dropped unprocessed in netstack.engine.tcp.receive); 2 MiB passes seeds 1-20
SIM_BULK_BYTES = 2 * 1024 * 1024
SIM_TCP_LOSS = 0.02  # per frame, on the sim link during the TCP steps


def _sim_ping(context, size: int, count: int) -> str:
    from netstack.engine.icmp import Pinger

    peer, network = context.peer, context.network
    pinger = Pinger(peer.stack, socket.inet_aton(STACK_IP), identifier=0x1000 + size, size=size)
    for _ in range(count):
        peer.call(pinger.send, network.clock)
        network.run(0.2)
    network.run_until(lambda: len(pinger.replies) == count, timeout=2)
    if len(pinger.replies) != count or pinger.mismatched:
        raise DemoFailure(f"{len(pinger.replies)}/{count} replies")
    average = sum(reply[0] for reply in pinger.replies.values()) / count
    return f"{count}/{count} replies, avg RTT {average * 1000:.3f} ms (virtual)"


def sim_step_ping_56(context):
    return _sim_ping(context, 56, 5)


def sim_step_ping_3000(context):
    return _sim_ping(context, 3000, 5) + " (fragmented both ways)"


def sim_step_arp(context):
    neighbour = context.peer.stack.arp.lookup(socket.inet_aton(STACK_IP))
    ours = ":".join(f"{b:02x}" for b in context.running.stack.mac)
    if neighbour is None or neighbour.mac != context.running.stack.mac:
        raise DemoFailure("the peer did not resolve our MAC")
    return f"peer resolved {STACK_IP} to {ours} ({neighbour.state})"


def sim_step_udp_echo(context):
    peer, network = context.peer, context.network
    endpoint = peer.udp_bind(0)
    results = []
    for size in (1, 1472, 8000):
        payload = context.payload(size)
        peer.call(endpoint.sendto, payload, (STACK_IP, 7), network.clock)
        network.run_until(lambda: bool(endpoint.queue), timeout=2)
        item = endpoint.recvfrom()
        if item is None or item[0] != payload:
            raise DemoFailure(f"echo of {size} bytes did not come back identical")
        results.append(f"{size} bytes back identical")
    endpoint.close()
    return "; ".join(results)


def sim_step_udp_closed_port(context):
    import errno

    peer, network = context.peer, context.network
    endpoint = peer.udp_bind(0)
    endpoint.connect((STACK_IP, 4444))
    peer.call(endpoint.sendto, b"anyone?", None, network.clock)
    network.run_until(lambda: endpoint.error is not None, timeout=2)
    endpoint.close()
    if endpoint.error != errno.ECONNREFUSED:
        raise DemoFailure(f"error {endpoint.error}, expected ECONNREFUSED")
    return "peer endpoint got ECONNREFUSED (ICMP port unreachable)"


def sim_step_stack_pings_peer(context):
    from netstack.engine.icmp import Pinger

    running, network = context.running, context.network
    pinger = Pinger(running.stack, socket.inet_aton(HOST_IP), identifier=0x6E73, size=1000)
    for _ in range(3):
        running.call(pinger.send, network.clock)
    network.run_until(lambda: len(pinger.replies) == 3, timeout=2)
    if len(pinger.replies) != 3:
        raise DemoFailure(f"{len(pinger.replies)}/3 replies")
    return "3/3 replies from the peer"


class _LossyLink:
    """Seeded frame loss on the sim link for the duration of a TCP step (the UDP steps run clean)."""

    def __init__(self, link, loss: float):
        self.link, self.loss = link, loss

    def __enter__(self):
        self.before, self.lost_before = self.link.loss, self.link.counters.get("lost", 0)
        self.link.loss = self.loss
        return self

    def __exit__(self, *exc):
        self.link.loss = self.before
        self.lost = self.link.counters.get("lost", 0) - self.lost_before


def _sim_http_get(peer, path: str) -> tuple[int, str]:
    """GET ``path`` from our stack's port 80 with the peer's socket API (blocking calls run the sim)."""
    sock = peer.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(60)  # virtual seconds
        sock.connect((STACK_IP, 80))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {STACK_IP}\r\nConnection: close\r\n\r\n".encode())
        response = bytearray()
        while chunk := sock.recv(65536):
            response += chunk
    finally:
        sock.close()
    head, separator, body = bytes(response).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if not separator or len(status_line) < 2 or not status_line[1].isdigit():
        raise DemoFailure(f"GET {path}: no HTTP response ({len(response)} bytes)")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length and int(length.group(1)) != len(body):
        raise DemoFailure(f"GET {path}: {len(body)} body bytes, Content-Length {int(length.group(1))}")
    return int(status_line[1]), body.decode("utf-8")


def _retransmissions(*hosts) -> int:
    return sum(host.stack.counters.get("tcp.retransmissions", 0) for host in hosts)


def sim_step_http_get(context):
    peer, network = context.peer, context.network
    retransmitted = _retransmissions(peer, context.running)
    started = network.clock
    with _LossyLink(context.link, SIM_TCP_LOSS) as lossy:
        status, page = _sim_http_get(peer, "/")
        check_status_page(status, page)
        status, stats = _sim_http_get(peer, "/stats.json")
        requests = check_stats_json(status, stats)
    retransmitted = _retransmissions(peer, context.running) - retransmitted
    return (f"HTTP 200, {len(page)}-byte status page; /stats.json parses (services.http_requests={requests}); "
            f"{lossy.lost} frames lost, {retransmitted} retransmissions, {network.clock - started:.2f} s virtual")


class _EchoClient:
    """Endpoint-API client: writes ``data`` to echo, half-closes, reads until end of stream, hashing."""

    def __init__(self, data: bytes):
        self.data = data
        self.sent = 0
        self.received = 0
        self.hash = hashlib.sha256()
        self.eof = False
        self.shut = False
        self.error = None

    def on_event(self, stream, now) -> None:
        if stream.connecting:
            return
        try:
            while not self.eof:
                try:
                    piece = stream.recv(1 << 20, now)
                except BlockingIOError:
                    break
                if not piece:
                    self.eof = True
                    break
                self.hash.update(piece)
                self.received += len(piece)
            while self.sent < len(self.data) and not stream.closed:
                n = stream.send(self.data[self.sent:self.sent + 65536], now)
                if not n:
                    break
                self.sent += n
            if self.sent == len(self.data) and not self.shut:
                stream.shutdown(now)
                self.shut = True
            if self.eof and not stream.closed:
                stream.close(now)
        except OSError as error:
            self.error = error


def sim_step_bulk_echo(context):
    from netstack.engine.tcp.endpoint import TcpStream
    from netstack.apps.tcp_services import tcp_layer_of

    peer, network = context.peer, context.network
    data = context.payload(SIM_BULK_BYTES)
    client = _EchoClient(data)
    retransmitted = _retransmissions(peer, context.running)
    started, wall = network.clock, time.perf_counter()
    with _LossyLink(context.link, SIM_TCP_LOSS) as lossy:
        layer = peer.call(tcp_layer_of, peer.stack)
        stream = peer.call(TcpStream.connect, layer, socket.inet_aton(STACK_IP), 7, network.clock)
        stream.on_event = client.on_event
        network.run_until(lambda: client.error is not None or client.eof, timeout=300)
        virtual = network.clock - started  # (the rest is our TIME-WAIT after the last byte came back)
    retransmitted = _retransmissions(peer, context.running) - retransmitted
    if client.error is not None:
        raise DemoFailure(f"echo connection failed: {client.error}")
    if not client.eof:
        raise DemoFailure(f"echo stalled: {client.sent} bytes sent, {client.received} back")
    expected = hashlib.sha256(data)
    if client.received != len(data) or client.hash.digest() != expected.digest():
        raise DemoFailure(f"{client.received} of {len(data)} bytes came back, sha256 "
                          f"{'equal' if client.hash.digest() == expected.digest() else 'different'}")
    if lossy.lost and not retransmitted:
        raise DemoFailure(f"{lossy.lost} frames lost but no retransmission counted")
    return (f"{SIM_BULK_BYTES >> 20} MiB there and back, sha256 equal ({expected.hexdigest()[:12]}...); "
            f"{lossy.lost} frames lost, {retransmitted} retransmissions; {virtual:.2f} s virtual "
            f"({SIM_BULK_BYTES / virtual / 1e6:.1f} MB/s), {time.perf_counter() - wall:.1f} s real")


SIM_STEPS = [
    ("ping, 56 bytes x5", sim_step_ping_56),
    ("ping, 3000 bytes x5", sim_step_ping_3000),
    ("ARP resolution (arping's part)", sim_step_arp),
    ("UDP echo (port 7)", sim_step_udp_echo),
    ("UDP to a closed port", sim_step_udp_closed_port),
    ("netstack pings the peer", sim_step_stack_pings_peer),
    (f"HTTP GET of the status page, {SIM_TCP_LOSS:.0%} loss", sim_step_http_get),
    (f"{SIM_BULK_BYTES >> 20} MiB round trip through echo, {SIM_TCP_LOSS:.0%} loss", sim_step_bulk_echo),
]


def run_sim(args) -> int:
    """``netstack demo --sim``: the tour on a simulated link, a second stack playing the kernel."""
    import netstack
    from netstack.apps.services import start_services

    print(f"netstack demo --sim: simulated link, peer 192.0.2.1 <-> netstack 192.0.2.2 (seed {args.seed})")
    network = netstack.sim.Network(seed=args.seed)
    ours = network.host(f"{STACK_IP}/24", name="netstack")
    peer = network.host(f"{HOST_IP}/24", name="peer")
    link = network.link(ours, peer, delay=100e-6, pcap=args.pcap)
    ours.call(start_services, ours.stack, ["echo", "discard", "http"])
    context = DemoContext(running=ours, network=network, peer=peer, link=link,
                          payloads=random.Random(f"netstack demo {args.seed}"))
    try:
        rows = run_steps(SIM_STEPS, context)
    finally:
        network.close()
    print_table(rows)
    print_counters(ours.counters.snapshot())
    print(f"\nsimulated {network.clock:.2f} s in virtual time, {network.events_processed} events.")
    return 0 if all(row[1] != "FAILED" for row in rows) else 1
