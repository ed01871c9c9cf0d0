"""Typed configuration of netstack's TCP, with defaults and validation.

Every bound on memory is here with its default (ARCHITECTURE.md: "memory is bounded by configuration
everywhere something queues"): send/receive buffers, the out-of-order queue, the SYN backlog and the
accept queue. A wrong value raises ``ValueError`` naming the option.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from netstack.engine.tcp.ecn import ECN_MODES
from netstack.engine.tcp.syn_cookies import SYN_COOKIE_MODES
from netstack.engine.tcp.rto import DEFAULT_MAX_RTO, DEFAULT_MIN_RTO, INITIAL_RTO
from netstack.machines.congestion import available_congestion_controls


@dataclass(frozen=True)
class TcpConfig:
    """Per-stack TCP settings (per-connection overrides are passed to ``TcpConnection``)."""

    send_buffer: int = 1024 * 1024
    """SO_SNDBUF analogue: bytes written but not yet acknowledged. 1 MiB keeps a LAN path full while
    the application refills it between ACKs (256 KiB measured 41 MB/s to the kernel, 1 MiB 65 MB/s)."""
    receive_buffer: int = 256 * 1024
    """SO_RCVBUF analogue: bounds the advertised window."""
    reassembly_limit: int = 256 * 1024
    """Out-of-order bytes held per connection (beyond that, segments are dropped); it grows with an
    autotuned receive buffer."""
    buffer_autotuning: bool = True
    """Grow the receive buffer with the bandwidth-delay product the application drains (Linux
    tcp_rcv_space_adjust) and the send buffer with cwnd (tcp_sndbuf_expand), up to the maxima below.
    SO_RCVBUF / SO_SNDBUF fix that buffer's size (as Linux's SOCK_RCVBUF_LOCK / SOCK_SNDBUF_LOCK)."""
    receive_buffer_max: int = 6 * 1024 * 1024
    """Largest autotuned receive buffer (Linux tcp_rmem[2]); the window scale is chosen to reach it."""
    send_buffer_max: int = 4 * 1024 * 1024
    """Largest autotuned send buffer (Linux tcp_wmem[2])."""
    mss: int | None = None
    """MSS to announce; None derives it from the path MTU (MTU - 40)."""
    window_scaling: bool = True
    timestamps: bool = True
    sack_permitted: bool = True
    """Announce SACK-permitted (RFC 2018): when the peer agrees, our ACKs carry SACK blocks and D-SACKs
    (RFC 2883) and our sender keeps an RFC 6675 scoreboard with RACK-TLP (RFC 8985)."""
    ecn: int = 2
    """Explicit congestion notification (RFC 3168), as Linux's net.ipv4.tcp_ecn: 0 off; 1 request it
    in our SYNs and accept it from peers; 2 (Linux's default) accept it when the peer's SYN asks, never
    request it. On an ECN connection data leaves ECT(0), a congestion-experienced mark is echoed (ECE)
    until the peer's CWR, and an echo reduces cwnd as a loss would, once per window (ecn.py)."""
    min_rto: float = DEFAULT_MIN_RTO
    max_rto: float = DEFAULT_MAX_RTO
    initial_rto: float = INITIAL_RTO
    max_retransmits: int = 12
    """RTO expiries in a row on data before giving up with ETIMEDOUT (Linux tcp_retries2 is 15)."""
    max_syn_retransmits: int = 6
    """SYN retransmissions of an active open before giving up (Linux tcp_syn_retries is 6)."""
    synack_retries: int = 5
    """SYN-ACK retransmissions of a half-open connection before it is dropped (Linux
    tcp_synack_retries is 5: about 63 s with a 1 s initial RTO). Separate from the SYN's, so a spoofed
    SYN does not hold a backlog slot as long as a real client waits for its own SYN."""
    syn_retransmit_jitter: float = 0.25
    """SYN and SYN-ACK retransmissions wait RTO x (1 + up to this fraction, random): a burst of
    clients refused together does not come back in the same instant (see docs/bounds.md)."""
    syn_cookies: str = "when_full"
    """RFC 4987 §3.6 SYN cookies: "off", "when_full" (when the SYN backlog is full; Linux
    tcp_syncookies=1) or "always" (Linux 2)."""
    invalid_ratelimit: float = 0.5
    """Per connection, at most one challenge ACK (RFC 5961) or reply to an out-of-window pure ACK per
    this many seconds (Linux tcp_invalid_ratelimit, 500 ms). Per connection, never global: a global
    limit is the CVE-2016-5696 side channel."""
    ephemeral_ports: tuple = (32768, 60999)
    """First and last local port of active opens (Linux ip_local_port_range), chosen per RFC 6056
    §3.3.4 (double-hash)."""
    fastopen_backlog: int = 0
    """RFC 7413 server: half-open children that may hold data from a SYN with a valid Fast Open cookie
    (Linux's TCP_FASTOPEN queue length on a listener); 0 turns Fast Open off. See fastopen.py."""
    time_wait_reuse: bool = True
    """Reuse a 4-tuple of ours in TIME-WAIT for a new active open when timestamps protect it (RFC 6191;
    Linux tcp_tw_reuse): its last timestamp is at least a second old."""
    msl: float = 30.0
    """Maximum segment lifetime; TIME-WAIT lasts 2 x msl (RFC 9293 §3.4.2; Linux uses 60 s total)."""
    delayed_ack: float = 0.04
    """Delayed-ACK timeout, at most 0.2 s (RFC 1122 §4.2.3.2); Linux's minimum is 40 ms."""
    ack_at_batch_end: bool = True
    """Send the ACK that is due after two full segments once the driver has handled the frames that
    arrived together (one ACK per burst, as Linux does with GRO) instead of in the middle of them, and
    tell the application about in-order data at the same moment (one read per burst)."""
    immediate_acks_folded: int = 1
    """With ``ack_at_batch_end``: how many segments RFC 5681 §4.2 asks to acknowledge at once (out of
    order, filling a hole, the quick ACKs after a sign of loss) share one ACK when they arrive in one
    driver batch. The ACK, with the SACK blocks of that moment, goes when the batch ends or with the
    N-th such segment, whichever comes first (Linux folds them with GRO and ``tcp_comp_sack_nr``).
    1 (the default: the simulator, scripted tests) acknowledges each on its own; the TAP driver, which
    hands the stack what the kernel queued in one batch, sets ``TAP_IMMEDIATE_ACKS_FOLDED``."""
    nodelay: bool = False
    """Disable Nagle's algorithm (RFC 896), like TCP_NODELAY."""
    keepalive: bool = False
    keepalive_idle: float = 7200.0
    """RFC 1122 §4.2.3.6: no less than two hours by default."""
    keepalive_interval: float = 75.0
    keepalive_count: int = 9
    fin_wait_2_timeout: float = 60.0
    """How long an orphaned FIN-WAIT-2 connection waits for the peer's FIN (Linux tcp_fin_timeout)."""
    user_timeout: float | None = None
    """RFC 9293 §3.10.8 USER TIMEOUT: abort when data stays unacknowledged this long (None: off)."""
    congestion_control: str = "cubic"
    """The congestion control algorithm (``netstack.machines.congestion``): "cubic" (RFC 9438 with
    HyStart++, Linux's default) or "reno" / "newreno" (RFC 5681 + RFC 6582); per socket TCP_CONGESTION."""
    syn_backlog: int = 128
    """Half-open connections per listener (SYN-RECEIVED); a deeper listen backlog raises it to that."""
    accept_backlog: int = 128
    """Established connections waiting for accept() per listener."""
    max_window_probe_interval: float = 60.0
    """Zero-window probes back off exponentially up to this interval."""
    time_wait_limit: int = 16384
    """Connections held in TIME-WAIT per stack; beyond it the oldest is forgotten early (Linux
    tcp_max_tw_buckets). Without a bound, a client making short connections (HTTP with
    ``Connection: close``) grows memory for 2 x MSL after each one."""

    def __post_init__(self):
        positive_ints = ("send_buffer", "receive_buffer", "receive_buffer_max", "send_buffer_max", "max_retransmits", "max_syn_retransmits",
                         "keepalive_count", "syn_backlog", "accept_backlog", "time_wait_limit")
        if not isinstance(self.synack_retries, int) or isinstance(self.synack_retries, bool) or self.synack_retries < 0:
            raise ValueError(f"TcpConfig.synack_retries must be an integer >= 0, got {self.synack_retries!r}")
        if not isinstance(self.fastopen_backlog, int) or isinstance(self.fastopen_backlog, bool) or self.fastopen_backlog < 0:
            raise ValueError(f"TcpConfig.fastopen_backlog must be an integer >= 0, got {self.fastopen_backlog!r}")
        if self.syn_cookies not in SYN_COOKIE_MODES:
            raise ValueError(f"TcpConfig.syn_cookies must be one of {SYN_COOKIE_MODES}, got {self.syn_cookies!r}")
        if self.ecn not in ECN_MODES or isinstance(self.ecn, bool):
            raise ValueError(f"TcpConfig.ecn must be 0 (off), 1 (request and accept) or 2 (accept), got {self.ecn!r}")
        if not isinstance(self.syn_retransmit_jitter, (int, float)) or not 0 <= self.syn_retransmit_jitter <= 1:
            raise ValueError(f"TcpConfig.syn_retransmit_jitter must be within 0..1, got {self.syn_retransmit_jitter!r}")
        if not isinstance(self.invalid_ratelimit, (int, float)) or self.invalid_ratelimit < 0:
            raise ValueError(f"TcpConfig.invalid_ratelimit must be a number >= 0, got {self.invalid_ratelimit!r}")
        ports = self.ephemeral_ports
        if (not isinstance(ports, tuple) or len(ports) != 2 or not all(isinstance(p, int) for p in ports)
                or not 1 <= ports[0] <= ports[1] <= 65535):
            raise ValueError(f"TcpConfig.ephemeral_ports must be (first, last) within 1..65535, got {ports!r}")
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TcpConfig.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.reassembly_limit, int) or self.reassembly_limit < 0:
            raise ValueError(f"TcpConfig.reassembly_limit must be an integer >= 0, got {self.reassembly_limit!r}")
        if self.mss is not None and not (64 <= self.mss <= 65495):
            raise ValueError(f"TcpConfig.mss must be None or 64..65495, got {self.mss!r}")
        for name in ("min_rto", "max_rto", "initial_rto", "msl", "keepalive_idle", "keepalive_interval",
                     "fin_wait_2_timeout", "max_window_probe_interval"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"TcpConfig.{name} must be a number > 0, got {value!r}")
        if self.min_rto > self.max_rto:
            raise ValueError(f"TcpConfig.min_rto ({self.min_rto}) must not exceed max_rto ({self.max_rto})")
        if self.immediate_acks_folded < 1:
            raise ValueError(f"TcpConfig.immediate_acks_folded must be >= 1, got {self.immediate_acks_folded!r}")
        if not 0 <= self.delayed_ack <= 0.2:
            raise ValueError(f"TcpConfig.delayed_ack must be within 0..0.2 s (RFC 1122), got {self.delayed_ack!r}")
        if not isinstance(self.congestion_control, str) or \
                self.congestion_control.lower() not in available_congestion_controls():
            raise ValueError(f"TcpConfig.congestion_control must be one of {', '.join(available_congestion_controls())},"
                             f" got {self.congestion_control!r}")
        if self.user_timeout is not None and self.user_timeout <= 0:
            raise ValueError(f"TcpConfig.user_timeout must be None or > 0, got {self.user_timeout!r}")

    @property
    def window_buffer(self) -> int:
        """The receive buffer the window scale must cover: the autotuning maximum when it may grow."""
        if self.buffer_autotuning:
            return max(self.receive_buffer, self.receive_buffer_max)
        return self.receive_buffer

    def replace(self, **changes) -> "TcpConfig":
        """A copy with some options changed (validated)."""
        names = {f.name for f in fields(self)}
        for key in changes:
            if key not in names:
                raise ValueError(f"unknown TCP option {key!r}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return TcpConfig(**values)
