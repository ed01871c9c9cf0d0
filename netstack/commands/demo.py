"""``netstack demo``: a tour of the stack against the Linux kernel, in a private network namespace.

As root: creates a namespace, brings a netstack TAP up inside it (stack 192.0.2.2, kernel 192.0.2.1)
with the echo, discard and HTTP services, and runs real kernel tools against it — ping (56 and 3,000
bytes), arping, UDP echo from a kernel socket, a datagram to a closed port, a ping from the stack to
the kernel, then TCP: ``curl`` fetches the HTTP status page and ``/stats.json`` (port 80), a kernel
socket sends 32 MiB to discard (TCP 9) and 32 MiB round trip through echo (TCP 7, sha256 of what came
back equal to what was sent), and the stack's own HTTP client (``netstack get``'s ``HttpDownload``)
downloads 16 MiB from a kernel ``python3 -m http.server`` started in the namespace (sha256 equal; the
server is ended by its PID) — then prints a summary table (what ran, result, time) and deletes
everything, also on failure or Ctrl-C. A missing tool (curl, arping) skips its step.

Without root it says so and suggests ``netstack demo --sim``: the same tour on the simulated network,
where a second netstack stack plays the kernel's part; its TCP steps (an HTTP GET over the socket API,
a 2 MiB echo round trip over the endpoint API) run with ``SIM_TCP_LOSS`` seeded frame loss on the link,
so the result shows TCP retransmitting and still delivering every byte once, in order.

``netstack demo --formats`` runs the packet formats tour (``netstack.presentation.tour.run_tour``: craft a
TCP SYN, decode it, write a pcap).

Steps are data (``TAP_STEPS``, ``SIM_STEPS``: (title, function)); a step returns its one-line result
or raises ``DemoFailure``/``AssertionError``/``OSError``; a step that needs a missing tool raises
``ToolMissing`` and is reported as skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from netstack.commands.trace_flags import add_trace_arguments, start_trace
from dataclasses import dataclass, field

HELP = "a tour of the stack against the Linux kernel in a private namespace (--sim: simulated network)"

STACK_IP = "192.0.2.2"
HOST_IP = "192.0.2.1"
BULK_BYTES = 32 * 1024 * 1024  # per TAP bulk step: a few seconds at the stack's measured 40-100 MB/s
DOWNLOAD_BYTES = 16 * 1024 * 1024  # netstack -> kernel (the stack's HTTP client)
HTTP_SERVER_PORT = 8000
# sim echo size: from 4 MiB up some seeds stall in a zero-window exchange (ACKs on segments that
# meet a zero receive window are dropped unprocessed in netstack.engine.tcp.receive); 2 MiB passes seeds 1-20
SIM_BULK_BYTES = 2 * 1024 * 1024
SIM_TCP_LOSS = 0.02  # per frame, on the sim link during the TCP steps


class DemoFailure(Exception):
    """A step did not get the result it expects."""


class ToolMissing(Exception):
    """A step needs a tool that is not installed: it is skipped, not failed."""


@dataclass
class DemoContext:
    """What the steps work with: the namespace and running stack (TAP), or the network (sim)."""

    running: object  # RunningStack or SimHost
    namespace: object = None  # NetworkNamespace (TAP tour)
    network: object = None  # sim.Network (sim tour)
    peer: object = None  # SimHost playing the kernel (sim tour)
    link: object = None  # sim.Link between the two (sim tour): the TCP steps make it lossy
    notes: dict = field(default_factory=dict)


def add_arguments(parser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--sim", action="store_true", help="run the tour on the simulated network (no root)")
    where.add_argument("--formats", action="store_true", help="run the packet formats tour")
    parser.add_argument("--pcap", metavar="FILE",
                        help="record the session (frames in and out; with --formats: the tour's pcap)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated network (--sim)")
    add_trace_arguments(parser)


# ----------------------------------------------------------------------------- TAP steps
def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"needs {name}")
    return path


def _kernel_ping(context: DemoContext, size: int, count: int) -> str:
    _tool("ping")
    result = context.namespace.run(
        ["ping", "-n", "-c", str(count), "-i", "0.2", "-s", str(size), "-M", "dont", "-W", "2", STACK_IP], timeout=60)
    summary = re.search(r"(\d+) packets transmitted, (\d+) received", result.stdout)
    rtt = re.search(r"= [\d.]+/([\d.]+)/", result.stdout)
    if not summary:
        raise DemoFailure(f"ping printed no summary: {result.stderr.strip()}")
    sent, received = int(summary.group(1)), int(summary.group(2))
    if received != sent or "wrong data" in result.stdout:
        raise DemoFailure(f"{received}/{sent} replies")
    return f"{received}/{sent} replies, avg RTT {float(rtt.group(1)):.3f} ms" if rtt else f"{received}/{sent} replies"


def step_ping_56(context):
    return _kernel_ping(context, 56, 5)


def step_ping_3000(context):
    return _kernel_ping(context, 3000, 5) + " (fragmented both ways)"


def step_arping(context):
    _tool("arping")
    mac = context.running.call(lambda: ":".join(f"{b:02x}" for b in context.running.stack.mac))
    result = context.namespace.run(["arping", "-c", "3", "-w", "5", "-I", "nst0", STACK_IP], timeout=30)
    if mac not in result.stdout.lower():
        raise DemoFailure(f"our MAC {mac} not in arping's answers")
    neighbour = context.namespace.run(["ip", "neigh", "show", STACK_IP, "dev", "nst0"]).stdout.split()
    state = neighbour[-1] if neighbour else "no entry"
    return f"3 answers from {mac}; kernel neighbour entry {state}"


def _udp_echo(context, size: int) -> str:
    payload = os.urandom(size)
    with context.namespace.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        started = time.perf_counter()
        sock.sendto(payload, (STACK_IP, 7))
        data, _ = sock.recvfrom(65535)
        elapsed = time.perf_counter() - started
    if data != payload:
        raise DemoFailure(f"echo of {size} bytes came back different ({len(data)} bytes)")
    return f"{size} bytes back identical in {elapsed * 1000:.2f} ms"


def step_udp_echo(context):
    return "; ".join(_udp_echo(context, size) for size in (1, 1472, 8000))


def step_udp_closed_port(context):
    with context.namespace.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.connect((STACK_IP, 4444))
        sock.send(b"anyone?")
        try:
            sock.recv(100)
        except ConnectionRefusedError:
            return "kernel socket got ConnectionRefusedError (ICMP port unreachable)"
    raise DemoFailure("no ICMP port unreachable")


def step_stack_pings_kernel(context):
    from netstack.engine.icmp import Pinger

    running = context.running
    pinger = running.call(Pinger, running.stack, socket.inet_aton(HOST_IP), identifier=0x6E73, size=1000)
    for _ in range(3):
        running.call(pinger.send, running.clock())
    if not running.wait(lambda: len(pinger.replies) == 3, timeout=5):
        raise DemoFailure(f"{len(pinger.replies)}/3 replies from the kernel")
    average = sum(reply[0] for reply in pinger.replies.values()) / 3
    return f"3/3 replies from the kernel, avg RTT {average * 1000:.3f} ms"


# TCP: what the status page and /stats.json must hold (shared by the TAP and sim tours).
def _check_status_page(status: int, body: str) -> None:
    if status != 200:
        raise DemoFailure(f"GET / answered HTTP {status}")
    if "<title>netstack status</title>" not in body or "TCP connections" not in body:
        raise DemoFailure(f"GET / is not netstack's status page: {body[:60]!r}")


def _check_stats_json(status: int, body: str) -> int:
    """Returns the services.http_requests counter the JSON reports."""
    if status != 200:
        raise DemoFailure(f"GET /stats.json answered HTTP {status}")
    try:
        stats = json.loads(body)
    except ValueError as error:
        raise DemoFailure(f"/stats.json does not parse: {error}") from None
    if not isinstance(stats, dict) or not isinstance(stats.get("counters"), dict):
        raise DemoFailure("/stats.json has no counters object")
    requests = stats["counters"].get("services.http_requests", 0)
    if requests < 2:  # the status page and this request itself
        raise DemoFailure(f"/stats.json counts {requests} HTTP requests, expected at least 2")
    return requests


def _curl(context: DemoContext, path: str) -> tuple[int, str, float]:
    curl = _tool("curl")
    result = context.namespace.run(
        [curl, "-sS", "--max-time", "10", "-w", "\\n%{http_code} %{time_total}", f"http://{STACK_IP}{path}"], timeout=20)
    if result.returncode != 0:
        raise DemoFailure(f"curl {path} exited {result.returncode}: {result.stderr.strip()}")
    body, _, tail = result.stdout.rpartition("\n")
    status, seconds = tail.split()
    return int(status), body, float(seconds)


def step_curl_status_page(context):
    status, page, seconds = _curl(context, "/")
    _check_status_page(status, page)
    status, stats, json_seconds = _curl(context, "/stats.json")
    requests = _check_stats_json(status, stats)
    return (f"HTTP 200, {len(page)}-byte status page in {seconds * 1000:.1f} ms; /stats.json 200 "
            f"({len(stats)} bytes, parses, services.http_requests={requests}) in {json_seconds * 1000:.1f} ms")


def _connect_kernel(context: DemoContext, port: int):
    sock = context.namespace.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(30)
    try:
        sock.connect((STACK_IP, port))
    except OSError:
        sock.close()
        raise
    return sock


def step_bulk_to_discard(context):
    block = os.urandom(1 << 20)
    with _connect_kernel(context, 9) as sock:
        started = time.perf_counter()
        for _ in range(BULK_BYTES // len(block)):
            sock.sendall(block)
        sock.shutdown(socket.SHUT_WR)
        # discard closes only after reading our FIN, which comes after every byte: all were taken
        if sock.recv(1) != b"":
            raise DemoFailure("discard sent data back")
        elapsed = time.perf_counter() - started
    return f"{BULK_BYTES >> 20} MiB taken, {BULK_BYTES / elapsed / 1e6:.1f} MB/s"


def step_bulk_through_echo(context):
    block = os.urandom(1 << 20)
    sent_hash, got_hash = hashlib.sha256(), hashlib.sha256()
    received = {"bytes": 0, "error": None}
    with _connect_kernel(context, 7) as sock:
        def read_back():
            try:
                while data := sock.recv(1 << 20):
                    got_hash.update(data)
                    received["bytes"] += len(data)
            except OSError as error:
                received["error"] = error

        reader = threading.Thread(target=read_back, name="demo-echo-reader", daemon=True)
        started = time.perf_counter()
        reader.start()
        for _ in range(BULK_BYTES // len(block)):
            sock.sendall(block)
            sent_hash.update(block)
        sock.shutdown(socket.SHUT_WR)
        reader.join(60)
        elapsed = time.perf_counter() - started
        if reader.is_alive():
            raise DemoFailure(f"echo stalled after {received['bytes']} of {BULK_BYTES} bytes")
    if received["error"] is not None:
        raise DemoFailure(f"reading the echo: {received['error']}")
    if received["bytes"] != BULK_BYTES or got_hash.digest() != sent_hash.digest():
        raise DemoFailure(f"{received['bytes']} of {BULK_BYTES} bytes came back, sha256 "
                          f"{'equal' if got_hash.digest() == sent_hash.digest() else 'different'}")
    return (f"{BULK_BYTES >> 20} MiB there and back, sha256 equal ({sent_hash.hexdigest()[:12]}...), "
            f"{BULK_BYTES / elapsed / 1e6:.1f} MB/s each way")


class _HashingSink:
    """A file-like sink for ``HttpDownload``: hashes and counts instead of storing."""

    def __init__(self):
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.hash.update(data)
        self.size += len(data)
        return len(data)


def _wait_for_kernel_listener(context: DemoContext, server: subprocess.Popen, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise DemoFailure(f"http.server exited with status {server.returncode}")
        with context.namespace.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(1)
            if probe.connect_ex((HOST_IP, port)) == 0:
                return
        time.sleep(0.1)
    raise DemoFailure(f"http.server did not listen on {HOST_IP}:{port} within {timeout:g} s")


def step_stack_downloads_from_kernel(context):
    from netstack.drivers.netns import terminate
    from netstack.apps.http_client import HttpDownload
    from netstack.apps.tcp_services import tcp_layer_of

    running, namespace = context.running, context.namespace
    blob = os.urandom(DOWNLOAD_BYTES)
    with tempfile.TemporaryDirectory(prefix="netstack-demo-") as directory:
        with open(os.path.join(directory, "blob.bin"), "wb") as file:
            file.write(blob)
        server = namespace.popen([sys.executable, "-m", "http.server", "--bind", HOST_IP, str(HTTP_SERVER_PORT),
                                  "--directory", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_kernel_listener(context, server, HTTP_SERVER_PORT, timeout=10)
            sink = _HashingSink()
            layer = running.call(tcp_layer_of, running.stack)
            started = time.perf_counter()
            download = running.call(HttpDownload, layer, socket.inet_aton(HOST_IP), HTTP_SERVER_PORT, "/blob.bin",
                                    f"{HOST_IP}:{HTTP_SERVER_PORT}", sink, running.clock())
            if not running.wait(lambda: download.done, timeout=60):
                running.call(download.stream.abort)
                raise DemoFailure(f"download timed out after {download.received} of {DOWNLOAD_BYTES} bytes")
            elapsed = time.perf_counter() - started
        finally:
            terminate(server)  # by its PID; the namespace's deletion would too, but not before the table
    if server.poll() is None:
        raise DemoFailure(f"http.server (PID {server.pid}) did not end")
    if download.error is not None:
        raise DemoFailure(f"download failed: {download.error}")
    if download.status != 200:
        raise DemoFailure(f"http.server answered HTTP {download.status} {download.reason}")
    expected = hashlib.sha256(blob)
    if sink.size != DOWNLOAD_BYTES or sink.hash.digest() != expected.digest():
        raise DemoFailure(f"{sink.size} of {DOWNLOAD_BYTES} bytes, sha256 "
                          f"{'equal' if sink.hash.digest() == expected.digest() else 'different'}")
    return (f"{DOWNLOAD_BYTES >> 20} MiB from python3 -m http.server (PID {server.pid}, ended), sha256 equal "
            f"({expected.hexdigest()[:12]}...), {DOWNLOAD_BYTES / elapsed / 1e6:.1f} MB/s")


TAP_STEPS = [
    ("kernel ping, 56 bytes x5", step_ping_56),
    ("kernel ping, 3000 bytes x5", step_ping_3000),
    ("arping", step_arping),
    ("UDP echo (port 7) from a kernel socket", step_udp_echo),
    ("UDP to a closed port", step_udp_closed_port),
    ("netstack pings the kernel", step_stack_pings_kernel),
    ("curl the HTTP status page (TCP 80)", step_curl_status_page),
    (f"{BULK_BYTES >> 20} MiB kernel -> discard (TCP 9)", step_bulk_to_discard),
    (f"{BULK_BYTES >> 20} MiB round trip through echo (TCP 7)", step_bulk_through_echo),
    (f"netstack downloads {DOWNLOAD_BYTES >> 20} MiB from the kernel", step_stack_downloads_from_kernel),
]


# ----------------------------------------------------------------------------- sim steps
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
        payload = os.urandom(size)
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
        _check_status_page(status, page)
        status, stats = _sim_http_get(peer, "/stats.json")
        requests = _check_stats_json(status, stats)
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
    data = os.urandom(SIM_BULK_BYTES)
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


# ----------------------------------------------------------------------------- running the tour
def run_steps(steps, context: DemoContext, clock=time.perf_counter) -> list[tuple[str, str, str, float]]:
    """Run each step; returns rows (title, status, result, seconds). A failure does not stop the tour."""
    rows = []
    for title, function in steps:
        started = clock()
        try:
            result = function(context)
            status = "ok"
        except ToolMissing as missing:
            status, result = "skipped", str(missing)
        except (DemoFailure, AssertionError, OSError) as failure:
            status, result = "FAILED", str(failure) or type(failure).__name__
        rows.append((title, status, result, clock() - started))
        print(f"  {status:<7} {title}", flush=True)
    return rows


def print_table(rows) -> None:
    width = max(len(row[0]) for row in rows)
    print(f"\n{'step':<{width}}  {'status':<7}  {'time':>9}  result")
    print(f"{'-' * width}  {'-' * 7}  {'-' * 9}  {'-' * 40}")
    for title, status, result, seconds in rows:
        print(f"{title:<{width}}  {status:<7}  {seconds * 1000:>7.1f}ms  {result}")


def run(args) -> int:
    if args.formats:
        return _run_formats_tour(args.pcap)
    start_trace(args)
    if args.sim:
        return _run_sim(args)
    if os.geteuid() != 0:
        print("netstack demo needs root: it creates a private network namespace and a TAP device.\n"
              "Run it as root (e.g. sudo netstack demo), or run the same tour on the simulated network,\n"
              "which needs no privileges:  netstack demo --sim", file=sys.stderr)
        return 1
    return _run_tap(args)


def _run_tap(args) -> int:
    from netstack.drivers.netns import NetworkNamespace

    print("netstack demo: private namespace, TAP nst0, kernel 192.0.2.1 <-> netstack 192.0.2.2")
    try:
        return _tour_in_namespace(args, NetworkNamespace)
    except Exception as error:
        from netstack.commands.up import setup_failure

        reason = setup_failure(error, "nst0")
        if reason is None:
            raise
        # root without CAP_SYS_ADMIN/CAP_NET_ADMIN (a restricted container): say why, offer the sim tour
        print(f"netstack demo: {reason}; `netstack demo --sim` runs the same tour on the simulated network",
              file=sys.stderr)
        return 1


def _tour_in_namespace(args, NetworkNamespace) -> int:
    import netstack
    from netstack.apps.services import start_services

    with NetworkNamespace() as namespace:
        namespace.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        namespace.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        with netstack.run_tap(tap="nst0", ip=f"{STACK_IP}/24", host_ip=f"{HOST_IP}/24", netns=namespace.name,
                              pcap=args.pcap) as running:
            running.call(start_services, running.stack, ["echo", "discard", "http"])
            context = DemoContext(running=running, namespace=namespace)
            rows = run_steps(TAP_STEPS, context)
            counters = running.call(running.stack.counters.snapshot)
    print_table(rows)
    _print_counters(counters)
    print(f"\nnamespace {namespace.name} and TAP nst0 deleted." + (f" Capture: {args.pcap}" if args.pcap else ""))
    return 0 if all(row[1] != "FAILED" for row in rows) else 1


def _run_sim(args) -> int:
    import netstack
    from netstack.apps.services import start_services

    print(f"netstack demo --sim: simulated link, peer 192.0.2.1 <-> netstack 192.0.2.2 (seed {args.seed})")
    network = netstack.sim.Network(seed=args.seed)
    ours = network.host(f"{STACK_IP}/24", name="netstack")
    peer = network.host(f"{HOST_IP}/24", name="peer")
    link = network.link(ours, peer, delay=100e-6, pcap=args.pcap)
    ours.call(start_services, ours.stack, ["echo", "discard", "http"])
    context = DemoContext(running=ours, network=network, peer=peer, link=link)
    try:
        rows = run_steps(SIM_STEPS, context)
    finally:
        network.close()
    print_table(rows)
    _print_counters(ours.counters.snapshot())
    print(f"\nsimulated {network.clock:.2f} s in virtual time, {network.events_processed} events.")
    return 0 if all(row[1] != "FAILED" for row in rows) else 1


def _print_counters(counters: dict) -> None:
    interesting = ("icmp.echo_replied", "reassembly.done", "ipv4.fragments_sent", "arp.reply_sent",
                   "udp.received", "services.udp_echo", "icmp.error_sent.3.3", "tcp.connections_established",
                   "tcp.segments_in", "tcp.segments_out", "tcp.retransmissions", "services.http_requests")
    shown = ", ".join(f"{name}={counters.get(name, 0)}" for name in interesting)
    drops = sum(value for name, value in counters.items() if ".drop." in name)
    print(f"\ncounters: {shown}; drops: {drops} (netstack stats shows them all)")


def _run_formats_tour(pcap_path: str | None) -> int:
    from netstack.presentation.tour import run_tour

    return run_tour(out=sys.stdout, pcap_path=pcap_path)
