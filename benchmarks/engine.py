"""Engine benchmark: ping RTT and flood-ping rate against netstack and a minimal Python TAP reflector.

Run as root (it creates a private network namespace, and deletes it)::

    python benchmarks/engine.py [--count 20000] [--rtt-count 500]

In one run, for each responder on a TAP whose host side (the kernel, running ping) is in a fresh
namespace:

- ``reflector``: the ceiling for any Python stack on a TAP — a hand-written loop that answers ARP and
  turns echo requests around in place (swap addresses, patch the checksum), nothing else;
- ``netstack``: the full stack (``netstack.run_tap``), every frame decoded and validated.

Measured: average RTT of ``ping -i 0.002`` (interval-paced) and echoes/s of ``ping -f -c COUNT``
(bounded flood: ping sends the next request when a reply arrives). Then the simulator's events/s: two
stacks ping each other over a simulated link in virtual time. Figures go to docs/performance.md
("Engine").
"""

from __future__ import annotations

import argparse
import os
import re
import select
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import netstack  # noqa: E402
from netstack.drivers.netns import NetworkNamespace, call_in_namespace  # noqa: E402
from netstack.drivers.tap import create_tap  # noqa: E402
from netstack.formats import fast  # noqa: E402
from netstack.formats.arp import ARP_REPLY, ARP_REQUEST  # noqa: E402
from netstack.formats.icmp import ECHO_REPLY, ECHO_REQUEST  # noqa: E402

STACK_IP = "192.0.2.2"
HOST_IP = "192.0.2.1"
REFLECTOR_MAC = bytes.fromhex("0200c0000202")

# Byte offsets in an untagged Ethernet frame, read from the layouts generated from the declarations.
_L2 = fast.ETHERNET_LAYOUT.size
_ETHERTYPE = fast.ETHERNET_LAYOUT.offsets["ethertype"]
_MAC_SRC = fast.ETHERNET_LAYOUT.offsets["src"]
_ARP = {name: _L2 + offset for name, offset in fast.ARP_LAYOUT.offsets.items()}
_IP = {name: _L2 + offset for name, offset in fast.IPV4_LAYOUT.offsets.items()}
_ICMP = _L2 + fast.IPV4_LAYOUT.size  # ping sends no IPv4 options
_ICMP_CHECKSUM = _ICMP + fast.ICMP_LAYOUT.offsets["checksum"]
_ARP_TYPE = fast.ETHERTYPE_ARP.to_bytes(2, "big")
_REQUEST = ARP_REQUEST.to_bytes(2, "big")
_IPV4_TYPE = fast.ETHERTYPE_IPV4.to_bytes(2, "big")
# RFC 1624: the echo reply's checksum, patched for the one type byte that changes
_ECHO_PATCH = (ECHO_REQUEST - ECHO_REPLY) << 8


class Reflector:
    """The minimal Python TAP responder: ARP replies and in-place echo replies, nothing checked."""

    def __init__(self, fd: int):
        self.fd = fd
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self) -> None:
        fd = self.fd
        address = bytes([192, 0, 2, 2])
        poller = select.epoll()
        poller.register(fd, select.EPOLLIN)
        while not self.stop:
            if not poller.poll(0.2):
                continue
            for _ in range(64):
                try:
                    frame = bytearray(os.read(fd, 65536))
                except BlockingIOError:
                    break
                ethertype = frame[_ETHERTYPE:_ETHERTYPE + 2]
                if (ethertype == _ARP_TYPE and frame[_ARP["op"]:_ARP["sha"]] == _REQUEST
                        and frame[_ARP["tpa"]:_ARP["tpa"] + 4] == address):
                    sender_mac, sender_ip = bytes(frame[_ARP["sha"]:_ARP["spa"]]), bytes(frame[_ARP["spa"]:_ARP["tha"]])
                    os.write(fd, fast.encode_ethernet(sender_mac, REFLECTOR_MAC, fast.ETHERTYPE_ARP, fast.encode_arp(
                        ARP_REPLY, REFLECTOR_MAC, address, sender_ip, sender_mac)))
                elif (ethertype == _IPV4_TYPE and frame[_IP["protocol"]] == fast.IP_PROTOCOL_ICMP
                        and frame[_ICMP] == ECHO_REQUEST):
                    frame[:_MAC_SRC], frame[_MAC_SRC:_ETHERTYPE] = frame[_MAC_SRC:_ETHERTYPE], REFLECTOR_MAC
                    src, dst = _IP["src"], _IP["dst"]
                    frame[src:dst], frame[dst:_ICMP] = frame[dst:_ICMP], frame[src:dst]
                    frame[_ICMP] = ECHO_REPLY
                    checksum = struct.unpack_from("!H", frame, _ICMP_CHECKSUM)[0] + _ECHO_PATCH
                    struct.pack_into("!H", frame, _ICMP_CHECKSUM, (checksum & 0xFFFF) + (checksum >> 16))
                    os.write(fd, frame)
        poller.close()


def ping_rtt(ns: NetworkNamespace, count: int) -> float:
    result = ns.run(["ping", "-n", "-q", "-c", str(count), "-i", "0.002", "-W", "1", STACK_IP], timeout=120)
    match = re.search(r"= [\d.]+/([\d.]+)/", result.stdout)
    if not match:
        raise RuntimeError(f"ping failed: {result.stdout} {result.stderr}")
    return float(match.group(1)) * 1000  # µs


def flood(ns: NetworkNamespace, count: int) -> tuple[float, int]:
    started = time.perf_counter()
    result = ns.run(["ping", "-n", "-q", "-f", "-c", str(count), "-W", "1", STACK_IP], timeout=300)
    elapsed = time.perf_counter() - started
    match = re.search(r"(\d+) received", result.stdout)
    received = int(match.group(1)) if match else 0
    return received / elapsed, count - received


def bench_reflector(args) -> dict:
    with NetworkNamespace() as ns:
        fd = call_in_namespace(ns.name, create_tap, "nstb0", f"{HOST_IP}/24", 1500)
        reflector = Reflector(fd)
        reflector.thread.start()
        try:
            ping_rtt(ns, 20)  # warm up (ARP)
            rtt = ping_rtt(ns, args.rtt_count)
            rate, lost = flood(ns, args.count)
        finally:
            reflector.stop = True
            reflector.thread.join(2)
            os.close(fd)
    return {"rtt_us": rtt, "echoes_per_s": rate, "lost": lost}


def bench_netstack(args) -> dict:
    with NetworkNamespace() as ns:
        with netstack.run_tap(tap="nstb0", ip=f"{STACK_IP}/24", host_ip=f"{HOST_IP}/24", netns=ns.name):
            ping_rtt(ns, 20)
            rtt = ping_rtt(ns, args.rtt_count)
            rate, lost = flood(ns, args.count)
    return {"rtt_us": rtt, "echoes_per_s": rate, "lost": lost}


def bench_simulator(pings: int = 20000) -> dict:
    from netstack.engine.icmp import Pinger

    network = netstack.sim.Network(seed=1)
    a = network.host("192.0.2.2/24")
    b = network.host("192.0.2.3/24")
    network.link(a, b, delay=50e-6)
    pinger = Pinger(a.stack, b.address, identifier=1, size=56)
    started = time.perf_counter()
    events_before = network.events_processed
    for _ in range(pings):
        a.call(pinger.send, network.clock)
        network.run(0.001)
    elapsed = time.perf_counter() - started
    events = network.events_processed - events_before
    return {"events_per_s": events / elapsed, "virtual_s": network.clock, "wall_s": elapsed,
            "replies": len(pinger.replies)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000, help="flood ping count (bounded)")
    parser.add_argument("--rtt-count", type=int, default=500, help="paced pings for the RTT")
    args = parser.parse_args()
    if not 1 <= args.count <= 100000 or not 1 <= args.rtt_count <= 10000:
        parser.error("counts are bounded: --count 1..100000, --rtt-count 1..10000")
    if os.geteuid() != 0:
        print("benchmarks/engine.py needs root (namespaces and TAP devices); simulator only:")
    else:
        results = {"reflector (ceiling)": bench_reflector(args), "netstack": bench_netstack(args)}
        print(f"{'responder':<22}{'avg RTT µs':>12}{'flood echoes/s':>16}{'lost':>6}")
        for name, figures in results.items():
            print(f"{name:<22}{figures['rtt_us']:>12.1f}{figures['echoes_per_s']:>16.0f}{figures['lost']:>6}")
        ratio = results["netstack"]["echoes_per_s"] / results["reflector (ceiling)"]["echoes_per_s"]
        print(f"netstack / reflector echoes/s: {ratio:.0%} (target >= 50%)")
    simulator = bench_simulator()
    print(f"simulator: {simulator['events_per_s']:.0f} events/s ({simulator['replies']} pings, "
          f"{simulator['virtual_s']:.1f} virtual s in {simulator['wall_s']:.2f} wall s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
