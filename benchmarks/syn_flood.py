"""SYN flood benchmark: what SYN cookies (RFC 4987) and jittered handshakes buy, in one run.

    sudo python benchmarks/syn_flood.py [--seconds 10]

1. in-process cost of answering a SYN (``Stack.receive`` of prebuilt SYNs from one spoofed source to the
   HTTP listener, no I/O), with the backlog full: a cookie SYN-ACK ("when_full"), and with cookies
   "off" (the SYN is dropped); µs per SYN and SYNs/s;
2. simulator: 1,000 simultaneous connects to a listener with the default backlog (128): how many
   complete and when (virtual time), cookies "when_full", cookies "off" with the handshake jitter, and
   neither (the issue's lockstep waves);
3. kernel: a kernel client's sequential HTTP GETs (connect, request, close; 3 s timeout each) for
   ``--seconds`` against netstack's http service over a TAP, without a flood, and during a spoofed SYN
   flood (``hping3 -S --flood -a 192.0.2.150``, one fixed documentation address, never
   ``--rand-source``) with cookies "when_full" and "off": connections/s and failures, the flood's rate,
   and where the SYNs went (dropped by the kernel's TAP queue, shed unparsed by the TAP intake,
   answered by the stack).

Every kernel peer runs in a private namespace created here and deleted at the end. Needs root and
hping3 for part 3. Prints one table; copy it into docs/performance.md (SYN flood section).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import netstack  # noqa: E402
import netstack.sim as sim  # noqa: E402
from netstack.apps.services import start_services  # noqa: E402
from netstack.drivers.netns import NetworkNamespace  # noqa: E402
from netstack.engine.config import StackConfig  # noqa: E402
from netstack.engine.stack import Stack  # noqa: E402
from netstack.engine.tcp.config import TcpConfig  # noqa: E402
from netstack.engine.tcp.endpoint import TcpServer, TcpStream  # noqa: E402
from netstack.engine.tcp.layer import TcpLayer  # noqa: E402
from netstack.engine.tcp.segment import SYN, TcpSegment  # noqa: E402
from netstack.engine.tcp.wire import encode_segment  # noqa: E402
from netstack.formats.fast import ETHERTYPE_IPV4, encode_ethernet, encode_ipv4  # noqa: E402
from netstack.formats.registry import IP_PROTOCOL_TCP  # noqa: E402

STACK_IP = "192.0.2.2"
SPOOFED = "192.0.2.150"


def syn_cost(mode: str, count: int = 20000) -> float:
    """µs per spoofed SYN once the backlog is full."""
    stack = Stack(StackConfig(ip=f"{STACK_IP}/24", seed=1))
    TcpLayer.attach(stack, TcpConfig(syn_cookies=mode))
    stack.start(0.0)
    start_services(stack, ["http"])
    src, dst = bytes([192, 0, 2, 150]), bytes([192, 0, 2, 2])
    frames = []
    for i in range(count + 200):
        seg = TcpSegment(1024 + i % 60000, 80, i * 7919, 0, SYN, 512, mss=1460)
        datagram = encode_ipv4(src, dst, 6, encode_segment(seg, src, dst), 64, i & 0xFFFF, 0)
        frames.append(encode_ethernet(stack.mac, b"\x02\x00\x00\x00\x00\x01", ETHERTYPE_IPV4, datagram))
    now = 1.0
    for frame in frames[:200]:  # fill the backlog
        stack.receive(frame, now)
    started = time.perf_counter()
    for frame in frames[200:]:
        now += 1e-5
        stack.receive(frame, now)
    return (time.perf_counter() - started) / count * 1e6


def burst(cookies: str, jitter: float, count: int = 1000):
    net = sim.Network(seed=5)
    a, b = net.host("192.0.2.1/24"), net.host("192.0.2.2/24")
    net.link(a, b, delay=0.001)
    ta = TcpLayer.attach(a.stack, TcpConfig(syn_retransmit_jitter=jitter))
    tb = TcpLayer.attach(b.stack, TcpConfig(syn_cookies=cookies, syn_retransmit_jitter=jitter))
    server = TcpServer(tb, 80)
    server.on_accept = lambda srv, now: [None for _ in iter(srv.accept, None)]
    warm = a.call(TcpStream.connect, ta, bytes([192, 0, 2, 2]), 80)
    net.run_until(lambda: warm.connected, 5)
    start = net.clock
    wall = time.perf_counter()
    streams = [a.call(TcpStream.connect, ta, bytes([192, 0, 2, 2]), 80) for _ in range(count)]
    net.run_until(lambda: all(s.connected or s.closed for s in streams), 300)
    done = sum(s.connected for s in streams)
    return done, net.clock - start, time.perf_counter() - wall


def http_rate(ns, seconds: float):
    ok = failed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with ns.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(3)
                sock.connect((STACK_IP, 80))
                sock.sendall(b"GET / HTTP/1.1\r\nHost: n\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            ok += data.startswith(b"HTTP/1.1 200")
        except OSError:
            failed += 1
    return ok / seconds, failed


def _tx_dropped(ns, tap: str) -> int:
    """Frames the kernel dropped at the tail of the TAP's queue (``ip -s link``, TX dropped)."""
    links = json.loads(ns.run(["ip", "-s", "-j", "link", "show", tap], capture_output=True, text=True).stdout)
    return links[0]["stats64"]["tx"]["dropped"]


def _set_syn_cookies(stack, mode: str) -> None:
    # The TAP driver attached TCP already (with its folded immediate ACKs): change that layer's config.
    layer = stack.transport(IP_PROTOCOL_TCP)
    layer.config = dataclasses.replace(layer.config, syn_cookies=mode)


def kernel_rates(seconds: float):
    rows = []
    for label, mode, flood, syn_filter in (
            ("no flood", "when_full", False, True), ("flood, cookies when_full", "when_full", True, True),
            ("flood, cookies when_full, no SYN filter", "when_full", True, False),
            ("flood, cookies off", "off", True, True)):
        tap = f"hyb{os.getpid() % 10000}"
        with NetworkNamespace() as ns:
            ns.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
            with netstack.run_tap(tap=tap, ip=f"{STACK_IP}/24", host_ip="192.0.2.1/24", netns=ns.name,
                                  syn_filter=syn_filter) as running:
                running.call(_set_syn_cookies, running.stack, mode)
                running.call(start_services, running.stack, ["http"])
                hping = None
                if flood:
                    hping = ns.popen(["hping3", "-S", "--flood", "-p", "80", "-a", SPOOFED, STACK_IP],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    time.sleep(0.5)
                started = time.monotonic()
                try:
                    rate, failed = http_rate(ns, seconds)
                finally:
                    sent = 0
                    if hping is not None:
                        hping.send_signal(signal.SIGINT)  # hping3 prints its count (our child, by PID)
                        match = re.search(r"(\d+) packets transmitted", hping.communicate(timeout=10)[1])
                        sent = int(match.group(1)) if match else 0
                flooded = time.monotonic() - started + 0.5
                counters = running.call(lambda: dict(running.stack.counters))
                dropped = _tx_dropped(ns, tap)
        rows.append({"label": label, "rate": rate, "failed": failed, "syn_rate": sent / flooded if flood else 0,
                     "taken": counters.get("tcp.segments_in", 0) / flooded, "kernel_dropped": dropped,
                     "shed": counters.get("tap.drop.syn_queue_full", 0), "sent": sent,
                     "filtered": counters.get("tap.syn_filter.attached", 0)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print("| measurement | result |")
    print("|---|---|")
    for mode in ("when_full", "off"):
        cost = syn_cost(mode)
        print(f"| spoofed SYN, backlog full, cookies {mode} | {cost:.1f} µs/SYN ({1e6 / cost:,.0f} SYN/s) |")
    for label, cookies, jitter in (("cookies when_full", "when_full", 0.25), ("cookies off, jitter 25 %", "off", 0.25),
                                   ("cookies off, no jitter", "off", 0.0)):
        done, virtual, wall = burst(cookies, jitter)
        print(f"| 1,000 simultaneous connects, {label} | {done}/1000 complete, last at {virtual:.3f} s virtual "
              f"({wall:.2f} s real) |")
    if os.geteuid() != 0 or shutil.which("hping3") is None:
        print("| kernel part | skipped: needs root and hping3 |")
        return
    for row in kernel_rates(args.seconds):
        extra = ""
        if row["sent"]:
            extra = (f"; hping3 {row['syn_rate']:,.0f} SYN/s, the stack took {row['taken']:,.0f} segments/s, "
                     f"the kernel's TAP queue dropped {row['kernel_dropped'] / row['sent']:.1%} "
                     f"({'the SYN filter on' if row['filtered'] else 'no SYN filter'}), "
                     f"the intake shed {row['shed'] / row['sent']:.1%} unparsed")
        print(f"| kernel HTTP GETs, {row['label']} | {row['rate']:.1f} connections/s, {row['failed']} failed{extra} |")


if __name__ == "__main__":
    main()
