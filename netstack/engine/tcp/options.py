"""TCP option negotiation (RFC 9293 §3.7.1 MSS, RFC 7323 window scale and timestamps with PAWS,
RFC 2018 SACK-permitted).

- **MSS**: we announce ``mtu - 40`` (IPv4 + TCP headers without options, RFC 9293 §3.7.1 / RFC 6691);
  a peer that sends no MSS option gets the default 536 (RFC 9293 §3.7.1, RFC 1122 §4.2.2.6). The size
  we send is the smaller of the peer's MSS and our path MTU minus 40, minus the bytes of options every
  segment carries (12 with timestamps): "the effective send MSS" of RFC 9293 §3.7.1.
- **Window scale** (RFC 7323 §2): used only when both SYNs carry it; a shift above 14 is treated as 14
  (§2.3). We pick the smallest shift that lets the receive buffer be advertised.
- **Timestamps** (RFC 7323 §3-5): used only when both SYNs carry them; TS.Recent is updated by the
  rule of §4.3 and PAWS (§5) rejects a segment whose TSval is older than TS.Recent.
- **SACK-permitted** (RFC 2018 §2): negotiated and recorded; SACK blocks are not generated or used yet.
- Unknown options are ignored (RFC 9293 §3.1: "must be prepared to handle an illegal option length"
  is the codec's concern; an unknown kind is skipped).
"""

from __future__ import annotations

from netstack.engine.tcp.seqnum import SEQ_MASK

#: RFC 9293 §3.7.1 / RFC 1122 §4.2.2.6: the MSS assumed when the peer sends none.
DEFAULT_MSS = 536
#: IPv4 header (20) + TCP header (20), without options.
IPV4_TCP_HEADERS = 40
#: RFC 7323 §2.3: the largest shift.
MAX_WINDOW_SCALE = 14
#: Bytes of the timestamps option on every segment once negotiated (two NOPs + 10).
TIMESTAMPS_OPTION_BYTES = 12
#: RFC 7323 §5.5: TS.Recent older than 24 days is invalid (the timestamp clock may have wrapped).
PAWS_IDLE_LIMIT = 24 * 24 * 3600.0
#: Timestamp clock rate: 1 ms per tick (RFC 7323 §5.4 allows 1 ms to 1 s).
TIMESTAMP_HZ = 1000


def mss_for_mtu(mtu: int) -> int:
    """The MSS to announce on an interface with this MTU."""
    return max(DEFAULT_MSS, mtu - IPV4_TCP_HEADERS) if mtu >= 576 else max(1, mtu - IPV4_TCP_HEADERS)


def window_scale_for(buffer_size: int) -> int:
    """Smallest shift (0..14) such that ``buffer_size >> shift`` fits the 16-bit window field."""
    shift = 0
    while (buffer_size >> shift) > 0xFFFF and shift < MAX_WINDOW_SCALE:
        shift += 1
    return shift


class NegotiatedOptions:
    """What the two SYNs agreed on; fixed for the life of the connection."""

    __slots__ = ("send_mss", "snd_wscale", "rcv_wscale", "timestamps", "sack_permitted")

    def __init__(self, send_mss: int, snd_wscale: int, rcv_wscale: int, timestamps: bool, sack_permitted: bool):
        self.send_mss = send_mss  # payload bytes per full-sized segment, options already subtracted
        self.snd_wscale = snd_wscale  # shift to apply to windows the peer advertises
        self.rcv_wscale = rcv_wscale  # shift we apply to windows we advertise
        self.timestamps = timestamps
        self.sack_permitted = sack_permitted

    def __repr__(self) -> str:
        return (
            f"NegotiatedOptions(send_mss={self.send_mss}, snd_wscale={self.snd_wscale}, "
            f"rcv_wscale={self.rcv_wscale}, timestamps={self.timestamps}, sack_permitted={self.sack_permitted})"
        )


def negotiate(
    *,
    peer_mss: int | None,
    peer_wscale: int | None,
    peer_timestamps: bool,
    peer_sack_permitted: bool,
    our_wscale: int | None,
    our_timestamps: bool,
    our_sack_permitted: bool,
    path_mtu: int,
) -> NegotiatedOptions:
    """Combine the options of the two SYNs (``our_*`` is what we sent or would send)."""
    peer = DEFAULT_MSS if not peer_mss else peer_mss
    mss = min(peer, max(1, path_mtu - IPV4_TCP_HEADERS))
    timestamps = bool(peer_timestamps and our_timestamps)
    if timestamps:
        mss -= TIMESTAMPS_OPTION_BYTES
    if peer_wscale is not None and our_wscale is not None:
        snd_wscale, rcv_wscale = min(peer_wscale, MAX_WINDOW_SCALE), our_wscale
    else:
        snd_wscale = rcv_wscale = 0  # RFC 7323 §2.2: both or neither
    return NegotiatedOptions(
        send_mss=max(1, mss),
        snd_wscale=snd_wscale,
        rcv_wscale=rcv_wscale,
        timestamps=timestamps,
        sack_permitted=bool(peer_sack_permitted and our_sack_permitted),
    )


def ts_before(a: int, b: int) -> bool:
    """RFC 7323 §5.2: timestamps compare in a 32-bit modular space like sequence numbers."""
    return 0 < ((b - a) & SEQ_MASK) < (1 << 31)


class TimestampState:
    """TS.Recent bookkeeping and the PAWS test of RFC 7323 §4.3 and §5.3."""

    __slots__ = ("ts_recent", "ts_recent_time", "offset", "paws_rejected")

    def __init__(self, offset: int = 0):
        self.ts_recent: int | None = None
        self.ts_recent_time = 0.0
        self.offset = offset & SEQ_MASK  # RFC 7323 §7.1: a per-connection random offset
        self.paws_rejected = 0

    def tsval(self, now: float) -> int:
        """Our TSval at ``now``: a 1 ms clock plus the connection's offset."""
        return (int(now * TIMESTAMP_HZ) + self.offset) & SEQ_MASK

    def echoed_tick(self, tsecr: int | None, now: float) -> int | None:
        """The millisecond tick (``int(t * TIMESTAMP_HZ)``) at which we sent the TSval ``tsecr`` echoes,
        or None: RACK compares it with a retransmission's send time (RFC 8985 §6.2 step 2)."""
        if not tsecr:
            return None
        age = (self.tsval(now) - tsecr) & SEQ_MASK
        if age >= 1 << 31:
            return None  # an echo from the future: not ours to judge by
        return int(now * TIMESTAMP_HZ) - age

    def paws_rejects(self, tsval: int | None, is_rst: bool, now: float) -> bool:
        """RFC 7323 §5.3 R1: a non-RST segment with TSval older than TS.Recent is a duplicate."""
        if tsval is None or self.ts_recent is None or is_rst:
            return False
        if now - self.ts_recent_time > PAWS_IDLE_LIMIT:
            self.ts_recent = None  # §5.5: too old to compare against
            return False
        if ts_before(tsval, self.ts_recent):
            self.paws_rejected += 1
            return True
        return False

    def update(self, tsval: int | None, seg_seq_le_last_ack_sent: bool, now: float) -> None:
        """RFC 7323 §4.3 (2): record TSval when SEG.SEQ <= Last.ACK.sent and it is not older."""
        if tsval is None or not seg_seq_le_last_ack_sent:
            return
        if self.ts_recent is None or not ts_before(tsval, self.ts_recent):
            self.ts_recent = tsval
            self.ts_recent_time = now
