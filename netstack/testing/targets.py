"""Devices under test (DUTs) behind one interface: netstack on the simulator or a TAP, the Linux kernel
in a network namespace over a veth, or any command that follows ``netstack up``'s contract.

``target_for("sim" | "tap" | "linux" | "cmd:COMMAND")`` gives a ``Target``; ``start()`` once, then
``bench(pcap)`` per test (a ``netstack.testing.bench.Bench`` on the DUT's link), ``stop()`` at the end.
On every target the DUT is 192.0.2.2/24 and offers TCP echo 7, discard 9, chargen 19, HTTP 80 and UDP
echo 7, discard 9; the bench is 192.0.2.1 with MAC ``BENCH_MAC`` (RFC 5737 documentation addresses).

* ``sim``: a fresh ``netstack.drivers.sim`` network per bench (seeded, virtual clock): fast, repeatable.
* ``tap``: netstack on a TAP inside a namespace the target creates (``netstack.run_tap``, segmentation
  offload off so frames are wire-sized); the bench is an AF_PACKET socket on the TAP's host side,
  which has no address, so the kernel stays silent on that link.
* ``linux``: two namespaces joined by a veth; the kernel under test owns 192.0.2.2 in one (offloads
  off, services from ``netstack.testing.kernel_services``), the bench's AF_PACKET socket sits on the
  other end, which has no address.
* ``cmd:COMMAND``: runs ``COMMAND up --tap NAME --ip 192.0.2.2/24 --host-ip 192.0.2.1/24 --services
  echo,discard,chargen,http`` inside a fresh namespace, waits for ``ready NAME IP MAC``, then removes
  the host side's address (the bench speaks for 192.0.2.1) and opens the bench on ``NAME``.

Namespaces are named ``nsb<pid>x<n>`` and deleted by ``stop()`` and on any failure of ``start()``.
``open_connection(port)`` makes the DUT connect to the bench (active open); ``cmd`` cannot, and raises
``Unsupported`` (the pytest plugin turns it into a skip).
"""

from __future__ import annotations

import itertools
import os
import shlex
import subprocess
import sys
import time

from netstack.apps.services import start_services
from netstack.drivers.netns import NetworkNamespace, terminate
from netstack.drivers.sim import Network
from netstack.drivers.tap import run_tap
from netstack.engine.tcp.endpoint import TcpStream
from netstack.apps.tcp_services import tcp_layer_of
from netstack.formats.fields import ipv4_to_bytes
from netstack.testing.bench import Bench
from netstack.testing.wire import PacketWire, SimWire, disable_offloads

DUT_IP = "192.0.2.2"
BENCH_IP = "192.0.2.1"
BENCH_MAC = "02:00:5e:10:00:01"
PREFIX = 24
SERVICES = ("echo", "discard", "chargen", "http")
PORTS = {"echo": 7, "discard": 9, "chargen": 19, "http": 80}
CLOSED_PORT = 1  # nothing listens on TCP/UDP 1 on any target
READY_TIMEOUT = 30.0
_names = itertools.count()


class Unsupported(Exception):
    """The target cannot do this (e.g. a ``cmd:`` DUT has no control channel for active opens)."""


def unique_name(kind: str) -> str:
    """``nsb<pid>x<n>`` style names: unique per process and call, short enough for an interface."""
    return f"{kind}{os.getpid() % 100000}x{next(_names)}"


class Target:
    kind = "abstract"
    is_netstack = True
    real_time = True

    def __init__(self, spec: str):
        self.spec = spec
        self.dut_ip, self.bench_ip, self.bench_mac = DUT_IP, BENCH_IP, BENCH_MAC
        self.ports = dict(PORTS)
        self.closed_port = CLOSED_PORT

    def start(self) -> "Target":
        return self

    def stop(self) -> None:
        pass

    def bench(self, pcap=None) -> Bench:
        raise NotImplementedError

    def release(self, bench: Bench) -> None:
        bench.wire.close()

    def open_connection(self, bench: Bench, port: int):
        raise Unsupported(f"the {self.spec} target cannot open connections on request")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<{type(self).__name__} {self.spec}>"


class SimTarget(Target):
    """netstack on the simulator: one fresh, seeded network per bench."""

    kind = "sim"
    real_time = False

    def __init__(self, spec: str = "sim", seed: int = 0):
        super().__init__(spec)
        self.seed = seed
        self.hosts: dict[int, object] = {}

    def bench(self, pcap=None) -> Bench:
        network = Network(seed=self.seed)
        host = network.host(f"{self.dut_ip}/{PREFIX}", name="dut")
        start_services(host.stack, SERVICES)
        wire = SimWire(network)
        network.link(host, wire)
        bench = Bench(wire, mac=self.bench_mac, ip=self.bench_ip, dut_ip=self.dut_ip, pcap=pcap)
        self.hosts[id(bench)] = host
        return bench

    def dut_host(self, bench: Bench):
        """The simulated DUT behind ``bench`` (to patch or inspect it in white-box tests)."""
        return self.hosts[id(bench)]

    def release(self, bench: Bench) -> None:
        self.hosts.pop(id(bench), None)

    def open_connection(self, bench: Bench, port: int):
        host = self.dut_host(bench)
        layer = tcp_layer_of(host.stack)
        stream = host.call(TcpStream.connect, layer, ipv4_to_bytes(self.bench_ip), port, host.clock())
        return _EngineConnection(host, stream)


class _EngineConnection:
    """A DUT-side connection of a netstack target, driven through the stack's own thread or clock."""

    def __init__(self, host, stream):
        self.host, self.stream = host, stream

    def send(self, data: bytes) -> int:
        return self.host.call(self.stream.send, data, self.host.clock())

    def close(self) -> None:
        self.host.call(self.stream.close, self.host.clock())


class _KernelConnection:
    def __init__(self, sock):
        self.sock = sock

    def send(self, data: bytes) -> int:
        return self.sock.send(data)

    def close(self) -> None:
        self.sock.close()


class _NamespacedTarget(Target):
    """Shared by the targets on real links: namespaces made at start, deleted at stop."""

    def __init__(self, spec: str):
        super().__init__(spec)
        self.namespaces: list[NetworkNamespace] = []
        self.interface: str | None = None
        self.bench_namespace: str | None = None

    def namespace(self) -> NetworkNamespace:
        ns = NetworkNamespace(unique_name("nsb")).create()
        self.namespaces.append(ns)
        for setting in ("all", "default"):  # no IPv6 chatter (router solicitations, MLD) on the link
            ns.run(["sysctl", "-qw", f"net.ipv6.conf.{setting}.disable_ipv6=1"])
        return ns

    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        while self.namespaces:
            self.namespaces.pop().delete()

    def bench(self, pcap=None) -> Bench:
        wire = PacketWire(self.bench_namespace, self.interface)
        return Bench(wire, mac=self.bench_mac, ip=self.bench_ip, dut_ip=self.dut_ip, pcap=pcap)


class TapTarget(_NamespacedTarget):
    """netstack on a TAP in a namespace, run in this process (so it can also open connections)."""

    kind = "tap"

    def _start(self) -> None:
        ns = self.namespace()
        self.interface = unique_name("tpb")
        self._context = run_tap(tap=self.interface, ip=f"{self.dut_ip}/{PREFIX}", host_ip=None, netns=ns.name,
                                gso=False)
        self.running = self._context.__enter__()
        self.running.call(start_services, self.running.stack, SERVICES)
        self.bench_namespace = ns.name

    def stop(self) -> None:
        context = getattr(self, "_context", None)
        if context is not None:
            self._context = None
            context.__exit__(None, None, None)
        super().stop()

    def open_connection(self, bench: Bench, port: int):
        layer = tcp_layer_of(self.running.stack)
        stream = self.running.call(TcpStream.connect, layer, ipv4_to_bytes(self.bench_ip), port, self.running.clock())
        return _EngineConnection(self.running, stream)


class LinuxTarget(_NamespacedTarget):
    """The Linux kernel in a namespace, reached over a veth from the bench's namespace."""

    kind = "linux"
    is_netstack = False

    def _start(self) -> None:
        dut = self.namespace()
        bench = self.namespace()
        self.dut = dut
        self.interface, dut_end = unique_name("vb"), unique_name("vd")
        subprocess.run(["ip", "-n", bench.name, "link", "add", self.interface, "type", "veth",
                        "peer", "name", dut_end, "netns", dut.name], check=True, capture_output=True, timeout=30)
        dut.run(["ip", "addr", "add", f"{self.dut_ip}/{PREFIX}", "dev", dut_end], check=True)
        disable_offloads(dut.name, dut_end)
        disable_offloads(bench.name, self.interface)
        dut.run(["ip", "link", "set", dut_end, "up"], check=True)
        bench.run(["ip", "link", "set", self.interface, "up"], check=True)
        self.services = dut.popen([sys.executable, "-m", "netstack.testing.kernel_services", ",".join(SERVICES)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_line(self.services, "ready", READY_TIMEOUT)
        self.bench_namespace = bench.name

    def open_connection(self, bench: Bench, port: int):
        sock = self.dut.socket()
        sock.setblocking(False)
        sock.connect_ex((self.bench_ip, port))
        return _KernelConnection(sock)


class CommandTarget(_NamespacedTarget):
    """Any program following ``netstack up``'s contract, started inside a fresh namespace."""

    kind = "cmd"

    def __init__(self, spec: str):
        super().__init__(spec)
        self.command = shlex.split(spec.split(":", 1)[1])
        if not self.command:
            raise ValueError("cmd: needs a command, e.g. --dut 'cmd:python -m netstack'")
        self.is_netstack = "netstack" in spec

    def _start(self) -> None:
        ns = self.namespace()
        self.interface = unique_name("tpb")
        args = [*self.command, "up", "--tap", self.interface, "--ip", f"{self.dut_ip}/{PREFIX}",
                "--host-ip", f"{self.bench_ip}/{PREFIX}", "--services", ",".join(SERVICES)]
        self.process = ns.popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = _wait_for_line(self.process, "ready", READY_TIMEOUT)
        fields = line.split()
        if len(fields) != 4 or fields[1] != self.interface or fields[2] != self.dut_ip:
            raise RuntimeError(f"{self.spec}: expected 'ready {self.interface} {self.dut_ip} MAC', got {line!r}")
        # The bench speaks for 192.0.2.1 itself: the kernel must not answer ARP or send RSTs for it.
        ns.run(["ip", "addr", "flush", "dev", self.interface], check=True)
        self.bench_namespace = ns.name

    def stop(self) -> None:
        process = getattr(self, "process", None)
        if process is not None:
            terminate(process)
        super().stop()


def _wait_for_line(process: subprocess.Popen, word: str, timeout: float) -> str:
    """The first stdout line of ``process`` starting with ``word``; RuntimeError with its stderr if it
    exits or ``timeout`` passes first."""
    import selectors

    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = process.stdout.readline()
                if line.startswith(word):
                    return line.strip()
                if line:
                    continue
            if process.poll() is not None:
                break
    terminate(process)
    error = process.stderr.read() if process.stderr else ""
    raise RuntimeError(f"{' '.join(map(str, process.args))}: no {word!r} line within {timeout} s; stderr: {error[-2000:]}")


def target_for(spec: str) -> Target:
    """The target named by ``spec``: sim, sim:SEED, tap, linux or cmd:COMMAND."""
    if spec == "sim" or spec.startswith("sim:"):
        return SimTarget(spec, seed=int(spec.split(":", 1)[1]) if ":" in spec else 0)
    if spec == "tap":
        return TapTarget(spec)
    if spec == "linux":
        return LinuxTarget(spec)
    if spec.startswith("cmd:"):
        return CommandTarget(spec)
    raise ValueError(f"unknown DUT {spec!r}: use sim, sim:SEED, tap, linux or cmd:COMMAND")
