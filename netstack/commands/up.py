"""``netstack up``: run a stack on a new TAP device in the current network namespace until stopped."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

from netstack.commands.trace_flags import add_trace_arguments, start_trace
from netstack.presentation.connection_table import connection_rows

STATS_DIRECTORY = "/run/netstack"
NAMED_NAMESPACES = "/var/run/netns"  # where `ip netns add` binds the namespaces it names

HELP = "run the stack on a new TAP device until SIGINT/SIGTERM (prints 'ready NAME IP MAC')"


def add_arguments(parser) -> None:
    parser.add_argument("--tap", default="nst0", metavar="NAME", help="TAP device to create (default nst0)")
    parser.add_argument("--ip", default="192.0.2.2/24", help="the stack's address/prefix (default 192.0.2.2/24)")
    parser.add_argument("--host-ip", default="192.0.2.1/24", help="address/prefix of the host side of the TAP")
    parser.add_argument("--gateway", default=None, help="default router (inside the subnet)")
    parser.add_argument("--mtu", type=int, default=1500, help="link MTU (default 1500)")
    parser.add_argument("--mac", default=None, help="the stack's MAC (default 02:00 + its IPv4 address)")
    parser.add_argument("--pcap", default=None, metavar="FILE", help="record every frame in and out")
    parser.add_argument("--services", default="all", metavar="LIST",
                        help="comma-separated services to run: echo, discard, ... ('all', 'none')")
    parser.add_argument("--impair", default=None, metavar="SPEC",
                        help="impair both directions, like netem: loss=2%%,ce=1%%,delay=10ms,jitter=1ms,dup=0.5%%,"
                             "reorder=1%%,corrupt=0.1%%,rate=50mbit,queue=1000,seed=7 (counters impair.*)")
    add_trace_arguments(parser)
    parser.add_argument("--stats-file", default=None, metavar="FILE",
                        help=f"where the counters and connections are published every second for "
                             f"`netstack stats` and `netstack ss` "
                             f"(default {STATS_DIRECTORY}/NAME.json; NAME@NS.json "
                             f"inside the network namespace NS)")


def setup_failure(error: BaseException, tap: str) -> str | None:
    """One line saying why the TAP or namespace could not be made, or None for other errors.

    pyroute2's NetlinkError and a failed `ip netns add` are neither OSError nor NetstackError, so
    without this a user lacking CAP_NET_ADMIN/CAP_SYS_ADMIN (root in a restricted container) would
    get a traceback instead of the reason.
    """
    import subprocess

    from pyroute2.netlink.exceptions import NetlinkError

    if isinstance(error, NetlinkError):
        code = error.code
        reason = os.strerror(code) if isinstance(code, int) and code > 0 else str(error)
        if code in (1, 13):  # EPERM, EACCES
            return f"cannot create TAP {tap}: {reason} (needs root with CAP_NET_ADMIN and /dev/net/tun)"
        return f"cannot set up TAP {tap}: netlink error {code}: {reason}"
    if isinstance(error, subprocess.CalledProcessError):
        output = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else (error.stderr or "")
        detail = output.strip().splitlines()[-1] if output.strip() else f"exit status {error.returncode}"
        command = " ".join(str(part) for part in error.cmd) if isinstance(error.cmd, (list, tuple)) else str(error.cmd)
        return f"`{command}` failed: {detail} (a network namespace needs root with CAP_SYS_ADMIN)"
    return None


def run(args) -> int:
    import subprocess

    from pyroute2.netlink.exceptions import NetlinkError

    try:
        return _run(args)
    except (NetlinkError, subprocess.CalledProcessError) as error:
        print(f"netstack up: {setup_failure(error, args.tap)}", file=sys.stderr)
        return 1


def _run(args) -> int:
    import netstack
    from netstack.engine.config import ip_to_text, mac_to_text
    from netstack.apps.services import parse_services, start_services

    names = parse_services(args.services)
    stats_file = args.stats_file or stats_path(args.tap)
    start_trace(args)
    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with netstack.run_tap(tap=args.tap, ip=args.ip, host_ip=args.host_ip, gateway=args.gateway,
                              mtu=args.mtu, mac=args.mac, pcap=args.pcap,
                              impair=args.impair) as running:
            running.call(start_services, running.stack, names)
            # The loop answers from here on: it has sent its gratuitous ARP and serves calls.
            running.call(lambda: None)
            stack = running.stack
            print(f"ready {args.tap} {ip_to_text(stack.address)} {mac_to_text(stack.mac)}", flush=True)
            conflicts_seen = 0
            try:
                while not stop.wait(1.0):
                    if not running.alive:
                        print("netstack up: the stack loop stopped", file=sys.stderr)
                        return 1
                    publish_stats(stats_file, running, args)
                    conflicts_seen = warn_conflicts(running, conflicts_seen)
            finally:
                _remove(stats_file)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def warn_conflicts(running, seen: int) -> int:
    """One warning line on stderr per address conflict (RFC 5227) since the last call; returns the
    number seen so far."""
    from netstack.engine.config import ip_to_text

    def read():
        conflicts = running.stack.arp.conflicts
        return conflicts.count, list(conflicts.events), conflicts.standing

    count, events, standing = running.call(read)
    new = min(count - seen, len(events))
    address = ip_to_text(running.stack.address)
    for when, mac, action in events[len(events) - new:] if new > 0 else ():
        print(f"netstack up: warning: address conflict: {address} is also claimed by {mac} "
              f"({action}; the address is now {standing})", file=sys.stderr, flush=True)
    return count


def namespace_suffix() -> str:
    """"@NAME" inside a named network namespace (`ip netns`), "" elsewhere.

    /run is shared by every network namespace, and each namespace may have its own TAP called nst0:
    without this, two stacks in two namespaces would overwrite (and on exit delete) one stats file.
    """
    try:
        ours = os.stat("/proc/self/ns/net").st_ino
        names = sorted(os.listdir(NAMED_NAMESPACES))
    except OSError:
        return ""
    for name in names:
        try:
            if os.stat(os.path.join(NAMED_NAMESPACES, name)).st_ino == ours:
                return f"@{name}"
        except OSError:
            continue
    return ""


def stats_path(tap: str) -> str:
    """Where `netstack up --tap TAP` in this network namespace publishes its counters."""
    return os.path.join(STATS_DIRECTORY, f"{tap}{namespace_suffix()}.json")


def publish_stats(path: str | None, running, args) -> None:
    """Write the counters and the connection table atomically (temp file + rename) for `netstack stats`
    and `netstack ss` to read."""
    if path is None:
        return
    snapshot = {
        "tap": args.tap, "ip": args.ip, "pid": os.getpid(), "time": time.time(),
        "counters": running.call(running.stack.counters.snapshot),
        "connections": running.call(connection_rows, running.stack),  # for `netstack ss`
    }
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w") as file:
            json.dump(snapshot, file, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except OSError as error:
        print(f"netstack up: cannot publish stats to {path}: {error}", file=sys.stderr)


def _remove(path: str | None) -> None:
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass
