"""The TCP transport registered on the stack (IP protocol 6): demultiplexing, resets, timers, counters.

``TcpLayer.attach(stack, config)`` registers it (``stack.register_transport(6, layer)``) and returns it;
``stack.tcp`` is *not* set by us (the engine owns ``Stack``): keep the returned object, or find it with
``stack.transport(6)``.

- **Demultiplexing** (RFC 9293 §3.10.7): by the full 4-tuple first, then a listener on the port; a
  segment for neither gets a reset (§3.10.7.1 "CLOSED"), except an RST, which is never answered.
  A repeat of the final ACK of a passive close (the peer in TIME-WAIT answering a FIN we
  retransmitted) is dropped for two RTOs (``tcp.drop.after_close``, at most ``FINAL_ACKS_REMEMBERED``):
  it must not reach a listener, where it could pass as a SYN-cookie ACK.
- **Ephemeral ports** (RFC 6056 §3.3.4, ``ports.py``) in ``TcpConfig.ephemeral_ports``; a 4-tuple of
  ours in TIME-WAIT is reused for a new connect when timestamps protect it (``time_wait_reuse``).
- **TIME-WAIT reuse** (RFC 6191): a SYN for a 4-tuple in TIME-WAIT starts a new connection when its
  timestamp is newer than TS.Recent (or, without timestamps, its sequence number is above RCV.NXT, RFC
  1122 §4.2.2.13); otherwise the old TCB answers it (a challenge ACK).
- **ICMP errors** (RFC 1122 §4.2.3.9, RFC 5927): matched by ports and a quoted sequence number inside
  the send window; port/protocol unreachable abort a connection still in SYN-SENT (ECONNREFUSED),
  fragmentation-needed lowers the MSS (RFC 1191) and retransmits; the rest are soft errors, recorded.
- **Timers**: one heap of (deadline, connection); ``next_deadline`` is O(1) amortised.
- **Counters** (``stack.counters``): ``tcp.segments_in``, ``tcp.segments_out``,
  ``tcp.retransmissions``, ``tcp.rto_firings``, ``tcp.dup_acks``, ``tcp.fast_retransmits``,
  ``tcp.out_of_order_bytes_queued``, ``tcp.zero_window_probes``, ``tcp.resets_sent``,
  ``tcp.resets_received``, ``tcp.active_opens``, ``tcp.passive_opens``, ``tcp.connections_established``,
  ``tcp.state.<state>``, ``tcp.syncookies.*`` and ``tcp.fastopen.*`` (listener.py, fastopen.py),
  ``tcp.challenge_acks`` / ``tcp.challenge_acks_limited`` (segment_validation.py),
  ``tcp.ecn.*`` (ecn.py), ``tcp.spurious_reductions_undone`` and ``tcp.eifel_detections`` (RFC 3522),
  ``tcp.time_wait_reused_outgoing`` and every ``tcp.drop.<reason>`` (bad_checksum, malformed,
  no_listener (reset sent), syn_backlog_full, accept_queue_full, unacceptable, paws, ack_too_old, ...). Per connection:
  ``connection.info()`` (state, SRTT, RTTVAR, RTO, cwnd, ssthresh, per-connection counts);
  ``layer.connection_table()`` lists them all.
- **Trace events** (``stack.trace``, emitted only while its logger is at DEBUG, so the hot path pays
  one cached level check): ``tcp.segment_in`` / ``tcp.segment_out`` (conn, seq, ack, flags, len,
  window), ``tcp.state`` (conn, old, new, event), ``tcp.rto`` (conn, rto, attempt),
  ``tcp.retransmit`` (conn, seq, len, reason), ``tcp.dup_ack`` (conn, ack, count),
  ``tcp.fast_retransmit`` (conn, seq, cwnd, ssthresh), ``tcp.out_of_order`` (conn, seq, bytes, held),
  ``tcp.zero_window_probe`` (conn, seq), ``tcp.reset_received`` (conn, state),
  ``tcp.ecn`` / ``tcp.ecn_echo`` / ``tcp.ecn_reduction`` (ecn.py), ``tcp.undo`` (conn, cwnd, ssthresh,
  detection: "dsack" or "eifel"), ``tcp.congestion`` (conn, cwnd, ssthresh, srtt, rttvar, rto, flight: after a segment arrived or
  segments left, when one of the first five changed; what ``netstack plot`` draws over time; checked
  under the same level check as the segment events, so it costs nothing more while tracing is off),
  ``tcp.reset_sent`` (to, port, reason), ``tcp.icmp_error`` (conn, errno).
"""

from __future__ import annotations

import errno as errnos
import heapq
import itertools

from netstack.errors import FormatError
from netstack.machines.tcp_connection import TcpState
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.connection import TcpConnection
from netstack.engine.tcp.fastopen import FastOpenCookies
from netstack.engine.tcp.isn import IsnGenerator
from netstack.engine.tcp.listener import TcpListener, reset_for
from netstack.engine.tcp.ports import EphemeralPorts
from netstack.engine.tcp.syn_cookies import SynCookies
from netstack.engine.tcp.options import ts_before
from netstack.engine.tcp.segment import ACK, RST, SYN, flags_text
from netstack.engine.tcp.seqnum import SEQ_MASK
from netstack.engine.tcp.wire import decode_segment, encode_segment
from netstack.formats.fast import IP_PROTOCOL_TCP, TCP_LAYOUT

# Ports and sequence number: the first 8 bytes of the segment, which an ICMP error quotes (RFC 792).
_QUOTED = TCP_LAYOUT.reader("src_port", "dst_port", "seq")
#: Bound of the final ACKs of passive closes kept for two RTOs (``_remember_final_ack``): oldest go first.
FINAL_ACKS_REMEMBERED = 4096
_HARD_OPEN_ERRORS = (errnos.ECONNREFUSED, errnos.ENOPROTOOPT, errnos.EHOSTUNREACH, errnos.ENETUNREACH)


class TcpLayer:
    """The TCP transport of one stack (see the module docstring)."""

    def __init__(self, stack, config: TcpConfig | None = None, *, isn_secret: bytes | None = None, clock=None):
        self.stack = stack
        self.config = config or TcpConfig()
        self.counters = stack.counters
        self.trace_sink = stack.trace
        self.isn = IsnGenerator(isn_secret if isn_secret is not None else stack.secrets.key("tcp.isn"))
        self.syn_cookies = SynCookies(stack.secrets.key("tcp.syn_cookie"))
        self.fastopen = FastOpenCookies(stack.secrets.key("tcp.fastopen"))
        self.fastopen_client_cache: dict[bytes, bytes] = {}  # server address -> its cookie (RFC 7413)
        self.ports = EphemeralPorts(stack.secrets.key("tcp.ports"), self.config.ephemeral_ports)
        # spreads SYN / SYN-ACK retransmissions (a non-secret choice, reproducible under a seed)
        self.handshake_jitter = stack.secrets.random("tcp.handshake_jitter")
        # The same keyed hash of the 4-tuple, under a key of its own (engine/secrets.py).
        self.timestamp_offsets = IsnGenerator(stack.secrets.key("tcp.timestamps"))
        self.clock = clock or (lambda: stack.now)
        self.connections: dict[tuple, TcpConnection] = {}
        self.listeners: dict[tuple, TcpListener] = {}  # (address or None, port)
        self._time_wait: dict[tuple, TcpConnection] = {}  # in the order they entered TIME-WAIT
        # passively closed (LAST-ACK -> CLOSED): 4-tuple -> (SEG.SEQ, SEG.ACK of its final ACK, until)
        self._last_acked: dict[tuple, tuple[int, int, float]] = {}
        self._heap: list = []
        self._order = itertools.count()
        self._trace = self._trace_event if stack.trace is not None else None
        self._congestion_traced: dict[str, tuple] = {}  # conn name -> figures last traced (tracing only)

    @classmethod
    def attach(cls, stack, config: TcpConfig | None = None, **kwargs) -> "TcpLayer":
        layer = cls(stack, config, **kwargs)
        stack.register_transport(IP_PROTOCOL_TCP, layer)
        return layer

    def _trace_event(self, name: str, **fields) -> None:
        self.trace_sink.event(name, **fields)

    def _tracing_segments(self) -> bool:
        return self._trace is not None and self.trace_sink.enabled

    def _trace_congestion(self, conn: TcpConnection) -> None:
        snd = conn.snd
        cc, rtt = snd.cc, snd.rtt
        if cc is None:
            return
        figures = (cc.cwnd, cc.ssthresh, rtt.srtt, rtt.rttvar, rtt.rto)
        if conn.dead:
            self._congestion_traced.pop(conn.name, None)
        elif self._congestion_traced.get(conn.name) != figures:
            self._congestion_traced[conn.name] = figures
            self.trace_sink.event("tcp.congestion", conn=conn.name, cwnd=cc.cwnd, ssthresh=cc.ssthresh,
                                  srtt=rtt.srtt, rttvar=rtt.rttvar, rto=rtt.rto, flight=snd.in_flight)

    def _trace_segment(self, name: str, conn_name: str, seg) -> None:
        self.trace_sink.event(name, conn=conn_name, seq=seg.seq, ack=seg.ack, flags=flags_text(seg.flags),
                              len=len(seg.payload), window=seg.window)

    # ------------------------------------------------------------------ transport interface
    def receive(self, src: bytes, dst: bytes, payload, now: float) -> None:
        counters = self.counters
        try:
            seg, checksum_ok = decode_segment(payload, src, dst)
        except FormatError:
            counters.incr("tcp.drop.malformed")
            return
        if not checksum_ok:
            counters.incr("tcp.drop.bad_checksum")
            return
        counters.incr("tcp.segments_in")
        if seg.payload.__class__ is not bytes:
            seg.payload = bytes(seg.payload)  # the stack's buffer may be reused: copy what we keep
        seg.ecn = self.stack.ipv4.ecn_codepoint  # RFC 3168 §5: a CE mark is TCP's to echo (ecn.py)
        key = (dst, seg.dst_port, src, seg.src_port)
        conn = self.connections.get(key)
        tracing = self._tracing_segments()
        if tracing:
            self._trace_segment("tcp.segment_in", conn.name if conn is not None else _endpoint_name(key), seg)
        if conn is not None:
            if conn.state is TcpState.TIME_WAIT and seg.flags & (SYN | ACK | RST) == SYN and self._may_reuse(conn, seg):
                # RFC 6191: the new incarnation is unambiguous, end TIME-WAIT early
                counters.incr("tcp.time_wait_reused")
                self._end_time_wait(conn)
                conn = None
            else:
                snd_una = conn.snd.una
                conn.segment_arrived(seg, now)
                if conn.snd.una != snd_una:
                    # RFC 4861 §7.3.1: new data acknowledged proves the neighbour on the path works
                    self._confirm_neighbour(src)
                self.connection_changed(conn, now)
                if tracing:
                    self._trace_congestion(conn)
                return
        if self._last_acked and self._repeats_a_final_ack(key, seg, now):
            counters.incr("tcp.drop.after_close")
            return
        listener = self.listeners.get((dst, seg.dst_port)) or self.listeners.get((None, seg.dst_port))
        if listener is not None:
            listener.segment_arrived(seg, src, dst, now)
            return
        if seg.flags & RST:
            return  # RFC 9293 §3.10.7.1: an incoming RST to a closed port is discarded
        counters.incr("tcp.drop.no_listener")
        self.send_reset_for(seg, dst, src, now)

    def _confirm_neighbour(self, remote_ip: bytes) -> None:
        stack = self.stack
        try:
            hop = stack.ipv4.next_hop(remote_ip)
        except OSError:
            return
        stack.arp.confirm_reachable(hop)

    def next_deadline(self):
        heap = self._heap
        while heap:
            deadline, _, conn = heap[0]
            if conn.dead or conn._heap_deadline != deadline:
                heapq.heappop(heap)
                continue
            return deadline
        return None

    def tick(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, conn = heapq.heappop(heap)
            if conn.dead or conn._heap_deadline != deadline:
                continue
            conn._heap_deadline = None
            conn.tick(now)
            self.connection_changed(conn, now)

    def icmp_error(self, errno: int, src: bytes, dst: bytes, quoted, now: float) -> None:
        if len(quoted) < 8:
            return
        sport, dport, seq = _QUOTED.unpack_from(quoted)
        conn = self.connections.get((src, sport, dst, dport))
        if conn is None or conn.dead:
            return
        # RFC 5927 §4.1: accept only errors quoting a sequence number we have in flight
        if ((seq - conn.snd.una) & SEQ_MASK) > ((conn.snd.max - conn.snd.una) & SEQ_MASK):
            self.counters.incr("tcp.drop.icmp_out_of_window")
            return
        self.counters.incr("tcp.icmp_errors")
        if self._trace is not None:
            self._trace("tcp.icmp_error", conn=conn.name, errno=errnos.errorcode.get(errno, errno))
        if errno == errnos.EMSGSIZE:
            mtu = self.stack.path_mtu(dst)
            conn.path_mtu_changed(mtu, now)
        elif conn.state is TcpState.SYN_SENT and errno in _HARD_OPEN_ERRORS:
            conn.abort(now)
            conn.error = errno
        else:
            conn.soft_error = errno  # RFC 1122 §4.2.3.9: soft errors are reported, not fatal
        self.connection_changed(conn, now)

    # ------------------------------------------------------------------ connections
    def new_connection(self, local_ip: bytes, local_port: int, remote_ip: bytes, remote_port: int, now: float,
                       *, config: TcpConfig | None = None, iss: int | None = None) -> TcpConnection:
        """A TCB for the 4-tuple; ``iss`` None picks the RFC 6528 ISN (a SYN cookie passes its own)."""
        key = (local_ip, local_port, remote_ip, remote_port)
        old = self.connections.get(key)
        if old is not None and not old.dead:
            raise OSError(errnos.EADDRINUSE, f"4-tuple {key} in use")
        config = config or self.config
        mtu = self.stack.path_mtu(remote_ip)
        conn = TcpConnection(
            local_ip, local_port, remote_ip, remote_port,
            iss=self.isn.isn(local_ip, local_port, remote_ip, remote_port, now) if iss is None else iss,
            config=config, path_mtu=mtu,
            ts_offset=self.timestamp_offsets.offset(remote_ip, remote_port, local_ip, local_port),
            counters=self.counters, trace=self._trace,
        )
        conn.listener = None
        conn.soft_error = None
        conn._heap_deadline = None
        conn.handshake_jitter = self.handshake_jitter
        self.connections[key] = conn
        return conn

    def connect(self, remote_ip: bytes, remote_port: int, now: float, *, local_port: int = 0,
                config: TcpConfig | None = None, fastopen_data=None) -> TcpConnection:
        """Active OPEN from our address to ``remote_ip:remote_port``; returns the TCB in SYN-SENT.
        ``fastopen_data`` (bytes): RFC 7413 client, queued first and sent in the SYN when a cookie for
        the server is known (else a cookie is requested and the data follows the handshake)."""
        local_ip = self.stack.address
        if not local_port:
            local_port = self._ephemeral_port(local_ip, remote_ip, remote_port, now)
        conn = self.new_connection(local_ip, local_port, remote_ip, remote_port, now, config=config)
        if fastopen_data is not None:
            conn.fastopen_cache = self.fastopen_client_cache
            conn.snd.buffer.write(fastopen_data)
        conn.connect(now)
        self.counters.incr("tcp.active_opens")
        self.connection_changed(conn, now)
        return conn

    def _ephemeral_port(self, local_ip: bytes, remote_ip: bytes, remote_port: int, now: float) -> int:
        """RFC 6056 §3.3.4 (double-hash): the port a keyed hash of the destination picks; a 4-tuple in
        TIME-WAIT is taken over when timestamps make it safe (``time_wait_reuse``, RFC 6191)."""
        connections, listeners = self.connections, self.listeners

        def free(port: int) -> bool:
            if (None, port) in listeners or (local_ip, port) in listeners:
                return False
            old = connections.get((local_ip, port, remote_ip, remote_port))
            return old is None or self._may_reuse_time_wait(old, now)

        port = self.ports.choose(local_ip, remote_ip, remote_port, free)
        if port is None:
            raise OSError(errnos.EADDRNOTAVAIL, "no free ephemeral port")
        old = connections.get((local_ip, port, remote_ip, remote_port))
        if old is not None:
            self._end_time_wait(old)
            self.counters.incr("tcp.time_wait_reused_outgoing")
        return port

    def _may_reuse_time_wait(self, conn: TcpConnection, now: float) -> bool:
        """Linux tcp_twsk_unique with tcp_tw_reuse: our TIME-WAIT TCB used timestamps and its last one
        arrived at least a second ago, so the new connection's SYN (a newer TSval, RFC 6191 §2) and
        every later segment are told apart from the old incarnation's by PAWS."""
        return (self.config.time_wait_reuse and conn.state is TcpState.TIME_WAIT and conn.use_timestamps
                and now - conn.timestamp_state.ts_recent_time >= 1.0)

    def _end_time_wait(self, conn: TcpConnection) -> None:
        conn.dead = True
        key = conn.four_tuple
        if self.connections.get(key) is conn:
            del self.connections[key]
        self._time_wait.pop(key, None)

    def listen(self, port: int, *, address: bytes | None = None, backlog: int | None = None,
               config: TcpConfig | None = None) -> TcpListener:
        """Passive OPEN on ``port`` (``address`` None: every address of the stack)."""
        if not isinstance(port, int) or not 1 <= port <= 65535:
            raise OSError(errnos.EINVAL, f"port must be 1..65535, got {port!r}")
        key = (address, port)
        if key in self.listeners:
            raise OSError(errnos.EADDRINUSE, f"port {port} already has a listener")
        config = config or self.config
        listener = TcpListener(self, port, address=address, syn_backlog=config.syn_backlog,
                               accept_backlog=config.accept_backlog, config=config)
        if backlog is not None:
            listener.raise_backlog(max(1, backlog))
        self.listeners[key] = listener
        return listener

    def remove_listener(self, listener: TcpListener) -> None:
        self.listeners.pop((listener.address, listener.port), None)

    def connection_changed(self, conn: TcpConnection, now: float) -> None:
        """After any call into ``conn``: send its segments, reschedule its timer, forget it if gone."""
        if conn.outbox:
            self._transmit(conn, now)
        if conn.listener is not None:
            conn.listener.child_changed(conn, now)
        if conn.dead:
            key = conn.four_tuple
            if self.connections.get(key) is conn:
                del self.connections[key]
                if conn.state is TcpState.CLOSED and conn.error is None and conn.rcv.fin_received:
                    self._remember_final_ack(conn, now)
            if self._time_wait.get(key) is conn:
                del self._time_wait[key]
            return
        if conn.state is TcpState.TIME_WAIT and conn.four_tuple not in self._time_wait:
            self._enter_time_wait(conn)
        deadline = conn.deadline
        if deadline is not None and deadline != conn._heap_deadline:
            conn._heap_deadline = deadline
            heapq.heappush(self._heap, (deadline, next(self._order), conn))

    def _remember_final_ack(self, conn: TcpConnection, now: float) -> None:
        """A passive close ended (our FIN acknowledged in LAST-ACK). The peer, in TIME-WAIT, may send
        that final ACK again (in answer to a FIN we retransmitted): two RTOs long it is recognised
        and dropped. Without this it reached the listener, where SEG.SEQ - 1 and SEG.ACK - 1, both
        moved on by the same count when the two sides sent as much (an echo), still pass the cookie
        check (the cookie is additive in the client's ISN, as Linux's) and made a phantom connection."""
        remembered = self._last_acked
        remembered.pop(conn.four_tuple, None)
        remembered[conn.four_tuple] = (conn.rcv.nxt, conn.snd.max, now + 2 * conn.snd.rtt.rto)
        while remembered:  # oldest first: expired ones, then any past the bound
            oldest = next(iter(remembered))
            if remembered[oldest][2] >= now and len(remembered) <= FINAL_ACKS_REMEMBERED:
                break
            del remembered[oldest]

    def _repeats_a_final_ack(self, key: tuple, seg, now: float) -> bool:
        entry = self._last_acked.get(key)
        if entry is None:
            return False
        seq, ack, until = entry
        if now > until:
            del self._last_acked[key]
            return False
        return seg.flags & (SYN | RST | ACK) == ACK and not seg.payload and seg.seq == seq and seg.ack == ack

    def _enter_time_wait(self, conn: TcpConnection) -> None:
        """Hold at most ``time_wait_limit`` TIME-WAIT connections: past it the oldest is forgotten
        (Linux's tcp_max_tw_buckets overflow); its 4-tuple is then open to a new SYN at once."""
        time_wait = self._time_wait
        time_wait[conn.four_tuple] = conn
        if len(time_wait) <= self.config.time_wait_limit:
            return
        key = next(iter(time_wait))
        oldest = time_wait.pop(key)
        oldest.dead = True
        if self.connections.get(key) is oldest:
            del self.connections[key]
        self.counters.incr("tcp.time_wait_overflow")

    def _transmit(self, conn: TcpConnection, now: float) -> None:
        out, conn.outbox = conn.outbox, []
        local_ip, remote_ip = conn.local_ip, conn.remote_ip
        send_ip = self.stack.send_ip
        counters = self.counters
        sent = 0
        tracing = self._tracing_segments()
        for seg in out:
            if tracing:
                self._trace_segment("tcp.segment_out", conn.name, seg)
            data = encode_segment(seg, local_ip, remote_ip)
            try:
                if seg.ecn:
                    send_ip(remote_ip, IP_PROTOCOL_TCP, data, now, ecn=seg.ecn)  # ECT(0): RFC 3168 §6.1.2
                else:
                    send_ip(remote_ip, IP_PROTOCOL_TCP, data, now)
            except OSError as error:
                if error.errno == errnos.EMSGSIZE:
                    conn.path_mtu_changed(self.stack.path_mtu(remote_ip), now)
                counters.incr(f"tcp.drop.send_{errnos.errorcode.get(error.errno, 'error').lower()}")
                continue
            sent += 1
            if seg.flags & RST:
                counters.incr("tcp.resets_sent_segments")
        counters.incr("tcp.segments_out", sent)
        if tracing:
            self._trace_congestion(conn)

    def send_stateless(self, seg, local_ip: bytes, remote_ip: bytes, now: float) -> bool:
        """Send a segment that belongs to no connection (a reset, a SYN cookie's SYN-ACK)."""
        if self._tracing_segments():
            self._trace_segment("tcp.segment_out", _endpoint_name((local_ip, seg.src_port, remote_ip, seg.dst_port)), seg)
        try:
            self.stack.send_ip(remote_ip, IP_PROTOCOL_TCP, encode_segment(seg, local_ip, remote_ip), now)
        except OSError:
            self.counters.incr("tcp.drop.stateless_unsendable")
            return False
        self.counters.incr("tcp.segments_out")
        return True

    def send_reset_for(self, seg, local_ip: bytes, remote_ip: bytes, now: float, reason: str = "no_connection") -> None:
        """RFC 9293 §3.10.7.1: answer a segment that no connection accepts with an acceptable RST."""
        if not self.send_stateless(reset_for(seg), local_ip, remote_ip, now):
            return
        self.counters.incr("tcp.resets_sent")
        if self._trace is not None:
            self._trace("tcp.reset_sent", to=".".join(map(str, remote_ip)), port=seg.dst_port, reason=reason)

    def _may_reuse(self, conn: TcpConnection, syn) -> bool:
        """RFC 6191 §2: a SYN may reopen a TIME-WAIT 4-tuple when it is certainly newer."""
        if conn.use_timestamps and syn.tsval is not None and conn.timestamp_state.ts_recent is not None:
            return ts_before(conn.timestamp_state.ts_recent, syn.tsval)
        return 0 < ((syn.seq - conn.rcv.nxt) & SEQ_MASK) < (1 << 31)

    # ------------------------------------------------------------------ observability
    def connection_table(self) -> list[dict]:
        """One row per live connection: the 4-tuple and ``info()`` (state, RTT estimate, cwnd, ...)."""
        rows = []
        for conn in self.connections.values():
            row = {"connection": conn.name}
            row.update(conn.info())
            rows.append(row)
        return rows


def _endpoint_name(key: tuple) -> str:
    """``local:port-remote:port`` of a segment no connection owns (as ``TcpConnection.name``)."""
    local_ip, local_port, remote_ip, remote_port = key
    return f"{'.'.join(map(str, local_ip))}:{local_port}-{'.'.join(map(str, remote_ip))}:{remote_port}"
