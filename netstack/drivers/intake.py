"""The TAP's intake: frames read from the kernel wait here, and reach the stack non-SYN first and SYNs
fairly per source address.

Why it exists. The kernel queues what it sends to a TAP in a ring of ``txqueuelen`` frames (tun's
``ptr_ring``) and drops at the tail when the reader falls behind, whatever the frame: during a spoofed
SYN flood (RFC 4987 §2) at ~250,000 SYN/s, a stack answering ~36,000 a second saw most of a real
client's SYNs, ACKs and requests dropped there, before it could tell them from the flood. So the TAP
loop reads far faster than the stack processes — the driver drains the ring into this queue, a few
microseconds a frame — and chooses here, in user space, what waits and what is dropped:

* every frame that is not a bare SYN (handshake-completing ACKs, cookie ACKs, data, ARP) goes first,
  in arrival order, so connections already made keep working whatever the SYN rate;
* bare SYNs (SYN set, ACK clear: a new connection request) wait in one queue per IPv4 source address
  and are taken round robin, one per source per turn, so one flooding address (or 151 spoofed ones)
  cannot crowd out a client's SYN: the client waits at most one turn of the sources queued;
* past ``syn_per_source`` SYNs queued from one source, or ``syn_limit`` in all, a SYN is dropped
  unparsed (``tap.drop.syn_queue_full``): the cheapest place to shed a flood is before the stack spends
  a SYN cookie (RFC 4987 §3.6) on it;
* when ``frame_limit`` other frames wait, the driver stops reading and leaves the rest in the kernel's
  ring, so memory stays bounded (``docs/bounds.md``).

Reordering only moves a SYN behind other frames that arrived with it, as if it had arrived a little
later: nothing a SYN answers can be among them. A bare SYN is found from a few bytes at offsets read
from the generated header layouts (``netstack.formats.fast_layers``), not parsed; anything else —
short, not IPv4, not TCP, a SYN-ACK — is "other" and reaches the stack, which parses and checks every
frame in full as before. This is driver policy on bytes, no protocol state: the engine stays sans-I/O.
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
SYN_PER_SOURCE = 16


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


_ETHERTYPE_AT = ETHERNET_LAYOUT.offsets["ethertype"]
_IPV4_ETHERTYPE = ETHERTYPE_IPV4.to_bytes(2, "big")
_IP_AT = ETHERNET_LAYOUT.size
_IHL_AT, _IHL_SHIFT, _IHL_MASK = _bits_in_byte(IPV4_LAYOUT, "ihl")
_IHL_AT += _IP_AT
_PROTOCOL_AT = _IP_AT + IPV4_LAYOUT.offsets["protocol"]
_SOURCE_AT = _IP_AT + IPV4_LAYOUT.offsets["src"]
_FLAGS_AT, _FLAGS_SHIFT, _FLAGS_MASK = _bits_in_byte(TCP_LAYOUT, "flags")
if _FLAGS_SHIFT or not (_FLAGS_MASK & SYN and _FLAGS_MASK & ACK):
    raise LayoutError("the TCP flags' SYN and ACK bits are not in one byte")
_SHORTEST = _IP_AT + IPV4_LAYOUT.size + TCP_LAYOUT.size


def bare_syn_source(frame: bytes) -> bytes | None:
    """The IPv4 source address of ``frame`` if it is a TCP segment with SYN set and ACK clear, else None
    (no checksum or length check: the stack does those when the frame's turn comes)."""
    if (len(frame) < _SHORTEST or frame[_PROTOCOL_AT] != IP_PROTOCOL_TCP
            or frame[_ETHERTYPE_AT:_ETHERTYPE_AT + 2] != _IPV4_ETHERTYPE):
        return None
    flags_at = _IP_AT + ((frame[_IHL_AT] >> _IHL_SHIFT) & _IHL_MASK) * 4 + _FLAGS_AT
    if flags_at >= len(frame) or frame[flags_at] & (SYN | ACK) != SYN:
        return None
    return frame[_SOURCE_AT:_SOURCE_AT + 4]


class FrameIntake:
    """Frames read from the TAP, waiting for the stack (see the module docstring)."""

    def __init__(self, counters, *, frame_limit: int = FRAME_LIMIT, syn_limit: int = SYN_LIMIT,
                 syn_per_source: int = SYN_PER_SOURCE):
        if frame_limit < 1 or syn_limit < 1 or syn_per_source < 1:
            raise ValueError("intake limits must be at least 1")
        self.counters = counters
        self.frame_limit = frame_limit
        self.syn_limit = syn_limit
        self.syn_per_source = syn_per_source
        self._frames: collections.deque = collections.deque()
        self._syns: dict[bytes, collections.deque] = {}  # source address -> its SYN frames, oldest first
        self._turns: collections.deque = collections.deque()  # sources with SYNs waiting, next turn first
        self._syn_count = 0

    def __len__(self) -> int:
        return len(self._frames) + self._syn_count

    @property
    def full(self) -> bool:
        """No room for another non-SYN frame: the reader should leave the rest in the kernel's queue."""
        return len(self._frames) >= self.frame_limit

    def add(self, frame: bytes) -> None:
        source = bare_syn_source(frame)
        if source is None:
            self._frames.append(frame)
            return
        queue = self._syns.get(source)
        if queue is None:
            if self._syn_count >= self.syn_limit:
                self.counters.incr("tap.drop.syn_queue_full")
                return
            queue = self._syns[source] = collections.deque()
            self._turns.append(source)
        elif len(queue) >= self.syn_per_source or self._syn_count >= self.syn_limit:
            self.counters.incr("tap.drop.syn_queue_full")
            return
        queue.append(frame)
        self._syn_count += 1

    def take(self, limit: int, syns: int | None = None) -> list[bytes]:
        """Up to ``limit`` frames for the stack: the others in arrival order, then at most ``syns`` SYNs
        (default: up to ``limit``) round robin."""
        frames = self._frames
        taken = [frames.popleft() for _ in range(min(limit, len(frames)))]
        turns = self._turns
        limit = min(limit, len(taken) + (limit if syns is None else syns))
        while turns and len(taken) < limit:
            source = turns.popleft()
            queue = self._syns[source]
            taken.append(queue.popleft())
            self._syn_count -= 1
            if queue:
                turns.append(source)
            else:
                del self._syns[source]
        return taken
