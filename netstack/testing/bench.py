"""The test bench: a fake host on the DUT's link that injects frames and waits for the answers.

::

    bench = Bench(wire, mac="02:00:5e:10:00:01", ip="192.0.2.1", dut_ip="192.0.2.2", pcap="case.pcap")
    bench.send(bench.to_dut() / TCP(src_port=40000, dst_port=7, seq=1000, flags="S"))
    synack = bench.expect(tcp(flags="SA", ack=1001, options=has(mss=ANY)), within=1.0)
    bench.expect_none(tcp(flags=has("R")), within=0.5)
    gaps = bench.expect_schedule(tcp(flags="SA"), [1.0, 2.0], tolerance=0.5)   # retransmissions

The fake host has its own MAC and IPv4 address (192.0.2.0/24, RFC 5737) and answers ARP requests for
it (RFC 826 "Packet Reception") whenever a frame is read, so the DUT can reach it. Every frame in
either direction goes to a pcap file (one per test); ``close(keep=...)`` keeps it when the test failed.

Every frame received is checked before any matcher sees it: IPv4 header checksum, lengths, TCP/UDP/ICMP
checksums (``matchers.integrity_problems``). A frame that fails is a test failure of its own
(``IntegrityError``), whatever the test expected. ``expect`` reads frames until one matches; the frames
it passes over are kept for the report. A failure (``ExpectationFailed``) shows the expectation and,
for the frames that came closest, the expected and received field values side by side, and names
the pcap.

Time is the wire's: virtual on the simulator (waiting costs nothing and repeats exactly); on a real
link, the wall clock ``netstack.link`` stamps frames with.
"""

from __future__ import annotations

import collections
import os

from netstack.formats.craft import ARP, IP, Ether
from netstack.formats.pcap import PcapWriter
from netstack.formats.text import summary_line
from netstack.testing.matchers import LayerMatcher, Matcher, all_of, any_of, decode, not_

PCAP_EPOCH = 1_700_000_000.0  # sim pcap timestamps: epoch + virtual time (deterministic files)


class ExpectationFailed(AssertionError):
    """An expected frame did not come (or an unwanted one did); the message has the side-by-side report."""


class IntegrityError(AssertionError):
    """The DUT sent a frame whose checksums or lengths are wrong."""


class Received:
    """One frame from the DUT: bytes, arrival time (wire clock) and its decoded layers."""

    __slots__ = ("data", "time", "layers")

    def __init__(self, data: bytes, time: float, layers):
        self.data, self.time, self.layers = data, time, layers

    def __getitem__(self, name: str):
        for layer, container in self.layers:
            if layer == name:
                return container
        raise KeyError(f"no {name} layer in {summary_line(self.data)}")

    def __contains__(self, name: str) -> bool:
        return any(layer == name for layer, _ in self.layers)

    def __getattr__(self, name: str):
        if name in ("ethernet", "arp", "ipv4", "icmp", "udp", "tcp"):
            return self[name]
        raise AttributeError(name)

    def __repr__(self):
        return f"<Received t={self.time:.6f} {summary_line(self.data)}>"


def side_by_side(matcher, layers, relative=None) -> list[str]:
    """The report rows: field, expected, received, verdict. ``all_of`` layer matchers make one table;
    each alternative of ``any_of`` gets its own."""
    if isinstance(matcher, LayerMatcher):
        return _table(matcher.report(layers, relative))
    if isinstance(matcher, (any_of, all_of)) and all(isinstance(m, LayerMatcher) for m in matcher.matchers):
        if isinstance(matcher, all_of):
            return _table([row for m in matcher.matchers for row in m.report(layers, relative)])
        lines = []
        for number, inner in enumerate(matcher.matchers, 1):
            lines.append(f"    alternative {number}:")
            lines.extend(_table(inner.report(layers, relative)))
        return lines
    return [f"    {matcher.describe()}: {frame_mismatch(matcher, layers, relative) or 'matches'}"]


def _table(rows) -> list[str]:
    width = max([len(r[0]) for r in rows] + [5])
    expected_width = max([len(r[1]) for r in rows] + [8])
    received_width = max([len(r[2]) for r in rows] + [8])
    lines = [f"    {'field':{width}}  {'expected':{expected_width}}  {'received':{received_width}}"]
    for field, expected, received, reason in rows:
        verdict = "ok" if reason is None else f"MISMATCH: {reason}"
        lines.append(f"    {field:{width}}  {expected:{expected_width}}  {received:{received_width}}  {verdict}")
    return lines


def frame_mismatch(matcher, layers, relative=None) -> str | None:
    """None when the decoded frame ``layers`` satisfies ``matcher``: a layer matcher, or ``any_of`` /
    ``all_of`` / ``not_`` of them (walked here, so ``relative`` reaches every layer matcher)."""
    if isinstance(matcher, LayerMatcher):
        return matcher.mismatch(layers, relative=relative)
    if isinstance(matcher, (any_of, all_of)):
        reasons = [frame_mismatch(m, layers, relative) for m in matcher.matchers]
        if isinstance(matcher, any_of):
            return None if any(r is None for r in reasons) else " | ".join(reasons)
        return next((r for r in reasons if r), None)
    if isinstance(matcher, not_):
        return f"matches {matcher.matcher.describe()}" if frame_mismatch(matcher.matcher, layers, relative) is None else None
    return matcher.mismatch(layers)


def expect(frame, matcher, *, relative=None) -> Received:
    """Check one frame (bytes or ``Received``) against ``matcher``, gVisor ``checker`` style: lengths
    and checksums first (``IntegrityError``), then the fields (``ExpectationFailed``, side by side).
    ``netstack.testing.expect`` is this function; ``Bench.expect`` waits for such a frame."""
    data = frame.data if isinstance(frame, Received) else bytes(frame)
    layers, problems = decode(data)
    received = Received(data, getattr(frame, "time", 0.0), layers)
    if problems:
        raise IntegrityError(f"damaged frame: {'; '.join(problems)}\n  {summary_line(data)}")
    reason = frame_mismatch(matcher, layers, relative)
    if reason is not None:
        raise ExpectationFailed("\n".join([f"expected {matcher.describe()}: {reason}", f"  {summary_line(data)}",
                                           *side_by_side(matcher, layers, relative)]))
    return received


class Bench:
    """A fake host on ``wire`` (a ``netstack.testing.wire`` port) talking to the DUT at ``dut_ip``."""

    def __init__(self, wire, *, mac: str, ip: str, dut_ip: str, pcap: str | os.PathLike | None = None,
                 dut_mac: str | None = None, name: str = "bench"):
        self.wire, self.mac, self.ip, self.dut_ip = wire, mac, ip, dut_ip
        self.dut_mac = dut_mac
        self.name = name
        self.pcap_path = os.fspath(pcap) if pcap is not None else None
        self._pcap = PcapWriter(self.pcap_path) if self.pcap_path else None
        self.received: list[Received] = []   # every frame from the DUT, in order
        self._unread: collections.deque = collections.deque()  # read too early for an expectation: next
        self.problems: list[str] = []          # integrity failures seen
        self.sent = 0

    # --- time and frames -------------------------------------------------------------------------
    def now(self) -> float:
        return self.wire.now()

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass, reading (and answering ARP on) what arrives meanwhile."""
        end = self.now() + seconds
        while self.now() < end:
            if self._read(end - self.now()) is None:
                break

    def to_dut(self, **ip_fields):
        """Ethernet + IPv4 headers from the bench to the DUT, ready for ``/ TCP(...)``."""
        ip_fields.setdefault("src", self.ip)
        ip_fields.setdefault("dst", self.dut_ip)
        return Ether(src=self.mac, dst=self.resolve()) / IP(**ip_fields)

    def send(self, frame) -> None:
        data = bytes(frame)
        self._record(data, self.now())
        self.wire.send(data)
        self.sent += 1

    def _record(self, data: bytes, when: float) -> None:
        if self._pcap is not None:
            self._pcap.write(data, when if self.wire.real_time else PCAP_EPOCH + when)

    def _read(self, timeout: float) -> Received | None:
        if self._unread:
            return self._unread.popleft()
        got = self.wire.receive_frame(timeout)
        if got is None:
            return None
        data, when = got
        self._record(data, when)
        layers, problems = decode(data)
        received = Received(data, when, layers)
        if layers is None and len(data) >= 14 and data[12:14] not in (b"\x08\x00", b"\x08\x06"):
            return received  # another protocol (IPv6, LLDP): not ours to judge
        if problems:
            self.problems.append(f"{summary_line(data)}: {'; '.join(problems)}")
            raise IntegrityError(self._report(f"the DUT sent a damaged frame: {'; '.join(problems)}",
                                              None, [received]))
        self.received.append(received)
        self._answer_arp(received)
        return received

    def _answer_arp(self, received: Received) -> None:
        if "arp" not in received:
            return
        request = received["arp"]
        if str(request.op) in ("request", "1") and request.tpa == self.ip:
            # RFC 826 "Packet Reception": swap the addresses, fill in our hardware address, reply
            self.send(Ether(src=self.mac, dst=request.sha, ethertype="arp")
                      / ARP(op="reply", sha=self.mac, spa=self.ip, tha=request.sha, tpa=request.spa))
        if request.spa == self.dut_ip and self.dut_mac is None:
            self.dut_mac = request.sha

    def resolve(self, within: float = 10.0) -> str:
        """The DUT's MAC, asked by ARP (RFC 826) once and remembered."""
        if self.dut_mac is not None:
            return self.dut_mac
        request = Ether(src=self.mac, dst="ff:ff:ff:ff:ff:ff", ethertype="arp") / ARP(
            op="request", sha=self.mac, spa=self.ip, tha="00:00:00:00:00:00", tpa=self.dut_ip)
        end = self.now() + within
        while self.dut_mac is None and self.now() < end:
            self.send(request)
            attempt_end = min(end, self.now() + 1.0)
            while self.dut_mac is None and self.now() < attempt_end:
                if self._read(attempt_end - self.now()) is None:
                    break
        if self.dut_mac is None:
            raise ExpectationFailed(self._report(f"the DUT ({self.dut_ip}) did not answer ARP within {within} s", None, []))
        return self.dut_mac

    # --- expectations ------------------------------------------------------------------------------
    def expect(self, matcher, within: float = 1.0, *, relative=None) -> Received:
        """The first frame matching ``matcher`` within ``within`` seconds; frames passed over are dropped
        from the queue (they stay in ``received`` and in the report)."""
        skipped = []
        end = self.now() + within
        while True:
            # Past the deadline, frames already queued are still read: a frame is judged by when it
            # arrived (the kernel's timestamp on a real link), not by when this process got to it.
            received = self._read(max(end - self.now(), 0.0))
            if received is not None and received.time > end:
                self._unread.appendleft(received)  # it belongs to whatever is expected next
                received = None
            if received is None:
                raise ExpectationFailed(self._report(
                    f"expected {matcher.describe()} within {within} s: no such frame", matcher, skipped, relative))
            if received.layers is None:
                continue
            if frame_mismatch(matcher, received.layers, relative) is None:
                return received
            skipped.append(received)

    def expect_none(self, matcher, within: float, *, relative=None) -> list[Received]:
        """No frame matching ``matcher`` for ``within`` seconds; returns the frames that came instead."""
        end = self.now() + within
        others = []
        while True:
            received = self._read(max(end - self.now(), 0.0))
            if received is None:
                break
            if received.time > end:
                self._unread.appendleft(received)
                break
            if received.layers is not None and frame_mismatch(matcher, received.layers, relative) is None:
                raise ExpectationFailed(self._report(
                    f"expected no {matcher.describe()} for {within} s, got one at +{received.time - (end - within):.3f} s",
                    matcher, [received], relative))
            others.append(received)
        return others

    def expect_schedule(self, matcher, intervals, *, tolerance: float = 0.25, within: float = 1.0,
                        relative=None) -> list[float]:
        """``len(intervals) + 1`` frames matching ``matcher``: the first within ``within`` seconds, then
        each ``intervals[i]`` seconds after the previous one, give or take ``tolerance`` (a fraction
        of the interval; an interval may also be a matcher such as ``between(0.2, 1.5)``). Returns
        the gaps measured."""
        first = self.expect(matcher, within, relative=relative)
        times = [first.time]
        gaps = []
        for index, interval in enumerate(intervals):
            allowed = interval if isinstance(interval, Matcher) else None
            latest = interval.high if isinstance(allowed, Matcher) and hasattr(interval, "high") else interval * (1 + tolerance)
            try:
                frame = self.expect(matcher, latest - (self.now() - times[-1]) + 0.05, relative=relative)
            except ExpectationFailed as failure:
                raise ExpectationFailed(f"retransmission {index + 1} after {gaps} did not come "
                                        f"within {latest:.3f} s\n{failure}") from None
            gap = frame.time - times[-1]
            gaps.append(gap)
            times.append(frame.time)
            if allowed is not None:
                reason = allowed.mismatch(gap)
            else:
                low, high = interval * (1 - tolerance), interval * (1 + tolerance)
                reason = None if low <= gap <= high else f"{gap:.3f} s outside [{low:.3f}, {high:.3f}]"
            if reason:
                raise ExpectationFailed(self._report(
                    f"schedule of {matcher.describe()}: gap {index + 1} is {gap:.3f} s, expected "
                    f"{interval if allowed is None else allowed.describe()} ({reason}); gaps so far {gaps}",
                    matcher, [frame], relative))
        return gaps

    # --- failures and the end of a test ---------------------------------------------------------------
    def _report(self, headline: str, matcher, frames, relative=None) -> str:
        lines = [headline]
        if relative:
            lines.append("(tcp seq/ack below are relative: " + ", ".join(f"{k} - {v}" for k, v in relative.items()) + ")")
        if frames:
            lines.append(f"frames received meanwhile ({len(frames)}, closest last):")
            for received in frames[-4:]:
                lines.append(f"  t={received.time:.6f} {summary_line(received.data)}")
                if matcher is not None and received.layers is not None:
                    lines.extend(side_by_side(matcher, received.layers, relative))
        else:
            lines.append("nothing else arrived from the DUT meanwhile")
        if self.pcap_path:
            lines.append(f"pcap: {self.pcap_path}")
        return "\n".join(lines)

    def close(self, keep: bool = True) -> None:
        """Close the pcap; delete it unless ``keep`` (keep it when the test failed)."""
        if self._pcap is not None:
            self._pcap.close()
            self._pcap = None
            if not keep and self.pcap_path and os.path.exists(self.pcap_path):
                os.unlink(self.pcap_path)
