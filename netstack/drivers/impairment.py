"""Link impairments, sans-I/O: one seeded model of loss, ECN marking, duplication, reordering,
corruption, delay, jitter and rate limiting, shared by the simulator's links and the TAP driver (a user-space netem).

::

    impairment = Impairment(loss=0.02, delay=0.010, jitter=0.001, rate=50e6, seed=7)
    for deliver_at, data in impairment.transmit(frame, now):
        ...                                   # hand ``data`` to the receiver at ``deliver_at``

    Impairment.from_spec("loss=2%,delay=10ms,jitter=1ms,dup=0.5%,reorder=1%,rate=50mbit,seed=7")

What happens to one frame, in this order (the order of the random draws is part of the model: the
same seed gives the same decisions):

1. **rate** (bits/s): the frame waits behind the frames sent before it and takes ``len·8/rate``
   seconds to serialise; the queue holds at most ``queue`` frames, and a frame arriving at a full
   queue is dropped (drop-tail, ``drop.queue_full``), as a router's interface queue (Linux's default
   ``txqueuelen`` of 1000 frames);
2. then, per receiver: **loss** (``lost``); **ce** (``ce_marked``: an IPv4 packet whose ECN field says
   ECT(0) or ECT(1) gets congestion experienced instead of being dropped, as an AQM router marks
   (RFC 3168 §5), its header checksum updated; Not-ECT frames are untouched and draw nothing);
   **duplicate** (``duplicated``: delivered twice); per copy:
   **corrupt** (``corrupted``: one random bit flipped), **delay** plus a uniform draw in [0, ``jitter``],
   **reorder** (``reordered``: held back ``reorder_delay`` more, so later frames overtake it).

Probabilities are per frame, 0..1; times in seconds. Time is an argument (``now``), never read here.
The counters (``Counters``, names with an optional ``prefix``) say what the model did.

``parse_impairment`` reads the ``netstack up --impair`` spelling: comma-separated ``key=value`` with
``loss``, ``ce``, ``dup``/``duplicate``, ``reorder``, ``corrupt`` as percentages (``2%``) or fractions
(``0.02``); ``delay``, ``jitter``, ``reorder_delay`` with a unit (``10ms``, ``1s``, ``500us``);
``rate`` as ``tc`` spells it (``50mbit``, ``1gbit``, ``100kbit``; ``mbps`` means megabytes/s);
``queue`` in frames; ``seed`` an integer. Anything else is a ``ConfigError`` naming the culprit.
"""

from __future__ import annotations

import collections
import random
import re

from netstack.engine.config import ConfigError
from netstack.engine.observability import Counters
from netstack.formats.checksum import internet_checksum
from netstack.errors import FormatError
from netstack.formats.fast import ETHERTYPE_IPV4, IPV4_LAYOUT, decode_ethernet
from netstack.formats.ipv4 import ECN_CE, ECN_MASK, ECN_NOT_ECT, MINIMUM_HEADER_LENGTH

#: Frames a rate-limited queue holds before it drops (Linux's default txqueuelen).
DEFAULT_QUEUE_FRAMES = 1000

_PROBABILITIES = {"loss": "loss", "ce": "ce", "dup": "duplicate", "duplicate": "duplicate", "reorder": "reorder",
                  "corrupt": "corrupt"}
_TIMES = ("delay", "jitter", "reorder_delay")
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}
# As tc(8) spells rates: "bit" suffixes are bits per second, "bps" suffixes bytes per second.
_RATE_UNITS = {"bit": 1.0, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9,
               "bps": 8.0, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9}
_NUMBER_WITH_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Zµ%]*)\s*$")


_TOS, _IP_CHECKSUM = IPV4_LAYOUT.offsets["tos"], IPV4_LAYOUT.offsets["checksum"]


def mark_congestion_experienced(frame: bytes) -> bytes | None:
    """``frame`` (Ethernet, untagged or VLAN-tagged) with its IPv4 ECN field set to CE and the header
    checksum recomputed (RFC 3168 §5: a router marks an ECT packet instead of dropping it); None when
    the frame is not an ECN-capable (ECT(0) or ECT(1)) IPv4 packet, or is CE already."""
    try:
        ethernet = decode_ethernet(frame)
    except FormatError:
        return None
    ip = ethernet.payload_offset
    if ethernet.ethertype != ETHERTYPE_IPV4 or len(frame) < ip + MINIMUM_HEADER_LENGTH or frame[ip] >> 4 != 4:
        return None
    codepoint = frame[ip + _TOS] & ECN_MASK
    header_length = (frame[ip] & 0xF) * 4
    if codepoint in (ECN_NOT_ECT, ECN_CE) or header_length < MINIMUM_HEADER_LENGTH or len(frame) < ip + header_length:
        return None
    marked = bytearray(frame)
    marked[ip + _TOS] |= ECN_CE
    marked[ip + _IP_CHECKSUM:ip + _IP_CHECKSUM + 2] = b"\0\0"
    checksum = internet_checksum(marked[ip:ip + header_length])
    marked[ip + _IP_CHECKSUM:ip + _IP_CHECKSUM + 2] = checksum.to_bytes(2, "big")
    return bytes(marked)


def _number(key: str, text: str) -> tuple[float, str]:
    match = _NUMBER_WITH_UNIT.match(text)
    if match is None:
        raise ConfigError(f"impair {key}", f"{text!r} is not a number")
    return float(match.group(1)), match.group(2).lower()


def _probability(key: str, text: str) -> float:
    value, unit = _number(key, text)
    if unit == "%":
        value /= 100.0
    elif unit:
        raise ConfigError(f"impair {key}", f"{text!r}: a probability is a percentage (2%) or a fraction (0.02)")
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"impair {key}", f"{text!r} is more than 100 %")
    return value


def _seconds(key: str, text: str) -> float:
    value, unit = _number(key, text)
    if unit not in _TIME_UNITS:
        if not unit and value == 0:
            return 0.0
        raise ConfigError(f"impair {key}", f"{text!r} needs a time unit: s, ms or us (like 10ms)")
    return value * _TIME_UNITS[unit]


def _rate(key: str, text: str) -> float:
    value, unit = _number(key, text)
    if unit not in _RATE_UNITS:
        raise ConfigError(f"impair {key}", f"{text!r} needs a rate unit: bit, kbit, mbit, gbit (or bps, kbps, "
                                           "mbps, gbps for bytes per second), like 50mbit")
    if value <= 0:
        raise ConfigError(f"impair {key}", f"{text!r} must be positive")
    return value * _RATE_UNITS[unit]


def _integer(key: str, text: str, minimum: int) -> int:
    try:
        value = int(text.strip(), 0)
    except ValueError:
        raise ConfigError(f"impair {key}", f"{text!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"impair {key}", f"{value} is below {minimum}")
    return value


def parse_impairment(spec: str) -> dict:
    """``"loss=2%,delay=10ms,rate=50mbit,seed=7"`` -> keyword arguments of ``Impairment``."""
    if not isinstance(spec, str):
        raise ConfigError("impair", f"{spec!r} is not a string like loss=2%,delay=10ms")
    options: dict = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        key, equals, value = item.partition("=")
        key = key.strip().lower()
        if not equals or not value.strip():
            raise ConfigError("impair", f"{item!r} is not key=value")
        if key in _PROBABILITIES:
            name, parsed = _PROBABILITIES[key], _probability(key, value)
        elif key in _TIMES:
            name, parsed = key, _seconds(key, value)
        elif key == "rate":
            name, parsed = key, _rate(key, value)
        elif key == "queue":
            name, parsed = key, _integer(key, value, 1)
        elif key == "seed":
            name, parsed = key, _integer(key, value, 0)
        else:
            known = ", ".join(sorted({*_PROBABILITIES, *_TIMES, "rate", "queue", "seed"}))
            raise ConfigError("impair", f"unknown key {key!r} (known: {known})")
        if name in options:
            raise ConfigError(f"impair {key}", "given twice")
        options[name] = parsed
    if not options:
        raise ConfigError("impair", "empty specification (like loss=2%,delay=10ms)")
    return options


class Impairment:
    """The impairment model of one link (see the module docstring)."""

    def __init__(self, *, loss: float = 0.0, ce: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0,
                 reorder_delay: float | None = None, corrupt: float = 0.0, delay: float = 0.0,
                 jitter: float = 0.0, rate: float | None = None, queue: int = DEFAULT_QUEUE_FRAMES,
                 seed: int | None = 0, rng: random.Random | None = None, counters: Counters | None = None,
                 prefix: str = ""):
        for name, value in (("loss", loss), ("ce", ce), ("duplicate", duplicate), ("reorder", reorder), ("corrupt", corrupt)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: probability {value} is outside 0..1")
        for name, value in (("delay", delay), ("jitter", jitter)):
            if value < 0:
                raise ValueError(f"{name}: {value} seconds is negative")
        if rate is not None and rate <= 0:
            raise ValueError(f"rate: {rate} bits/s must be positive")
        if queue < 1:
            raise ValueError(f"queue: {queue} frames must be at least 1")
        self.loss, self.duplicate, self.reorder, self.corrupt = loss, duplicate, reorder, corrupt
        self.ce = ce
        self.delay, self.jitter = delay, jitter
        self.reorder_delay = reorder_delay if reorder_delay is not None else 2 * delay + 2 * jitter + 1e-3
        self.rate = rate
        self.queue = queue
        self.random = rng if rng is not None else random.Random(seed)
        self.counters = counters if counters is not None else Counters()
        self._names = {name: prefix + name for name in
                       ("frames", "lost", "ce_marked", "duplicated", "corrupted", "reordered", "drop.queue_full")}
        # Per transmitter (a hub has several): departure times of the frames still queued.
        self._queues: dict = {}

    @classmethod
    def from_spec(cls, spec: str, **kwargs) -> "Impairment":
        return cls(**{**parse_impairment(spec), **kwargs})

    def depart(self, size: int, now: float, transmitter=None) -> float | None:
        """When a ``size``-byte frame has left ``transmitter``'s queue; None: dropped, the queue is full."""
        if self.rate is None:
            return now
        queued = self._queues.get(transmitter)
        if queued is None:
            queued = self._queues[transmitter] = collections.deque()
        while queued and queued[0] <= now:
            queued.popleft()
        if len(queued) >= self.queue:
            self.counters.incr(self._names["drop.queue_full"])
            return None
        departure = (queued[-1] if queued else now) + size * 8 / self.rate
        queued.append(departure)
        return departure

    def deliveries(self, frame: bytes, departure: float) -> list[tuple[float, bytes]]:
        """What one receiver gets of a frame that left at ``departure``: (arrival time, bytes) pairs."""
        rng = self.random
        counters = self.counters
        names = self._names
        if self.loss and rng.random() < self.loss:
            counters.incr(names["lost"])
            return []
        if self.ce:
            marked = mark_congestion_experienced(frame)
            if marked is not None and rng.random() < self.ce:
                frame = marked
                counters.incr(names["ce_marked"])
        copies = 2 if self.duplicate and rng.random() < self.duplicate else 1
        if copies == 2:
            counters.incr(names["duplicated"])
        out = []
        for _ in range(copies):
            data = frame
            if self.corrupt and rng.random() < self.corrupt:
                position = rng.randrange(len(frame))
                mutable = bytearray(frame)
                mutable[position] ^= 1 << rng.randrange(8)
                data = bytes(mutable)
                counters.incr(names["corrupted"])
            arrival = departure + self.delay
            if self.jitter:
                arrival += rng.uniform(0.0, self.jitter)
            if self.reorder and rng.random() < self.reorder:
                arrival += self.reorder_delay
                counters.incr(names["reordered"])
            out.append((arrival, data))
        return out

    def transmit(self, frame: bytes, now: float, transmitter=None) -> list[tuple[float, bytes]]:
        """A point-to-point link: the (deliver_at, bytes) pairs the one receiver gets of ``frame``."""
        self.counters.incr(self._names["frames"])
        departure = self.depart(len(frame), now, transmitter)
        if departure is None:
            return []
        return self.deliveries(frame, departure)
