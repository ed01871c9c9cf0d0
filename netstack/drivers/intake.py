"""The TAP's intake: frames read from the kernel wait here; under pressure, SYNs wait apart, served
fairly per source address, a few per turn, and the excess is shed before parsing.

Why it exists. The kernel queues what it sends to a TAP in a ring of ``txqueuelen`` frames (tun's
``ptr_ring``) and drops at the tail when the reader falls behind, whatever the frame: during a spoofed
SYN flood (RFC 4987 §2) at ~250,000 SYN/s, a stack answering ~36,000 a second saw most of a real
client's SYNs, ACKs and requests dropped there, before it could tell them from the flood. So the TAP
loop reads far faster than the stack processes — the driver drains the ring into this queue, a few
microseconds a frame — and chooses here, in user space, what waits and what is dropped:

* while the stack keeps up (fewer than ``divert_after`` frames wait, and the reader's last read
  emptied the kernel's queue: ``pressure`` false), every frame keeps its arrival order, SYNs
  included: nothing changes for ordinary traffic;
* otherwise bare SYNs (SYN set, ACK clear: new connection requests) wait in one queue per IPv4 source
  address. Each turn the stack gets a few of them (``take(limit, syns)``), one per source in round
  robin, then the other frames (handshake-completing and cookie ACKs, data, ARP) in arrival order: a
  flood can take at most those few places of a turn, established connections keep the rest, and one
  flooding address (or 151 spoofed ones) cannot crowd out a client's SYN, which waits at most one
  round of the sources queued;
* with ``syn_limit`` SYNs waiting, the source with the most waiting loses its newest one to make
  room, unless the arriving SYN's source has about as many (then that SYN is dropped): a flooding
  address pays for its own flood, a client's SYN always gets a place, and a host opening 200
  connections at once is not mistaken for a flood. Either way the SYN is dropped unparsed
  (``tap.drop.syn_queue_full``): the cheapest place to shed a flood is before the stack spends a SYN
  cookie (RFC 4987 §3.6) on it. ("The most" is kept as SYNs arrive, so it may be a little stale
  after turns were taken; it is recomputed only when its source has none left);
* when ``frame_limit`` other frames wait, the driver stops reading and leaves the rest in the kernel's
  ring, so memory stays bounded (``docs/bounds.md``).

Under pressure a SYN may thus be answered before or after frames of other connections that arrived
around it, as on any network; ordering inside the arrival-order queue is never changed. A bare SYN is
found from a few bytes at offsets read from the generated header layouts
(``netstack.formats.fast_layers``), not parsed; anything else — short, not IPv4, not TCP, a SYN-ACK —
is "other" and reaches the stack, which parses and checks every frame in full as before. This is
driver policy on bytes, no protocol state: the engine stays sans-I/O.
"""

from __future__ import annotations

import collections
import struct

from netstack.formats.codegen import LayoutError
from netstack.formats.fast_layers import ETHERNET_LAYOUT, IPV4_LAYOUT, TCP_LAYOUT
from netstack.formats.registry import ETHERTYPE_IPV4, IP_PROTOCOL_TCP
from netstack.formats.tcp import ACK, SYN

#: Defaults: about 6 MB of full-size frames waiting, and 1,024 SYNs (64 bytes each on the wire).
FRAME_LIMIT = 4096
SYN_LIMIT = 1024
#: SYNs wait apart only while at least this many frames wait (a batch: the stack is behind).
DIVERT_AFTER = 64
#: Source addresses whose shed SYNs are counted between two looks of the kernel-side SYN filter.
SHED_SOURCES = 1024


def _bits_in_byte(layout, name: str) -> tuple[int, int, int]:
    """(byte offset, shift, mask) of the low byte of bit field ``name``, from the declaration's layout."""
    position = 0
    for slot in layout.slots:
        size = struct.calcsize("!" + slot.code)
        for bit in slot.bits:
            if bit.name == name:
                low_byte = position + size - 1 - bit.shift // 8
                shift = bit.shift % 8
                return low_byte, shift, bit.mask & (0xFF >> shift)
        position += size
    raise LayoutError(f"{name!r} is not a bit field of this header")


# Byte offsets in a frame (Ethernet first), from the declarations' layouts; also the kernel-side SYN
# filter's (syn_flood_filter.py).
ETHERTYPE_AT = ETHERNET_LAYOUT.offsets["ethertype"]
_IPV4_ETHERTYPE = ETHERTYPE_IPV4.to_bytes(2, "big")
IP_AT = ETHERNET_LAYOUT.size
IHL_AT, IHL_SHIFT, IHL_MASK = _bits_in_byte(IPV4_LAYOUT, "ihl")
IHL_AT += IP_AT
PROTOCOL_AT = IP_AT + IPV4_LAYOUT.offsets["protocol"]
SOURCE_AT = IP_AT + IPV4_LAYOUT.offsets["src"]
FLAGS_AT, FLAGS_SHIFT, FLAGS_MASK = _bits_in_byte(TCP_LAYOUT, "flags")
if FLAGS_SHIFT or not (FLAGS_MASK & SYN and FLAGS_MASK & ACK):
    raise LayoutError("the TCP flags' SYN and ACK bits are not in one byte")
_SHORTEST = IP_AT + IPV4_LAYOUT.size + TCP_LAYOUT.size


def bare_syn_source(frame: bytes) -> bytes | None:
    """The IPv4 source address of ``frame`` if it is a TCP segment with SYN set and ACK clear, else None
    (no checksum or length check: the stack does those when the frame's turn comes)."""
    if (len(frame) < _SHORTEST or frame[PROTOCOL_AT] != IP_PROTOCOL_TCP
            or frame[ETHERTYPE_AT:ETHERTYPE_AT + 2] != _IPV4_ETHERTYPE):
        return None
    flags_at = IP_AT + ((frame[IHL_AT] >> IHL_SHIFT) & IHL_MASK) * 4 + FLAGS_AT
    if flags_at >= len(frame) or frame[flags_at] & (SYN | ACK) != SYN:
        return None
    return frame[SOURCE_AT:SOURCE_AT + 4]


class FrameIntake:
    """Frames read from the TAP, waiting for the stack (see the module docstring)."""

    def __init__(self, counters, *, frame_limit: int = FRAME_LIMIT, syn_limit: int = SYN_LIMIT,
                 divert_after: int = DIVERT_AFTER):
        if frame_limit < 1 or syn_limit < 1 or divert_after < 0:
            raise ValueError("intake limits must be at least 1 (divert_after at least 0)")
        self.counters = counters
        self.frame_limit = frame_limit
        self.syn_limit = syn_limit
        self.divert_after = divert_after
        self._frames: collections.deque = collections.deque()
        self._syns: dict[bytes, collections.deque] = {}  # source address -> its SYN frames, oldest first
        self._turns: collections.deque = collections.deque()  # sources with SYNs waiting, next turn first
        self._syn_count = 0
        self._longest: bytes | None = None  # the source with the most SYNs waiting (kept on each append)
        self.pressure = False  # set by the reader: its last read left frames in the kernel's queue
        # Since the kernel-side SYN filter (syn_flood_filter.py) last cleared them: per source address,
        # SYNs shed (at most SHED_SOURCES addresses), and SYNs that arrived from the ``watched`` ones.
        self.shed_by_source: dict[bytes, int] = {}
        self.syns_by_source: dict[bytes, int] = {}
        self.watched: frozenset = frozenset()

    def __len__(self) -> int:
        return len(self._frames) + self._syn_count

    @property
    def syns_waiting(self) -> int:
        """SYNs waiting apart from the other frames."""
        return self._syn_count

    @property
    def full(self) -> bool:
        """No room for another non-SYN frame: the reader should leave the rest in the kernel's queue."""
        return len(self._frames) >= self.frame_limit

    def add(self, frame: bytes) -> None:
        if not self._syn_count and not self.pressure and len(self._frames) < self.divert_after:
            self._frames.append(frame)  # the stack keeps up: arrival order, SYNs included
            return
        source = bare_syn_source(frame)
        if source is None:
            self._frames.append(frame)
            return
        if source in self.watched:
            seen = self.syns_by_source
            seen[source] = seen.get(source, 0) + 1
        syns = self._syns
        queue = syns.get(source)
        if self._syn_count >= self.syn_limit and not self._make_room(len(queue) if queue else 0):
            self._shed(source)
            return
        if queue is None:
            queue = syns[source] = collections.deque()
            self._turns.append(source)
        queue.append(frame)
        self._syn_count += 1
        longest = self._longest
        if longest is None or longest not in syns or len(queue) > len(syns[longest]):
            self._longest = source

    def _make_room(self, waiting: int) -> bool:
        """All SYN slots taken: the longest queue gives up its newest SYN if it is longer than the
        arriving SYN's source's (``waiting``); a flooding source thus pays for its own SYNs, and a
        client's first SYN always gets a place. False: drop the arriving SYN instead."""
        syns = self._syns
        longest = self._longest
        if longest is None or longest not in syns:
            longest = self._longest = max(syns, key=lambda source: len(syns[source]))
        queue = syns[longest]
        if len(queue) <= waiting + 1:
            return False
        queue.pop()
        self._syn_count -= 1
        self._shed(longest)
        return True

    def _shed(self, source: bytes) -> None:
        shed = self.shed_by_source
        if source in shed or len(shed) < SHED_SOURCES:  # (spoofed from many: memory stays bounded)
            shed[source] = shed.get(source, 0) + 1
        self.counters.incr("tap.drop.syn_queue_full")

    def take(self, limit: int, syns: int | None = None) -> list[bytes]:
        """Up to ``limit`` frames for the stack: first at most ``syns`` (default a quarter of ``limit``)
        of the SYNs waiting apart, round robin per source, then the others in arrival order."""
        taken = []
        turns = self._turns
        syns = min(limit, max(1, limit // 4) if syns is None else syns)
        while turns and len(taken) < syns:
            source = turns.popleft()
            queue = self._syns[source]
            taken.append(queue.popleft())
            self._syn_count -= 1
            if queue:
                turns.append(source)
            else:
                del self._syns[source]
        frames = self._frames
        taken.extend(frames.popleft() for _ in range(min(limit - len(taken), len(frames))))
        return taken
