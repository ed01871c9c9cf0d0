"""``netstack up``: run a stack on a new TAP device in the current network namespace until stopped."""

from __future__ import annotations

import signal
import sys
import threading

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
    parser.add_argument("--trace", action="store_true", help="print trace events decoded on stderr")


def run(args) -> int:
    import netstack
    from netstack.config import ip_to_text, mac_to_text
    from netstack.observability import enable_trace
    from netstack.services import parse_services, start_services

    names = parse_services(args.services)
    if args.trace:
        enable_trace(sys.stderr)
    stop = threading.Event()

    def request_stop(signum, frame):
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with netstack.run_tap(tap=args.tap, ip=args.ip, host_ip=args.host_ip, gateway=args.gateway,
                              mtu=args.mtu, mac=args.mac, pcap=args.pcap) as running:
            running.call(start_services, running.stack, names)
            # The loop answers from here on: it has sent its gratuitous ARP and serves calls.
            running.call(lambda: None)
            stack = running.stack
            print(f"ready {args.tap} {ip_to_text(stack.address)} {mac_to_text(stack.mac)}", flush=True)
            while not stop.wait(0.5):
                if not running.alive:
                    print("netstack up: the stack loop stopped", file=sys.stderr)
                    return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
