"""TCP under loss: netstack against the kernel, beside Linux against Linux, through one lossy L2 relay.

    sudo python benchmarks/loss.py [--mb 10] [--losses 0,1,2,5] [--timeout 30] [--quick] [--counters]
                                   [--sim-losses 1,2,5,10] [--sim-mb 8] [--sim-seeds 1,2,3] [--no-sim]

Topology (three namespaces created here and deleted at the end; documentation addresses only)::

    namespace A                              namespace R              namespace B
    br0 192.0.2.1 (Linux) ─┬─ veth ═══ relay: AF_PACKET in, drop p, out ═══ veth 192.0.2.3 (Linux)
    TAP ── netstack 192.0.2.2 ┘

The relay (``--relay``, run by this script in namespace R as its own process) copies frames between two
AF_PACKET sockets and drops each with probability p, in both directions, from a seeded generator. Every
veth and the bridge have their offloads off (no TSO/GSO/GRO, checksums in software), so the relay sees
MTU-sized frames with complete checksums. netstack sits on a TAP bridged into namespace A, so its
frames cross the same relay as Linux's: the comparison is like for like, and the relay at 0 % is the
ceiling of both.

One run measures, at each loss rate: goodput Linux B → Linux A ("in") and A → B ("out") (the median of
``--linux-repeat`` runs, as they swing with the machine's load); kernel B →
netstack (the discard service) and netstack → kernel B (a kernel socket that reads). A transfer is
timed from the connection's establishment (a lost SYN or SYN-ACK waits 1 s on either stack: handshake
luck, not loss recovery) until the receiver has closed after reading everything; one that takes longer than
``--timeout`` is reported as "timed out" (with the goodput of what arrived) and torn down. Then the
simulator: two netstack hosts on a 10 ms one-way, 50 Mbit/s link with ``p`` loss both ways, an
``--sim-mb`` transfer per seed, beside the Mathis et al. bound for Reno (MSS/RTT · 1.22/√p), the
Padhye et al. model with retransmission timeouts (T0 = 200 ms; a second, lower bound: at 5-10 % a
window of a few segments cannot avoid every timeout) and CUBIC's response function (RFC 9438 §5.2:
(C·(3+β)/(4·(1−β)))^¼ · RTT^¾ / p^¾ segments per RTT, never below Reno's), all capped by the link
rate. The models count data loss only; the simulated link drops ACKs too.

``--counters`` prints, after each relay transfer, where frames were lost (the relay's intended drops,
its failed sends, ``ip -s link`` dropped counts of every veth, the bridge and the TAP), the kernels' and
netstack's retransmissions and how busy the stack's thread was.

Needs root. Prints tables; copy them into docs/performance.md ("TCP under loss").
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import netstack  # noqa: E402
from netstack.apps.services import start_services  # noqa: E402
from netstack.apps.tcp_services import tcp_layer_of  # noqa: E402
from netstack.drivers.netns import NetworkNamespace  # noqa: E402
from netstack.drivers.sim import Network  # noqa: E402
from netstack.engine.tcp.endpoint import TcpStream  # noqa: E402

LINUX_A, STACK_IP, LINUX_B = "192.0.2.1", "192.0.2.2", "192.0.2.3"
BLOCK = random.Random(0).randbytes(1 << 20)
SOL_PACKET, PACKET_STATISTICS, PACKET_IGNORE_OUTGOING = 263, 6, 23
ETH_P_ALL = 0x0003
TIOCOUTQ = 0x5411  # SIOCOUTQ on a TCP socket: bytes written but not yet acknowledged
# Offloads switched off on every interface the relay's frames cross (ethtool -K ... off).
OFFLOAD_PREFIXES = ("tx-checksum", "tx-scatter-gather", "tx-tcp", "tx-generic-segmentation", "tx-udp",
                    "rx-gro", "rx-checksum", "tx-gso", "rx-lro")
SIM_DELAY, SIM_RATE, SIM_MSS = 0.010, 50e6, 1448


# ----------------------------------------------------------------------------- the relay (own process)
def run_relay(interfaces: str, loss: float, seed: int) -> int:
    """Copy frames between two interfaces, dropping each with probability ``loss``, until killed."""
    rng = random.Random(seed)
    sockets = []
    for name in interfaces.split(","):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)  # only what arrives, not what we send
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind((name, 0))
        sock.setblocking(False)
        sockets.append(sock)
    other = {sockets[0]: sockets[1], sockets[1]: sockets[0]}
    # What the relay did, per direction (index of the receiving socket): frames read, dropped on
    # purpose, and lost because the outgoing send failed (the peer's queue full): the last ones are
    # drops nobody asked for, printed on SIGTERM so a run can tell them from the intended ones.
    counts = {sock: [0, 0, 0] for sock in sockets}

    def report(signum, frame):
        # One line per request: SIGUSR1 asks for the counts so far (then zeroes them), SIGTERM ends.
        report = {}
        for name, sock, c in zip(interfaces.split(","), sockets, counts.values()):
            # tp_drops: frames the kernel dropped because this socket's receive buffer was full (the
            # relay too slow); reading PACKET_STATISTICS zeroes them.
            _, overflowed = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            report[name] = dict(zip(("read", "dropped", "send_failed"), c), receive_overflow=overflowed)
        print(json.dumps(report), flush=True)
        for c in counts.values():
            c[:] = [0, 0, 0]
        if signum == signal.SIGTERM:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, report)
    signal.signal(signal.SIGUSR1, report)
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select(sockets, [], [], 1.0)
        for sock in readable:
            out = other[sock]
            count = counts[sock]
            for _ in range(256):
                try:
                    frame = sock.recv(65536)
                except BlockingIOError:
                    break
                count[0] += 1
                if loss and rng.random() < loss:
                    count[1] += 1
                    continue
                try:
                    out.send(frame)
                except OSError:
                    count[2] += 1  # the peer's queue is full: the frame is lost, as on a real switch


# ----------------------------------------------------------------------------- topology
def _offloads_off(ns: NetworkNamespace, *interfaces: str) -> None:
    script = ("import sys\nfrom pyroute2 import Ethtool\nwith Ethtool() as tool:\n"
              "    for name in sys.argv[2:]:\n"
              "        features = tool.get_features(name)\n"
              "        for key, feature in features.features.items():\n"
              "            if key.startswith(tuple(sys.argv[1].split(','))):\n"
              "                feature.enable = False\n"
              "        tool.set_features(name, features)\n")
    ns.run([sys.executable, "-c", script, ",".join(OFFLOAD_PREFIXES), *interfaces], check=True)


class RelayTopology:
    """Namespaces A, R, B; veths A–R and R–B; the bridge br0 in A; a relay process per loss rate."""

    def __init__(self):
        self.a, self.r, self.b = NetworkNamespace(), NetworkNamespace(), NetworkNamespace()
        self.relay = None

    def __enter__(self):
        self.a.create()
        try:
            self.r.create()
            self.b.create()
            r = self.r
            r.run(["ip", "link", "add", "nslra", "type", "veth", "peer", "name", "nslva", "netns", self.a.name],
                  check=True)
            r.run(["ip", "link", "add", "nslrb", "type", "veth", "peer", "name", "nslvb", "netns", self.b.name],
                  check=True)
            for name in ("nslra", "nslrb"):
                r.run(["ip", "link", "set", name, "up"], check=True)
            self.a.run(["ip", "link", "add", "nslbr", "type", "bridge"], check=True)
            self.a.run(["ip", "link", "set", "nslva", "master", "nslbr"], check=True)
            self.a.run(["ip", "addr", "add", f"{LINUX_A}/24", "dev", "nslbr"], check=True)
            for name in ("nslva", "nslbr"):
                self.a.run(["ip", "link", "set", name, "up"], check=True)
            self.b.run(["ip", "addr", "add", f"{LINUX_B}/24", "dev", "nslvb"], check=True)
            self.b.run(["ip", "link", "set", "nslvb", "up"], check=True)
            _offloads_off(r, "nslra", "nslrb")
            _offloads_off(self.a, "nslva", "nslbr")
            _offloads_off(self.b, "nslvb")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        self.stop_relay()
        for ns in (self.a, self.r, self.b):
            if ns.created:
                ns.delete()

    def start_relay(self, loss: float, seed: int = 1) -> None:
        self.stop_relay()
        self.relay = self.r.popen([sys.executable, os.path.abspath(__file__), "--relay", "nslra,nslrb",
                                   "--relay-loss", str(loss), "--relay-seed", str(seed)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.relay.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"the relay did not start: {line} {self.relay.stderr.read()}")

    def relay_counts(self) -> dict:
        """What the relay did since the last call, per receiving interface (read, dropped on purpose,
        send_failed: lost because the outgoing veth's queue was full, receive_overflow: lost because the
        relay did not read in time)."""
        self.relay.send_signal(signal.SIGUSR1)  # by its PID (Popen)
        return json.loads(self.relay.stdout.readline())

    def hop_counters(self) -> dict:
        """``ip -s link`` of every interface on the path: {"A/nslva": {"rx": ..., "tx": ...}, ...}."""
        hops = {}
        for label, ns in (("A", self.a), ("R", self.r), ("B", self.b)):
            links = json.loads(ns.run(["ip", "-s", "-j", "link"], capture_output=True, text=True, check=True).stdout)
            for link in links:
                if link["ifname"] != "lo":
                    stats = link["stats64"]
                    hops[f"{label}/{link['ifname']}"] = {
                        "rx_packets": stats["rx"]["packets"], "rx_dropped": stats["rx"]["dropped"],
                        "tx_packets": stats["tx"]["packets"], "tx_dropped": stats["tx"]["dropped"]}
        return hops

    def stop_relay(self) -> None:
        if self.relay is not None and self.relay.poll() is None:
            self.relay.terminate()  # by its PID (Popen); never by name
            self.relay.wait(timeout=5)
        self.relay = None


# ----------------------------------------------------------------------------- transfers
def _kernel_send(ns: NetworkNamespace, address: str, port: int, size: int, timeout: float) -> dict:
    """Send ``size`` bytes from a kernel socket in ``ns``, timed from the connection's establishment
    until the receiver closed."""
    started = time.monotonic()
    deadline = started + timeout
    block = memoryview(BLOCK)
    sent = 0
    with ns.socket() as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            started = time.monotonic()  # (a lost SYN or SYN-ACK costs 1 s, and is not loss recovery)
            while sent < size:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                sent += sock.send(block[: min(len(BLOCK), size - sent)])
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.recv(1)  # the receiver closes once it has read everything
            return _result(size, time.monotonic() - started, True)
        except (socket.timeout, TimeoutError):
            seconds = time.monotonic() - started
            # What arrived: what we wrote minus what the kernel still holds unacknowledged (SIOCOUTQ).
            unacked = struct.unpack("i", fcntl.ioctl(sock.fileno(), TIOCOUTQ, b"\0" * 4))[0]
            # Reset instead of lingering: the next measurement starts on a quiet link.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return _result(size, seconds, False, max(sent - unacked, 0))


class KernelReader:
    """A kernel listener in ``ns`` that reads one connection to its end, then closes it."""

    def __init__(self, ns: NetworkNamespace, address: str, port: int):
        self.listener = ns.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((address, port))
        self.listener.listen(1)
        self.listener.settimeout(5)
        self.got = 0
        self.done = threading.Event()
        self.connection = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        self.connection = conn
        with conn:
            conn.settimeout(None)
            try:
                while True:
                    data = conn.recv(1 << 20)
                    if not data:
                        break
                    self.got += len(data)
            except OSError:
                return
        self.done.set()

    def close(self) -> None:
        if self.connection is not None and not self.done.is_set():
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.listener.close()
        self.thread.join(5)


def _result(size: int, seconds: float, finished: bool, got: int | None = None) -> dict:
    return {"size": size, "seconds": seconds, "finished": finished, "got": size if finished else (got or 0)}


def linux_pair(topology: RelayTopology, direction: str, size: int, timeout: float, port: int) -> dict:
    """Linux -> Linux across the relay: "in" B -> A, "out" A -> B."""
    sender, receiver, address = ((topology.b, topology.a, LINUX_A) if direction == "in"
                                 else (topology.a, topology.b, LINUX_B))
    reader = KernelReader(receiver, address, port)
    try:
        result = _kernel_send(sender, address, port, size, timeout)
    finally:
        reader.close()
    if not result["finished"]:
        result["got"] = reader.got
    return result


def kernel_to_netstack(topology: RelayTopology, size: int, timeout: float) -> dict:
    return _kernel_send(topology.b, STACK_IP, 9, size, timeout)  # the discard service


def netstack_to_kernel(topology: RelayTopology, running, size: int, timeout: float, port: int) -> dict:
    reader = KernelReader(topology.b, LINUX_B, port)
    layer = running.call(tcp_layer_of, running.stack)
    state = {"sent": 0}
    block = memoryview(BLOCK)

    def pump(stream, now):
        if stream.closed or stream.error is not None:
            return  # aborted at the timeout
        if "established" not in state and not stream.connecting:
            state["established"] = now  # the stack's clock is time.monotonic()
        while state["sent"] < size and stream.writable and not stream.connecting:
            n = stream.send(block[: min(len(BLOCK), size - state["sent"])], now)
            if not n:
                return
            state["sent"] += n
        if state["sent"] >= size and not state.get("closed"):
            state["closed"] = True
            stream.close(now)

    def start():
        stream = TcpStream.connect(layer, socket.inet_aton(LINUX_B), port)
        stream.on_event = pump
        return stream

    started = time.monotonic()
    stream = running.call(start)
    finished = reader.done.wait(timeout)
    seconds = time.monotonic() - state.get("established", started)
    if not finished:
        running.call(stream.abort)
    reader.close()
    return _result(size, seconds, finished and reader.got == size, reader.got)


# ----------------------------------------------------------------------------- the simulator
def sim_transfer(loss: float, seed: int, size: int, timeout: float, *, delay: float = SIM_DELAY,
                 rate: float = SIM_RATE, connected=None) -> dict:
    """``size`` bytes through the socket API over a simulated link (10 ms one way, 50 Mbit/s by default)
    with ``loss`` both ways, timed in virtual seconds. ``connected(sender_host, receiver_host)``, if
    given, runs once the connection is up (benchmarks/loss_cpu.py times each stack from there)."""
    net = Network(seed=seed)
    sender_host = net.host("192.0.2.2/24")
    receiver_host = net.host("192.0.2.3/24")
    net.link(sender_host, receiver_host, loss=loss, delay=delay, bandwidth=rate)
    client, peer = sender_host.connect_sockets(receiver_host, ("192.0.2.3", 5001))
    client.setblocking(False)
    peer.setblocking(False)
    if connected is not None:
        connected(sender_host, receiver_host)
    payload = memoryview(bytes(size))
    sent = received = 0
    started = net.clock
    while received < size and net.clock - started < timeout:
        while sent < size:
            try:
                sent += client.send(payload[sent:sent + 65536])
            except BlockingIOError:
                break
        net.run(0.01)
        try:
            while True:
                chunk = peer.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
        except BlockingIOError:
            pass
    seconds = net.clock - started
    counters = sender_host.counters
    return {"size": size, "seconds": seconds, "finished": received >= size, "got": received,
            "rto": counters.get("tcp.rto_firings", 0), "retransmissions": counters.get("tcp.retransmissions", 0)}


def mathis_bound(loss: float) -> float:
    """Reno's steady-state goodput (Mathis et al. 1997), bytes/s, capped by the link's payload rate."""
    rtt = 2 * SIM_DELAY + (SIM_MSS + 66) * 8 / SIM_RATE
    return min(SIM_MSS / rtt * 1.22 / math.sqrt(loss), _link_payload_rate())


def padhye_bound(loss: float, rto: float = 0.2, acked_per_ack: int = 1) -> float:
    """Reno's goodput with retransmission timeouts (Padhye, Firoiu, Towsley, Kurose 1998, the
    "full model" approximation): 1 / (RTT·√(2bp/3) + T0·min(1, 3·√(3bp/8))·p·(1 + 32p²)) segments
    per second, bytes/s, capped by the link. ``rto`` is T0 (our minimum RTO, 200 ms, which is what the
    RTO is on this path); ``acked_per_ack`` is b, 1 as in Mathis's 1.22 (= √(3/2)). The model counts
    data loss only, like Mathis's: on this link ACKs are lost as well."""
    rtt = 2 * SIM_DELAY + (SIM_MSS + 66) * 8 / SIM_RATE
    b = acked_per_ack
    timeouts = rto * min(1.0, 3 * math.sqrt(3 * b * loss / 8)) * loss * (1 + 32 * loss ** 2)
    return min(SIM_MSS / (rtt * math.sqrt(2 * b * loss / 3) + timeouts), _link_payload_rate())


def cubic_bound(loss: float, c: float = 0.4, beta: float = 0.7) -> float:
    """CUBIC's average goodput (RFC 9438 §5.2 response function, never below Reno's), bytes/s."""
    rtt = 2 * SIM_DELAY + (SIM_MSS + 66) * 8 / SIM_RATE
    window = (c * (3 + beta) / (4 * (1 - beta))) ** 0.25 * rtt ** 0.75 / loss ** 0.75
    return min(max(window * SIM_MSS / rtt, mathis_bound(loss)), _link_payload_rate())


def _link_payload_rate() -> float:
    return SIM_RATE / 8 * SIM_MSS / (SIM_MSS + 66 + 24)  # headers, preamble and inter-frame gap aside


# ----------------------------------------------------------------------------- report
def _rate(result: dict) -> str:
    rate = result["got"] / result["seconds"] / 1e6 if result["seconds"] > 0 else 0.0
    if result["finished"]:
        return f"{rate:.2f}"
    return f"timed out ({result['got'] / 1e6:.1f} MB in {result['seconds']:.0f} s)"


def _kernel_retransmissions(ns: NetworkNamespace) -> tuple[int, int]:
    """(Tcp RetransSegs, TcpExt TCPTimeouts) of the namespace (/proc/net is per network namespace)."""
    text = ns.run(["cat", "/proc/net/snmp", "/proc/net/netstat"], capture_output=True, text=True,
                  check=True).stdout.splitlines()
    tcp = [line.split() for line in text if line.startswith("Tcp:")]
    ext = [line.split() for line in text if line.startswith("TcpExt:")]
    return int(tcp[1][tcp[0].index("RetransSegs")]), int(ext[1][ext[0].index("TCPTimeouts")])


class PathWatch:
    """``--counters``: what happened to the frames of one transfer on every hop, to tell the relay's
    intended drops from any other (veth, bridge, the TAP's queue, the relay's own sends), and how busy
    the stack's thread was (its CPU time over the transfer's time)."""

    def __init__(self, topology: RelayTopology, running):
        self.topology = topology
        self.running = running

    def _sample(self) -> tuple:
        counters = self.running.call(lambda: dict(self.running.stack.counters))
        return (self.topology.hop_counters(), counters, self.running.call(time.thread_time),
                _kernel_retransmissions(self.topology.a), _kernel_retransmissions(self.topology.b),
                self.running.frames_in, self.running.frames_out)

    def start(self) -> None:
        self.topology.relay_counts()  # zeroes them
        self.before = self._sample()

    def report(self, label: str, result: dict) -> None:
        relay = self.topology.relay_counts()
        hops, counters, cpu, retrans_a, retrans_b, frames_in, frames_out = self._sample()
        hops0, counters0, cpu0, retrans_a0, retrans_b0, frames_in0, frames_out0 = self.before
        frames = frames_in - frames_in0
        per_frame = f", {(cpu - cpu0) / frames * 1e6:.0f} µs per frame in" if frames > 100 else ""
        lost = {f"{hop} {field}": value - hops0[hop][field] for hop, fields in hops.items()
                for field, value in fields.items() if field.endswith("dropped") and value != hops0[hop][field]}
        drops = {name: value - counters0.get(name, 0) for name, value in counters.items()
                 if ".drop." in name and value != counters0.get(name, 0)}
        print(f"      {label}: relay dropped {sum(c['dropped'] for c in relay.values())} on purpose, "
              f"{sum(c['send_failed'] + c['receive_overflow'] for c in relay.values())} on full queues; other hops {lost or 'none'}; "
              f"retransmitted (timeouts): kernel A {retrans_a[0] - retrans_a0[0]} ({retrans_a[1] - retrans_a0[1]}), "
              f"kernel B {retrans_b[0] - retrans_b0[0]} ({retrans_b[1] - retrans_b0[1]}), netstack "
              f"{counters.get('tcp.retransmissions', 0) - counters0.get('tcp.retransmissions', 0)} "
              f"({counters.get('tcp.rto_firings', 0) - counters0.get('tcp.rto_firings', 0)}); "
              f"netstack drops {drops or 'none'}; netstack frames in / out {frames} / "
              f"{frames_out - frames_out0}; stack thread busy {(cpu - cpu0) / result['seconds']:.0%}{per_frame}",
              flush=True)


def relay_section(args) -> list[tuple]:
    size = int(args.mb * 1e6)
    rows = []
    with RelayTopology() as topology:
        with netstack.run_tap(tap="nsl0", ip=f"{STACK_IP}/24", host_ip=None, netns=topology.a.name) as running:
            topology.a.run(["ip", "link", "set", "nsl0", "master", "nslbr"], check=True)
            running.call(start_services, running.stack, ["discard"])
            port = 6100
            for percent in args.losses:
                topology.start_relay(percent / 100, seed=percent + 1)
                # Warm up ARP and the bridge's forwarding table on both sides.
                topology.b.run(["ping", "-c", "3", "-i", "0.05", "-W", "1", STACK_IP], timeout=30)
                topology.b.run(["ping", "-c", "3", "-i", "0.05", "-W", "1", LINUX_A], timeout=30)
                row = [percent]
                watch = PathWatch(topology, running) if args.counters else None
                for direction in ("in", "out"):
                    # Linux's figures swing with the machine's load: the median of a few runs.
                    runs = []
                    for _ in range(args.linux_repeat):
                        port += 1
                        watch and watch.start()
                        runs.append(linux_pair(topology, direction, size, args.timeout, port))
                        watch and watch.report(f"Linux {direction}", runs[-1])
                    runs.sort(key=lambda result: result["got"] / result["seconds"])
                    row.append(runs[len(runs) // 2])
                captures = _start_captures(topology, args.capture, percent, "kernel-to-netstack") if args.capture else ()
                watch and watch.start()
                row.append(kernel_to_netstack(topology, size, args.timeout))
                watch and watch.report("kernel -> netstack", row[-1])
                for tshark in captures:
                    NetworkNamespace.stop_capture(tshark)
                port += 1
                captures = _start_captures(topology, args.capture, percent, "netstack-to-kernel") if args.capture else ()
                watch and watch.start()
                row.append(netstack_to_kernel(topology, running, size, args.timeout, port))
                watch and watch.report("netstack -> kernel", row[-1])
                for tshark in captures:
                    NetworkNamespace.stop_capture(tshark)
                rows.append(tuple(row))
                print(f"  {percent:>3} %  Linux in {_rate(row[1])}, out {_rate(row[2])}; "
                      f"kernel -> netstack {_rate(row[3])}; netstack -> kernel {_rate(row[4])}", flush=True)
    return rows


def _start_captures(topology: RelayTopology, directory: str, percent: float, transfer: str) -> tuple:
    """``--capture``: tshark on both ends of the relay for netstack's transfers, A's veth (netstack's
    side: what it sent, before the relay's drops; what reached it) and B's (the kernel's: what got
    through; what it sent), so each retransmission timeout's story can be read: which frames were lost."""
    os.makedirs(directory, exist_ok=True)
    paths = [os.path.join(directory, f"{transfer}-{percent:g}pct-{side}.pcapng") for side in "AB"]
    for path in paths:
        if os.path.exists(path):
            os.unlink(path)
    print(f"      capturing {transfer.replace('-', ' ')}: {paths[0]}, {paths[1]}", flush=True)
    return (topology.a.start_capture("nslva", paths[0]), topology.b.start_capture("nslvb", paths[1]))


def print_relay_table(rows, mb: float) -> None:
    print(f"\n| random frame loss | Linux → Linux (in / out, MB/s) | kernel → netstack | netstack → kernel |")
    print("|---|---|---|---|")
    for percent, linux_in, linux_out, to_stack, from_stack in rows:
        print(f"| {percent} % | {_rate(linux_in)} / {_rate(linux_out)} | {_rate(to_stack)} | {_rate(from_stack)} |")
    zero = next((row for row in rows if row[0] == 0), None)
    if zero is None:
        return
    print(f"\nShare of the 0 % goodput kept ({mb:g} MB transfers; a timed-out transfer counts what arrived):")
    print("| loss | Linux in | Linux out | kernel → netstack | netstack → kernel |")
    print("|---|---|---|---|---|")

    def share(result, base):
        base_rate = base["got"] / base["seconds"]
        return f"{result['got'] / result['seconds'] / base_rate:.1%}" if base_rate else "-"

    for row in rows:
        if row[0] == 0:
            continue
        print(f"| {row[0]} % | " + " | ".join(share(row[i], zero[i]) for i in range(1, 5)) + " |")


def sim_section(args) -> None:
    size = int(args.sim_mb * (1 << 20))
    print(f"\nSimulator: 10 ms one way, 50 Mbit/s, {args.sim_mb:g} MiB, loss both ways, seeds "
          f"{','.join(map(str, args.sim_seeds))} (virtual time; timeout {args.sim_timeout:g} s)")
    print("| loss | seconds (per seed) | goodput MB/s (mean) | Mathis bound | × Mathis | Padhye bound | × Padhye "
          "| CUBIC bound | RTO firings |")
    print("|---|---|---|---|---|---|---|---|---|")
    zero = sim_transfer(0.0, args.sim_seeds[0], size, args.sim_timeout)
    print(f"| 0 % | {zero['seconds']:.2f} | {zero['got'] / zero['seconds'] / 1e6:.2f} | (link "
          f"{_link_payload_rate() / 1e6:.2f}) | | | | | {zero['rto']} |", flush=True)
    for percent in args.sim_losses:
        loss = percent / 100
        results = [sim_transfer(loss, seed, size, args.sim_timeout) for seed in args.sim_seeds]
        rates = [result["got"] / result["seconds"] for result in results]
        mean = sum(rates) / len(rates)
        times = ", ".join(f"{r['seconds']:.1f}" + ("" if r["finished"] else " (timed out)") for r in results)
        print(f"| {percent:g} % | {times} | {mean / 1e6:.2f} | {mathis_bound(loss) / 1e6:.2f} | "
              f"{mean / mathis_bound(loss):.2f} | {padhye_bound(loss) / 1e6:.2f} | {mean / padhye_bound(loss):.2f} | "
              f"{cubic_bound(loss) / 1e6:.2f} | "
              f"{', '.join(str(r['rto']) for r in results)} |", flush=True)


def number_list(text: str) -> list[float]:
    """A comma-separated command-line list: "0,1,2.5" -> [0, 1, 2.5] (whole numbers stay ints)."""
    return [float(part) if "." in part else int(part) for part in text.split(",") if part]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=10, help="MB per relay transfer (default 10)")
    parser.add_argument("--losses", type=number_list, default=[0, 1, 2, 5], help="relay loss, %% (default 0,1,2,5)")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per relay transfer (default 30)")
    parser.add_argument("--linux-repeat", type=int, default=3, help="Linux runs per figure, median (default 3)")
    parser.add_argument("--sim-losses", type=number_list, default=[1, 2, 5, 10], help="sim loss, %% (1,2,5,10)")
    parser.add_argument("--sim-mb", type=float, default=8, help="MiB per simulated transfer (default 8)")
    parser.add_argument("--sim-seeds", type=number_list, default=[1, 2, 3], help="simulator seeds (default 1,2,3)")
    parser.add_argument("--sim-timeout", type=float, default=300, help="virtual seconds per sim transfer")
    parser.add_argument("--no-sim", action="store_true", help="skip the simulator")
    parser.add_argument("--counters", action="store_true",
                        help="per transfer: drops on every hop, retransmissions, the stack thread's load")
    parser.add_argument("--capture", metavar="DIR",
                        help="pcaps of each of netstack's relay transfers (both ends of the relay) in DIR")
    parser.add_argument("--no-relay", action="store_true", help="skip the relay (no root needed)")
    parser.add_argument("--quick", action="store_true", help="4 MB, 10 s timeout, sim 2 MiB at 1 and 5 %%")
    parser.add_argument("--relay", metavar="IF1,IF2", help=argparse.SUPPRESS)  # the relay process itself
    parser.add_argument("--relay-loss", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--relay-seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.relay:
        return run_relay(args.relay, args.relay_loss, args.relay_seed)
    if args.quick:
        args.mb, args.timeout, args.sim_mb, args.sim_losses = 4, 10, 2, [1, 5]
    started = time.monotonic()
    if not args.no_relay:
        if os.geteuid() != 0:
            print("the relay part needs root (namespaces, a TAP); --no-relay runs the simulator only",
                  file=sys.stderr)
            return 1
        print(f"Relay: {args.mb:g} MB per transfer, timeout {args.timeout:g} s, loss both directions")
        print_relay_table(relay_section(args), args.mb)
    if not args.no_sim:
        sim_section(args)
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
