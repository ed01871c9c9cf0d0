"""Passive open: a listening port with a bounded SYN backlog and a bounded accept queue.

RFC 9293 §3.10.7.2 (SEGMENT ARRIVES in LISTEN): an RST is ignored; an ACK-bearing segment gets
<SEQ=SEG.ACK><CTL=RST>; a SYN creates a new TCB in SYN-RECEIVED that answers SYN,ACK. The listener is a
model of the TCP machine in LISTEN (so its replies are the machine's ``send_rst`` rows) and each SYN
gets its own ``TcpConnection`` child.

Bounds (ARCHITECTURE.md: memory bounded everywhere something queues):

- ``syn_backlog``: children still in SYN-RECEIVED (and, with the established ones waiting for
  ``accept()``, at most ``accept_backlog``). A backlog passed to ``listen()`` deeper than
  ``TcpConfig.syn_backlog`` raises it to that (``raise_backlog``), as Linux's SYN queue follows the
  listen backlog: an application that sized its backlog for a burst must not meet cookies (and the
  options a cookie loses without timestamps) inside it. When full, a new SYN is answered with a SYN cookie
  (``TcpConfig.syn_cookies`` "when_full", the default; "always" answers every SYN so; see
  ``syn_cookies.py``): the connection is created only when the client's ACK returns a valid cookie.
  With cookies "off", the oldest child whose SYN-ACK went unanswered at least once (likely a spoofed
  source) is pruned to make room (``tcp.syn_backlog_pruned``); when none has, the SYN is dropped
  (``tcp.drop.syn_backlog_full``) and the client retransmits it.
- ``accept_backlog``: established children not yet taken by ``accept()``. When full, new SYNs (and
  ACKs carrying a cookie) are dropped (``tcp.drop.accept_queue_full``), like Linux's listen overflow.

Counters ``tcp.syncookies.sent``, ``tcp.syncookies.recv_ok``, ``tcp.syncookies.recv_failed``,
``tcp.drop.syncookie_after_gap`` (a later segment of a cookie connection whose first ones were lost:
dropped, not reset, see ``_after_lost_segments``); trace events ``tcp.syncookie_sent`` (to, port, mss)
and ``tcp.syncookie_checked`` (from, port, valid, after_gap).
"""

from __future__ import annotations

from collections import deque

from netstack.machines.tcp_connection import TCP_TABLE, TcpState
from netstack.engine.tcp.ecn import ECN_OFF, is_ecn_setup_syn
from netstack.engine.tcp.options import TimestampState, mss_for_mtu, window_scale_for
from netstack.engine.tcp.segment import ACK, CWR, ECE, FIN, RST, SYN, TcpSegment
from netstack.engine.tcp.seqnum import SEQ_MASK
from netstack.engine.tcp.syn_cookies import (
    COOKIE_PERIOD, MAX_COOKIE_AGE, MSS_TABLE, decode_timestamp_options, encode_timestamp_options, mss_index_for,
)


class TcpListener:
    """LISTEN on (``address``, ``port``); ``address`` None means any of the stack's addresses."""

    def __init__(self, layer, port: int, *, address: bytes | None = None, syn_backlog: int, accept_backlog: int, config):
        self.layer = layer
        self.port = port
        self.address = address
        self.syn_backlog = syn_backlog
        self.accept_backlog = accept_backlog
        self.config = config
        self.state = TcpState.CLOSED
        self.half_open: dict = {}
        self.accept_queue: deque = deque()
        self.on_accept = None  # callback(listener, now) when accept() has something
        self.wakeup = None
        self.closed = False
        self._segment = None
        self._src = None
        # Cookie ACKs are checked only while cookies may be out (Linux tcp_synq_no_recent_overflow):
        # a stray ACK is then an ordinary "ACK in LISTEN" answered with a reset.
        self.last_cookie_sent = None
        TCP_TABLE.fire(self, "passive_open", 0.0)

    # -- the machine's guards/actions that LISTEN uses ----------------------------------------------
    def raise_backlog(self, backlog: int) -> None:
        """``listen(backlog)``, first or again: the accept queue takes ``backlog``, and the SYN queue
        grows to it when deeper than configured (it never shrinks below ``TcpConfig.syn_backlog``)."""
        self.accept_backlog = backlog
        self.syn_backlog = max(self.config.syn_backlog, backlog)

    def send_rst(self, now: float) -> None:
        seg, src = self._segment, self._src
        if seg is None:
            return
        self.layer.send_reset_for(seg, self._dst, src, now)

    def delete_tcb(self, now: float) -> None:
        self.closed = True

    def foreign_socket_specified(self, now: float) -> bool:
        return False

    def opened_passively(self, now: float) -> bool:
        return False

    def rst_acknowledges_our_syn(self, now: float) -> bool:
        return False

    # The machine names no other action for LISTEN; the remaining ones are never reached from it, but a
    # model must have them all (TcpModel), so they do nothing here.
    def _nothing(self, now: float) -> None:
        return None

    send_syn = send_syn_ack = send_ack = send_fin = send_challenge_ack = _nothing
    start_time_wait_timer = report_connection_established = report_connection_refused = _nothing
    report_connection_reset = report_connection_timed_out = return_to_listen = _nothing

    # -- segments ----------------------------------------------------------------------------------
    def segment_arrived(self, seg: TcpSegment, src: bytes, dst: bytes, now: float) -> None:
        """A segment for our port that matches no connection (RFC 9293 §3.10.7.2)."""
        flags = seg.flags
        if flags & RST:
            return  # first: an incoming RST is ignored
        if flags & ACK:
            if not flags & SYN and self._cookie_may_be_out(now) and self._accept_cookie(seg, src, dst, now):
                return
            self._segment, self._src, self._dst = seg, src, dst
            try:
                TCP_TABLE.fire(self, "rcv_unacceptable", now)  # LISTEN: any ACK is bad -> send_rst
            finally:
                self._segment = None
            return
        if not flags & SYN:
            return  # "any other control or text-bearing segment ... drop it"
        counters = self.layer.counters
        if len(self.accept_queue) >= self.accept_backlog:
            counters.incr("tcp.drop.accept_queue_full")
            return
        mode = self.config.syn_cookies
        # half-open children are future accept-queue entries: counting them keeps the queue bounded
        full = (len(self.half_open) >= self.syn_backlog
                or len(self.accept_queue) + len(self.half_open) >= self.accept_backlog)
        if mode == "always" or (full and mode == "when_full"):
            self._send_cookie(seg, src, dst, now)
            return
        if full and not self._prune_half_open(now):
            if len(self.half_open) >= self.syn_backlog:
                counters.incr("tcp.drop.syn_backlog_full")
            else:
                counters.incr("tcp.drop.accept_queue_full")
            return
        syn_data, reply_cookie = b"", None
        if self.config.fastopen_backlog and seg.fastopen_cookie is not None:
            syn_data, reply_cookie = self._fast_open(seg, src)
        conn = self.layer.new_connection(dst, seg.dst_port, src, seg.src_port, now, config=self.config)
        conn.listener = self
        conn.fastopen_reply_cookie = reply_cookie
        conn.fastopen = bool(syn_data)
        self.half_open[conn.four_tuple] = conn
        conn.accept_syn(seg, now, syn_data)
        counters.incr("tcp.passive_opens")
        self.layer.connection_changed(conn, now)

    def _fast_open(self, syn: TcpSegment, src: bytes) -> tuple[bytes, bytes | None]:
        """RFC 7413 (fastopen.py): (the SYN data to take, the cookie the SYN-ACK should carry)."""
        counters, cookies = self.layer.counters, self.layer.fastopen
        cookie = syn.fastopen_cookie
        if not cookie or not cookies.valid(src, cookie):
            counters.incr("tcp.fastopen.cookie_sent" if not cookie else "tcp.fastopen.cookie_invalid")
            return b"", cookies.cookie(src)  # a request, or a wrong cookie: data (if any) ignored
        if not syn.payload:
            return b"", None
        if sum(1 for child in self.half_open.values() if child.fastopen) >= self.config.fastopen_backlog:
            counters.incr("tcp.fastopen.overflow")  # §5.1: bounded, the data waits for the handshake
            return b"", None
        counters.incr("tcp.fastopen.accepted")
        return syn.payload, None

    def _prune_half_open(self, now: float) -> bool:
        """Under pressure, drop the oldest child whose SYN-ACK was retransmitted (its SYN most likely
        came from a spoofed address) so a new SYN gets its slot; False when every child is young."""
        for key, conn in self.half_open.items():
            if conn.snd.retransmits > 0:
                del self.half_open[key]
                conn.listener = None
                conn._discard(now)  # silently: a reset would go to the spoofed address
                self.layer.connection_changed(conn, now)
                self.layer.counters.incr("tcp.syn_backlog_pruned")
                return True
        return False

    # -- SYN cookies (RFC 4987 §3.6, syn_cookies.py) -------------------------------------------------
    def _cookie_window(self) -> int:
        """The window a cookie SYN-ACK offers (a SYN's window is never scaled, RFC 7323 §2.2): all the
        client may send before anything from us acknowledges it."""
        return min(self.config.receive_buffer, 0xFFFF)

    def _cookie_may_be_out(self, now: float) -> bool:
        if self.config.syn_cookies == "always":
            return True
        sent = self.last_cookie_sent
        return sent is not None and now - sent < (MAX_COOKIE_AGE + 1) * COOKIE_PERIOD

    def _send_cookie(self, syn: TcpSegment, src: bytes, dst: bytes, now: float) -> None:
        """Answer ``syn`` with a SYN-ACK whose ISN is a cookie, keeping no state. Options as a child's
        SYN-ACK would carry them; without timestamps there is nowhere to keep window scale and SACK,
        so they are not offered (as Linux)."""
        layer, config = self.layer, self.config
        four_tuple = (dst, syn.dst_port, src, syn.src_port)
        mss_index = mss_index_for(syn.mss)
        iss = layer.syn_cookies.make(four_tuple, syn.seq, mss_index, now)
        our_mss = config.mss or mss_for_mtu(layer.stack.path_mtu(src))
        reply = TcpSegment(syn.dst_port, syn.src_port, iss, (syn.seq + 1) & SEQ_MASK, SYN | ACK,
                           self._cookie_window(), mss=our_mss)
        if config.timestamps and syn.tsval is not None:
            wscale = syn.wscale if config.window_scaling else None
            if wscale is not None:
                reply.wscale = window_scale_for(config.window_buffer)
            sack = bool(config.sack_permitted and syn.sack_permitted)
            reply.sack_permitted = sack
            # the same per-connection offset the connection will use (RFC 7323 §7.1)
            clock = TimestampState(layer.timestamp_offsets.offset(src, syn.src_port, dst, syn.dst_port))
            ecn = config.ecn != ECN_OFF and is_ecn_setup_syn(syn.flags)  # RFC 3168 §6.1.1
            if ecn:
                reply.flags |= ECE  # an ECN-setup SYN-ACK; the cookie's ECN bit restores the agreement
            reply.tsval = encode_timestamp_options(clock.tsval(now), wscale, sack, ecn)
            reply.tsecr = syn.tsval
        self.last_cookie_sent = now
        layer.counters.incr("tcp.syncookies.sent")
        if layer._trace is not None:
            layer._trace("tcp.syncookie_sent", to=".".join(map(str, src)), port=syn.src_port,
                         mss=MSS_TABLE[mss_index])
        layer.send_stateless(reply, dst, src, now)

    def _accept_cookie(self, seg: TcpSegment, src: bytes, dst: bytes, now: float) -> bool:
        """An ACK for no connection: when SEG.ACK - 1 is a valid cookie, rebuild the connection from
        it (options restored from the cookie and TSecr) and let the ACK complete the handshake."""
        layer = self.layer
        four_tuple = (dst, seg.dst_port, src, seg.src_port)
        client_isn = (seg.seq - 1) & SEQ_MASK
        iss = (seg.ack - 1) & SEQ_MASK
        mss_index = layer.syn_cookies.check(four_tuple, client_isn, iss, now)
        after_gap = mss_index is None and self._after_lost_segments(seg, four_tuple, iss, now)
        if layer._trace is not None:
            layer._trace("tcp.syncookie_checked", **{"from": ".".join(map(str, src))}, port=seg.src_port,
                         valid=mss_index is not None, after_gap=after_gap)
        if after_gap:
            layer.counters.incr("tcp.drop.syncookie_after_gap")
            return True
        if mss_index is None:
            layer.counters.incr("tcp.syncookies.recv_failed")
            return False
        layer.counters.incr("tcp.syncookies.recv_ok")
        if len(self.accept_queue) >= self.accept_backlog:
            layer.counters.incr("tcp.drop.accept_queue_full")  # the client's retransmission may get in
            return True
        wscale, sack, ecn = None, False, False
        if seg.tsecr is not None and self.config.timestamps:
            wscale, sack, ecn = decode_timestamp_options(seg.tsecr)
        # the client's SYN as the cookie remembers it: ECE and CWR when it asked for ECN and we agreed
        flags = SYN | ECE | CWR if ecn and self.config.ecn != ECN_OFF else SYN
        syn = TcpSegment(seg.src_port, seg.dst_port, client_isn, 0, flags, seg.window, mss=MSS_TABLE[mss_index],
                         wscale=wscale, sack_permitted=sack, tsval=seg.tsval)
        conn = layer.new_connection(dst, seg.dst_port, src, seg.src_port, now, config=self.config, iss=iss)
        conn.listener = self
        self.half_open[conn.four_tuple] = conn
        conn.accept_syn(syn, now)
        conn.outbox.clear()  # that SYN-ACK already left, as the cookie
        conn.snd.retransmits = 1  # its send time is unknown: no RTT sample from the handshake (Karn)
        layer.counters.incr("tcp.passive_opens")
        conn.segment_arrived(seg, now)
        layer.connection_changed(conn, now)
        return True

    def _after_lost_segments(self, seg: TcpSegment, four_tuple: tuple, iss: int, now: float) -> bool:
        """Whether ``seg``, which failed the cookie check, is a later segment of a cookie connection.

        The cookie is checked against SEG.SEQ - 1, which is the client's ISN only in the first segment
        after the handshake. When that ACK and the first data segments are lost (a full TAP queue drops
        a burst of them; or the ACK was dropped on a full accept queue), the next one, SEG.SEQ past
        ISN + 1, fails; a reset would kill a connection the client rightly believes established (Linux
        resets it, but loses no segments between its own sockets). Dropped instead, the client's
        retransmission from ISN + 1 validates. Only a segment that carries data or a FIN, and whose
        SEG.SEQ lies within the cookie SYN-ACK's window past an ISN the cookie in SEG.ACK could stand
        for, is dropped: anything else still gets the reset of RFC 9293 §3.10.7.2."""
        if not seg.payload and not seg.flags & FIN:
            return False  # a client sends bare ACKs only in answer to us, and we sent nothing more
        window = self._cookie_window()
        seq = (seg.seq - 1) & SEQ_MASK
        return any(0 < (seq - isn) & SEQ_MASK <= window
                   for isn in self.layer.syn_cookies.client_isns(four_tuple, iss, now))

    def child_changed(self, conn, now: float) -> None:
        """The layer reports that a child's state may have changed."""
        key = conn.four_tuple
        if key not in self.half_open:
            return
        if conn.dead:
            del self.half_open[key]
        elif conn.state is not TcpState.SYN_RECEIVED:
            del self.half_open[key]
            self.accept_queue.append(conn)
            if self.wakeup is not None:
                self.wakeup()
            if self.on_accept is not None:
                self.on_accept(self, now)

    def accept(self):
        """The oldest established connection, or None (non-blocking)."""
        while self.accept_queue:
            conn = self.accept_queue.popleft()
            conn.listener = None
            if not conn.dead or conn.readable:
                return conn
        return None

    def close(self, now: float) -> None:
        """Stop listening: half-open children are reset, queued ones aborted (like Linux)."""
        if self.closed:
            return
        TCP_TABLE.fire(self, "close", now)
        self.closed = True
        for conn in list(self.half_open.values()) + list(self.accept_queue):
            conn.listener = None
            conn.abort(now)
            self.layer.connection_changed(conn, now)
        self.half_open.clear()
        self.accept_queue.clear()
        self.layer.remove_listener(self)


def reset_for(seg: TcpSegment) -> TcpSegment:
    """RFC 9293 §3.10.7.1: the reset answering ``seg`` when no connection (or LISTEN) accepts it."""
    if seg.flags & ACK:
        return TcpSegment(seg.dst_port, seg.src_port, seg.ack, 0, RST, 0)
    end = (seg.seq + seg.seg_len) & SEQ_MASK
    return TcpSegment(seg.dst_port, seg.src_port, 0, end, RST | ACK, 0)
