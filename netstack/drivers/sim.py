"""A simulated network in virtual time: any number of stacks on impaired links, reproducible by seed.

::

    import netstack
    net = netstack.sim.Network(seed=7)
    a = net.host("192.0.2.2/24")
    b = net.host("192.0.2.3/24", mtu=1280)
    link = net.link(a, b, loss=0.1, duplicate=0.01, reorder=0.05, delay=0.002, jitter=0.001,
                    corrupt=0.01, bandwidth=10e6, mtu=1500, pcap="ab.pcap")
    net.run(60.0)                      # a simulated minute, in milliseconds of real time
    net.run_until(lambda: done, timeout=5.0)

The clock is virtual: ``Network.run`` processes events (frame arrivals, stack deadlines) in time order
and jumps straight to the next one, so an idle minute costs nothing. Every random decision (loss,
duplication, reordering, jitter, corruption) comes from one ``random.Random(seed)``; frames are
processed in a total order (time, then scheduling order), and every host's secrets (ISN key, ephemeral
ports, timestamp offsets, ARP timers: ``StackConfig.seed``) are derived from the seed and the order
hosts were created in, so the same seed and the same script give the same events and a byte-identical
pcap (timestamps are ``PCAP_EPOCH`` + virtual time).

Link impairments, each a probability per frame and receiver unless stated: ``loss``; ``ce`` (an
ECN-capable IPv4 packet marked congestion experienced instead, RFC 3168 §5); ``duplicate``
(delivered twice); ``reorder`` (held back by ``reorder_delay`` so later frames overtake it);
``corrupt`` (one random bit flipped); ``delay`` + uniform ``jitter`` (seconds, one way);
``bandwidth`` (bits/s: frames queue behind each other per sender, at most ``queue`` frames, then
drop-tail); ``mtu`` (IP MTU: larger frames
are dropped, as a real switch drops giants). A link with more than two hosts is a hub: every frame
goes to every other host. ``Link.counters`` counts what the link did. The model is
``netstack.drivers.impairment.Impairment``, the one ``netstack up --impair`` runs on a TAP.

``SimHost`` is the simulated counterpart of ``netstack.drivers.tap.RunningStack``: ``host.stack`` is the
``Stack``; ``host.call(fn, *args)`` runs ``fn`` against it and sends what it produced;
``host.clock()`` is the virtual time; attributes of the stack (``counters``, ``udp_bind``, ...) are
reachable on the host. Unlike on a TAP, nothing moves until ``Network.run``/``run_until`` runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import itertools
import random

from netstack.drivers.impairment import DEFAULT_QUEUE_FRAMES, Impairment
from netstack.engine.config import StackConfig
from netstack.engine.observability import Counters
from netstack.engine.stack import Stack
from netstack.sockets import socket_for
from netstack.formats.pcap import PcapWriter

PCAP_EPOCH = 1_700_000_000.0  # pcap timestamps: a fixed epoch plus virtual time (deterministic files)


class SimHost:
    """One stack attached to the simulated network (see the module docstring)."""
    def __init__(self, network: "Network", stack: Stack, name: str):
        self.network = network
        self.stack = stack
        self.name = name
        self.link: Link | None = None
        self._tick_at: float | None = None

    def __getattr__(self, name):
        # Only reached for names SimHost does not define: forward to the stack (counters, udp_bind...).
        return getattr(self.stack, name)

    def clock(self) -> float:
        return self.network.clock

    def socket(self, family: int = 2, type: int = 1, proto: int = 0):
        """A BSD-like socket on this host; blocking calls run the network (``netstack.sockets``)."""
        return socket_for(self, family, type, proto)

    def connect_sockets(self, server: "SimHost", address: tuple[str, int], *, backlog: int = 1,
                        bind: tuple[str, int] | None = None):
        """(our socket, the one ``server`` accepted): ``server`` listens on ``address`` (its listening
        socket stays open, as a server's would) and we connect to it from ``bind`` (else an ephemeral
        port), both through the socket API."""
        listener = server.socket()
        listener.bind(address)
        listener.listen(backlog)
        client = self.socket()
        if bind is not None:
            client.bind(bind)
        client.connect(address)
        accepted, _ = listener.accept()
        return client, accepted

    def call(self, function, *args, **kwargs):
        """Run ``function(*args, **kwargs)`` now (virtual time) and send the frames it produced."""
        try:
            return function(*args, **kwargs)
        finally:
            self._transmit(self.stack.poll_output())
            self._schedule_tick()

    def wait(self, predicate, timeout: float) -> bool:
        """Run the network until ``predicate()`` is true or ``timeout`` virtual seconds passed."""
        return self.network.run_until(predicate, timeout)

    def _transmit(self, frames: list[bytes]) -> None:
        if not frames:
            return
        if self.link is None:
            self.network.counters.incr("sim.drop.no_link", len(frames))
            return
        for frame in frames:
            self.link.transmit(self, frame)

    def _schedule_tick(self) -> None:
        deadline = self.stack.next_deadline()
        if deadline is None:
            return
        if self._tick_at is not None and self._tick_at <= deadline:
            return
        self._tick_at = deadline
        self.network._push(max(deadline, self.network.clock), self, None)

    def __repr__(self) -> str:
        return f"<SimHost {self.name}>"


def _impairment_attribute(name: str, doc: str) -> property:
    # Link.loss etc. read and write the link's Impairment, so a test or the demo can change them mid-run.
    return property(lambda link: getattr(link.impairment, name),
                    lambda link, value: setattr(link.impairment, name, value), doc=doc)


class Link:
    """A simulated Ethernet segment between hosts, with seeded impairments (``netstack.drivers.impairment``)."""
    def __init__(self, network: "Network", hosts, *, loss=0.0, ce=0.0, duplicate=0.0, reorder=0.0, reorder_delay=None,
                 corrupt=0.0, delay=50e-6, jitter=0.0, bandwidth=None, queue=DEFAULT_QUEUE_FRAMES, mtu=None,
                 pcap=None):
        if mtu is not None and not 68 <= mtu <= 65535:
            raise ValueError(f"mtu: {mtu} is outside 68..65535")
        self.network = network
        self.hosts = list(hosts)
        self.mtu = mtu
        self.counters = Counters()
        if bandwidth is not None and bandwidth <= 0:
            raise ValueError(f"bandwidth: {bandwidth} bits/s must be positive")
        self.impairment = Impairment(loss=loss, ce=ce, duplicate=duplicate, reorder=reorder, reorder_delay=reorder_delay,
                                     corrupt=corrupt, delay=delay, jitter=jitter, rate=bandwidth, queue=queue,
                                     rng=random.Random(network.random.getrandbits(64)), counters=self.counters)
        self._pcap = None
        self._owns_pcap = False
        if pcap is not None:
            self.capture(pcap)

    loss = _impairment_attribute("loss", "probability that a frame is lost, per receiver")
    ce = _impairment_attribute("ce", "probability that an ECN-capable frame is marked congestion experienced")
    duplicate = _impairment_attribute("duplicate", "probability that a frame is delivered twice")
    reorder = _impairment_attribute("reorder", "probability that a frame is held back reorder_delay")
    corrupt = _impairment_attribute("corrupt", "probability that one bit of a frame is flipped")
    delay = _impairment_attribute("delay", "one-way delay, seconds")
    jitter = _impairment_attribute("jitter", "uniform extra delay up to this many seconds")
    reorder_delay = _impairment_attribute("reorder_delay", "how long a reordered frame is held back, seconds")
    bandwidth = _impairment_attribute("rate", "bits/s each sender serialises at (None: no limit)")

    @property
    def random(self) -> random.Random:
        return self.impairment.random

    def capture(self, pcap) -> None:
        """Write every frame put on this link (as sent, before impairments) to a pcap file or writer."""
        if isinstance(pcap, PcapWriter):
            self._pcap = pcap
        else:
            self._pcap = PcapWriter(pcap)
            self._owns_pcap = True

    def close(self) -> None:
        if self._pcap is not None and self._owns_pcap:
            self._pcap.close()
        self._pcap = None

    def transmit(self, sender: SimHost, frame: bytes) -> None:
        network = self.network
        now = network.clock
        self.counters.incr("frames_sent")
        if self._pcap is not None:
            self._pcap.write(frame, PCAP_EPOCH + now)
        if self.mtu is not None and len(frame) - 14 > self.mtu:
            self.counters.incr("drop.too_big")
            return
        impairment = self.impairment
        departure = impairment.depart(len(frame), now, id(sender))
        if departure is None:
            return
        for receiver in self.hosts:
            if receiver is sender:
                continue
            for arrival, data in impairment.deliveries(frame, departure):
                network._push(arrival, receiver, data)


class Network:
    """The virtual clock, the event queue and every host and link (see the module docstring)."""
    def __init__(self, seed: int = 0, *, start: float = 0.0):
        self.seed = seed
        self.random = random.Random(seed)
        self.clock = float(start)
        self.hosts: list[SimHost] = []
        self.links: list[Link] = []
        self.counters = Counters()
        self.events_processed = 0
        self._events: list = []
        self._sequence = itertools.count()
        self._started = False

    def host(self, ip: str = "192.0.2.2/24", *, name: str | None = None, config: StackConfig | None = None,
             **options) -> SimHost:
        """A new stack at ``ip`` (options as ``StackConfig``); it comes up at the current time.

        Unless the config sets one, the stack's seed is derived from the network's seed and the host's
        position, so its secrets (ISNs, ports, timestamp offsets, ARP timers) repeat run after run."""
        if config is None:
            options.setdefault("seed", self.host_seed(len(self.hosts)))
            config = StackConfig.from_options(ip=ip, **options)
        elif config.seed is None:
            config = dataclasses.replace(config, seed=self.host_seed(len(self.hosts)))
        host = SimHost(self, Stack(config), name or f"host{len(self.hosts)}")
        host.stack.trace.clock = host.clock  # events from application calls carry the virtual time too
        self.hosts.append(host)
        return host

    def host_seed(self, index: int) -> int:
        """The seed of the ``index``-th host: a hash of the network's seed and the index."""
        digest = hashlib.blake2b(f"netstack sim {self.seed!r} host {index}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def link(self, *hosts: SimHost, **impairments) -> Link:
        if len(hosts) < 2:
            raise ValueError("a link needs at least two hosts")
        for host in hosts:
            if host.link is not None:
                raise ValueError(f"{host.name} is already on a link (one interface per stack)")
        link = Link(self, hosts, **impairments)
        for host in hosts:
            host.link = link
        self.links.append(link)
        for host in hosts:
            if not host.stack.started:
                host._transmit(host.stack.start(self.clock))
                host._schedule_tick()
        return link

    def _push(self, when: float, host: SimHost, frame: bytes | None) -> None:
        heapq.heappush(self._events, (when, next(self._sequence), host, frame))

    def step(self) -> bool:
        """Process the next event; False when there is none."""
        if not self._events:
            return False
        when, _, host, frame = heapq.heappop(self._events)
        if when > self.clock:
            self.clock = when
        self.events_processed += 1
        stack = host.stack
        if frame is None:
            if host._tick_at is not None and host._tick_at <= self.clock:
                host._tick_at = None
            out = stack.tick(self.clock)
        else:
            out = stack.receive(frame, self.clock)
        host._transmit(out)
        host._schedule_tick()
        return True

    def run(self, duration: float | None = None, *, max_events: int = 10_000_000) -> int:
        """Run for ``duration`` virtual seconds (None: until no event is left). Returns events run."""
        end = None if duration is None else self.clock + duration
        processed = 0
        events = self._events
        while events and processed < max_events:
            if end is not None and events[0][0] > end:
                break
            self.step()
            processed += 1
        if end is not None and self.clock < end and processed < max_events:
            self.clock = end
        return processed

    def run_until(self, predicate, timeout: float, *, max_events: int = 10_000_000) -> bool:
        """Run until ``predicate()`` holds (checked after every event) or ``timeout`` virtual seconds."""
        end = self.clock + timeout
        if predicate():
            return True
        processed = 0
        events = self._events
        while events and events[0][0] <= end and processed < max_events:
            self.step()
            processed += 1
            if predicate():
                return True
        if self.clock < end:
            self.clock = end
        return bool(predicate())

    def close(self) -> None:
        for link in self.links:
            link.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
