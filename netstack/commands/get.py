"""``netstack get URL -o FILE``: download over HTTP/1.1 with netstack's own TCP (progress on stderr).

Where the stack runs:

- ``--netns NAME``: the TAP's host side goes into the existing namespace NAME, where the server runs
  (e.g. ``ip netns exec NAME python3 -m http.server --bind 0.0.0.0 80``: bind the wildcard, because the
  URL host's address only exists on the TAP's host side once ``get`` has created it). This is what tests use.
- ``--tap NAME``: the TAP is created in the current namespace (like ``netstack up``).
- default: a private namespace is created (and deleted): useful only to see the stack connect and be
  refused, since nothing serves in it.

The host side of the TAP is ``--host-ip`` (default: the URL's host with the URL host's /24); the stack is
``--ip`` (default: the same /24, host number 2, or 3 when the URL host is .2). Needs root.
"""

from __future__ import annotations

import ipaddress
import sys
import time

from netstack.commands.trace_flags import add_trace_arguments, start_trace
from netstack.engine.config import ConfigError

_DOCUMENTATION_NETWORKS = tuple(
    ipaddress.IPv4Network(block) for block in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)

HELP = "download URL over HTTP/1.1 with netstack's TCP (TAP in --netns NAME or --tap NAME), with progress"


def add_arguments(parser) -> None:
    parser.add_argument("url", metavar="URL", help="http://HOST[:PORT]/PATH (HOST an IPv4 address)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the body ('-' for stdout)")
    parser.add_argument("--ip", default=None, help="the stack's address/prefix (default: derived from the URL host)")
    parser.add_argument("--host-ip", default=None, help="the kernel side of the TAP (default: URL host/24)")
    parser.add_argument("--mtu", type=int, default=1500)
    parser.add_argument("--netns", metavar="NAME", help="put the TAP's host side in this existing namespace")
    parser.add_argument("--tap", metavar="NAME", default=None, help="TAP name (default nstget0)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_trace_arguments(parser)


def _addresses(args, host: str) -> tuple[str, str]:
    try:
        server = ipaddress.IPv4Address(host)
    except ValueError:
        raise ConfigError("URL", f"host {host!r} is not an IPv4 address (no DNS in netstack)") from None
    network = ipaddress.IPv4Network(f"{server}/24", strict=False)
    if args.tap is not None and args.netns is None and args.host_ip is None and not any(
        server in documentation for documentation in _DOCUMENTATION_NETWORKS
    ):
        # the TAP would take the URL host's /24 in this namespace, hiding a real network behind it
        raise ConfigError("URL", f"with --tap in the current namespace the host side takes the URL host's "
                                 f"address; {server} is not in a documentation range (RFC 5737): pass "
                                 f"--host-ip explicitly, or use --netns NAME")
    host_ip = args.host_ip or f"{server}/24"
    if args.ip:
        ip = args.ip
    else:
        own = network.network_address + (3 if int(server) - int(network.network_address) == 2 else 2)
        ip = f"{own}/24"
    return ip, host_ip


def _progress(received: int, total, started: float, final: bool = False) -> None:
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = received / elapsed / 1e6
    if total:
        width = 30
        filled = min(width, int(width * received / total))
        bar = "#" * filled + "-" * (width - filled)
        text = f"\r[{bar}] {received / total * 100:5.1f}% {received / 1e6:8.1f} MB  {rate:7.1f} MB/s"
    else:
        text = f"\r{received / 1e6:8.1f} MB  {rate:7.1f} MB/s"
    sys.stderr.write(text + ("\n" if final else ""))
    sys.stderr.flush()


def run(args) -> int:
    import netstack
    from netstack.drivers.netns import NetworkNamespace
    from netstack.apps.http_client import HttpDownload, parse_url
    from netstack.apps.tcp_services import tcp_layer_of

    try:
        host, port, path = parse_url(args.url)
    except ValueError as error:
        raise ConfigError("URL", str(error)) from None
    ip, host_ip = _addresses(args, host)
    start_trace(args)
    namespace = None
    netns = args.netns
    if netns is None and args.tap is None:
        namespace = NetworkNamespace().create()
        netns = namespace.name
    sink = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")
    show = not args.no_progress
    try:
        with netstack.run_tap(tap=args.tap or "nstget0", ip=ip, host_ip=host_ip, mtu=args.mtu, netns=netns) as running:
            layer = running.call(tcp_layer_of, running.stack)
            download = running.call(HttpDownload, layer, ipaddress.IPv4Address(host).packed, port, path,
                                    f"{host}:{port}" if port != 80 else host, sink, running.clock())
            started = time.monotonic()
            deadline = started + args.timeout
            while not download.done and time.monotonic() < deadline:
                time.sleep(0.05)
                if show:
                    _progress(download.received, download.content_length, started)
            if show:
                _progress(download.received, download.content_length, started, final=True)
            if not download.done:
                running.call(download.stream.abort)
                print(f"netstack get: timed out after {args.timeout:g} s ({download.received} bytes)", file=sys.stderr)
                return 1
            if download.error is not None:
                print(f"netstack get: {download.error}", file=sys.stderr)
                return 1
            if not 200 <= download.status < 300:
                print(f"netstack get: HTTP {download.status} {download.reason}", file=sys.stderr)
                return 1
            return 0
    finally:
        if sink is not sys.stdout.buffer:
            sink.close()
        if namespace is not None:
            namespace.delete()
