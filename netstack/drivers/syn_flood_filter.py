"""Shedding a SYN flood in the kernel: a classic BPF filter on the TAP's queue, while a flood lasts.

Why. The kernel queues what it sends to a TAP in a ring (``txqueuelen`` frames) and drops at the tail
whatever comes when it is full (RFC 4987 §2's flood, one layer down). The intake (``intake.py``) reads
that ring far faster than the stack answers and sheds excess SYNs in user space, but reading is still
Python: a few microseconds a frame. ``hping3 --flood`` from one spoofed address reaches 600,000 SYN/s on
a 2-core machine, faster than the loop can read while it also answers, and the ring's tail drop then
takes a real client's SYNs, ACKs and requests with the flood's (0-2 of 20 requests served in 10 s).

What. When the intake sheds many SYNs of one source address in an interval, the loop attaches a socket
filter to the TAP (``TUNATTACHFILTER``, classic BPF: tun runs it in ``tun_net_xmit`` before the ring):
bare SYNs (SYN set, ACK clear) from the flooding addresses pass with probability 1/``keep`` (the BPF
random ancillary load), every other frame passes untouched. Still shedding with a filter on: ``keep``
grows fourfold, up to ``MAX_KEEP``. The SYNs that still pass are counted per source (the intake stays
under pressure and classifies every frame while the filter is on); when they show the flood below the
attaching rate, the filter is detached. So a flooding address is thinned before the ring, the stack
still sees (and answers with SYN cookies) a sample of it, and a client at another address keeps the
ring to itself; like the intake's own policy, a flood from an address pays for itself and nobody else
does. Spoofed floods from many addresses are left to the intake (up to ``MAX_SOURCES`` addresses are
filtered at once).

The program is built from the byte offsets the intake reads (``netstack.drivers.intake``, taken from the
header declarations' generated layouts), so the two can never disagree on where a SYN's flags are. The
kernel counts what the filter drops as the TAP's TX ``dropped``; the stack's counters say
``tap.syn_filter.attached`` / ``.detached`` (and ``.unavailable`` if the ioctl is refused: the intake
alone then). Everything here is driver policy on bytes: the engine stays sans-I/O.
"""

from __future__ import annotations

import ctypes
import fcntl
import ipaddress
import logging
import struct

from netstack.drivers import intake as frame_offsets
from netstack.formats.codegen import LayoutError
from netstack.formats.registry import ETHERTYPE_IPV4, IP_PROTOCOL_TCP
from netstack.formats.tcp import ACK, SYN

log = logging.getLogger("netstack.tap")

# <linux/if_tun.h>: _IOW('T', 213 / 214, struct sock_fprog); struct sock_fprog is 16 bytes on 64-bit.
TUNATTACHFILTER = 0x401054D5
TUNDETACHFILTER = 0x401054D6

#: How often the loop looks at what the intake shed (s), and what counts as a flood: SYNs of one source
#: shed (without a filter) or estimated arriving (with one) per interval.
INTERVAL = 0.2
FLOOD_SYNS = 1000
#: A flooding source's bare SYNs pass with probability 1/keep: first FIRST_KEEP, x4 while still shedding.
FIRST_KEEP = 16
MAX_KEEP = 4096
MAX_SOURCES = 4

# Classic BPF (<linux/filter.h>, <linux/bpf_common.h>).
_LD_W_ABS, _LD_H_ABS, _LD_B_ABS, _LD_B_IND = 0x20, 0x28, 0x30, 0x50
_LDX_B_MSH = 0xB1  # X = 4 * (byte & 0xf): the IPv4 header length
_AND_K, _JEQ_K, _RET_K = 0x54, 0x15, 0x06
_RANDOM = (-0x1000 + 56) & 0xFFFFFFFF  # SKF_AD_OFF + SKF_AD_RANDOM: a fresh 32-bit random number
_ACCEPT, _DROP = 0xFFFFFFFF, 0  # a socket filter returns how many bytes to keep

if frame_offsets.IHL_SHIFT != 0 or frame_offsets.IHL_MASK != 0xF:
    raise LayoutError("BPF's MSH load wants the IPv4 header length in the low nibble of its byte")


def filter_program(sources: list[bytes], keep: int) -> list[tuple[int, int, int, int]]:
    """(code, jt, jf, k) instructions: drop a bare TCP SYN from one of ``sources`` unless a random
    number is 0 modulo ``keep`` (a power of two); accept every other frame."""
    if not 1 <= len(sources) <= MAX_SOURCES or keep < 2 or keep & (keep - 1):
        raise ValueError("1 to MAX_SOURCES sources, and keep a power of two above 1")
    program = [(_LD_H_ABS, 0, 0, frame_offsets.ETHERTYPE_AT), (_JEQ_K, 0, None, ETHERTYPE_IPV4),
               (_LD_B_ABS, 0, 0, frame_offsets.PROTOCOL_AT), (_JEQ_K, 0, None, IP_PROTOCOL_TCP),
               (_LD_W_ABS, 0, 0, frame_offsets.SOURCE_AT)]
    for index, source in enumerate(sources):
        rest = len(sources) - 1 - index  # jump over the remaining comparisons to the flags' check
        program.append((_JEQ_K, rest, None if rest == 0 else 0, int.from_bytes(source, "big")))
    program += [(_LDX_B_MSH, 0, 0, frame_offsets.IHL_AT),
                (_LD_B_IND, 0, 0, frame_offsets.IP_AT + frame_offsets.FLAGS_AT),
                (_AND_K, 0, 0, SYN | ACK), (_JEQ_K, 0, None, SYN),
                (_LD_W_ABS, 0, 0, _RANDOM), (_AND_K, 0, 0, keep - 1), (_JEQ_K, 1, 0, 0),
                (_RET_K, 0, 0, _DROP), (_RET_K, 0, 0, _ACCEPT)]
    accept = len(program) - 1
    # "None": jump to accept (relative offsets are counted from the next instruction).
    return [(code, jt, accept - i - 1 if jf is None else jf, k) for i, (code, jt, jf, k) in enumerate(program)]


def _fprog(program) -> tuple[bytes, ctypes.Array]:
    instructions = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in program))
    return struct.pack("HxxxxxxQ", len(program), ctypes.addressof(instructions)), instructions


class SynFloodFilter:
    """Attaches, tightens and detaches the TAP's SYN filter from what the intake sheds (module docstring)."""

    def __init__(self, fd: int, intake, counters, *, interval: float = INTERVAL, flood_syns: int = FLOOD_SYNS):
        self.fd = fd
        self.intake = intake
        self.counters = counters
        self.interval = interval
        self.flood_syns = flood_syns
        self.sources: list[bytes] = []  # filtered now
        self.keep = 0
        self.available = True
        self._next_review = 0.0
        self._program = None  # the instructions' buffer, alive while the kernel holds a copy

    @property
    def active(self) -> bool:
        return bool(self.sources)

    @property
    def next_review(self) -> float:
        """When ``review`` next looks; the loop wakes for it while the filter is on, so an idle TAP
        does not keep a finished flood's filter."""
        return self._next_review

    def review(self, now: float) -> None:
        """Once per interval: attach, tighten or detach the filter from the intake's per-source counts."""
        if now < self._next_review:
            return
        self._next_review = now + self.interval
        intake = self.intake
        shed, seen = intake.shed_by_source, intake.syns_by_source
        intake.shed_by_source, intake.syns_by_source = {}, {}
        if not self.available:
            return
        flooding = [source for source, count in shed.items() if count >= self.flood_syns]
        if not self.sources:
            if flooding:
                flooding.sort(key=shed.get, reverse=True)
                self._attach(flooding[:MAX_SOURCES], FIRST_KEEP)
            return
        sources = [source for source in self.sources if seen.get(source, 0) * self.keep >= self.flood_syns]
        added = [source for source in flooding if source not in sources]
        if any(shed.get(source, 0) for source in sources) and self.keep < MAX_KEEP:
            self._attach((sources + added)[:MAX_SOURCES], self.keep * 4)  # still behind: thin harder
        elif added or sources != self.sources:
            if sources or added:
                self._attach((sources + added)[:MAX_SOURCES], self.keep)
            else:
                self.detach()

    def _attach(self, sources: list[bytes], keep: int) -> None:
        fprog, program = _fprog(filter_program(sources, keep))
        try:
            fcntl.ioctl(self.fd, TUNATTACHFILTER, fprog)
        except OSError as error:
            self.available = False
            self.sources = []
            self.intake.watched = frozenset()
            self.counters.incr("tap.syn_filter.unavailable")
            log.warning("cannot attach a SYN filter to the TAP (%s); the intake sheds the flood alone", error)
            return
        self._program = program
        self.intake.watched = frozenset(sources)
        if not self.sources:
            self.counters.incr("tap.syn_filter.attached")
        self.sources, self.keep = sources, keep
        log.warning("SYN flood from %s: the TAP's queue keeps 1 in %d of its SYNs",
                    ", ".join(str(ipaddress.IPv4Address(s)) for s in sources), keep)

    def detach(self) -> None:
        if not self.sources:
            return
        self.sources, self.keep = [], 0
        self.intake.watched = frozenset()
        try:
            fcntl.ioctl(self.fd, TUNDETACHFILTER, struct.pack("HxxxxxxQ", 0, 0))
        except OSError as error:  # the fd closing removes the filter anyway
            log.warning("cannot detach the TAP's SYN filter (%s)", error)
        self._program = None
        self.counters.incr("tap.syn_filter.detached")
        log.warning("SYN flood over: the TAP's SYN filter is off")
