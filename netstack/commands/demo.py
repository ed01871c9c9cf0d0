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

Without root it says so and suggests ``netstack demo --sim``: the same tour on the simulated network
(``netstack.commands.demo_sim``), where a second netstack stack plays the kernel's part.

``netstack demo --formats`` runs the packet formats tour (``netstack.presentation.tour.run_tour``: craft a
TCP SYN, decode it, write a pcap).

Steps are data (``TAP_STEPS`` here, ``SIM_STEPS`` in ``demo_sim``: (title, function)), run by
``netstack.commands.demo_steps``: a step returns its one-line result or raises
``DemoFailure``/``AssertionError``/``OSError``; a step that needs a missing tool raises ``ToolMissing``
and is reported as skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from netstack.commands.demo_sim import run_sim
from netstack.commands.demo_steps import (
    HOST_IP,
    STACK_IP,
    DemoContext,
    DemoFailure,
    ToolMissing,
    check_stats_json,
    check_status_page,
    print_counters,
    print_table,
    run_steps,
)
from netstack.commands.trace_flags import add_trace_arguments, start_trace

HELP = "a tour of the stack against the Linux kernel in a private namespace (--sim: simulated network)"

BULK_BYTES = 32 * 1024 * 1024  # per TAP bulk step: a few seconds at the stack's measured 40-100 MB/s
DOWNLOAD_BYTES = 16 * 1024 * 1024  # netstack -> kernel (the stack's HTTP client)
HTTP_SERVER_PORT = 8000


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
    check_status_page(status, page)
    status, stats, json_seconds = _curl(context, "/stats.json")
    requests = check_stats_json(status, stats)
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


# ----------------------------------------------------------------------------- running the tour
def run(args) -> int:
    if args.formats:
        return _run_formats_tour(args.pcap)
    start_trace(args)
    if args.sim:
        return run_sim(args)
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
    print_counters(counters)
    print(f"\nnamespace {namespace.name} and TAP nst0 deleted." + (f" Capture: {args.pcap}" if args.pcap else ""))
    return 0 if all(row[1] != "FAILED" for row in rows) else 1


def _run_formats_tour(pcap_path: str | None) -> int:
    from netstack.presentation.tour import run_tour

    return run_tour(out=sys.stdout, pcap_path=pcap_path)
