"""Passive open: a listening port with a bounded SYN backlog and a bounded accept queue.

RFC 9293 §3.10.7.2 (SEGMENT ARRIVES in LISTEN): an RST is ignored; an ACK-bearing segment gets
<SEQ=SEG.ACK><CTL=RST>; a SYN creates a new TCB in SYN-RECEIVED that answers SYN,ACK. The listener is a
model of the TCP machine in LISTEN (so its replies are the machine's ``send_rst`` rows) and each SYN
gets its own ``TcpConnection`` child.

Bounds (ARCHITECTURE.md: memory bounded everywhere something queues):

- ``syn_backlog``: children still in SYN-RECEIVED. When full, a new SYN is dropped and counted
  (``tcp.drop.syn_backlog_full``); the client retransmits its SYN, as with Linux without syncookies.
- ``accept_backlog``: established children not yet taken by ``accept()``. When full, new SYNs are
  dropped (``tcp.drop.accept_queue_full``), like Linux's listen overflow.
"""

from __future__ import annotations

from collections import deque

from netstack.machines.tcp_connection import TCP_TABLE, TcpState
from netstack.engine.tcp.segment import ACK, RST, SYN, TcpSegment
from netstack.engine.tcp.seqnum import SEQ_MASK


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
        TCP_TABLE.fire(self, "passive_open", 0.0)

    # -- the machine's guards/actions that LISTEN uses ----------------------------------------------
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
            self._segment, self._src, self._dst = seg, src, dst
            try:
                TCP_TABLE.fire(self, "rcv_unacceptable", now)  # LISTEN: any ACK is bad -> send_rst
            finally:
                self._segment = None
            return
        if not flags & SYN:
            return  # "any other control or text-bearing segment ... drop it"
        counters = self.layer.counters
        if len(self.half_open) >= self.syn_backlog:
            counters.incr("tcp.drop.syn_backlog_full")
            return
        if len(self.accept_queue) + len(self.half_open) >= self.accept_backlog:
            # half-open children are future accept-queue entries: counting them keeps the queue bounded
            counters.incr("tcp.drop.accept_queue_full")
            return
        conn = self.layer.new_connection(dst, seg.dst_port, src, seg.src_port, now, config=self.config)
        conn.listener = self
        self.half_open[conn.four_tuple] = conn
        conn.accept_syn(seg, now)
        counters.incr("tcp.passive_opens")
        self.layer.connection_changed(conn, now)

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
