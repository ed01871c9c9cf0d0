"""The send half of ``TcpConnection``: segmentation, windows, acknowledgments and retransmission.

- Segmentation to the effective send MSS (RFC 9293 §3.7.1), limited by min(SND.WND, cwnd) minus the
  bytes in flight (RFC 5681 §3).
- Sender-side silly-window-syndrome avoidance (RFC 1122 §4.2.3.4) with Nagle's algorithm (RFC 896):
  a sub-MSS segment goes out only when nothing is in flight (or TCP_NODELAY), or when it carries all
  queued data and is at least half the largest window the peer offered, or when the FIN follows.
- Receiver-side SWS avoidance (RFC 1122 §4.2.3.3): the right edge moves only by at least
  min(buffer/2, MSS); it never moves left (RFC 9293 §3.8.6.2.2 "shrinking the window").
- The retransmission timer (RFC 6298 §5): go-back-N from SND.UNA on expiry, with exponential backoff
  and give-up after ``max_retransmits`` → ETIMEDOUT; fast retransmit on three duplicate ACKs (RFC 5681
  §3.2) with NewReno partial-ACK retransmission (RFC 6582).
- Zero-window probing (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): when the peer offers no window and
  nothing is in flight, a one-byte probe goes out on a backed-off persist timer.
"""

from __future__ import annotations

from netstack.engine.tcp.segment import ACK, FIN, PSH, SYN, RST, TcpSegment
from netstack.engine.tcp.seqnum import HALF_SPACE, SEQ_MASK, seq_add, seq_diff

from netstack.engine.tcp.states import (
    SYN_SENT, SYN_RECEIVED, ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK,
)
_CAN_SEND_DATA = (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK)


class TransmitPath:
    """Mixin of ``TcpConnection``: building and timing the segments we send."""

    # ------------------------------------------------------------------------ building segments
    def _emit(self, seq: int, flags: int, payload, now: float) -> TcpSegment:
        """Append one segment to the outbox with the current ACK, window and timestamps."""
        if flags & ACK:
            rcv = self.rcv
            ack = rcv.nxt
            window = self._window_field()
            rcv.last_ack_sent = ack
            rcv.ack_pending = False
            rcv.ack_now = False
            rcv.unacked_bytes = 0
            self.delayed_ack_deadline = None
        else:
            ack = 0
            window = self._window_field() if not flags & RST else 0
        seg = TcpSegment(self.local_port, self.remote_port, seq, ack, flags, window, payload)
        if flags & ACK and self.rcv.sack is not None:
            # SACK blocks (4 + 8 bytes each with their NOPs) must fit beside the payload: the send MSS
            # leaves no room for them in a full segment (Linux shrinks the MSS instead; we send fewer)
            room = 40 if not payload else self.snd.mss - len(payload)
            if room >= 12:
                seg.sack_blocks = self.rcv.sack_option(self.use_timestamps)[: (room - 4) // 8]
        if self.use_timestamps:
            seg.tsval = self.timestamp_state.tsval(now)
            seg.tsecr = self.timestamp_state.ts_recent or 0
        self.outbox.append(seg)
        self.stats["segments_out"] += 1
        return seg

    def _window_field(self) -> int:
        """The 16-bit window field, moving the advertised right edge per RFC 1122 §4.2.3.3."""
        rcv = self.rcv
        buffer = rcv.buffer
        free = buffer.free
        rcv_nxt = rcv.nxt
        current = rcv.wnd
        if free > current and (
            free - current >= min(buffer.capacity // 2, rcv.mss) or current == 0 and free >= rcv.mss
            or free == buffer.capacity
        ):
            current = free
        shift = rcv.wscale
        field = (current + (1 << shift) - 1) >> shift  # round up so the right edge never moves left
        if field > 0xFFFF:
            field = 0xFFFF
        rcv.adv = (rcv_nxt + (field << shift)) & SEQ_MASK  # once per ACK sent: written out (see _output)
        return field

    def _send_syn(self, now: float, *, with_ack: bool) -> None:
        """SYN or SYN,ACK with our options; RFC 7323: a SYN,ACK echoes only options the SYN had."""
        cfg = self.config
        flags = SYN | ACK if with_ack else SYN
        window = min(self.rcv.buffer.free, 0xFFFF)  # never scaled in a SYN (RFC 7323 §2.2)
        seg = TcpSegment(
            self.local_port,
            self.remote_port,
            self.snd.iss,
            self.rcv.nxt if with_ack else 0,
            flags,
            window,
            b"",
            mss=self.rcv.mss,
        )
        if with_ack:
            self.rcv.adv = seq_add(self.rcv.nxt, window)
            self.rcv.last_ack_sent = self.rcv.nxt
        peer_ok = self.options if with_ack else None
        if self.our_wscale is not None and (not with_ack or peer_ok.snd_wscale or peer_ok.rcv_wscale):
            seg.wscale = self.our_wscale
        if cfg.sack_permitted and (not with_ack or peer_ok.sack_permitted):
            seg.sack_permitted = True
        if cfg.timestamps and (not with_ack or peer_ok.timestamps):
            seg.tsval = self.timestamp_state.tsval(now)
            seg.tsecr = self.timestamp_state.ts_recent or 0 if with_ack else 0
        self.outbox.append(seg)
        self.stats["segments_out"] += 1
        if self.snd.max == self.snd.iss:
            self.snd.nxt = self.snd.max = seq_add(self.snd.iss, 1)
            self.snd.rtt_time = now
        else:
            self.stats["retransmissions"] += 1
            self.counters.incr("tcp.retransmissions")
        if self.retransmit_deadline is None:
            self.retransmit_deadline = now + self.snd.rtt.rto

    def _send_ack(self, now: float) -> None:
        # <SEQ=SND.NXT> in the RFC, whose SND.NXT never moves back; ours does during go-back-N
        # retransmission, so the highest sequence number sent is what the peer finds acceptable.
        self._emit(self.snd.max, ACK, b"", now)

    def _emit_reset_for(self, seg, now: float) -> None:
        """RFC 9293 §3.10.7.1: a reset that the offending segment will find acceptable."""
        if seg.flags & ACK:
            reply = TcpSegment(self.local_port, self.remote_port, seg.ack, 0, RST, 0, b"")
        else:
            end = seq_add(seg.seq, seg.seg_len)
            reply = TcpSegment(self.local_port, self.remote_port, 0, end, RST | ACK, 0, b"")
        self.outbox.append(reply)
        self.counters.incr("tcp.resets_sent")

    # --------------------------------------------------------------------------- segmentation
    def _output(self, now: float, force: bool = False) -> None:
        """Send what windows, Nagle and SWS avoidance allow, then the FIN if it is due.

        ``force`` is the override timeout of RFC 1122 §4.2.3.4: send what the window allows even if
        it is a small segment (the persist timer calls it so a small window cannot stall us)."""
        if self.state not in _CAN_SEND_DATA:
            return
        snd = self.snd
        sb = snd.buffer
        mss = snd.mss
        cwnd = snd.cc.cwnd
        buf_seq = snd.buf_seq
        end_offset = len(sb)
        sent_any = False
        template = None  # the burst's first segment
        local_port, remote_port = self.local_port, self.remote_port
        outbox = self.outbox
        stats = self.stats
        # Sequence arithmetic written out in this loop (not seqnum's helpers): it runs once per
        # segment sent, where the helpers' calls cost a measurable share (benchmarks/tcp_sans_io.py,
        # docs/performance.md "TCP sequence arithmetic").
        while True:
            snd_nxt = snd.nxt
            offset = (snd_nxt - buf_seq) & SEQ_MASK
            if offset >= HALF_SPACE:
                offset = 0
            avail = end_offset - offset
            flight = (snd_nxt - snd.una) & SEQ_MASK
            wnd = snd.wnd if snd.wnd < cwnd else cwnd
            usable = wnd - flight
            if avail > 0:
                n = mss if mss < avail else avail
                if usable < n:
                    n = usable
                if n <= 0:
                    if snd.wnd == 0 and flight == 0 and self.persist_deadline is None:
                        self._arm_persist(now)
                    break
                if n < mss and not force:
                    all_queued = n == avail
                    if not all_queued:
                        # window-limited: RFC 1122 §4.2.3.4 allows it only when it is at least half the
                        # largest window the peer ever offered; otherwise wait for the window to open
                        # (an ACK), or for the override timeout when nothing is in flight
                        if n < snd.max_wnd // 2 or flight:
                            if flight == 0 and self.persist_deadline is None:
                                self._arm_persist(now)
                            break
                    elif flight and not self.nodelay and not snd.fin_queued:
                        break  # Nagle (RFC 896): wait for the ACK of what is in flight
                flags = ACK
                last = n == avail
                if last:
                    flags |= PSH
                    if snd.fin_queued:
                        flags |= FIN
                if offset < (snd.max - buf_seq) & SEQ_MASK:
                    self.stats["retransmissions"] += 1
                    self.counters.incr("tcp.retransmissions")
                    if self.trace is not None:
                        self.trace("tcp.retransmit", conn=self.name, seq=snd_nxt, len=n, reason="go-back-N")
                elif snd.rtt_seq is None and not self.use_timestamps:
                    snd.rtt_seq = snd_nxt
                    snd.rtt_time = now
                if template is None:
                    template = self._emit(snd_nxt, flags, sb.peek(offset, n), now)
                else:
                    # Later segments of this burst: ACK, window and timestamps are the first one's
                    # (nothing arrived in between; _emit's bookkeeping is done), so copy them.
                    seg = TcpSegment(local_port, remote_port, snd_nxt, template.ack, flags, template.window,
                                     sb.peek(offset, n))
                    seg.tsval = template.tsval
                    seg.tsecr = template.tsecr
                    outbox.append(seg)
                    stats["segments_out"] += 1
                snd_nxt = (snd_nxt + n) & SEQ_MASK
                if flags & FIN:
                    snd.fin_seq = snd_nxt
                    snd_nxt = (snd_nxt + 1) & SEQ_MASK
                snd.advance_nxt(snd_nxt)
                sent_any = True
                if flags & FIN:
                    break
                continue
            if snd.fin_queued and offset == end_offset and (
                snd.fin_seq is None or snd_nxt == snd.fin_seq
            ):
                # the FIN alone, after the last byte (it takes one sequence number)
                snd.fin_seq = snd_nxt
                if snd.max != snd_nxt:
                    self.stats["retransmissions"] += 1
                self._emit(snd_nxt, FIN | ACK, b"", now)
                snd.advance_nxt(seq_add(snd_nxt, 1))
                sent_any = True
            break
        if sent_any and self.retransmit_deadline is None:
            self.retransmit_deadline = now + snd.rtt.rto
            if self.config.user_timeout is not None and self.user_timeout_deadline is None:
                self.user_timeout_deadline = now + self.config.user_timeout

    def _retransmit_first(self, now: float) -> None:
        """Resend the first unacknowledged segment without moving SND.NXT (fast retransmit)."""
        sb = self.snd.buffer
        offset = max(seq_diff(self.snd.una, self.snd.buf_seq), 0)
        # never beyond SND.MAX: this is a retransmission, new data goes out through _output
        in_flight = self.snd.in_flight
        n = min(self.snd.mss, len(sb) - offset, in_flight)
        flags = ACK
        seq = self.snd.una
        if n <= 0:
            if self.snd.fin_seq is None or self.snd.una != self.snd.fin_seq:
                return
            n = 0
            flags |= FIN
        elif self.snd.fin_seq is not None and seq_add(seq, n) == self.snd.fin_seq:
            flags |= FIN
        self.stats["retransmissions"] += 1
        self.counters.incr("tcp.retransmissions")
        if self.trace is not None:
            self.trace("tcp.retransmit", conn=self.name, seq=seq, len=n, reason="first unacknowledged")
        self.snd.rtt_seq = None  # Karn: this range is ambiguous now
        self.snd.ts_retransmit_floor = self.timestamp_state.tsval(now)
        self._emit(seq, flags, sb.peek(offset, n), now)
        self.retransmit_deadline = now + self.snd.rtt.rto

    # ----------------------------------------------------------------------------- timers
    def _retransmit_timeout(self, now: float) -> None:
        """RFC 6298 (5.4)-(5.6): retransmit the earliest segment, back off, restart the timer."""
        self.retransmit_deadline = None
        if self.snd.una == self.snd.max and self.state not in (SYN_SENT, SYN_RECEIVED):
            return
        self.stats["rto_firings"] += 1
        self.counters.incr("tcp.rto_firings")
        self.snd.retransmits += 1
        handshake = self.state in (SYN_SENT, SYN_RECEIVED)
        limit = self.config.max_syn_retransmits if handshake else self.config.max_retransmits
        # a zero-window probe the peer keeps answering is not a failure (RFC 1122 §4.2.2.17)
        probing = not handshake and self.snd.wnd == 0 and self.snd.zero_window_answered
        if self.snd.retransmits > limit and not probing:
            self._give_up(now, "retransmit_give_up")
            return
        self.snd.rtt.back_off()
        if self.trace is not None:
            self.trace("tcp.rto", conn=self.name, rto=self.snd.rtt.rto, attempt=self.snd.retransmits)
        if self.state in (SYN_SENT, SYN_RECEIVED):
            self._send_syn(now, with_ack=self.state is SYN_RECEIVED)
            self.retransmit_deadline = now + self.snd.rtt.rto
            return
        self.snd.rtt_seq = None  # Karn's algorithm
        self.snd.ts_retransmit_floor = self.timestamp_state.tsval(now)
        # RFC 5681 §3.1 (4) / RFC 6582 §4: loss window; recover = SND.NXT (no fast retransmit of old data)
        self.snd.cc.on_retransmit_timeout(self.snd.in_flight, self.snd.max)
        self.snd.nxt = self.snd.una  # go back N
        if self.snd.fin_seq is not None and self.snd.una == seq_add(self.snd.fin_seq, 1):
            return
        sent_before = self.stats["segments_out"]
        if self.snd.wnd == 0:
            self._probe(now)
        else:
            self._output(now)
        if self.stats["segments_out"] == sent_before:
            self._retransmit_first(now)
        self.retransmit_deadline = now + self.snd.rtt.rto

    def _arm_persist(self, now: float) -> None:
        interval = min(self.snd.rtt.rto * (1 << self.snd.persist_backoff), self.config.max_window_probe_interval)
        self.persist_deadline = now + interval

    def _persist_timeout(self, now: float) -> None:
        """The peer's window stayed zero: probe it with one byte (RFC 1122 §4.2.2.17)."""
        self.persist_deadline = None
        if self.state not in _CAN_SEND_DATA:
            return
        if self.snd.wnd != 0:
            self._output(now, force=True)  # RFC 1122 §4.2.3.4 override timeout
            return
        if self.snd.nxt == self.snd.max and self._probe(now):
            self.snd.persist_backoff += 1
            if self.retransmit_deadline is None:
                self.retransmit_deadline = now + self.snd.rtt.rto
        else:
            self._arm_persist(now)

    def _probe(self, now: float) -> bool:
        """Send one byte at SND.NXT beyond the zero window; True when there was a byte to send."""
        sb = self.snd.buffer
        offset = seq_diff(self.snd.nxt, self.snd.buf_seq)
        if not 0 <= offset < len(sb):
            return False
        seq = self.snd.nxt
        self.stats["zero_window_probes"] += 1
        self.counters.incr("tcp.zero_window_probes")
        if self.trace is not None:
            self.trace("tcp.zero_window_probe", conn=self.name, seq=seq)
        if seq != self.snd.max:
            self.stats["retransmissions"] += 1
        self._emit(seq, ACK, sb.peek(offset, 1), now)
        self.snd.advance_nxt(seq_add(seq, 1))
        return True

    def _maybe_window_update(self, now: float) -> bool:
        """After the application read: announce the opened window when the one the peer knows fell
        below half the buffer and at least doubles (Linux's tcp_cleanup_rbuf rule; RFC 1122
        §4.2.3.3 receiver SWS avoidance), in particular after we advertised zero."""
        current = self.rcv.wnd
        capacity = self.rcv.buffer.capacity
        if 2 * current > capacity:
            return False
        free = self.rcv.buffer.free
        if free >= 2 * current and free - current >= min(self.rcv.mss, capacity // 2):
            self._send_ack(now)
            return True
        return False
