"""``netstack ping``: ping from the stack, with output like ping(8).

Where the stack runs (it needs an interface and a peer):

- default: a private network namespace is created with a TAP whose host side (the kernel) is
  ``--host-ip`` (192.0.2.1/24); the stack is ``--ip`` (192.0.2.2/24). ``netstack ping 192.0.2.1``
  pings the kernel; any other address of the subnet has no one to answer (ARP fails: "Destination
  Host Unreachable", as ping(8) prints it). Everything is deleted on exit. Needs root.
- ``--tap NAME``: the TAP is created in the current namespace instead (like ``netstack up``), so the
  stack can reach what this namespace routes to its subnet. Needs root.
- ``--sim``: a simulated network where a second netstack stack is HOST (with ``--loss`` etc.), in
  virtual time. No privileges needed.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import math
import os
import time

from netstack.commands.trace_flags import add_trace_arguments, start_trace
from netstack.engine.config import ConfigError

# What ping(8) prints for the ICMP errors behind these errnos.
PING8_WORDS = {
    errno.EHOSTUNREACH: "Destination Host Unreachable",
    errno.ENETUNREACH: "Destination Net Unreachable",
    errno.ECONNREFUSED: "Destination Port Unreachable",
    errno.ENOPROTOOPT: "Destination Protocol Unreachable",
    errno.EMSGSIZE: "Frag needed",
}

HELP = "ping HOST from the stack (private namespace + TAP by default; --tap, --sim), like ping(8)"


def add_arguments(parser) -> None:
    parser.add_argument("host", metavar="HOST", help="IPv4 address to ping (e.g. 192.0.2.1, the kernel side)")
    parser.add_argument("-c", "--count", type=int, default=4, help="number of requests (default 4)")
    parser.add_argument("-s", "--size", type=int, default=56, help="data bytes per request (default 56)")
    parser.add_argument("-i", "--interval", type=float, default=1.0, help="seconds between requests (default 1)")
    parser.add_argument("-W", "--timeout", type=float, default=2.0, help="seconds to wait for the last reply")
    parser.add_argument("--ip", default="192.0.2.2/24", help="the stack's address/prefix")
    parser.add_argument("--host-ip", default="192.0.2.1/24", help="the kernel side of the TAP")
    parser.add_argument("--gateway", default=None, help="default router for off-link HOSTs")
    parser.add_argument("--mtu", type=int, default=1500)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--tap", metavar="NAME", help="create TAP NAME in the current namespace instead")
    where.add_argument("--sim", action="store_true", help="ping a simulated netstack host instead")
    parser.add_argument("--loss", type=float, default=0.0, help="with --sim: loss probability per frame")
    add_trace_arguments(parser)


def _validate(args) -> None:
    try:
        ipaddress.IPv4Address(args.host)
    except ValueError:
        raise ConfigError("HOST", f"{args.host!r} is not an IPv4 address") from None
    if not 1 <= args.count <= 1_000_000:
        raise ConfigError("count", f"{args.count} is outside 1..1000000")
    if not 0 <= args.size <= 65507:
        raise ConfigError("size", f"{args.size} is outside 0..65507")
    if not 0.0 <= args.loss <= 1.0:
        raise ConfigError("loss", f"{args.loss} is not a probability (0..1)")
    if not 0.0 <= args.interval <= 3600 or (args.interval < 0.2 and os.geteuid() != 0 and not args.sim):
        raise ConfigError("interval", f"{args.interval} s is not allowed (0.2..3600, or any as root)")


class PingReport:
    """Prints what ping(8) prints, from a Pinger's records."""

    def __init__(self, host: str, size: int):
        self.host = host
        self.size = size
        self.printed: set[int] = set()
        self.errors_printed = 0
        print(f"PING {host} ({host}) {size}({size + 28}) bytes of data.", flush=True)

    def progress(self, pinger, local_ip: str) -> None:
        for sequence, (rtt, data, src, ttl) in sorted(pinger.replies.items()):
            if sequence not in self.printed:
                self.printed.add(sequence)
                print(f"{len(data) + 8} bytes from {'.'.join(map(str, src))}: icmp_seq={sequence} ttl={ttl} "
                      f"time={rtt * 1000:.3f} ms", flush=True)
        for sequence, error in pinger.errors[self.errors_printed:]:
            print(f"From {local_ip} icmp_seq={sequence} {PING8_WORDS.get(error, os.strerror(error))}", flush=True)
        self.errors_printed = len(pinger.errors)

    def summary(self, pinger, elapsed: float) -> int:
        sent = len(pinger.sent)
        received = len(pinger.replies)
        loss = 100.0 * (sent - received) / sent if sent else 0.0
        errors = f", +{len(pinger.errors)} errors" if pinger.errors else ""
        print(f"\n--- {self.host} ping statistics ---")
        print(f"{sent} packets transmitted, {received} received{errors}, {loss:g}% packet loss, "
              f"time {elapsed * 1000:.0f}ms")
        if received:
            rtts = [value[0] * 1000 for value in pinger.replies.values()]
            mean = sum(rtts) / len(rtts)
            deviation = math.sqrt(sum((rtt - mean) ** 2 for rtt in rtts) / len(rtts))
            print(f"rtt min/avg/max/mdev = {min(rtts):.3f}/{mean:.3f}/{max(rtts):.3f}/{deviation:.3f} ms")
        return 0 if received == sent else 1


def run(args) -> int:
    _validate(args)
    start_trace(args)
    if args.sim:
        return _run_sim(args)
    import subprocess
    import sys

    from pyroute2.netlink.exceptions import NetlinkError

    from netstack.commands.up import setup_failure

    try:
        return _run_tap(args)
    except (NetlinkError, subprocess.CalledProcessError) as error:
        print(f"netstack ping: {setup_failure(error, args.tap or 'nstping0')}", file=sys.stderr)
        return 1


def _run_sim(args) -> int:
    import netstack
    from netstack.engine.icmp import Pinger

    network = netstack.sim.Network(seed=1)
    ours = network.host(args.ip, mtu=args.mtu, gateway=args.gateway)
    prefix = args.ip.partition("/")[2] or "24"
    peer = network.host(f"{args.host}/{prefix}", mtu=args.mtu)
    network.link(ours, peer, loss=args.loss, delay=100e-6)
    pinger = Pinger(ours.stack, ipaddress.IPv4Address(args.host).packed, identifier=os.getpid(), size=args.size)
    report = PingReport(args.host, args.size)
    local = args.ip.partition("/")[0]
    started = network.clock
    for index in range(args.count):
        ours.call(pinger.send, network.clock)
        if index + 1 < args.count:
            network.run(args.interval)
        else:
            # Like ping(8) (and _run_tap): stop waiting once every request is answered, so the
            # summary's "time" is not padded with the whole --timeout.
            deadline = network.clock + args.timeout
            while network.clock < deadline and len(pinger.replies) + len(pinger.errors) < len(pinger.sent):
                network.run(min(0.01, deadline - network.clock))
        report.progress(pinger, local)
    return report.summary(pinger, network.clock - started)


def _run_tap(args) -> int:
    import netstack
    from netstack.engine.icmp import Pinger
    from netstack.drivers.netns import NetworkNamespace

    namespace = None if args.tap else NetworkNamespace()
    tap = args.tap or "nstping0"
    try:
        if namespace is not None:
            namespace.create()
        with netstack.run_tap(tap=tap, ip=args.ip, host_ip=args.host_ip, gateway=args.gateway, mtu=args.mtu,
                              netns=None if namespace is None else namespace.name) as running:
            stack = running.stack
            pinger = running.call(Pinger, stack, ipaddress.IPv4Address(args.host).packed,
                                  identifier=os.getpid(), size=args.size)
            report = PingReport(args.host, args.size)
            local = args.ip.partition("/")[0]
            started = time.monotonic()
            for index in itertools.count():
                running.call(pinger.send, running.clock())
                wait = args.interval if index + 1 < args.count else args.timeout
                last = index + 1 >= args.count
                end = time.monotonic() + wait
                while time.monotonic() < end:
                    time.sleep(min(0.01, max(0.0, end - time.monotonic())))
                    running.call(report.progress, pinger, local)
                    if last and len(pinger.replies) + len(pinger.errors) >= len(pinger.sent):
                        break
                if last:
                    break
            running.call(report.progress, pinger, local)  # what arrived after the last print
            return running.call(report.summary, pinger, time.monotonic() - started)
    finally:
        if namespace is not None:
            namespace.delete()
