"""``netstack demo``: a tour of the stack against the Linux kernel, in a private network namespace.

As root: creates a namespace, brings a netstack TAP up inside it (stack 192.0.2.2, kernel 192.0.2.1)
and runs real kernel tools against it — ping (56 and 3,000 bytes), arping, UDP echo from a kernel
socket, a datagram to a closed port, a ping from the stack to the kernel — then prints a summary table
(what ran, result, time) and deletes everything, also on failure or Ctrl-C.

Without root it says so and suggests ``netstack demo --sim``: the same tour on the simulated network,
where a second netstack stack plays the kernel's part. ``netstack demo --formats`` runs the packet
formats tour (``netstack.formats.tour.run_tour``: craft a TCP SYN, decode it, write a pcap).

Steps are data (``TAP_STEPS``, ``SIM_STEPS``: (title, function)); a step returns its one-line result
or raises ``DemoFailure``/``AssertionError``/``OSError``. The TCP layer appends its steps (curl, bulk
transfer) to these lists.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field

HELP = "a tour of the stack against the Linux kernel in a private namespace (--sim: simulated network)"

STACK_IP = "192.0.2.2"
HOST_IP = "192.0.2.1"


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
    notes: dict = field(default_factory=dict)


def add_arguments(parser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--sim", action="store_true", help="run the tour on the simulated network (no root)")
    where.add_argument("--formats", action="store_true", help="run the packet formats tour")
    parser.add_argument("--pcap", metavar="FILE",
                        help="record the session (frames in and out; with --formats: the tour's pcap)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated network (--sim)")


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
    from netstack.icmp import Pinger

    running = context.running
    pinger = running.call(Pinger, running.stack, socket.inet_aton(HOST_IP), identifier=0x6E73, size=1000)
    for _ in range(3):
        running.call(pinger.send, running.clock())
    if not running.wait(lambda: len(pinger.replies) == 3, timeout=5):
        raise DemoFailure(f"{len(pinger.replies)}/3 replies from the kernel")
    average = sum(reply[0] for reply in pinger.replies.values()) / 3
    return f"3/3 replies from the kernel, avg RTT {average * 1000:.3f} ms"


TAP_STEPS = [
    ("kernel ping, 56 bytes x5", step_ping_56),
    ("kernel ping, 3000 bytes x5", step_ping_3000),
    ("arping", step_arping),
    ("UDP echo (port 7) from a kernel socket", step_udp_echo),
    ("UDP to a closed port", step_udp_closed_port),
    ("netstack pings the kernel", step_stack_pings_kernel),
]


# ----------------------------------------------------------------------------- sim steps
def _sim_ping(context, size: int, count: int) -> str:
    from netstack.icmp import Pinger

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
    from netstack.icmp import Pinger

    running, network = context.running, context.network
    pinger = Pinger(running.stack, socket.inet_aton(HOST_IP), identifier=0x6E73, size=1000)
    for _ in range(3):
        running.call(pinger.send, network.clock)
    network.run_until(lambda: len(pinger.replies) == 3, timeout=2)
    if len(pinger.replies) != 3:
        raise DemoFailure(f"{len(pinger.replies)}/3 replies")
    return "3/3 replies from the peer"


SIM_STEPS = [
    ("ping, 56 bytes x5", sim_step_ping_56),
    ("ping, 3000 bytes x5", sim_step_ping_3000),
    ("ARP resolution (arping's part)", sim_step_arp),
    ("UDP echo (port 7)", sim_step_udp_echo),
    ("UDP to a closed port", sim_step_udp_closed_port),
    ("netstack pings the peer", sim_step_stack_pings_peer),
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
    if args.sim:
        return _run_sim(args)
    if os.geteuid() != 0:
        print("netstack demo needs root: it creates a private network namespace and a TAP device.\n"
              "Run it as root (e.g. sudo netstack demo), or run the same tour on the simulated network,\n"
              "which needs no privileges:  netstack demo --sim", file=sys.stderr)
        return 1
    return _run_tap(args)


def _run_tap(args) -> int:
    import netstack
    from netstack.netns import NetworkNamespace
    from netstack.services import start_services

    print("netstack demo: private namespace, TAP nst0, kernel 192.0.2.1 <-> netstack 192.0.2.2")
    with NetworkNamespace() as namespace:
        namespace.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        namespace.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        with netstack.run_tap(tap="nst0", ip=f"{STACK_IP}/24", host_ip=f"{HOST_IP}/24", netns=namespace.name,
                              pcap=args.pcap) as running:
            running.call(start_services, running.stack, ["echo", "discard"])
            context = DemoContext(running=running, namespace=namespace)
            rows = run_steps(TAP_STEPS, context)
            counters = running.call(running.stack.counters.snapshot)
    print_table(rows)
    _print_counters(counters)
    print(f"\nnamespace {namespace.name} and TAP nst0 deleted." + (f" Capture: {args.pcap}" if args.pcap else ""))
    return 0 if all(row[1] != "FAILED" for row in rows) else 1


def _run_sim(args) -> int:
    import netstack
    from netstack.services import start_services

    print(f"netstack demo --sim: simulated link, peer 192.0.2.1 <-> netstack 192.0.2.2 (seed {args.seed})")
    network = netstack.sim.Network(seed=args.seed)
    ours = network.host(f"{STACK_IP}/24", name="netstack")
    peer = network.host(f"{HOST_IP}/24", name="peer")
    network.link(ours, peer, delay=100e-6, pcap=args.pcap)
    ours.call(start_services, ours.stack, ["echo", "discard"])
    context = DemoContext(running=ours, network=network, peer=peer)
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
                   "udp.received", "services.udp_echo", "icmp.error_sent.3.3")
    shown = ", ".join(f"{name}={counters.get(name, 0)}" for name in interesting)
    drops = sum(value for name, value in counters.items() if ".drop." in name)
    print(f"\ncounters: {shown}; drops: {drops} (netstack stats shows them all)")


def _run_formats_tour(pcap_path: str | None) -> int:
    from netstack.formats.tour import run_tour

    return run_tour(out=sys.stdout, pcap_path=pcap_path)
