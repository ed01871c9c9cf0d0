"""SEGMENT ARRIVES (RFC 9293 §3.10.7) for ``TcpConnection``: the receive half of the TCB.

The steps keep the RFC's order: SYN-SENT (§3.10.7.3), then for the other states (§3.10.7.4) first
check sequence number (with PAWS, RFC 7323 §5), second RST (RFC 5961 §3), fourth SYN (RFC 5961 §4),
fifth ACK, sixth URG (ignored), seventh text, eighth FIN. Each arrival that matters to the state is
classified into one event of the TCP machine (``rcv_syn``, ``rcv_syn_ack``, ``rcv_ack_of_syn``,
``rcv_ack_of_fin``, ``rcv_fin``, ``rcv_fin_ack_of_fin``, ``rcv_rst``, ``rcv_unacceptable``) and fired;
the machine's table picks the next state and calls the connection's actions (``send_ack``,
``start_time_wait_timer``, ...). Data and window arithmetic fire nothing.
"""

from __future__ import annotations

import errno as errnos

from netstack.engine.tcp.fastopen import client_syn_acked
from netstack.engine.tcp.segment import ACK, FIN, PSH, RST, SYN
from netstack.engine.tcp.segment_validation import ack_acceptable
from netstack.engine.tcp.seqnum import SEQ_MASK

from netstack.engine.tcp.states import (
    SYN_SENT, SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT,
)

_HALF = 1 << 31
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
                if self._predicted(seg, now):
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
            if self.ack_now:
                self._send_ack(now)
            self._update_deadline()

    def _predicted(self, seg, now: float) -> bool:
        """Header prediction (Van Jacobson; Linux tcp_rcv_established's fast path): in ESTABLISHED,
        the next in-order data segment of a one-way transfer, acknowledging nothing new and keeping
        the window, changes only RCV.NXT and the buffer. Every check of the full path that such a
        segment could fail is made here; anything else takes the full path (returns False)."""
        payload = seg.payload
        n = len(payload)
        rcv_nxt = self.rcv_nxt
        if (
            not n
            or seg.seq != rcv_nxt
            or seg.ack != self.snd_una
            or self.snd_una != self.snd_max
            or (seg.window << self.snd_wscale) != self.snd_wnd
            or n > ((self.rcv_adv - rcv_nxt) & SEQ_MASK)
            or self.app_closed
            or self.receive_buffer.queue
            or self.peer_fin_offset is not None
        ):
            return False
        if self.use_timestamps:
            tsval = seg.tsval
            ts = self.timestamp_state
            if tsval is None or ts.ts_recent is None or ((tsval - ts.ts_recent) & SEQ_MASK) >= _HALF:
                return False  # PAWS or a missing timestamp: let the full path judge
            if rcv_nxt == self.last_ack_sent:
                ts.ts_recent = tsval  # RFC 7323 §4.3: SEG.SEQ <= Last.ACK.sent
                ts.ts_recent_time = now
        self.last_received = now
        rb = self.receive_buffer
        rb._ready += payload
        rb.next_offset += n
        self.rcv_nxt = (rcv_nxt + n) & SEQ_MASK
        self.unacked_bytes += n
        self._schedule_data_ack(seg.flags, now)
        if self.keepalive_deadline is not None:
            self._arm_keepalive(now)
        if self.wakeup is not None:
            if self.config.ack_at_batch_end and not self.ack_now:
                # batched reads: the application hears of the data once the driver has handled the
                # frames that arrived together (a timer due now), and reads them in one call
                if self.notify_deadline is None:
                    self.notify_deadline = now
            else:
                self.wakeup()
        if self.ack_now and not self.dead:
            self._send_ack(now)
        self._update_deadline()
        return True

    def _predicted_ack(self, seg, now: float) -> bool:
        """Header prediction for the sender: a pure in-order ACK of new data, window unchanged (or
        just moved by the ACK), nothing special pending. Same arithmetic as the full path's fifth step
        without the checks such a segment cannot fail."""
        ack = seg.ack
        una = self.snd_una
        acked = (ack - una) & SEQ_MASK
        if (
            seg.seq != self.rcv_nxt
            or not acked
            or acked > ((self.snd_max - una) & SEQ_MASK)
            or self.fin_seq is not None
            or self.snd_wnd == 0
        ):
            return False
        if self.use_timestamps:
            tsval = seg.tsval
            ts = self.timestamp_state
            if tsval is None or ts.ts_recent is None or ((tsval - ts.ts_recent) & SEQ_MASK) >= _HALF:
                return False
            if self.rcv_nxt == self.last_ack_sent:
                ts.ts_recent = tsval
                ts.ts_recent_time = now
        self.last_received = now
        self._ack_advanced(seg, ack, acked, now)
        # RFC 9293 §3.10.7.4 window update (SND.WL1 = SEG.SEQ here, so SND.WL2 <= SEG.ACK decides)
        if self.snd_wl1 != seg.seq or ((ack - self.snd_wl2) & SEQ_MASK) < _HALF:
            window = seg.window << self.snd_wscale
            self.snd_wnd = window
            self.snd_wl1 = seg.seq
            self.snd_wl2 = ack
            if window > self.max_snd_wnd:
                self.max_snd_wnd = window
            self.zero_window_answered = window == 0
        if self.keepalive_deadline is not None:
            self._arm_keepalive(now)
        self._output(now)
        if self.wakeup is not None:
            self.wakeup()
        if self.ack_now and not self.dead:
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
        self.irs = seg.seq
        self.rcv_nxt = (seg.seq + 1) & SEQ_MASK
        self._negotiate(seg, now)
        self.snd_wnd = seg.window  # a SYN's window is never scaled (RFC 7323 §2.2)
        self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
        self.snd_wl1 = seg.seq
        if flags & ACK:
            self.snd_una = seg.ack
            self.snd_wl2 = seg.ack
            if self.fastopen_cache is not None:
                client_syn_acked(self, seg)  # RFC 7413 client (fastopen.py)
            self._take_rtt_sample_for_syn(now)
            self.rcv_adv = self.rcv_nxt  # the window is offered in the ACK that follows
            self._fire("rcv_syn_ack", now)  # ESTABLISHED; send_ack, report_connection_established
            self._output(now)
        else:
            self._fire("rcv_syn", now)  # simultaneous open: SYN-RECEIVED, send_syn_ack

    # ------------------------------------------------------------------------- other states
    def _arrive_synchronized(self, seg, now: float) -> None:
        flags = seg.flags
        payload = seg.payload
        seq = seg.seq
        seg_len = len(payload)
        if flags & SYN:
            seg_len += 1
        if flags & FIN:
            seg_len += 1
        rcv_nxt = self.rcv_nxt
        rcv_wnd = (self.rcv_adv - rcv_nxt) & SEQ_MASK
        if rcv_wnd >= _HALF:
            rcv_wnd = 0
        if (
            self.state is SYN_RECEIVED
            and flags & (SYN | ACK | RST) == SYN | ACK
            and seq == self.irs
            and ((seg.ack - self.snd_una - 1) & SEQ_MASK) < ((self.snd_max - self.snd_una) & SEQ_MASK)
        ):
            # simultaneous open (RFC 9293 §3.5 Figure 7): the peer's SYN,ACK acknowledges our SYN
            self.snd_una = seg.ack
            self.snd_wnd = seg.window
            self.snd_wl1 = seq
            self.snd_wl2 = seg.ack
            self._fire("rcv_syn_ack", now)
            self._output(now)
            return

        # first: PAWS (RFC 7323 §5.3), then the acceptability table of RFC 9293 §3.10.7.4
        if (
            self.use_timestamps
            and seg.tsval is not None
            and self.timestamp_state.paws_rejects(seg.tsval, bool(flags & RST), now)
        ):
            self.counters.incr("tcp.drop.paws")
            self._fire("rcv_unacceptable", now)
            return
        off = (seq - rcv_nxt) & SEQ_MASK  # distance of SEG.SEQ past RCV.NXT (huge when before)
        if seg_len == 0:
            acceptable = off == 0 if rcv_wnd == 0 else off < rcv_wnd
        elif rcv_wnd == 0:
            acceptable = False
        else:
            acceptable = off < rcv_wnd or ((seq + seg_len - 1 - rcv_nxt) & SEQ_MASK) < rcv_wnd
        if not acceptable:
            if flags & RST:
                return  # an RST outside the window is dropped silently (RFC 5961 §3.2)
            self.counters.incr("tcp.drop.unacceptable")
            if rcv_wnd == 0 and off <= 1 and flags & ACK and not flags & SYN and self.state in _ACK_ONLY_STATES:
                # RFC 9293 §3.10.7.4: with RCV.WND zero "special allowance should be made to accept
                # valid ACKs". The peer's probe byte may already sit one past RCV.NXT (BSD and we
                # advance SND.NXT for it), so its later ACKs arrive at RCV.NXT + 1; ignoring them
                # deadlocks two connections whose both windows are full (echo of a bulk stream).
                self.counters.incr("tcp.zero_window_acks_taken")
                if self._process_ack(seg, now) and not self.dead:
                    self._output(now)
                if self.dead:
                    return
            if self.state is TIME_WAIT and flags & FIN and ((seq + seg_len - rcv_nxt) & SEQ_MASK) == 0:
                self._fire("rcv_fin", now)  # the peer's FIN again: ACK it, restart 2 MSL
            elif seg_len or self._out_of_window_ack_allowed(now):
                self._fire("rcv_unacceptable", now)  # send_ack, then drop
            return
        self.last_received = now
        if self.keepalive_deadline is not None:
            self._arm_keepalive(now)

        # second: RST (RFC 5961 §3: only SEG.SEQ == RCV.NXT resets, in-window gets a challenge ACK)
        if flags & RST:
            if off != 0:
                if self.challenge_ack_allowed(now):  # SECURITY: RFC 5961 §7 (segment_validation.py)
                    self._fire("rcv_unacceptable", now)
                return
            self.counters.incr("tcp.resets_received")
            if self.trace is not None:
                self.trace("tcp.reset_received", conn=self.name, state=self.state.value)
            self._fire("rcv_rst", now)
            return

        # fourth: SYN in a synchronized state (RFC 5961 §4: challenge ACK, never a reset)
        if flags & SYN:
            self._fire("rcv_syn", now)
            return

        # fifth: ACK
        if not flags & ACK:
            return
        if self.use_timestamps and seg.tsval is not None:
            # RFC 7323 §4.3: TS.Recent from the segment when SEG.SEQ <= Last.ACK.sent
            self.timestamp_state.update(seg.tsval, ((self.last_ack_sent - seq) & SEQ_MASK) < _HALF, now)
        fin_acked_now = False
        if self.state is SYN_RECEIVED:
            if ((seg.ack - self.snd_una - 1) & SEQ_MASK) < ((self.snd_max - self.snd_una) & SEQ_MASK):
                self._take_rtt_sample_for_syn(now)
                self.snd_una = seg.ack
                self.snd_wnd = seg.window << self.snd_wscale
                self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
                self.snd_wl1 = seq
                self.snd_wl2 = seg.ack
                self._fire("rcv_ack_of_syn", now)
            else:
                self._emit_reset_for(seg, now)  # <SEQ=SEG.ACK><CTL=RST>
                return
        else:
            had_fin_outstanding = self.fin_seq is not None and self.snd_una != self.snd_max
            if not self._process_ack(seg, now):
                return
            if self.dead:
                return
            fin_acked_now = had_fin_outstanding and self.snd_una == self.snd_max
            if fin_acked_now:
                state = self.state
                if state is FIN_WAIT_1:
                    if not flags & FIN:
                        self._fire("rcv_ack_of_fin", now)
                        fin_acked_now = False
                        if self.app_closed:
                            self.fin_wait_2_deadline = now + self.config.fin_wait_2_timeout
                elif state is CLOSING or state is LAST_ACK:
                    self._fire("rcv_ack_of_fin", now)  # TIME-WAIT, or CLOSED (delete_tcb)
                    fin_acked_now = False
                    if self.dead:
                        return

        # sixth: URG is parsed and ignored (RFC 6093: urgent bytes stay in the stream)
        # seventh: segment text. Stream offsets: where SEG.SEQ falls relative to RCV.NXT's offset.
        rb = self.receive_buffer
        base = rb.next_offset
        start = base + off if off < _HALF else base - ((-off) & SEQ_MASK)
        if payload:
            self._receive_text(seg, payload, start, off, now)
            if self.dead:
                return
        # eighth: FIN (possibly one that arrived earlier, out of order, and is now in order). A FIN
        # right at the window's edge is taken: it needs no buffer space.
        if flags & FIN and self.peer_fin_offset is None and not self.fin_received:
            fin_offset = start + len(payload)
            if (self.state in _DATA_STATES or self.state is SYN_RECEIVED) and fin_offset <= base + rcv_wnd:
                self.peer_fin_offset = fin_offset
        if (
            self.peer_fin_offset is not None
            and not self.fin_received
            and self.receive_buffer.next_offset == self.peer_fin_offset
        ):
            self._receive_fin(now, fin_acked_now)
        elif fin_acked_now:
            self._fire("rcv_ack_of_fin", now)  # the FIN of this segment is not in order yet
            if self.app_closed:
                self.fin_wait_2_deadline = now + self.config.fin_wait_2_timeout
        if self.state in _OUTPUT_STATES:
            self._output(now)

    def _schedule_data_ack(self, flags: int, now: float) -> None:
        """When to acknowledge in-order data (RFC 1122 §4.2.3.2, RFC 5681 §4.2).

        - a small pushed segment (a request) is answered at once, like Linux's quickack, so a Nagle-ing
          peer is not held up by our delayed ACK;
        - from the second full-sized segment on the ACK is due now; with ``ack_at_batch_end`` it is
          sent when the driver has handled the frames that arrived together (a deadline of "now" runs
          after the batch), so one ACK covers a burst, as Linux's GRO does;
        - otherwise the delayed-ACK timer (``delayed_ack``, at most 200 ms) sends it.
        """
        unacked = self.unacked_bytes
        config = self.config
        if config.delayed_ack == 0 or (flags & PSH and unacked < self.send_mss):
            self.ack_now = True
        elif unacked >= 2 * self.send_mss:
            if config.ack_at_batch_end:
                self.ack_pending = True
                self.delayed_ack_deadline = now
            else:
                self.ack_now = True
        else:
            self.ack_pending = True
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
        rb = self.receive_buffer
        if self.state not in _DATA_STATES:
            return  # CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent its FIN
        if self.app_closed:
            # RFC 9293 §3.10.4 / RFC 1122 §4.2.2.13: data for an application that closed gets an RST
            self.counters.incr("tcp.data_after_close")
            self._current_segment = None  # the RST is the ABORT form <SEQ=SND.NXT><CTL=RST>
            self._fire("abort", now)
            self.error = errnos.ECONNRESET
            return
        rcv_wnd = (self.rcv_adv - self.rcv_nxt) & SEQ_MASK
        if rcv_wnd >= _HALF:
            rcv_wnd = 0
        n = len(payload)
        # Trim what lies beyond the window we offered (RFC 9293 §3.10.7.4 "trim to the window").
        limit = rb.next_offset + rcv_wnd
        if start + n > limit:
            payload = payload[: max(0, limit - start)]
            n = len(payload)
        before = rb.queue.held
        advanced = rb.receive(start, payload)
        if advanced:
            self.rcv_nxt = (self.rcv_nxt + advanced) & SEQ_MASK
            if rb.queue.held < before or off != 0:
                self.ack_now = True  # a gap was filled: ACK at once (RFC 5681 §4.2)
            else:
                self.unacked_bytes += advanced
                self._schedule_data_ack(seg.flags, now)
        else:
            # out of order or duplicate: an immediate (duplicate) ACK (RFC 5681 §4.2, §3.2)
            queued = rb.queue.held - before
            if queued > 0:
                self.stats["out_of_order_bytes"] += queued
                self.counters.incr("tcp.out_of_order_bytes_queued", queued)
                if self.trace is not None:
                    self.trace("tcp.out_of_order", conn=self.name, seq=seg.seq, bytes=queued, held=rb.queue.held)
            self.ack_now = True

    def _receive_fin(self, now: float, fin_acked_now: bool) -> None:
        """Eighth step: the peer's FIN is in order (RFC 9293 §3.10.7.4)."""
        self.fin_received = True
        self.rcv_nxt = (self.rcv_nxt + 1) & SEQ_MASK
        self.ack_now = True
        if fin_acked_now and self.state is FIN_WAIT_1:
            self._fire("rcv_fin_ack_of_fin", now)  # our FIN acknowledged by this same segment
        else:
            self._fire("rcv_fin", now)

    def _process_ack(self, seg, now: float) -> bool:
        """Fifth step in the synchronized states; False when the segment must be dropped."""
        ack = seg.ack
        una = self.snd_una
        acked = (ack - una) & SEQ_MASK
        in_flight = (self.snd_max - una) & SEQ_MASK
        if acked > in_flight:
            if acked >= _HALF:
                # SECURITY: RFC 5961 §5.2 (segment_validation.py): older than SND.UNA - MAX.SND.WND
                # is dropped with a challenge ACK; otherwise an old duplicate, ignored, text kept
                if not ack_acceptable(una, self.snd_max, self.max_snd_wnd, ack):
                    self.counters.incr("tcp.drop.ack_too_old")
                    if self.challenge_ack_allowed(now):
                        self.ack_now = True
                    return False
                return True
            # SEG.ACK > SND.NXT: acknowledges something not yet sent; ACK and drop
            self.counters.incr("tcp.drop.ack_of_unsent")
            if seg.payload or self._out_of_window_ack_allowed(now):
                self.ack_now = True
            return False
        window = seg.window << self.snd_wscale
        if acked:
            self._ack_advanced(seg, ack, acked, now)
        elif in_flight and not seg.payload and not seg.flags & (SYN | FIN) and window == self.snd_wnd:
            self._duplicate_ack(now)
        # RFC 9293 §3.10.7.4: update the send window when the segment is newer (SND.WL1/WL2 rule)
        wl1 = (seg.seq - self.snd_wl1) & SEQ_MASK
        if (0 < wl1 < _HALF) or (wl1 == 0 and ((ack - self.snd_wl2) & SEQ_MASK) < _HALF):
            old = self.snd_wnd
            self.snd_wnd = window
            self.snd_wl1 = seg.seq
            self.snd_wl2 = ack
            if window > self.max_snd_wnd:
                self.max_snd_wnd = window
            if window and not old:
                self.persist_deadline = None
                self.persist_backoff = 0
            self.zero_window_answered = window == 0
        return True

    def _ack_advanced(self, seg, ack: int, acked: int, now: float) -> None:
        """SND.UNA < SEG.ACK <= SND.MAX: new data (or our FIN) acknowledged."""
        sb = self.send_buffer
        data_acked = (ack - self.snd_buf_seq) & SEQ_MASK
        if data_acked >= _HALF:
            data_acked = 0
        elif data_acked > len(sb):
            data_acked = len(sb)  # the rest acknowledges our FIN
        if data_acked:
            sb.consume(data_acked)
            self.snd_buf_seq = (self.snd_buf_seq + data_acked) & SEQ_MASK
        self.snd_una = ack
        if 0 < ((ack - self.snd_nxt) & SEQ_MASK) < _HALF:
            self.snd_nxt = ack  # after go-back-N the peer may acknowledge beyond SND.NXT
        # RTT: timestamps give a sample on every ACK of new data (RFC 7323 §4.1); otherwise the one
        # timed segment, unless it was retransmitted (Karn's algorithm).
        if self.use_timestamps and seg.tsecr:
            # Karn for timestamps: an echo older than our last retransmission may time a segment
            # that waited in the peer's reassembly queue, not one round trip (RFC 7323 §4.2)
            floor = self.ts_retransmit_floor
            if floor is None or ((seg.tsecr - floor) & SEQ_MASK) < _HALF:
                rtt = ((self.timestamp_state.tsval(now) - seg.tsecr) & SEQ_MASK) / 1000.0
                if rtt < 60:
                    self.rtt.sample(rtt)
        elif self.rtt_seq is not None and 0 < ((ack - self.rtt_seq) & SEQ_MASK) < _HALF:
            self.rtt.sample(now - self.rtt_time)
            self.rtt_seq = None
        self.retransmits = 0
        self.rtt.reset_backoff()
        flight = (self.snd_max - ack) & SEQ_MASK
        if self.cc.on_ack(acked, flight, ack):
            self._retransmit_first(now)  # RFC 6582 §3.2 (5): partial ACK in fast recovery
        # RFC 6298 (5.2)/(5.3): stop the timer when all is acknowledged, else restart it
        if flight == 0:
            self.retransmit_deadline = None
            self.user_timeout_deadline = None
        else:
            self.retransmit_deadline = now + self.rtt.rto
            if self.config.user_timeout is not None:
                self.user_timeout_deadline = now + self.config.user_timeout

    def _duplicate_ack(self, now: float) -> None:
        """RFC 5681 §3.2: the congestion control counts duplicates; the third triggers a retransmit."""
        self.stats["dup_acks"] += 1
        self.counters.incr("tcp.dup_acks")
        if self.trace is not None:
            self.trace("tcp.dup_ack", conn=self.name, ack=self.snd_una, count=self.cc.duplicate_acks + 1)
        flight = (self.snd_max - self.snd_una) & SEQ_MASK
        if self.cc.on_duplicate_ack(flight, self.snd_una, self.snd_max):
            self.stats["fast_retransmits"] += 1
            self.counters.incr("tcp.fast_retransmits")
            if self.trace is not None:
                self.trace("tcp.fast_retransmit", conn=self.name, seq=self.snd_una, cwnd=self.cc.cwnd,
                           ssthresh=self.cc.ssthresh)
            self._retransmit_first(now)

    def _take_rtt_sample_for_syn(self, now: float) -> None:
        if self.retransmits == 0:
            self.rtt.sample(now - self.rtt_time)  # the SYN was timed when sent, and not retransmitted
