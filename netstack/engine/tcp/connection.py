"""``TcpConnection``: the transmission control block of RFC 9293, as a sans-I/O object.

Read first: RFC 9293 §3.3 (states, TCB variables), §3.10.7 (SEGMENT ARRIVES), RFC 6298 (RTO),
RFC 5681 / 6582 (congestion control, fast retransmit, NewReno), RFC 7323 (window scale, timestamps,
PAWS), RFC 1122 §4.2.3 (delayed ACK, SWS avoidance, keepalive), RFC 5961 (RST/SYN robustness).

The connection machine (``netstack.machines.tcp_connection``) decides the *state*: every state change is
``TCP_TABLE.fire(self, event)``. This class does the arithmetic around it: sequence variables, buffers,
options, timers, segmentation and acknowledgment. It never reads a clock and does no I/O:

- in:  ``segment_arrived(segment, now)``, user calls (``send``, ``recv``, ``shutdown``, ``close``,
  ``abort``) and ``tick(now)`` when ``deadline`` is reached;
- out: ``TcpSegment`` objects appended to ``outbox`` (the transport layer encodes and sends them), the
  new ``deadline``, and ``wakeup()`` after anything an application may wait for changed.

The send-side state lives in ``self.snd`` (``TcpSender``: SND.*, send buffer, RTT, congestion control)
and the receive-side state in ``self.rcv`` (``TcpReceiver``: RCV.*, receive buffer, delayed ACK), like
gVisor's snd / rcv; this class keeps the state machine, the 4-tuple, the options and the timers. The
SEGMENT ARRIVES path of ``receive.py`` and the send path of ``transmit.py`` are mixed in.
"""

from __future__ import annotations

import errno as errnos
import functools

from netstack.errors import TransitionError
from netstack.machines.congestion import congestion_control
from netstack.machines.tcp_connection import TCP_TABLE
from netstack.engine.tcp.ack_arrival import AckArrival
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.ecn import EcnPath
from netstack.engine.tcp.options import TimestampState, mss_for_mtu, window_scale_for
from netstack.engine.tcp.receive import ReceivePath
from netstack.engine.tcp.receive_autotuning import ReceiveAutotuning
from netstack.engine.tcp.receiver import TcpReceiver
from netstack.engine.tcp.segment import ACK, RST, SYN, TcpSegment
from netstack.engine.tcp.segment_validation import ChallengeAckLimiter
from netstack.engine.tcp.sender import TcpSender
from netstack.engine.tcp.seqnum import seq_add, seq_in_window, seq_offset
from netstack.engine.tcp.timeouts import TimeoutPath
from netstack.engine.tcp.transmit import TransmitPath

from netstack.engine.tcp.states import (
    CLOSED, SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT,
)
from netstack.engine.tcp.options import negotiate

#: States in which the peer's data is delivered to the receive buffer (RFC 9293 §3.10.7.4 seventh).
RECEIVING_STATES = frozenset({ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2})
#: States in which our data may still be sent (our FIN not yet sent, or being retransmitted).
SENDING_STATES = frozenset({ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK})
#: States after the three-way handshake completed (RFC 9293 "synchronized states").
SYNCHRONIZED_STATES = frozenset(
    {ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT}
)


class TcpConnection(ReceivePath, AckArrival, TransmitPath, TimeoutPath, EcnPath):
    """One connection's TCB. Create it, then call ``connect(now)`` or ``accept_syn(syn, now)``."""
    def __init__(
        self,
        local_ip: bytes,
        local_port: int,
        remote_ip: bytes,
        remote_port: int,
        *,
        iss: int,
        config: TcpConfig | None = None,
        path_mtu: int = 1500,
        ts_offset: int = 0,
        counters=None,
        trace=None,
    ):
        config = config or TcpConfig()
        self.config = config
        self.state = CLOSED
        self.local_ip = local_ip
        self.local_port = local_port
        self.remote_ip = remote_ip
        self.remote_port = remote_port
        # The send side (SND.*, send buffer, RTT, congestion control) and the receive side (RCV.*,
        # receive buffer, delayed ACK), as gVisor's snd / rcv; the connection wires them to the
        # state machine, the options and the timers.
        our_mss = config.mss or mss_for_mtu(path_mtu)
        self.snd = TcpSender(iss, config, mss=min(536, our_mss))
        self.rcv = TcpReceiver(config, mss=our_mss)
        self.path_mtu = path_mtu
        self.our_wscale = window_scale_for(config.window_buffer) if config.window_scaling else None
        self.timestamp_state = TimestampState(ts_offset)
        self.options = None  # NegotiatedOptions once the SYNs are exchanged
        self.use_timestamps = False
        self.ecn = False  # RFC 3168: both ends agreed in the SYNs (ecn.py)
        self.ecn_requested = False  # our SYN asked for it
        self.nodelay = config.nodelay
        self.keepalive = config.keepalive
        # Timers: absolute deadlines or None (RFC 9293 §3.8 / RFC 6298; one tagged set like smoltcp).
        self.retransmit_deadline = None
        self.persist_deadline = None
        self.probe_deadline = None  # RFC 8985 §7 tail loss probe
        self.reorder_deadline = None  # RFC 8985 §6.3 RACK reordering timer
        self.delayed_ack_deadline = None
        self.notify_deadline = None  # batched wake-up of the application (see receive._predicted)
        self.keepalive_deadline = None
        self.time_wait_deadline = None
        self.fin_wait_2_deadline = None
        self.user_timeout_deadline = None
        self.deadline = None
        self.keepalive_probes = 0
        self.last_received = 0.0
        # SECURITY (RFC 5961 §7): per-connection limit on challenge ACKs and out-of-window replies
        self.challenge_acks = ChallengeAckLimiter(config.invalid_ratelimit)
        self.handshake_jitter = None  # random.Random spreading SYN retransmissions (set by the layer)
        self.fastopen_reply_cookie = None  # RFC 7413: a cookie our SYN-ACK carries (fastopen.py)
        self.fastopen = False  # this passive child took data from the SYN
        self.fastopen_cache = None  # a Fast Open client: the layer's server -> cookie dict
        # Closing bookkeeping.
        self.app_closed = False  # close() (not just shutdown): new data is answered with RST
        self.read_shut = False
        self.passive = False
        self.dead = False  # the TCB is deleted (CLOSED, or a passive child back in LISTEN)
        self.error = None  # errno the application will see (ECONNRESET, ECONNREFUSED, ETIMEDOUT)
        self.outbox: list[TcpSegment] = []
        self._current_segment = None  # the segment being processed (for send_rst / guards)
        self.counters = counters if counters is not None else _NullCounters()
        self.trace = trace
        self.wakeup = None  # set by the endpoint API: called after state, data or space changed
        self.listener = None  # the TcpListener of a passive child until accept() takes it
        self.soft_error = None  # last soft ICMP error (RFC 1122 §4.2.3.9), for SO_ERROR-like reports
        self._heap_deadline = None  # the deadline the layer's timer heap holds for us
        self.stats = {
            "segments_in": 0,
            "segments_out": 0,
            "retransmissions": 0,
            "rto_firings": 0,
            "dup_acks": 0,
            "fast_retransmits": 0,
            "zero_window_probes": 0,
            "tail_loss_probes": 0,
            "out_of_order_bytes": 0,
            "ce_received": 0,
            "ecn_reductions": 0,
        }

    # ----------------------------------------------------------------------------------------- events
    def _fire(self, event: str, now: float):
        """Let the machine decide the next state and its actions (the model methods below)."""
        old = self.state
        new = TCP_TABLE.fire(self, event, now)
        if new is not old:
            self.counters.incr(f"tcp.state.{new.name.lower()}")
            if self.trace is not None:
                self.trace("tcp.state", conn=self.name, old=old.value, new=new.value, event=event)
        return new

    @functools.cached_property
    def name(self) -> str:
        # computed once (the addresses never change): the trace events of every out-of-order
        # segment name the connection, and building the string cost more than the rest of the event
        return (
            f"{'.'.join(map(str, self.local_ip))}:{self.local_port}-"
            f"{'.'.join(map(str, self.remote_ip))}:{self.remote_port}"
        )

    @property
    def four_tuple(self):
        return (self.local_ip, self.local_port, self.remote_ip, self.remote_port)

    # -------------------------------------------------- guards and actions of the TCP machine
    # (netstack.machines.tcp_connection.TCP_GUARDS / TCP_ACTIONS; called with ``now``)
    def foreign_socket_specified(self, now: float) -> bool:
        return False  # a TcpConnection always names its peer; LISTEN belongs to TcpListener

    def opened_passively(self, now: float) -> bool:
        return self.passive

    def rst_acknowledges_our_syn(self, now: float) -> bool:
        seg = self._current_segment
        if seg is None or not seg.flags & ACK:
            return False
        # RFC 9293 §3.10.7.3: SND.UNA < SEG.ACK =< SND.NXT (here SND.UNA = ISS)
        return seq_in_window(seg.ack, seq_add(self.snd.iss, 1), seq_offset(self.snd.nxt, self.snd.iss))

    def send_syn(self, now: float) -> None:
        self._send_syn(now, with_ack=False)

    def send_syn_ack(self, now: float) -> None:
        self._send_syn(now, with_ack=True)

    def send_ack(self, now: float) -> None:
        seg = self._current_segment
        if self.state is SYN_RECEIVED and (seg is None or seg.flags & (SYN | ACK) == SYN):
            self._send_syn(now, with_ack=True)  # the peer's SYN again: our SYN,ACK was lost
        elif self._current_segment is not None:
            self.rcv.ack_now = True  # sent once the segment is processed, piggybacked on data if any
        else:
            self._send_ack(now)

    def send_challenge_ack(self, now: float) -> None:
        """RFC 5961 §4: answer a SYN (or an in-window RST) with an ACK, never with a reset."""
        if not self.challenge_ack_allowed(now):  # SECURITY: RFC 5961 §7 rate limit
            return
        self.send_ack(now)

    def challenge_ack_allowed(self, now: float) -> bool:
        """RFC 5961 §7: count a challenge ACK, or withhold it within ``invalid_ratelimit``."""
        if not self.challenge_acks.allow(now):
            self.counters.incr("tcp.challenge_acks_limited")
            return False
        self.counters.incr("tcp.challenge_acks")
        return True

    def send_fin(self, now: float) -> None:
        """Queue our FIN behind the data; it leaves when the data before it has (RFC 9293 §3.10.4)."""
        self.snd.fin_queued = True
        if self.snd.cc is not None:
            self._output(now)

    def send_rst(self, now: float) -> None:
        seg = self._current_segment
        if seg is not None:
            self._emit_reset_for(seg, now)  # RFC 9293 §3.10.7.1-3: reset that the segment accepts
        else:
            self._emit(self.snd.max, RST | ACK, b"", now)  # ABORT: <SEQ=SND.NXT><CTL=RST>
            self.counters.incr("tcp.resets_sent")

    def start_time_wait_timer(self, now: float) -> None:
        """RFC 9293 §3.10.7.4: TIME-WAIT lasts 2 MSL, restarted by a retransmitted FIN."""
        self._stop_data_timers()
        self.time_wait_deadline = now + 2 * self.config.msl

    def report_connection_established(self, now: float) -> None:
        self.retransmit_deadline = None
        self.snd.retransmits = 0
        self.snd.rtt.reset_backoff()
        self._arm_keepalive(now)
        self.counters.incr("tcp.connections_established")

    def report_connection_refused(self, now: float) -> None:
        self.error = errnos.ECONNREFUSED

    def report_connection_reset(self, now: float) -> None:
        self.error = errnos.ECONNRESET

    def report_connection_timed_out(self, now: float) -> None:
        self.error = errnos.ETIMEDOUT
        self.counters.incr("tcp.timeouts")

    def return_to_listen(self, now: float) -> None:
        """A passive child back in LISTEN: the listener still listens, this TCB is dropped."""
        self._discard(now)

    def delete_tcb(self, now: float) -> None:
        self._discard(now)

    # ------------------------------------------------------------------------------------ user calls
    def connect(self, now: float) -> None:
        """Active OPEN (RFC 9293 §3.10.1): send our SYN, enter SYN-SENT."""
        self.snd.rtt_time = now
        self._fire("active_open", now)
        self._update_deadline()

    def accept_syn(self, syn: TcpSegment, now: float, syn_data=b"") -> None:
        """Passive OPEN on a listener's behalf: take the peer's SYN, answer SYN-ACK (§3.10.7.2).
        ``syn_data``: the SYN's payload when a valid Fast Open cookie came with it (RFC 7413 §4.2.2)."""
        self.passive = True
        self._fire("passive_open", now)
        self.last_received = now
        self.rcv.start(syn.seq)
        if syn_data:  # RFC 7413: delivered now and acknowledged by the SYN-ACK (fastopen.py)
            self.rcv.nxt = seq_add(self.rcv.nxt, self.rcv.buffer.receive(0, bytes(syn_data)))
        self.snd.wnd = syn.window  # RFC 7323 §2.2: the window of a SYN is never scaled
        self.snd.max_wnd = syn.window
        self.snd.wl1 = syn.seq
        self.snd.wl2 = syn.ack
        self._negotiate(syn, now)
        self.snd.rtt_time = now
        self._fire("rcv_syn", now)
        self._update_deadline()

    def send(self, data, now: float) -> int:
        """SEND (§3.10.2): queue bytes; returns how many fit in the send buffer (0 when full)."""
        if self.error is not None:
            raise TransitionError("connection reset", state=self.state, event="send", errno=self.error)
        if self.snd.fin_queued and self.state not in (CLOSED,):
            raise TransitionError("connection closing", state=self.state, event="send", errno=errnos.EPIPE)
        self._fire("send", now)
        n = self.snd.buffer.write(data)
        if n and self.state in SENDING_STATES:
            self._output(now)
            self._update_deadline()
        return n

    def recv(self, max_bytes: int, now: float) -> bytes:
        """RECEIVE (§3.10.3): up to ``max_bytes`` bytes; b"" means none ready (see ``at_eof``)."""
        data = self.rcv.buffer.read(max_bytes)
        if data and self.rcv.autotuning is not None:
            self._autotune(now)
        if data and self.state in RECEIVING_STATES and self._maybe_window_update(now):
            self._update_deadline()  # the window update ACK cleared the delayed-ACK timer
        return data

    def _autotune(self, now: float) -> None:
        """Receive-buffer autotuning after a read (``receive_autotuning``): a larger buffer, and room
        for as much out-of-order data, when the application drained more per RTT than before."""
        rb = self.rcv.buffer
        grown = self.rcv.autotuning.on_read(rb.next_offset - len(rb), now, self.snd.rtt.srtt)
        if grown is not None:
            rb.capacity = grown
            rb.queue.limit = max(rb.queue.limit, grown)
            rb.queue.max_ranges = max(rb.queue.max_ranges, grown // 64)
            self.counters.incr("tcp.receive_buffer_grown")

    def recv_into(self, buffer, now: float) -> int:
        n = self.rcv.buffer.read_into(buffer)
        if n and self.rcv.autotuning is not None:
            self._autotune(now)
        if n and self.state in RECEIVING_STATES and self._maybe_window_update(now):
            self._update_deadline()
        return n

    def shutdown(self, now: float) -> None:
        """Half-close: no more data from us; a FIN follows what is queued (CLOSE of §3.10.4)."""
        if self.snd.fin_queued or self.dead or self.state in (CLOSED, TIME_WAIT):
            return
        self._fire("close", now)
        self._update_deadline()

    def close(self, now: float) -> None:
        """Full close: shutdown plus "no more reads". Unread data makes it an abort (RFC 2525 §2.17)."""
        self.app_closed = True
        self.read_shut = True
        if len(self.rcv.buffer) and self.state in (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT):
            self.abort(now)
            return
        self.shutdown(now)
        if self.state is FIN_WAIT_2 and self.fin_wait_2_deadline is None:
            self.fin_wait_2_deadline = now + self.config.fin_wait_2_timeout
            self._update_deadline()

    def abort(self, now: float) -> None:
        """ABORT (§3.10.5): RST to a synchronized peer, then CLOSED; queued data is discarded."""
        if self.state is CLOSED or self.dead:
            return
        self._fire("abort", now)

    def set_nodelay(self, on: bool, now: float) -> None:
        """TCP_NODELAY: switch Nagle's algorithm off (on=True) or back on."""
        self.nodelay = bool(on)
        if self.nodelay and self.state in SENDING_STATES:
            self._output(now)
            self._update_deadline()

    def path_mtu_changed(self, mtu: int, now: float) -> None:
        """RFC 1191: the path MTU dropped; segment to the smaller size and resend the first segment."""
        self.path_mtu = mtu
        limit = mtu - 40 - (12 if self.use_timestamps else 0)
        if 0 < limit < self.snd.mss:
            self.snd.mss = limit
            if self.snd.cc is not None:
                self.snd.cc.mss = limit
            if self.snd.recovery is not None:
                self.snd.recovery.set_mss(limit)
            if self.snd.una != self.snd.max and self.state in SENDING_STATES:
                self._retransmit_first(now)
                self._update_deadline()

    # --------------------------------------------------------------------------------- readiness
    @property
    def readable(self) -> bool:
        """recv() would not block: data, end of stream, or an error."""
        # (the end of stream counts only once the buffer is empty, which the first test covers)
        return bool(self.rcv.buffer._ready) or self.rcv.fin_received or self.state is CLOSED or self.error is not None

    @property
    def at_eof(self) -> bool:
        """The peer's FIN arrived and every byte before it was read (or the connection is gone)."""
        return (self.rcv.fin_received and not len(self.rcv.buffer)) or self.state is CLOSED

    @property
    def writable(self) -> bool:
        """send() would take at least one byte (or fail at once)."""
        if self.error is not None or self.snd.fin_queued or self.state is CLOSED:
            return True
        return self.state in (ESTABLISHED, CLOSE_WAIT) and self.snd.buffer.free > 0

    @property
    def established(self) -> bool:
        return self.state in SYNCHRONIZED_STATES

    def info(self) -> dict:
        """A TCP_INFO-like snapshot: state, RTT estimate (s), RTO (s), congestion control and its
        phase, cwnd / ssthresh / pipe / sacked / lost (bytes), retransmissions, RACK's reordering
        window (s), the delivery rate (bytes/s), the windows, and the per-connection counts."""
        snd = self.snd
        cc = snd.cc
        rec = snd.recovery
        figures = rec.figures() if rec is not None else {}
        return {
            "state": self.state.value,
            "srtt": snd.rtt.srtt,
            "rttvar": snd.rtt.rttvar,
            "rto": snd.rtt.rto,
            "congestion_control": self.config.congestion_control,
            "ca_phase": str(cc.phase) if cc is not None else None,
            "cwnd": cc.cwnd if cc is not None else None,
            "ssthresh": cc.ssthresh if cc is not None else None,
            "in_flight": snd.in_flight,
            "pipe": figures.get("pipe", snd.in_flight),
            "sacked": figures.get("sacked", 0),
            "lost": figures.get("lost", 0),
            "retransmitted_bytes": figures.get("retransmitted_bytes", 0),
            "reordering_window": figures.get("reordering_window", 0.0),
            "min_rtt": rec.rack.min_rtt if rec is not None else None,
            "delivery_rate": figures.get("delivery_rate", 0.0),
            "delivered": rec.delivered if rec is not None else 0,
            "recoveries": figures.get("recoveries", 0),
            "dsacks_received": figures.get("dsacks_received", 0),
            "spurious_undone": figures.get("spurious_undone", 0),
            "sack": bool(rec is not None and rec.sack),
            "timestamps": self.use_timestamps,
            "ecn": self.ecn,
            "snd_wscale": snd.wscale,
            "rcv_wscale": self.rcv.wscale,
            "send_mss": snd.mss,
            "rcv_mss": self.rcv.mss,
            "snd_wnd": snd.wnd,
            "rcv_wnd": seq_offset(self.rcv.adv, self.rcv.nxt),
            "rcv_space": self.rcv.buffer.capacity,
            "bytes_received": self.rcv.buffer.next_offset,
            **self.stats,
        }

    # ------------------------------------------------------------------------------ negotiation
    def _negotiate(self, syn: TcpSegment, now: float) -> None:

        cfg = self.config
        opts = negotiate(
            peer_mss=syn.mss,
            peer_wscale=syn.wscale,
            peer_timestamps=syn.tsval is not None,
            peer_sack_permitted=syn.sack_permitted,
            our_wscale=self.our_wscale,
            our_timestamps=cfg.timestamps,
            our_sack_permitted=cfg.sack_permitted,
            path_mtu=self.path_mtu,
        )
        self.options = opts
        self.snd.mss = opts.send_mss
        self.snd.wscale = opts.snd_wscale
        self.rcv.wscale = opts.rcv_wscale
        self.use_timestamps = opts.timestamps
        if opts.timestamps:
            self.timestamp_state.update(syn.tsval, True, now)
        self._ecn_negotiate(syn)
        if self.snd.cc is None:
            self.snd.cc = congestion_control(cfg.congestion_control)(mss=self.snd.mss)
        if opts.sack_permitted and self.rcv.sack is None:
            self.rcv.enable_sack()
        if self.snd.recovery is None:
            self.snd.start_recovery(opts.sack_permitted)
        if cfg.buffer_autotuning:
            if cfg.receive_buffer_max > self.rcv.buffer.capacity and self.rcv.autotuning is None:
                self.rcv.autotuning = ReceiveAutotuning(self.rcv.buffer.capacity, cfg.receive_buffer_max, self.rcv.mss)
            self.snd.buffer_max = cfg.send_buffer_max

    # ------------------------------------------------------------------------------------ timers
    def _stop_data_timers(self) -> None:
        self.retransmit_deadline = None
        self.persist_deadline = None
        self.probe_deadline = None
        self.reorder_deadline = None
        self.delayed_ack_deadline = None
        self.keepalive_deadline = None
        self.fin_wait_2_deadline = None
        self.user_timeout_deadline = None

    def _update_deadline(self) -> None:
        best = None
        for d in (
            self.retransmit_deadline,
            self.persist_deadline,
            self.probe_deadline,
            self.reorder_deadline,
            self.delayed_ack_deadline,
            self.notify_deadline,
            self.keepalive_deadline,
            self.time_wait_deadline,
            self.fin_wait_2_deadline,
            self.user_timeout_deadline,
        ):
            if d is not None and (best is None or d < best):
                best = d
        self.deadline = best

    def tick(self, now: float) -> None:
        """Run every timer due at ``now`` (the layer calls this when ``deadline`` is reached)."""
        if self.time_wait_deadline is not None and now >= self.time_wait_deadline:
            self.time_wait_deadline = None
            self._fire("time_wait_timeout", now)  # RFC 9293 §3.10.8: 2 MSL passed, delete the TCB
            return
        if self.user_timeout_deadline is not None and now >= self.user_timeout_deadline:
            self._give_up(now, "user_timeout")
            return
        if self.fin_wait_2_deadline is not None and now >= self.fin_wait_2_deadline:
            self.fin_wait_2_deadline = None
            if self.state is FIN_WAIT_2:
                self._fire("fin_wait_2_timeout", now)
                return
        if self.retransmit_deadline is not None and now >= self.retransmit_deadline:
            self._retransmit_timeout(now)
            if self.dead:
                return
        if self.persist_deadline is not None and now >= self.persist_deadline:
            self._persist_timeout(now)
        if self.reorder_deadline is not None and now >= self.reorder_deadline:
            self._reorder_timeout(now)
        if self.probe_deadline is not None and now >= self.probe_deadline:
            self._probe_timeout(now)
        if self.notify_deadline is not None and now >= self.notify_deadline:
            # the application first: what it reads reopens the window the ACK below announces
            self.notify_deadline = None
            if self.wakeup is not None:
                self.wakeup()
            if self.dead:
                return
        if self.delayed_ack_deadline is not None and now >= self.delayed_ack_deadline:
            self.delayed_ack_deadline = None
            if self.rcv.ack_pending:
                self._send_ack(now)
        if self.keepalive_deadline is not None and now >= self.keepalive_deadline:
            self._keepalive_timeout(now)
            if self.dead:
                return
        self._update_deadline()

    def _give_up(self, now: float, event: str) -> None:
        """Retransmission limit or user timeout reached: ETIMEDOUT (RFC 9293 §3.8.3, RFC 1122 R2)."""
        self._fire(event, now)  # report_connection_timed_out, delete_tcb
        if not self.dead:  # a state without that timeout (the machine ignored it): end anyway
            self.error = errnos.ETIMEDOUT
            self._discard(now)

    def _keepalive_timeout(self, now: float) -> None:
        """RFC 1122 §4.2.3.6: probe an idle connection; give up after keepalive_count probes."""
        cfg = self.config
        if not self.keepalive or self.state not in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_2):
            self.keepalive_deadline = None
            return
        if now - self.last_received < cfg.keepalive_idle + self.keepalive_probes * cfg.keepalive_interval:
            self.keepalive_deadline = self.last_received + cfg.keepalive_idle + (
                self.keepalive_probes * cfg.keepalive_interval
            )
            if self.keepalive_deadline <= now:
                self.keepalive_deadline = now + cfg.keepalive_interval
            return
        if self.keepalive_probes >= cfg.keepalive_count:
            self.keepalive_deadline = None
            self._give_up(now, "user_timeout")
            return
        self.keepalive_probes += 1
        self.counters.incr("tcp.keepalive_probes")
        # SEG.SEQ = SND.NXT - 1, no data: an old sequence number the peer must answer with an ACK.
        self._emit(seq_add(self.snd.max, -1), ACK, b"", now)
        self.keepalive_deadline = now + cfg.keepalive_interval

    def _arm_keepalive(self, now: float) -> None:
        if self.keepalive:
            self.keepalive_probes = 0
            self.keepalive_deadline = now + self.config.keepalive_idle

    def set_keepalive(self, on: bool, now: float) -> None:
        self.keepalive = bool(on)
        if on and self.state in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_2):
            self._arm_keepalive(now)
        elif not on:
            self.keepalive_deadline = None
        self._update_deadline()

    def _discard(self, now: float) -> None:
        """The TCB is gone (CLOSED): drop buffers and timers, wake the application."""
        self.dead = True
        self._stop_data_timers()
        self.time_wait_deadline = None
        self.deadline = None
        self.rcv.buffer.queue.clear()
        if self.wakeup is not None:
            self.wakeup()


class _NullCounters(dict):
    """Counters sink for a connection used on its own (tests)."""
    def __missing__(self, key):
        return 0

    def incr(self, name: str, amount: int = 1) -> None:
        self[name] = self.get(name, 0) + amount
