"""The TAP driver: a ``Stack`` on a Linux TAP device, in real time, on its own thread.

::

    with netstack.run_tap(tap="nst0", ip="192.0.2.2/24", host_ip="192.0.2.1/24", mtu=1500) as running:
        endpoint = running.call(running.stack.udp_bind, 7)      # run on the stack's thread
        ...

``run_tap`` creates the TAP device (``netstack.drivers.tap_device``) with pyroute2
(``kind="tuntap"``), attaches to it through ``/dev/net/tun`` (TUNSETIFF) and clears its persistence,
so the kernel removes the device as soon as our file descriptor closes — even after SIGKILL. With
pyroute2 it gives the host side ``host_ip``, the MTU, the queue length and link up. With ``netns=NAME`` all of this happens inside that (existing) namespace, from a thread
that entered it (``setns(2)``), so the device never exists in ours; our fd stays usable from any
thread. That is how tests, the demo and benchmarks keep the host side and every kernel peer in a
private namespace. On exit — normal, exception, Ctrl-C, or SIGTERM (turned into ``SystemExit`` while the
context is open, if no other handler was installed) — the loop stops and the device is deleted.

The loop (``RunningStack``) runs on one thread and is the only code touching the ``Stack``: it waits
with ``selectors`` (epoll) on the TAP fd and a wake-up pipe, with a timeout of exactly
``stack.next_deadline() - now`` (zero while frames wait); each turn it reads up to ``batch`` frames
from the non-blocking fd (until EAGAIN), hands each to ``stack.receive`` as it is read and writes what
comes back; runs ``stack.tick`` when the deadline has passed. When a turn leaves frames in the kernel's
queue, bare SYNs are set aside in a ``FrameIntake`` (``netstack.drivers.intake``) and served at most
``batch // 4`` a turn, round robin per source; once more SYNs wait than a batch (a flood), each turn
first reads up to ``drain`` frames ahead, shedding excess SYNs unparsed, so the kernel's queue towards
the TAP (``txqueuelen``: ``queue_length``, 8192 by default), which drops at its tail whatever the frame,
does not overflow with the client's frames in it. Reading ahead only then: it holds every ACK back,
and the stack's sub-millisecond tail loss probes fire early. A flood faster than even that reading (one
address at 600,000 SYN/s) is thinned before the kernel's queue: a BPF filter on the TAP passes 1 in 16
to 4,096 of the flooding address's bare SYNs while the flood lasts (``netstack.drivers.syn_flood_filter``;
``RunningStack(syn_filter=False)`` leaves it to the intake alone).

Other threads talk to the stack with ``running.call(fn, *args)``: the call is queued, the loop is
woken, runs it between frames, sends the frames it produced (``stack.poll_output()``) and returns its
result (or raises its exception) to the caller. The clock is ``time.monotonic()``; ``running.clock()``
reads it. An exception raised inside the stack while handling
a frame is counted (``stack.drop.internal_error``) and logged; the stack never dies from the wire.

TCP segmentation offload towards the kernel (``run_tap(gso=True)``, the default): the fd is opened with
IFF_VNET_HDR, so every frame read or written starts with a ``virtio_net_hdr``. Each batch of frames the
stack returns goes through ``netstack.drivers.segmentation_offload.coalesce_tcp_segments``: consecutive segments of one flow that GRO would
merge are written as one frame of up to 64 KiB with ``gso_type`` TCPV4, which the kernel takes in one
pass (as it takes a virtio guest's TSO frames) instead of running its receive path once per segment.
The stack itself still builds, checksums and records (pcap) every segment; the merged frame carries
valid checksums. If the kernel refuses such a write, its segments go out one by one and offload stops
(``tap.gso_refused``). The kernel sends us plain frames (no offload is enabled in that direction).

Impairments (``run_tap(impair="loss=2%,delay=10ms,rate=50mbit")``, ``netstack up --impair``): a
user-space netem on both directions, the simulator's model (``netstack.drivers.impairment``), one
instance per direction. A frame it delays is held in a heap; the loop's wait ends at the earlier of the
stack's deadline and the first held frame's, so delays are kept to the scheduler's precision. At most
``MAX_HELD_FRAMES`` are held; past that a delayed frame is dropped (``impair.drop.held_full``). The
pcap records frames as the stack sent them and as the TAP gave them, before the impairment.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import heapq
import itertools
import logging
import os
import random
import selectors
import signal
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager

from netstack.engine.config import ConfigError, StackConfig, ip_to_text, mac_to_text
from netstack.formats.registry import IP_PROTOCOL_TCP
from netstack.drivers.impairment import Impairment, parse_impairment
from netstack.drivers.intake import FrameIntake, bare_syn_source
from netstack.drivers.syn_flood_filter import SynFloodFilter
from netstack.drivers.netns import call_in_namespace
from netstack.drivers.tap_device import QUEUE_LENGTH, check_privileges, create_tap, delete_tap
from netstack.drivers.segmentation_offload import (
    PLAIN_VNET_HEADER,
    VIRTIO_NET_HDR_GSO_TCPV4,
    VNET_HEADER_LENGTH,
    coalesce_tcp_segments,
    split_coalesced,
)
from netstack.engine.stack import Stack
from netstack.engine.tcp.layer import TcpLayer
from netstack.formats.pcap import PcapWriter
from netstack.sockets import socket_for

log = logging.getLogger("netstack.drivers.tap")
_INCOMING, _OUTGOING = 0, 1
#: Frames an impairment may hold back at once, both directions (about 15 MB of full-size frames).
MAX_HELD_FRAMES = 10_000
#: Frames read from the TAP per turn of the loop before the stack gets its next ``batch``: several times
#: ``batch``, so reading outpaces a flood the stack cannot answer (about 3 µs a frame against 15-30 µs).
DRAIN = 1024


def impairments(impair: "str | dict | None", counters) -> tuple[Impairment | None, Impairment | None]:
    """The (kernel -> stack, stack -> kernel) models for ``run_tap(impair=...)``: a ``--impair`` spec or
    ``Impairment`` keyword arguments; counters ``impair.in.*`` and ``impair.out.*`` on the stack."""
    if impair is None:
        return None, None
    options = parse_impairment(impair) if isinstance(impair, str) else dict(impair)
    seed = options.pop("seed", None)
    models = []
    for direction in ("in", "out"):
        # Each direction draws from its own generator: seeded, the decisions repeat run after run.
        rng = random.Random(None if seed is None else f"netstack impairment {seed} {direction}")
        try:
            models.append(Impairment(**options, rng=rng, counters=counters, prefix=f"impair.{direction}."))
        except (TypeError, ValueError) as error:
            raise ConfigError("impair", str(error)) from None
    return models[0], models[1]


#: Immediate ACKs (out of order, hole filled, quick ACKs) of one batch that share an ACK on a TAP
#: (``TcpConfig.immediate_acks_folded``; only contiguous segments fold). Under 1-5 % loss on the relay
#: of benchmarks/loss.py one ACK per out-of-order segment was most of the stack's CPU as a receiver:
#: each ACK written crosses the bridge and veths inside our write(2). Kernel -> netstack there: 4 gave
#: 38-50 MB/s at 1-2 %, 8 gave 52-59, 16 gave 53-65, 32 and 64 no more (docs/performance.md, "The
#: engine's CPU per segment under loss"). Once an out-of-order segment cost about what an in-order one
#: does (receive.py's ``_predicted_out_of_order``) the ACKs were what remained: 64, one ACK per
#: contiguous run of a batch (``batch`` is 64 too; Linux compresses up to 44 SACK ACKs,
#: tcp_comp_sack_nr), gave 72-76 MB/s at 1 % against 16's 54-69, 62-69 at 2 % against 57-62, 54-58
#: at 5 % against 50-54, the stack's thread still busy 95-98 % (docs/performance.md, "The receiver's
#: out-of-order path").
TAP_IMMEDIATE_ACKS_FOLDED = 64


def _fold_immediate_acks(stack: Stack) -> None:
    """The TAP hands the stack batches of frames that arrived together: let TCP answer a batch's
    out-of-order segments with one ACK per few (unless the stack was configured otherwise)."""
    layer = stack.transport(IP_PROTOCOL_TCP) or TcpLayer.attach(stack)
    if layer.config.immediate_acks_folded == 1:
        layer.config = dataclasses.replace(layer.config, immediate_acks_folded=TAP_IMMEDIATE_ACKS_FOLDED)


class RunningStack:
    """A stack driven by a TAP loop on its own thread (see the module docstring)."""
    def __init__(self, stack: Stack, fd: int, *, tap: str, netns: str | None = None, pcap=None, batch: int = 64,
                 vnet_header: bool = False, impairments: tuple = (None, None), drain: int = DRAIN,
                 syn_batch: int | None = None, intake: FrameIntake | None = None, syn_filter: bool = True):
        self.stack = stack
        self.fd = fd
        _fold_immediate_acks(stack)
        # During a SYN flood, frames read ahead of the stack (netstack.drivers.intake) per turn.
        self.drain = drain
        # SYNs per turn: a few, so the turn (and a real client's wait for its next step) stays short
        # while reading keeps most of the thread during a flood.
        self.syn_batch = syn_batch if syn_batch is not None else max(1, batch // 4)
        self._intake = intake if intake is not None else FrameIntake(stack.counters)
        # A flood faster than the loop reads is thinned in the kernel (syn_flood_filter.py).
        self._syn_filter = SynFloodFilter(fd, self._intake, stack.counters) if syn_filter else None
        # With IFF_VNET_HDR on the fd, runs of TCP segments are written as one offloaded frame.
        self.vnet_header = vnet_header
        self.gso = vnet_header
        self.tap = tap
        self.netns = netns
        self.batch = batch
        self.frames_in = 0
        self.frames_out = 0
        self._pcap = pcap
        # --impair: one model per direction, each with its own queue, generator and counters.
        self._impair_in, self._impair_out = impairments
        self._held: list = []  # (deliver_at, order, direction, frame): frames an impairment delays
        self._held_order = itertools.count()
        self._calls: collections.deque = collections.deque()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"netstack-{tap}", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None
        stack.trace.clock = time.monotonic  # events from application calls carry the loop's time too

    def __getattr__(self, name):
        # Only for names RunningStack does not define: read-only conveniences (counters, config, mac...).
        return getattr(self.stack, name)

    @staticmethod
    def clock() -> float:
        return time.monotonic()

    def socket(self, family: int = 2, type: int = 1, proto: int = 0):
        """A BSD-like socket on this stack (``netstack.sockets``; family/type as ``socket.socket``)."""
        return socket_for(self, family, type, proto)

    # ----------------------------------------------------------------- lifetime
    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(10)
        for fd in (self._wake_read, self._wake_write):
            try:
                os.close(fd)
            except OSError:
                pass

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ----------------------------------------------------------------- calls from other threads
    def call(self, function, *args, timeout: float | None = 30.0, **kwargs):
        """Run ``function(*args, **kwargs)`` on the stack's thread; returns its result."""
        if threading.current_thread() is self._thread:
            return function(*args, **kwargs)
        if not self._thread.is_alive():
            raise RuntimeError("the stack loop is not running")
        future: Future = Future()
        self._calls.append((function, args, kwargs, future))
        self._wake()
        return future.result(timeout)

    def call_soon(self, function, *args, **kwargs) -> Future:
        """Like ``call`` but returns the Future instead of waiting."""
        future: Future = Future()
        self._calls.append((function, args, kwargs, future))
        self._wake()
        return future

    def wait(self, predicate, timeout: float, interval: float = 0.005) -> bool:
        """Poll ``predicate()`` (on the stack thread) until true or ``timeout`` real seconds passed."""
        end = time.monotonic() + timeout
        while True:
            if self.call(predicate):
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(interval)

    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"\x00")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (a wake-up is already pending) or closed (stopping)

    # ----------------------------------------------------------------- the loop
    def _send(self, frames: list[bytes]) -> None:
        if not frames:
            return
        if self._pcap is not None:
            now = time.time()
            for frame in frames:
                self._pcap.write(frame, now)
        self.frames_out += len(frames)
        if self._impair_out is not None:
            frames = self._impair(self._impair_out, frames, _OUTGOING)
        if frames:
            self._write(frames)

    def _write(self, frames: list[bytes]) -> None:
        fd = self.fd
        writes = frames
        if self.vnet_header:
            if self.gso and len(frames) > 1:
                writes = coalesce_tcp_segments(frames)
            else:
                writes = [PLAIN_VNET_HEADER + frame for frame in frames]
        for data in writes:
            try:
                os.write(fd, data)
            except BlockingIOError:
                self.stack.counters.incr("tap.drop.write_would_block")
            except OSError as error:
                if error.errno == errno.EINVAL and data[1] == VIRTIO_NET_HDR_GSO_TCPV4:
                    self._gso_refused(data)
                    continue
                self.stack.counters.incr(f"tap.drop.write_{errno.errorcode.get(error.errno, error.errno)}")

    # ----------------------------------------------------------------- impairments (--impair)
    def _impair(self, impairment: Impairment, frames: list[bytes], direction: int) -> list[bytes]:
        """Frames due now; the others are held (``_held``) until their time comes."""
        now = time.monotonic()
        due = []
        for frame in frames:
            for deliver_at, data in impairment.transmit(frame, now):
                if deliver_at <= now:
                    due.append(data)
                else:
                    self._hold(deliver_at, direction, data)
        return due

    def _hold(self, deliver_at: float, direction: int, data: bytes) -> None:
        # Memory stays bounded whatever the delay and the traffic: past the bound, delayed frames drop.
        if len(self._held) >= MAX_HELD_FRAMES:
            self.stack.counters.incr("impair.drop.held_full")
            return
        heapq.heappush(self._held, (deliver_at, next(self._held_order), direction, data))

    def _release_held(self, now: float) -> None:
        """Deliver every held frame whose time has come, in time order, each in its direction."""
        held = self._held
        outgoing = []
        while held and held[0][0] <= now:
            _, _, direction, data = heapq.heappop(held)
            if direction == _OUTGOING:
                outgoing.append(data)
            else:
                if outgoing:  # keep the order between the two directions
                    self._write(outgoing)
                    outgoing = []
                self._answer(data)
        if outgoing:
            self._write(outgoing)

    def _read(self, limit: int, sink, bounded: bool = False) -> bool:
        """Read up to ``limit`` frames from the TAP, each handed to ``sink`` after the pcap and the
        incoming impairment (``bounded``: stop while the intake is full). True if it stopped with frames
        left in the kernel's queue, False once it was empty."""
        fd = self.fd
        read = os.read
        skip = VNET_HEADER_LENGTH if self.vnet_header else 0
        intake = self._intake
        pcap = self._pcap
        impair_in = self._impair_in
        count = 0
        try:
            while count < limit and not (bounded and intake.full):
                frame = read(fd, 65536 + skip)
                count += 1
                if skip:
                    frame = frame[skip:]
                if pcap is not None:
                    pcap.write(frame, time.time())
                if impair_in is None:
                    sink(frame)
                else:
                    now = time.monotonic()
                    for deliver_at, data in impair_in.transmit(frame, now):
                        if deliver_at <= now:
                            sink(data)
                        else:
                            self._hold(deliver_at, _INCOMING, data)
        except BlockingIOError:
            return False
        finally:
            self.frames_in += count
        return True

    def _step(self, batch: int, syn_batch: int) -> bool:
        """Up to ``batch`` times: read a frame, hand the stack one (through the intake once the last
        turn left frames behind: at most ``syn_batch`` SYNs waiting apart). True if the kernel's queue
        still had frames."""
        intake = self._intake
        if not intake:
            if not intake.pressure:
                return self._read(batch, self._answer)  # keeping up: no queue of ours at all
            return self._read(batch, self._answer_or_set_aside)  # behind: bare SYNs wait apart
        more = True
        for _ in range(batch):
            more = self._read(1, intake.add, bounded=True)
            waiting = intake.syns_waiting
            frames = intake.take(1, 1 if syn_batch > 0 else 0)
            if frames:
                syn_batch -= waiting - intake.syns_waiting
                self._answer(frames[0])
            elif not more:
                break
        return more

    def _answer_or_set_aside(self, frame: bytes) -> None:
        if bare_syn_source(frame) is None:
            self._answer(frame)
        else:
            self._intake.add(frame)

    def _answer(self, frame: bytes) -> None:
        """Hand one received frame to the stack and write its answer at once. (Answers held back to
        share offloaded writes — a batch's worth — gave +20 % netstack -> kernel on the relay, but with a
        sub-millisecond SRTT the stack's tail loss probes (PTO = 2·SRTT, RFC 8985 §7.2) then fired
        before the ACKs of segments still waiting to be written: 30-60 spurious probes per 200
        connections instead of 1.)"""
        stack = self.stack
        try:
            answer = stack.receive(frame, time.monotonic())
        except Exception:  # the stack never dies from what arrives on the wire
            stack.counters.incr("stack.drop.internal_error")
            log.exception("stack raised on a received frame; frame dropped")
            answer = stack.poll_output()
        if answer:
            self._send(answer)

    def _gso_refused(self, data: bytes) -> None:
        """The kernel refused a coalesced write: send its segments one by one, and stop coalescing."""
        self.gso = False
        self.stack.counters.incr("tap.gso_refused")
        log.warning("the TAP refused a TCP segmentation offload write; sending frames one by one")
        for frame in split_coalesced(data):
            try:
                os.write(self.fd, PLAIN_VNET_HEADER + frame)
            except OSError as error:
                self.stack.counters.incr(f"tap.drop.write_{errno.errorcode.get(error.errno, error.errno)}")

    def _tick(self, now: float) -> None:
        """Run the stack's due timers and send what they produced; a timer that raises is counted and
        logged, never the end of the loop."""
        stack = self.stack
        try:
            self._send(stack.tick(now))
        except Exception:
            stack.counters.incr("stack.drop.internal_error")
            log.exception("stack raised in a timer")
            self._send(stack.poll_output())

    def _run_calls(self) -> None:
        calls = self._calls
        if calls:
            # The application's calls happen now: bring the stack's clock (and its due timers) up to
            # date first. With the time of the last frame or timer instead, a connect() after an idle
            # second stamped its SYN that old, its retransmission was already due and went 0.1 ms
            # later: a spurious SYN timeout per transfer in benchmarks/loss.py's netstack -> kernel.
            self._tick(time.monotonic())
        while calls:
            function, args, kwargs, future = calls.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = function(*args, **kwargs)
            except BaseException as error:
                future.set_exception(error)
            else:
                future.set_result(result)
            self._send(self.stack.poll_output())

    def _loop(self) -> None:
        stack = self.stack
        fd = self.fd
        monotonic = time.monotonic
        answer = self._answer
        send = self._send
        batch = self.batch
        held = self._held
        intake = self._intake
        drain = self.drain
        syn_batch = self.syn_batch
        syn_filter = self._syn_filter
        behind = False  # the last read stopped before the kernel's queue was empty
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ, "tap")
        selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        try:
            send(stack.start(monotonic()))
            self._started.set()
            while not self._stopping:
                deadline = stack.next_deadline()
                if held and (deadline is None or held[0][0] < deadline):
                    deadline = held[0][0]  # a delayed frame is due before the stack's next timer
                if syn_filter is not None and syn_filter.sources and (
                        deadline is None or syn_filter.next_review < deadline):
                    deadline = syn_filter.next_review  # its next look, even if nothing arrives
                if deadline is None:
                    timeout = None
                else:
                    timeout = deadline - monotonic()
                    if timeout < 0:
                        timeout = 0
                if intake or behind:
                    timeout = 0  # frames are waiting in the intake or in the kernel's queue
                events = selector.select(timeout)
                readable = behind
                for key, _ in events:
                    if key.data == "wake":
                        try:
                            while os.read(self._wake_read, 4096):
                                pass
                        except BlockingIOError:
                            pass
                        self._run_calls()
                        continue
                    readable = True
                if syn_filter is not None and (syn_filter.sources or intake.shed_by_source):
                    syn_filter.review(monotonic())
                if readable or intake:
                    # While the SYN filter is on, every frame is classified: its counts of the SYNs
                    # that still pass tell when the flood is over.
                    intake.pressure = behind or (syn_filter is not None and bool(syn_filter.sources))
                    if intake.syns_waiting > batch:
                        # A flood: more SYNs wait than a few turns serve. Drain the kernel's queue far
                        # ahead (its tail drops whatever comes when it is full, the client's frames
                        # too), shedding excess SYNs, then give the stack one batch (intake.py).
                        behind = self._read(drain, intake.add, bounded=True)
                        for frame in intake.take(batch, syn_batch):
                            answer(frame)
                    else:
                        # Keeping up: read one frame, answer one, as many times as a batch. Reading a
                        # batch ahead held each ACK back by up to a batch's processing time, and with
                        # a sub-millisecond SRTT that fired the stack's tail loss probes early.
                        behind = self._step(batch, syn_batch)
                if self._calls:
                    self._run_calls()
                if held and held[0][0] <= monotonic():
                    self._release_held(monotonic())
                deadline = stack.next_deadline()
                if deadline is not None:
                    now = monotonic()
                    if now >= deadline:
                        self._tick(now)
        except BaseException as error:  # pragma: no cover - reported to the owner thread
            self._error = error
            log.exception("TAP loop stopped")
        finally:
            self._started.set()
            selector.close()
            calls = self._calls
            while calls:
                calls.popleft()[3].set_exception(RuntimeError("the stack loop stopped"))


@contextmanager
def run_tap(tap: str = "nst0", ip: str = "192.0.2.2/24", host_ip: str | None = "192.0.2.1/24", *,
            netns: str | None = None, pcap=None, config: StackConfig | None = None, batch: int = 64,
            gso: bool = True, impair: "str | dict | None" = None, queue_length: int | None = QUEUE_LENGTH,
            drain: int = DRAIN, syn_filter: bool = True, **options):
    """Create TAP ``tap``, run a stack at ``ip`` on it, yield the ``RunningStack``; remove it on exit.

    ``host_ip`` (with prefix) goes on the host side; ``netns`` moves the host side into that existing
    namespace first; ``pcap`` (path or ``PcapWriter``) records every frame in and out; other keyword
    options are ``StackConfig`` fields (``mtu``, ``gateway``, ``mac``, ...). ``gso=False`` writes every
    frame as it is (no TCP segmentation offload towards the kernel, see the module docstring).
    ``impair`` impairs both directions (a ``netstack up --impair`` spec such as
    ``"loss=2%,delay=10ms,rate=50mbit,seed=7"``, or ``Impairment`` keyword arguments; see
    ``netstack.drivers.impairment``); the stack's counters ``impair.in.*`` / ``impair.out.*`` say what it did.
    ``queue_length`` is the TAP's txqueuelen (the kernel's queue towards us, default ``QUEUE_LENGTH``;
    None keeps the kernel's 1000); ``drain`` how many frames the loop reads ahead per turn in a SYN flood;
    ``syn_filter=False`` never thins a flood in the kernel (``netstack.drivers.syn_flood_filter``).
    """
    if queue_length is not None and not 1 <= queue_length <= 1 << 20:
        raise ConfigError("queue_length", f"{queue_length!r} is not a queue length (1..1048576 frames)")
    if drain < 1:
        raise ConfigError("drain", f"{drain!r}: the loop must read at least one frame per turn")
    if config is None:
        config = StackConfig.from_options(ip=ip, **options)
    if not tap or len(tap) > 15 or "/" in tap or " " in tap:
        raise ConfigError("tap", f"{tap!r} is not a valid interface name (1..15 characters)")
    if host_ip is not None:
        import ipaddress

        try:
            host = ipaddress.IPv4Interface(host_ip)
        except ValueError:
            raise ConfigError("host_ip", f"{host_ip!r} is not an IPv4 address with prefix") from None
        if host.ip.packed == config.address:
            raise ConfigError("host_ip", f"{host.ip} is the stack's own address")
    check_privileges()
    stack = Stack(config)
    models = impairments(impair, stack.counters)  # a bad spec fails here, before any device exists
    writer = None
    if pcap is not None:

        writer = pcap if isinstance(pcap, PcapWriter) else PcapWriter(pcap)
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            previous_handler = signal.SIG_DFL
            signal.signal(signal.SIGTERM, _sigterm_to_exit)
    fd = -1
    running = None
    try:
        if netns is None:
            fd = create_tap(tap, host_ip, config.mtu, gso, queue_length)
        else:
            # Created inside the namespace (by a thread that entered it), so the device never exists
            # in ours: no clash with an interface of the same name here or in another test run.
            fd = call_in_namespace(netns, create_tap, tap, host_ip, config.mtu, gso, queue_length)
        running = RunningStack(stack, fd, tap=tap, netns=netns, pcap=writer, batch=batch, vnet_header=gso,
                               impairments=models, drain=drain, syn_filter=syn_filter)
        running.start()
        log.info("up %s %s %s", tap, ip_to_text(config.address), mac_to_text(config.mac_address))
        yield running
    finally:
        if running is not None:
            running.stop()
        if fd >= 0:
            delete_tap(tap, netns)
            os.close(fd)  # non-persistent: closing removes the device if deletion above failed
        if writer is not None and writer is not pcap:
            writer.close()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def _sigterm_to_exit(signum, frame):
    raise SystemExit(128 + signum)
