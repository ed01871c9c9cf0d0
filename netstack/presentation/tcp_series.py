"""The numbers a picture of a TCP connection draws, read from a pcap or from trace JSON lines.

Pure data, no drawing: ``netstack.presentation.tcp_plots`` and ``ladder`` draw exactly these series,
and the tests compare them with the pcap parsed by an independent decoder.

- ``read_segments(pcap) -> list[Segment]``: every TCP segment of an Ethernet/IPv4 capture (pcap or pcapng), in file
  order, with the options a graph needs (MSS, window scale, SACK blocks). Frames that are not
  Ethernet/IPv4/TCP, or do not decode, are skipped (a capture holds ARP and ICMP too).
- ``connections(segments)``: the connections present, as (endpoint, endpoint) in order of appearance.
- ``time_sequence(segments, sender=None) -> TimeSequence``: one direction of one connection as the
  tcptrace/Stevens time-sequence graph shows it (RFC 9293 §3.4 sequence space; Stevens, TCP/IP
  Illustrated vol. 1 §24.9; tcptrace's "tsg"): every data segment as a vertical bar from its first
  to its last sequence number (retransmissions marked: they do not advance the highest sequence
  sent), the ACK line and the receive-window line (ACK + window << scale, RFC 7323 §2.2) of the
  reverse direction, and the SACK blocks it reports (RFC 2018 §3). Sequence numbers are relative to
  the sender's ISN (the SYN is 0), ACKs and SACK blocks too; times relative to the connection's first
  segment. ``sender`` is ``"ip:port"``; by default the endpoint that sent the most payload.
- ``congestion_series(lines, conn=None) -> CongestionSeries``: cwnd, ssthresh, srtt and RTO over
  time from the ``tcp.congestion`` events of trace JSON lines (``--trace-format json``, RFC 5681 §3,
  RFC 6298 §2). The initial "infinite" ssthresh is ``None`` (nothing to draw).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

from netstack.engine.tcp.segment import ACK, FIN, RST, SYN, flags_text
from netstack.engine.tcp.wire import decode_segment
from netstack.errors import FormatError
from netstack.formats.fast import ETHERTYPE_IPV4, decode_ethernet, decode_ipv4
from netstack.formats.pcap import PcapReader

SEQ_MASK = 0xFFFFFFFF
PROTOCOL_TCP = 6
INFINITE_SSTHRESH = 1 << 29  # initial ssthresh values at or above this are "arbitrarily high" (RFC 5681 §3.1)


@dataclass(frozen=True)
class Segment:
    """One TCP segment of a capture (absolute numbers, as on the wire)."""

    time: float
    src: str  # "ip:port"
    dst: str
    seq: int
    ack: int
    flags: int
    window: int
    length: int  # payload bytes
    mss: int | None = None
    wscale: int | None = None
    sack_blocks: tuple = ()

    @property
    def flag_text(self) -> str:
        return flags_text(self.flags)


def _ip(raw: bytes) -> str:
    return ".".join(map(str, raw))


def read_segments(pcap) -> list[Segment]:
    """Every decodable Ethernet/IPv4/TCP segment of ``pcap`` (a path or an open binary file)."""
    segments = []
    reader = PcapReader(pcap)
    try:
        for timestamp, frame in reader:
            try:
                ethernet = decode_ethernet(frame)
                if ethernet.ethertype != ETHERTYPE_IPV4:
                    continue
                ip = decode_ipv4(frame, ethernet.payload_offset)
                if ip.protocol != PROTOCOL_TCP or ip.fragment_offset or ip.flags & 1:
                    continue  # fragments carry no whole TCP header
                tcp, _ = decode_segment(bytes(frame[ip.payload_offset:ip.payload_end]), ip.src, ip.dst)
            except FormatError:
                continue
            segments.append(Segment(
                time=timestamp, src=f"{_ip(ip.src)}:{tcp.src_port}", dst=f"{_ip(ip.dst)}:{tcp.dst_port}",
                seq=tcp.seq, ack=tcp.ack, flags=tcp.flags, window=tcp.window, length=len(tcp.payload),
                mss=tcp.mss, wscale=tcp.wscale, sack_blocks=tuple(tcp.sack_blocks or ())))
    finally:
        reader.close()
    return segments


def connections(segments: Iterable[Segment]) -> list[tuple[str, str]]:
    """The (first sender, other endpoint) pair of each connection, in order of first appearance."""
    seen: dict[frozenset, tuple[str, str]] = {}
    for segment in segments:
        seen.setdefault(frozenset((segment.src, segment.dst)), (segment.src, segment.dst))
    return list(seen.values())


def _relative(value: int, base: int) -> int:
    return (value - base) & SEQ_MASK


@dataclass
class TimeSequence:
    """One direction of one connection, as the time-sequence graph draws it (see the module doc)."""

    sender: str
    receiver: str
    isn: int  # absolute: the sender's SYN sequence number (or first sequence number - 1)
    data: list[tuple[float, int, int]] = field(default_factory=list)  # (time, first seq, end seq)
    retransmissions: list[tuple[float, int, int]] = field(default_factory=list)
    acks: list[tuple[float, int]] = field(default_factory=list)  # (time, ack) from the receiver
    window: list[tuple[float, int]] = field(default_factory=list)  # (time, ack + scaled window)
    sack: list[tuple[float, int, int]] = field(default_factory=list)  # (time, left, right)
    window_scale: int = 0


def _busiest_sender(segments: list[Segment]) -> str:
    sent: dict[str, int] = {}
    for segment in segments:
        sent[segment.src] = sent.get(segment.src, 0) + segment.length
    if not sent:
        raise ValueError("the capture holds no TCP segment")
    return max(sent, key=lambda endpoint: sent[endpoint])


def time_sequence(segments: list[Segment], sender: str | None = None, receiver: str | None = None) -> TimeSequence:
    """The time-sequence series of ``sender``'s direction (see the module docstring)."""
    if sender is None:
        sender = _busiest_sender(segments)
    if receiver is None:
        peers = [s.dst for s in segments if s.src == sender]
        if not peers:
            raise ValueError(f"{sender} sent no segment in this capture")
        receiver = max(set(peers), key=peers.count)
    ours = [s for s in segments if (s.src, s.dst) in ((sender, receiver), (receiver, sender))]
    forward = [s for s in ours if s.src == sender]
    if not forward:
        raise ValueError(f"{sender} sent no segment to {receiver} in this capture")
    syn = next((s for s in forward if s.flags & SYN), None)
    isn = syn.seq if syn is not None else (forward[0].seq - 1) & SEQ_MASK
    peer_syn = next((s for s in ours if s.src == receiver and s.flags & SYN), None)
    # RFC 7323 §2.2: the receiver's windows are scaled by the shift its SYN offered, if both offered one
    scale = peer_syn.wscale if (peer_syn is not None and syn is not None and syn.wscale is not None
                                and peer_syn.wscale is not None) else 0
    series = TimeSequence(sender=sender, receiver=receiver, isn=isn, window_scale=scale or 0)
    start = ours[0].time
    highest = 0
    for segment in ours:
        when = round(segment.time - start, 6)  # pcap resolution: microseconds
        if segment.src == sender:
            length = segment.length + (1 if segment.flags & (SYN | FIN) else 0)
            if not length:
                continue
            first = _relative(segment.seq, isn)
            end = first + length
            series.data.append((when, first, end))
            if end <= highest:
                series.retransmissions.append((when, first, end))
            highest = max(highest, end)
        elif segment.flags & ACK and not segment.flags & RST:
            ack = _relative(segment.ack, isn)
            series.acks.append((when, ack))
            window = segment.window if segment.flags & SYN else segment.window << series.window_scale
            series.window.append((when, ack + window))
            for left, right in segment.sack_blocks:
                series.sack.append((when, _relative(left, isn), _relative(right, isn)))
    return series


@dataclass
class CongestionSeries:
    """cwnd, ssthresh (bytes), srtt and RTO (seconds) of one connection over time."""

    conn: str
    host: str
    time: list[float] = field(default_factory=list)
    cwnd: list[int] = field(default_factory=list)
    ssthresh: list[int | None] = field(default_factory=list)
    srtt: list[float | None] = field(default_factory=list)
    rto: list[float] = field(default_factory=list)


def congestion_series(lines: Iterable[str], conn: str | None = None) -> CongestionSeries:
    """The ``tcp.congestion`` events of trace JSON lines for ``conn`` (default: the first connection
    with the most events: the data sender of a transfer)."""
    events = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "tcp.congestion":
            events.append(entry)
    if not events:
        raise ValueError("no tcp.congestion events: record the run with --trace-format json")
    if conn is None:
        counts: dict[str, int] = {}
        for entry in events:
            counts[entry["conn"]] = counts.get(entry["conn"], 0) + 1
        conn = max(counts, key=lambda name: counts[name])
    chosen = [entry for entry in events if entry.get("conn") == conn]
    if not chosen:
        raise ValueError(f"no tcp.congestion events for {conn}")
    series = CongestionSeries(conn=conn, host=chosen[0].get("host", ""))
    for entry in chosen:
        series.time.append(entry["time"])
        series.cwnd.append(entry["cwnd"])
        ssthresh = entry.get("ssthresh")
        series.ssthresh.append(None if ssthresh is None or ssthresh >= INFINITE_SSTHRESH else ssthresh)
        series.srtt.append(entry.get("srtt"))
        series.rto.append(entry.get("rto"))
    return series
