"""SEGMENT ARRIVES (RFC 9293 §3.10.7) for ``TcpConnection``: the receive half of the TCB.

The steps keep the RFC's order: SYN-SENT (§3.10.7.3), then for the other states (§3.10.7.4) first
check sequence number (with PAWS, RFC 7323 §5), second RST (RFC 5961 §3), fourth SYN (RFC 5961 §4),
fifth ACK, sixth URG (ignored), seventh text, eighth FIN. Each arrival that matters to the state is
classified into one event of the TCP machine (``rcv_syn``, ``rcv_syn_ack``, ``rcv_ack_of_syn``,
``rcv_ack_of_fin``, ``rcv_fin``, ``rcv_fin_ack_of_fin``, ``rcv_rst``, ``rcv_unacceptable``) and fired;
the machine's table picks the next state and calls the connection's actions (``send_ack``,
``start_time_wait_timer``, ...). Data and window arithmetic fire nothing.

``_arrive_synchronized`` is the §3.10.7.4 list, one method per step (``_check_sequence_number``,
``_check_rst``, ``_check_syn``, ``_check_ack``, ``_process_segment_text``, ``_check_fin``). Sequence
arithmetic uses ``seqnum``'s helpers except where a segment of a bulk transfer passes: there it is
written out, as marked, because the helpers' calls cost 35 % on the full path and 12 % on header
prediction (``benchmarks/tcp_sans_io.py``, docs/performance.md "TCP sequence arithmetic").
"""

from __future__ import annotations

import errno as errnos

from netstack.engine.tcp.fastopen import client_syn_acked
from netstack.engine.tcp.options import PAWS_IDLE_LIMIT
from netstack.engine.tcp.receiver import MAX_QUICK_ACKS
from netstack.engine.tcp.segment import ACK, CWR, ECE, FIN, PSH, RST, SYN
from netstack.engine.tcp.segment_validation import ack_acceptable
from netstack.engine.tcp.seqnum import (
    HALF_SPACE, SEQ_MASK, SEQ_MODULUS, seq_add, seq_in_window,
)

from netstack.engine.tcp.states import (
    SYN_SENT, SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT,
)

_DATA_STATES = (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2)
_OUTPUT_STATES = (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK)
# states where an ACK cannot acknowledge our FIN (none sent), so taking one alone needs no transition
_ACK_ONLY_STATES = (ESTABLISHED, CLOSE_WAIT)


class ReceivePath:
    """Mixin of ``TcpConnection``: everything that happens when a segment arrives."""

    def segment_arrived(self, seg, now: float) -> None:
        """Process one segment addressed to this connection (demultiplexed by the layer)."""
        self.stats["segments_in"] += 1
        if self.state is ESTABLISHED and seg.flags & ~PSH == ACK:
            if seg.payload:
                if seg.seq == self.rcv.nxt:
                    if self._predicted(seg, now):
                        return
                elif self._predicted_out_of_order(seg, now):
                    return
            elif self._predicted_ack(seg, now):
                return
        self._current_segment = seg
        try:
            if self.state is SYN_SENT:
                self._arrive_syn_sent(seg, now)
            elif not self.dead:
                self._arrive_synchronized(seg, now)
        finally:
            self._current_segment = None
        # The application runs first: what it reads opens the window the ACK below announces, and
        # what it writes carries that ACK (piggybacking) instead of a separate segment.
        if self.wakeup is not None:
            self.wakeup()
        if not self.dead:
            if self.rcv.ack_now:
                self._send_ack(now)
            self._update_deadline()

    def _predicted(self, seg, now: float) -> bool:
        """Header prediction (Van Jacobson; Linux tcp_rcv_established's fast path): in ESTABLISHED,
        the next in-order data segment of a one-way transfer, acknowledging nothing new and keeping
        the window, changes only RCV.NXT and the buffer. Every check of the full path that such a
        segment could fail is made here; anything else takes the full path (returns False)."""
        payload = seg.payload
        n = len(payload)
        # Sequence arithmetic written out (not seqnum's helpers): this runs once per segment of a bulk
        # transfer, where the helpers' calls cost 12 % (benchmarks/tcp_sans_io.py, docs/performance.md).
        snd = self.snd
        rcv = self.rcv
        rcv_nxt = rcv.nxt
        if (
            not n
            or seg.seq != rcv_nxt
            or seg.ack != snd.una
            or snd.una != snd.max
            or (seg.window << snd.wscale) != snd.wnd
            or n > ((rcv.adv - rcv_nxt) & SEQ_MASK)
            or self.app_closed
            or rcv.buffer.queue
            or rcv.peer_fin_offset is not None
        ):
            return False
        if self.use_timestamps:
            tsval = seg.tsval
            ts = self.timestamp_state
            if tsval is None or ts.ts_recent is None or ((tsval - ts.ts_recent) & SEQ_MASK) >= HALF_SPACE:
                return False  # PAWS or a missing timestamp: let the full path judge
            if rcv_nxt == rcv.last_ack_sent:
                ts.ts_recent = tsval  # RFC 7323 §4.3: SEG.SEQ <= Last.ACK.sent
                ts.ts_recent_time = now
        if seg.ecn and self.ecn:
            self._ecn_arrived(seg)  # RFC 3168 §6.1.3: a CE mark (ecn.py)
        self.last_received = now
        rb = rcv.buffer
        rb._ready += payload
        rb.next_offset += n
        rcv.nxt = (rcv_nxt + n) & SEQ_MASK
        rcv.unacked_bytes += n
        self._schedule_data_ack(seg.flags, now)
        if self.keepalive_deadline is not None:
            self._arm_keepalive(now)
        if self.wakeup is not None:
            if self.config.ack_at_batch_end and not rcv.ack_now:
                # batched reads: the application hears of the data once the driver has handled the
                # frames that arrived together (a timer due now), and reads them in one call
                if self.notify_deadline is None:
                    self.notify_deadline = now
            else:
                self.wakeup()
        if rcv.ack_now and not self.dead:
            self._send_ack(now)
        self._update_deadline()
        return True

    def _predicted_out_of_order(self, seg, now: float) -> bool:
        """Header prediction for the segments after a hole (with 1-5 % loss, most of a bulk
        transfer's segments: each one arriving while a hole is open is out of order). In ESTABLISHED,
        a data segment of a one-way transfer (acknowledging nothing new), wholly inside the window,
        above RCV.NXT and above every byte the reassembly queue holds: it overlaps nothing, so the
        queue appends it and SACK's first block is the one it extends (RFC 2018 §4). The full path's
        steps for such a segment do exactly what is done here: PAWS passes, TS.Recent stays (SEG.SEQ >
        Last.ACK.sent, RFC 7323 §4.3), the ACK field moves nothing but the window (SND.WL1 = SEG.SEQ),
        no trimming, no D-SACK, an immediate ACK (RFC 5681 §4.2). Anything else takes the full path
        (returns False, having changed nothing); tests/engine/tcp/test_receive_fast_path.py runs both.
        The one difference is outside TCP: the application is not woken (see the end)."""
        payload = seg.payload
        n = len(payload)
        # Sequence arithmetic written out (not seqnum's helpers): once per segment (module docstring).
        snd = self.snd
        rcv = self.rcv
        seq = seg.seq
        rcv_nxt = rcv.nxt
        off = (seq - rcv_nxt) & SEQ_MASK
        rcv_wnd = (rcv.adv - rcv_nxt) & SEQ_MASK  # RCV.WND; off + n within it keeps off < HALF_SPACE
        rb = rcv.buffer
        start = rb.next_offset + off
        if (
            not off
            or rcv_wnd >= HALF_SPACE
            or off + n > rcv_wnd
            or seg.ack != snd.una
            or snd.una != snd.max
            or ((rcv.last_ack_sent - seq) & SEQ_MASK) < HALF_SPACE
            or self.app_closed
            or rcv.peer_fin_offset is not None
            or self.persist_deadline is not None
            or not rb.queue.appends(start, n)
        ):
            return False
        if self.use_timestamps:
            tsval = seg.tsval
            ts = self.timestamp_state
            if tsval is not None and ts.ts_recent is not None and (
                ((tsval - ts.ts_recent) & SEQ_MASK) >= HALF_SPACE or now - ts.ts_recent_time > PAWS_IDLE_LIMIT
            ):
                return False  # PAWS (RFC 7323 §5.3), or TS.Recent too old to judge by: the full path
        if seg.ecn and self.ecn:
            self._ecn_arrived(seg)  # RFC 3168 §6.1.3: a CE mark (ecn.py)
        self.last_received = now
        if self.keepalive_deadline is not None:
            self._arm_keepalive(now)
        snd.update_window(seq, seg.ack, seg.window << snd.wscale)  # (a window it opens: no persist timer to stop)
        if rcv.acks_folded and start != rcv.folded_end:
            self._send_ack(now)  # only contiguous segments fold (as in _receive_text)
        rcv.folded_end = start + n
        if rcv.sack is not None:
            rcv.sack.on_segment_above(start)  # nothing held at or above it: no D-SACK, first block
        rb.out_of_order_bytes_queued += rb.queue.append(start, payload)
        self.stats["out_of_order_bytes"] += n
        self.counters.incr("tcp.out_of_order_bytes_queued", n)
        if self.trace is not None:
            self.trace("tcp.out_of_order", conn=self.name, seq=seq, bytes=n, held=rb.queue.held)
        self._ack_at_once(now)
        if rcv.quick_acks < MAX_QUICK_ACKS:
            rcv.quickack()  # (at MAX_QUICK_ACKS it changes nothing: skipped, once per segment)
        self._output(now)
        # No wake-up, unlike the full path: nothing the application can see changed (no byte became
        # readable, no buffer space freed, same state), and on a TAP the discard service's callback
        # per segment after a hole cost as much as the rest of this path (benchmarks/receive_cpu.py).
        if rcv.ack_now and not self.dead:
            self._send_ack(now)
        self._update_deadline()
        return True

    def _predicted_ack(self, seg, now: float) -> bool:
        """Header prediction for the sender: a pure in-order ACK of new data, window unchanged (or
        just moved by the ACK), nothing special pending. Same arithmetic as the full path's fifth step
        without the checks such a segment cannot fail."""
        # Sequence arithmetic written out (not seqnum's helpers): this runs once per segment of a bulk
        # transfer, where the helpers' calls cost 12 % (benchmarks/tcp_sans_io.py, docs/performance.md).
        snd = self.snd
        rcv = self.rcv
        ack = seg.ack
        una = snd.una
        acked = (ack - una) & SEQ_MASK
        if (
            seg.seq != rcv.nxt
            or not acked
            or acked > ((snd.max - una) & SEQ_MASK)
            or snd.fin_seq is not None
            or snd.wnd == 0
        ):
            return False
        if self.use_timestamps:
            tsval = seg.tsval
            ts = self.timestamp_state
            if tsval is None or ts.ts_recent is None or ((tsval - ts.ts_recent) & SEQ_MASK) >= HALF_SPACE:
                return False
            if rcv.nxt == rcv.last_ack_sent:
                ts.ts_recent = tsval
                ts.ts_recent_time = now
        self.last_received = now
        self._ack_advanced(seg, ack, acked, now)
        # RFC 9293 §3.10.7.4 window update (SND.WL1 = SEG.SEQ here, so SND.WL2 <= SEG.ACK decides)
        if snd.wl1 != seg.seq or ((ack - snd.wl2) & SEQ_MASK) < HALF_SPACE:
            window = seg.window << snd.wscale
            snd.take_window(seg.seq, ack, window)
            snd.zero_window_answered = window == 0
        if self.keepalive_deadline is not None:
            self._arm_keepalive(now)
        self._output(now)
        if self.wakeup is not None:
            self.wakeup()
        if rcv.ack_now and not self.dead:
            self._send_ack(now)
        self._update_deadline()
        return True

    # ----------------------------------------------------------------------------- SYN-SENT
    def _arrive_syn_sent(self, seg, now: float) -> None:
        flags = seg.flags
        if flags & ACK and not self.rst_acknowledges_our_syn(now):
            # first: an ACK outside (ISS, SND.NXT] is not for this connection
            if not flags & RST:
                self._fire("rcv_unacceptable", now)  # action send_rst: <SEQ=SEG.ACK><CTL=RST>
            return
        if flags & RST:
            # second: only an RST that acknowledges our SYN is believed (guard rst_acknowledges_our_syn)
            self.counters.incr("tcp.resets_received")
            if self.trace is not None:
                self.trace("tcp.reset_received", conn=self.name, state=self.state.value)
            self._fire("rcv_rst", now)
            return
        if not flags & SYN:
            return
        # fourth: the peer's SYN
        self.last_received = now
        self.rcv.start(seg.seq)
        self._negotiate(seg, now)
        self.snd.wnd = seg.window  # a SYN's window is never scaled (RFC 7323 §2.2)
        self.snd.max_wnd = max(self.snd.max_wnd, self.snd.wnd)
        self.snd.wl1 = seg.seq
        if flags & ACK:
            self.snd.una = seg.ack
            self.snd.wl2 = seg.ack
            if self.fastopen_cache is not None:
                client_syn_acked(self, seg)  # RFC 7413 client (fastopen.py)
            self._take_rtt_sample_for_syn(now)
            self.rcv.adv = self.rcv.nxt  # the window is offered in the ACK that follows
            self._fire("rcv_syn_ack", now)  # ESTABLISHED; send_ack, report_connection_established
            self._output(now)
        else:
            self._fire("rcv_syn", now)  # simultaneous open: SYN-RECEIVED, send_syn_ack

    # ------------------------------------------------------------------------- other states
    def _arrive_synchronized(self, seg, now: float) -> None:
        """RFC 9293 §3.10.7.4, SYN-RECEIVED and the synchronized states: the RFC's steps in order."""
        if self.state is SYN_RECEIVED and self._simultaneous_open_completes(seg, now):
            return
        rcv = self.rcv
        # RCV.WND as the segment found it (the text below may move RCV.NXT); written out (per segment)
        rcv_wnd = (rcv.adv - rcv.nxt) & SEQ_MASK
        if rcv_wnd >= HALF_SPACE:
            rcv_wnd = 0
        off = self._check_sequence_number(seg, rcv_wnd, now)  # first
        if off is None:
            return
        flags = seg.flags
        if flags & RST:  # second
            self._check_rst(off, now)
            return
        # third, check security: no security/compartment option is implemented (nothing to compare)
        if flags & SYN:  # fourth
            self._check_syn(now)
            return
        if not flags & ACK:  # fifth: "if the ACK bit is off, drop the segment and return"
            return
        fin_acked_now = self._check_ack(seg, now)
        if fin_acked_now is None:
            return
        # sixth, check the URG bit: parsed and ignored (RFC 6093: urgent bytes stay in the stream)
        window_end = rcv.buffer.next_offset + rcv_wnd  # stream offset of the window's right edge
        start = self._process_segment_text(seg, off, now)  # seventh
        if self.dead:
            return
        if flags & FIN or fin_acked_now or rcv.peer_fin_offset is not None:
            self._check_fin(seg, start, window_end, fin_acked_now, now)  # eighth
        if self.state in _OUTPUT_STATES:
            self._output(now)

    def _simultaneous_open_completes(self, seg, now: float) -> bool:
        """SYN-RECEIVED after a simultaneous open (RFC 9293 §3.5 Figure 7): the peer's SYN,ACK
        acknowledges our SYN; True when it did and the connection is now ESTABLISHED."""
        snd = self.snd
        if not (seg.flags & (SYN | ACK | RST) == SYN | ACK and seg.seq == self.rcv.irs
                and snd.acceptable_ack(seg.ack)):
            return False
        snd.una = seg.ack
        snd.wnd = seg.window
        snd.wl1 = seg.seq
        snd.wl2 = seg.ack
        self._fire("rcv_syn_ack", now)
        self._output(now)
        return True

    def _check_sequence_number(self, seg, rcv_wnd: int, now: float) -> int | None:
        """First, check sequence number (RFC 9293 §3.10.7.4), after PAWS (RFC 7323 §5.3).

        Returns how far SEG.SEQ lies past RCV.NXT when the segment is acceptable, None when it was
        handled here (dropped, acknowledged, or a zero-window ACK taken)."""
        flags = seg.flags
        if (
            self.use_timestamps
            and seg.tsval is not None
            and self.timestamp_state.paws_rejects(seg.tsval, bool(flags & RST), now)
        ):
            self.counters.incr("tcp.drop.paws")
            self._fire("rcv_unacceptable", now)
            return None
        seq = seg.seq
        rcv_nxt = self.rcv.nxt
        seg_len = len(seg.payload) + (flags & SYN and 1) + (flags & FIN and 1)  # SEG.LEN
        off = (seq - rcv_nxt) & SEQ_MASK  # seq_offset, written out: once per segment (module docstring)
        # the acceptability table: zero-length or not, against a zero or open receive window
        if seg_len == 0:
            acceptable = off == 0 if rcv_wnd == 0 else off < rcv_wnd
        elif rcv_wnd == 0:
            acceptable = False
        else:
            acceptable = off < rcv_wnd or seq_in_window(seq_add(seq, seg_len - 1), rcv_nxt, rcv_wnd)
        if acceptable:
            if self.ecn and (seg.ecn or flags & CWR):
                self._ecn_arrived(seg)  # RFC 3168 §6.1.3, for acceptable segments only (ecn.py)
            self.last_received = now
            if self.keepalive_deadline is not None:
                self._arm_keepalive(now)
            return off
        if flags & RST:
            return None  # an RST outside the window is dropped silently (RFC 5961 §3.2)
        self.counters.incr("tcp.drop.unacceptable")
        if seg.payload and off >= HALF_SPACE and self.rcv.sack is not None:
            # all of it below RCV.NXT: received before; the ACK below reports it as a D-SACK (RFC 2883 §4)
            start = self.rcv.buffer.next_offset + off - SEQ_MODULUS
            self.rcv.note_segment(start, start + len(seg.payload))
            self.rcv.quickack()  # our ACK of it was lost: the sender is probably timing out
        if (rcv_wnd == 0 and (off <= 1 or not seg_len and off <= self.rcv.buffer.capacity) and flags & ACK
                and not flags & SYN and self.state in _ACK_ONLY_STATES):
            # RFC 9293 §3.10.7.4: with RCV.WND zero "special allowance should be made to accept
            # valid ACKs". The peer's probe byte may already sit one past RCV.NXT (BSD and we
            # advance SND.NXT for it), so its later ACKs arrive at RCV.NXT + 1; ignoring them
            # deadlocks two connections whose both windows are full (echo of a bulk stream). A pure
            # ACK carries the peer's SND.MAX, which lies beyond RCV.NXT by what it sent before our
            # window closed (at most the buffer we ever offered): its ACK is valid too, else the
            # peer's progress reaches us only with its zero-window probes, one a minute (the echo of
            # test_tcp_zero_window_allowance stalled so with another ephemeral port). RFC 5961 §5
            # still checks the ACK field itself.
            self.counters.incr("tcp.zero_window_acks_taken")
            if self._process_ack(seg, now) and not self.dead:
                self._output(now)
            if self.dead:
                return None
        if self.state is TIME_WAIT and flags & FIN and seq_add(seq, seg_len) == rcv_nxt:
            self._fire("rcv_fin", now)  # the peer's FIN again: ACK it, restart 2 MSL
        elif seg_len or self._out_of_window_ack_allowed(now):
            self._fire("rcv_unacceptable", now)  # send_ack, then drop
        return None

    def _check_rst(self, off: int, now: float) -> None:
        """Second, check the RST bit (RFC 9293 §3.10.7.4, RFC 5961 §3): only SEG.SEQ == RCV.NXT
        resets; an in-window RST gets a challenge ACK."""
        if off != 0:
            if self.challenge_ack_allowed(now):  # SECURITY: RFC 5961 §7 (segment_validation.py)
                self._fire("rcv_unacceptable", now)
            return
        self.counters.incr("tcp.resets_received")
        if self.trace is not None:
            self.trace("tcp.reset_received", conn=self.name, state=self.state.value)
        self._fire("rcv_rst", now)

    def _check_syn(self, now: float) -> None:
        """Fourth, check the SYN bit (RFC 9293 §3.10.7.4, RFC 5961 §4): a SYN in a synchronized
        state gets a challenge ACK, never a reset."""
        self._fire("rcv_syn", now)

    def _check_ack(self, seg, now: float) -> bool | None:
        """Fifth, check the ACK field of a segment with ACK set (RFC 9293 §3.10.7.4). Returns None
        when processing stops here, else whether this ACK acknowledged our FIN in a way the eighth
        step still has to report."""
        snd = self.snd
        if self.use_timestamps and seg.tsval is not None:
            # RFC 7323 §4.3: TS.Recent from the segment when SEG.SEQ <= Last.ACK.sent
            # (seq_le written out: per segment)
            self.timestamp_state.update(seg.tsval, ((self.rcv.last_ack_sent - seg.seq) & SEQ_MASK) < HALF_SPACE, now)
        if self.state is SYN_RECEIVED:
            if not snd.acceptable_ack(seg.ack):
                self._emit_reset_for(seg, now)  # <SEQ=SEG.ACK><CTL=RST>
                return None
            self._take_rtt_sample_for_syn(now)
            snd.una = seg.ack
            snd.take_window(seg.seq, seg.ack, seg.window << snd.wscale)
            self._fire("rcv_ack_of_syn", now)
            return False
        had_fin_outstanding = snd.fin_seq is not None and snd.una != snd.max
        if not self._process_ack(seg, now) or self.dead:
            return None
        if not (had_fin_outstanding and snd.una == snd.max):
            return False
        # our FIN is acknowledged now
        state = self.state
        if state is FIN_WAIT_1:
            if seg.flags & FIN:
                return True  # the eighth step fires rcv_fin_ack_of_fin (or rcv_ack_of_fin)
            self._fire("rcv_ack_of_fin", now)  # FIN-WAIT-2
            if self.app_closed:
                self.fin_wait_2_deadline = now + self.config.fin_wait_2_timeout
            return False
        if state is CLOSING or state is LAST_ACK:
            self._fire("rcv_ack_of_fin", now)  # TIME-WAIT, or CLOSED (delete_tcb)
            return None if self.dead else False
        return True

    def _process_segment_text(self, seg, off: int, now: float) -> int:
        """Seventh, process the segment text (RFC 9293 §3.10.7.4). Returns the stream offset where
        SEG.SEQ falls (RCV.NXT's offset plus ``off``, or before it for a retransmission)."""
        # where SEG.SEQ falls: ``off`` past RCV.NXT, or before it (seq_diff written out: per segment)
        start = self.rcv.buffer.next_offset + (off if off < HALF_SPACE else off - SEQ_MODULUS)
        if seg.payload:
            self._receive_text(seg, seg.payload, start, off, now)
        return start

    def _check_fin(self, seg, start: int, window_end: int, fin_acked_now: bool, now: float) -> None:
        """Eighth, check the FIN bit (RFC 9293 §3.10.7.4): a FIN, possibly one that arrived earlier
        out of order and is now in order. A FIN right at the window's edge is taken: it needs no
        buffer space."""
        rcv = self.rcv
        if seg.flags & FIN and rcv.peer_fin_offset is None and not rcv.fin_received:
            fin_offset = start + len(seg.payload)
            if (self.state in _DATA_STATES or self.state is SYN_RECEIVED) and fin_offset <= window_end:
                rcv.peer_fin_offset = fin_offset
        if rcv.peer_fin_offset is not None and not rcv.fin_received and rcv.buffer.next_offset == rcv.peer_fin_offset:
            self._receive_fin(now, fin_acked_now)
        elif fin_acked_now:
            self._fire("rcv_ack_of_fin", now)  # the FIN of this segment is not in order yet
            if self.app_closed:
                self.fin_wait_2_deadline = now + self.config.fin_wait_2_timeout

    def _schedule_data_ack(self, flags: int, now: float) -> None:
        """When to acknowledge in-order data (RFC 1122 §4.2.3.2, RFC 5681 §4.2).

        - a small pushed segment (a request) is answered at once, like Linux's quickack, so a Nagle-ing
          peer is not held up by our delayed ACK;
        - from the second full-sized segment on the ACK is due now; with ``ack_at_batch_end`` it is
          sent when the driver has handled the frames that arrived together (a deadline of "now" runs
          after the batch), so one ACK covers a burst, as Linux's GRO does;
        - otherwise the delayed-ACK timer (``delayed_ack``, at most 200 ms) sends it;
        - but after a sign of loss the next segments are each acknowledged at once (``quickack``).
        """
        rcv = self.rcv
        unacked = rcv.unacked_bytes
        config = self.config
        if rcv.quick_acks:
            rcv.quick_acks -= 1  # quickack after a sign of loss (TcpReceiver.quickack)
            self._ack_at_once(now)
        elif config.delayed_ack == 0 or (flags & PSH and unacked < self.snd.mss):
            rcv.ack_now = True
        elif unacked >= 2 * self.snd.mss:
            if config.ack_at_batch_end:
                rcv.ack_pending = True
                deadline = self.delayed_ack_deadline  # (_ack_at_batch_end written out: per segment)
                if deadline is None or deadline > now:
                    self.delayed_ack_deadline = now
            else:
                self.rcv.ack_now = True
        else:
            self.rcv.ack_pending = True
            if self.delayed_ack_deadline is None:
                self.delayed_ack_deadline = now + config.delayed_ack

    def _out_of_window_ack_allowed(self, now: float) -> bool:
        """Rate limit for ACKs answering pure ACKs we cannot accept: two stacks that disagree would
        otherwise exchange ACKs forever (an "ACK loop"; RFC 5961 §7, Linux tcp_invalid_ratelimit)."""
        if not self.challenge_acks.allow(now):  # SECURITY: per connection (segment_validation.py)
            self.counters.incr("tcp.out_of_window_acks_limited")
            return False
        return True

    def _receive_text(self, seg, payload, start: int, off: int, now: float) -> None:
        rb = self.rcv.buffer
        if self.state not in _DATA_STATES:
            return  # CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent its FIN
        if self.app_closed:
            # RFC 9293 §3.10.4 / RFC 1122 §4.2.2.13: data for an application that closed gets an RST
            self.counters.incr("tcp.data_after_close")
            self._current_segment = None  # the RST is the ABORT form <SEQ=SND.NXT><CTL=RST>
            self._fire("abort", now)
            self.error = errnos.ECONNRESET
            return
        rcv_wnd = (self.rcv.adv - self.rcv.nxt) & SEQ_MASK  # RCV.WND, written out (per segment)
        if rcv_wnd >= HALF_SPACE:
            rcv_wnd = 0
        n = len(payload)
        # Trim what lies beyond the window we offered (RFC 9293 §3.10.7.4 "trim to the window").
        limit = rb.next_offset + rcv_wnd
        if start + n > limit:
            payload = payload[: max(0, limit - start)]
            n = len(payload)
        if self.rcv.acks_folded and start != self.rcv.folded_end:
            self._send_ack(now)  # only contiguous segments fold (GRO), or a repaired hole may go unreported
        self.rcv.folded_end = start + n
        before = rb.queue.held
        if self.rcv.sack is not None and (before or start != rb.next_offset):
            self.rcv.note_segment(start, start + n)  # for the SACK blocks of the ACK this triggers
        advanced = rb.receive(start, payload)
        if advanced:
            self.rcv.nxt = (self.rcv.nxt + advanced) & SEQ_MASK  # written out (per segment)
            if rb.queue.held < before or off != 0:
                self._ack_at_once(now)  # a gap was filled: ACK at once (RFC 5681 §4.2)
                self.rcv.quickack()
            else:
                self.rcv.unacked_bytes += advanced
                self._schedule_data_ack(seg.flags, now)
        else:
            # out of order or duplicate: an immediate (duplicate) ACK (RFC 5681 §4.2, §3.2)
            queued = rb.queue.held - before
            if queued > 0:
                self.stats["out_of_order_bytes"] += queued
                self.counters.incr("tcp.out_of_order_bytes_queued", queued)
                if self.trace is not None:
                    self.trace("tcp.out_of_order", conn=self.name, seq=seg.seq, bytes=queued, held=rb.queue.held)
            self._ack_at_once(now)
            self.rcv.quickack()

    def _ack_at_once(self, now: float) -> None:
        """An ACK RFC 5681 §4.2 asks for at once (out of order, a hole filled, a quick ACK). With
        ``ack_at_batch_end`` it goes at the batch's end (a deadline of "now") with the SACK blocks of
        then, or with the ``immediate_acks_folded``-th such segment, as GRO folds (docs/tcp.md)."""
        rcv = self.rcv
        config = self.config
        if config.ack_at_batch_end and rcv.acks_folded + 1 < config.immediate_acks_folded:
            rcv.acks_folded += 1
            rcv.ack_pending = True
            self._ack_at_batch_end(now)
            return
        rcv.ack_now = True

    def _ack_at_batch_end(self, now: float) -> None:
        """The ACK owed leaves when the driver has handled the frames that arrived together: a
        deadline of "now", due once the batch is done. A deadline already due stays as it is: either
        one fires at the same batch end, and a deadline moved by every out-of-order segment of a
        batch made the layer push the connection onto its timer heap once per segment (4,554 pushes
        for 6,906 frames at 2 % in benchmarks/receive_cpu.py before, 370 since)."""
        deadline = self.delayed_ack_deadline
        if deadline is None or deadline > now:
            self.delayed_ack_deadline = now

    def _receive_fin(self, now: float, fin_acked_now: bool) -> None:
        """Eighth step: the peer's FIN is in order (RFC 9293 §3.10.7.4)."""
        self.rcv.fin_received = True
        self.rcv.nxt = seq_add(self.rcv.nxt, 1)
        self.rcv.ack_now = True
        if fin_acked_now and self.state is FIN_WAIT_1:
            self._fire("rcv_fin_ack_of_fin", now)  # our FIN acknowledged by this same segment
        else:
            self._fire("rcv_fin", now)

    def _process_ack(self, seg, now: float) -> bool:
        """Fifth step in the synchronized states; False when the segment must be dropped."""
        snd = self.snd
        ack = seg.ack
        una = snd.una
        # written out (seq_offset): once per segment of a bulk transfer, see the module docstring
        acked = (ack - una) & SEQ_MASK
        in_flight = (snd.max - una) & SEQ_MASK
        if acked > in_flight:
            if acked >= HALF_SPACE:
                # SECURITY: RFC 5961 §5.2 (segment_validation.py): older than SND.UNA - MAX.SND.WND
                # is dropped with a challenge ACK; otherwise an old duplicate, ignored, text kept
                if not ack_acceptable(una, snd.max, snd.max_wnd, ack):
                    self.counters.incr("tcp.drop.ack_too_old")
                    if self.challenge_ack_allowed(now):
                        self.rcv.ack_now = True
                    return False
                return True
            # SEG.ACK > SND.NXT: acknowledges something not yet sent; ACK and drop
            self.counters.incr("tcp.drop.ack_of_unsent")
            if seg.payload or self._out_of_window_ack_allowed(now):
                self.rcv.ack_now = True
            return False
        window = seg.window << snd.wscale
        if seg.flags & ECE and self.ecn:
            self._ecn_echo_arrived(seg)  # RFC 3168 §6.1.2, before the ACK may grow cwnd (ecn.py)
        if self.persist_deadline is not None:
            snd.persist.answered()  # RFC 1122 §4.2.2.17: the peer answers our probes, it is alive
        if acked:
            self._ack_advanced(seg, ack, acked, now)
        elif in_flight and not seg.payload and not seg.flags & (SYN | FIN) and window == snd.wnd:
            self._duplicate_ack(seg, now)
        elif in_flight and seg.sack_blocks and snd.recovery is not None:
            self._recovery_outcome(snd.recovery.on_ack(ack, seg.sack_blocks, now, snd.max, srtt=snd.rtt.srtt,
                                                       echoed=self._echoed(seg, now)), now)
        if snd.update_window(seg.seq, ack, window):
            # the window opened: no more probes, and the full path's _output sends at once
            self.persist_deadline = None
        return True

    def _take_rtt_sample_for_syn(self, now: float) -> None:
        if self.snd.retransmits == 0:
            self.snd.rtt.sample(now - self.snd.rtt_time)  # the SYN was timed when sent, and not retransmitted
