"""IPv4 reassembly (RFC 791 "Reassembly", RFC 815 hole descriptors, RFC 1122 §3.3.2).

Fragments are keyed by (src, dst, protocol, identification) (RFC 791). Per datagram the queue keeps
the fragments sorted by offset and the total length once the last fragment (MF clear) has arrived;
the datagram is complete when the fragments cover 0..total without a gap (RFC 815's "no holes left").

Policies, stated:

- **Overlaps drop the whole datagram** (RFC 5722 §4, written for IPv6, applied here to IPv4 as
  Linux does with ``ip_frag`` since 2018 for overlapping fragments): overlapping fragments are how
  the Teardrop and "Rose" attacks and IDS evasion work, and no correct sender produces them. An exact
  duplicate (same offset, length and bytes: a retransmission by the link) is ignored and counted.
  After a drop, later fragments of the same datagram are discarded until its timer fires.
- **Timeout**: ``reassembly_timeout`` (30 s default, as Linux) after the first fragment. On expiry,
  if fragment zero had arrived, ICMP time exceeded code 1 ("fragment reassembly time exceeded") is
  sent to the source, quoting fragment zero (RFC 792; RFC 1122 §3.3.2 — without fragment zero there
  is nothing meaningful to quote, so nothing is sent).
- **Limits**: at most ``reassembly_max_datagrams`` datagrams and ``reassembly_max_bytes`` payload
  bytes are held; when a new fragment would exceed either, the oldest datagrams are evicted
  (counted ``reassembly.drop.evicted``) — an attacker's stale fragments go first, live traffic last.
- A fragment whose end would pass 65,535 bytes (the "ping of death") or that is not a multiple of 8
  bytes while MF is set is dropped with the datagram.
- **ECN** (RFC 3168 §5.3): a router may mark one fragment CE and not the others, so the datagram is
  CE when any fragment was (fragment zero's header is rewritten, checksum included), else it keeps
  fragment zero's codepoint. Fragments mixing Not-ECT with ECT or CE were not sent that way by any
  correct source (a sender gives every fragment its datagram's codepoint): the datagram is dropped
  (``ecn_mismatch``), as Linux's ``ip_frag_ecn_table`` does, so a mark is never lost by reassembly.

Drops are counted ``reassembly.drop.<reason>``.
"""

from __future__ import annotations

import collections

from netstack.engine.config import ip_to_text
from netstack.formats.checksum import internet_checksum
from netstack.formats.icmp import FRAGMENT_REASSEMBLY_TIME_EXCEEDED, TIME_EXCEEDED
from netstack.formats.fast import IPV4_LAYOUT
from netstack.formats.ipv4 import ECN_CE, ECN_MASK, ECN_NOT_ECT

_TOS, _CHECKSUM = IPV4_LAYOUT.offsets["tos"], IPV4_LAYOUT.offsets["checksum"]
_NOT_ECT_SEEN, _CE_SEEN = 1 << ECN_NOT_ECT, 1 << ECN_CE

MAX_DATAGRAM = 65535


def _marked_ce(header: bytes) -> bytes:
    """``header`` with its ECN field set to CE and the header checksum recomputed."""
    marked = bytearray(header)
    marked[_TOS] |= ECN_CE
    marked[_CHECKSUM:_CHECKSUM + 2] = b"\0\0"
    marked[_CHECKSUM:_CHECKSUM + 2] = internet_checksum(marked).to_bytes(2, "big")
    return bytes(marked)


class PendingDatagram:
    __slots__ = ("key", "fragments", "total", "held", "first_header", "timer", "dead", "started", "codepoints")

    def __init__(self, key, started: float):
        self.key = key
        self.fragments: list[tuple[int, bytes]] = []  # (offset, payload), sorted by offset
        self.total: int | None = None
        self.held = 0
        self.first_header: bytes | None = None
        self.timer = None
        self.dead = False  # dropped for overlap: swallow the rest until the timer fires
        self.started = started
        self.codepoints = 0  # a bit per ECN codepoint seen on a fragment (1 << codepoint)


class ReassemblyQueue:
    """All datagrams being reassembled by one stack."""

    def __init__(self, stack):
        self.stack = stack
        self.config = stack.config
        self.pending: collections.OrderedDict[tuple, PendingDatagram] = collections.OrderedDict()
        self.held_bytes = 0

    def __len__(self) -> int:
        return sum(1 for entry in self.pending.values() if not entry.dead)

    def add(self, header: bytes, payload: bytes, src: bytes, dst: bytes, protocol: int,
            identification: int, offset: int, more: bool, now: float):
        """Add one fragment; returns (header, payload) of the complete datagram, or None."""
        counters = self.stack.counters
        key = (src, dst, protocol, identification)
        length = len(payload)
        entry = self.pending.get(key)
        if entry is not None and entry.dead:
            counters.incr("reassembly.drop.after_overlap")
            return None
        if offset + length > MAX_DATAGRAM - len(header):
            self._drop_key(key, "too_long", entry)
            return None
        if length > self.config.reassembly_max_bytes:
            self._drop_key(key, "too_many_bytes", entry)
            return None
        if more and (length == 0 or length % 8):
            self._drop_key(key, "bad_fragment_length", entry)
            return None
        if entry is None:
            if self.config.reassembly_max_datagrams == 0:
                counters.incr("reassembly.drop.disabled")
                return None
            self._make_room(length, now, new_datagram=True)
            entry = PendingDatagram(key, now)
            self.pending[key] = entry
            entry.timer = self.stack.timers.schedule(now + self.config.reassembly_timeout, self._expired, entry)
        else:
            if length > self.config.reassembly_max_bytes - self.held_bytes:
                self._make_room(length, now, new_datagram=False, keep=entry)
                if entry.key not in self.pending:
                    return None
        end = offset + length
        if not more:
            if entry.total is not None and entry.total != end:
                self._kill(entry, "inconsistent_length")
                return None
            if any(start + len(data) > end for start, data in entry.fragments):
                self._kill(entry, "inconsistent_length")
                return None
            entry.total = end
        elif entry.total is not None and end > entry.total:
            self._kill(entry, "inconsistent_length")
            return None
        # Find the insertion point and check the neighbours for overlap.
        fragments = entry.fragments
        index = len(fragments)
        while index and fragments[index - 1][0] > offset:
            index -= 1
        if index and fragments[index - 1][0] == offset and fragments[index - 1][1] == payload:
            counters.incr("reassembly.duplicate")
            return None
        if index:
            previous_start, previous_data = fragments[index - 1]
            if previous_start + len(previous_data) > offset:
                self._kill(entry, "overlap")
                return None
        if index < len(fragments) and fragments[index][0] < end:
            self._kill(entry, "overlap")
            return None
        fragments.insert(index, (offset, payload))
        entry.codepoints |= 1 << (header[_TOS] & ECN_MASK)
        entry.held += length
        self.held_bytes += length
        if offset == 0:
            entry.first_header = header
        counters.incr("reassembly.fragment_queued")
        if entry.total is None or entry.first_header is None:
            return None
        position = 0
        for start, data in fragments:
            if start != position:
                return None
            position = start + len(data)
        if position != entry.total:
            return None
        # Complete: hand the datagram up with fragment zero's header (RFC 791: its options).
        codepoints = entry.codepoints
        if codepoints & _NOT_ECT_SEEN and codepoints != _NOT_ECT_SEEN:
            self._kill(entry, "ecn_mismatch")
            return None
        self._forget(entry)
        first_header = entry.first_header
        if codepoints & _CE_SEEN and first_header[_TOS] & ECN_MASK != ECN_CE:
            first_header = _marked_ce(first_header)
        payload = b"".join(data for _, data in fragments)
        counters.incr("reassembly.done")
        trace = self.stack.trace
        if trace.enabled:
            trace.event("reassembly.done", src=ip_to_text(src), dst=ip_to_text(dst), id=identification,
                        size=len(payload))
        return first_header, payload

    def _make_room(self, length: int, now: float, *, new_datagram: bool, keep=None) -> None:
        config = self.config
        while self.pending and (
            (new_datagram and len(self.pending) >= config.reassembly_max_datagrams)
            or self.held_bytes + length > config.reassembly_max_bytes
        ):
            oldest = next(iter(self.pending.values()))
            if oldest is keep:
                # The datagram being added is the oldest one: it cannot fit; give it up.
                self._kill(oldest, "too_many_bytes")
                self._forget(oldest)
                return
            self.stack.counters.incr("reassembly.drop.evicted")
            self._forget(oldest)

    def _drop_key(self, key, reason: str, entry) -> None:
        if entry is not None:
            self._kill(entry, reason)
        else:
            self.stack.counters.incr(f"reassembly.drop.{reason}")

    def _kill(self, entry: PendingDatagram, reason: str) -> None:
        """Drop everything held for this datagram; keep a tombstone until its timer fires."""
        self.stack.counters.incr(f"reassembly.drop.{reason}")
        trace = self.stack.trace
        if trace.enabled:
            src, dst, _, identification = entry.key
            trace.event("reassembly.drop", reason=reason, src=ip_to_text(src), dst=ip_to_text(dst),
                        id=identification)
        self.held_bytes -= entry.held
        entry.held = 0
        entry.fragments = []
        entry.first_header = None
        entry.dead = True

    def _forget(self, entry: PendingDatagram) -> None:
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        self.held_bytes -= entry.held
        entry.held = 0
        self.pending.pop(entry.key, None)

    def _expired(self, entry: PendingDatagram) -> None:
        entry.timer = None
        if self.pending.get(entry.key) is not entry:
            return
        now = self.stack.now
        first_header = entry.first_header
        first_fragment = entry.fragments[0][1] if entry.fragments and entry.fragments[0][0] == 0 else None
        held = entry.held
        dead = entry.dead
        self._forget(entry)
        if dead:
            return
        self.stack.counters.incr("reassembly.drop.timeout")
        src, dst, _, identification = entry.key
        self.stack.trace.event("reassembly.timeout", src=ip_to_text(src), dst=ip_to_text(dst),
                               id=identification, held=held)
        if first_header is not None and first_fragment is not None:
            # RFC 792 / RFC 1122 §3.3.2: time exceeded, only if fragment zero arrived.
            self.stack.icmp.send_error(TIME_EXCEEDED, FRAGMENT_REASSEMBLY_TIME_EXCEEDED, first_header + first_fragment,
                                       now)
