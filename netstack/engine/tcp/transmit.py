"""The send half of ``TcpConnection``: segmentation, windows, acknowledgments and retransmission.

- Segmentation to the effective send MSS (RFC 9293 §3.7.1), limited by min(SND.WND, cwnd) minus the
  bytes in flight (RFC 5681 §3).
- Sender-side silly-window-syndrome avoidance (RFC 1122 §4.2.3.4) with Nagle's algorithm (RFC 896):
  a sub-MSS segment goes out only when nothing is in flight (or TCP_NODELAY), or when it carries all
  queued data and is at least half the largest window the peer offered, or when the FIN follows.
- Receiver-side SWS avoidance (RFC 1122 §4.2.3.3): the right edge moves only by at least
  min(buffer/2, MSS); it never moves left (RFC 9293 §3.8.6.2.2 "shrinking the window").
- Loss recovery's sending: with SACK, what is in the network is RFC 6675's pipe and the holes NextSeg()
  picks go before new data (``_send_recovery``); without it, limited transmit (RFC 3042) and the
  fast retransmit / NewReno partial-ACK retransmission of the first unacknowledged segment (RFC 5681
  §3.2, RFC 6582). The timers that retransmit live in ``timeouts.py``.
- ECN (RFC 3168, ``ecn.py``): on an ECN connection new data leaves ECT(0) (never a retransmission,
  §6.1.5), the first new segment after a window reduction carries CWR (§6.1.2), and every ACK carries
  ECE while the receiver echoes a CE mark (§6.1.3).
"""

from __future__ import annotations

from netstack.engine.tcp.fastopen import client_syn
from netstack.engine.tcp.segment import ACK, CWR, ECE, FIN, PSH, SYN, RST, TcpSegment
from netstack.formats.ipv4 import ECN_ECT0
from netstack.engine.tcp.seqnum import HALF_SPACE, SEQ_MASK, seq_add, seq_diff

from netstack.engine.tcp.states import (
    ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK,
)
_CAN_SEND_DATA = (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1, CLOSING, LAST_ACK)


class TransmitPath:
    """Mixin of ``TcpConnection``: building and timing the segments we send."""

    # ------------------------------------------------------------------------ building segments
    def _emit(self, seq: int, flags: int, payload, now: float) -> TcpSegment:
        """Append one segment to the outbox with the current ACK, window and timestamps."""
        if flags & ACK:
            rcv = self.rcv
            if rcv.ecn_echo and not flags & RST:
                flags |= ECE  # RFC 3168 §6.1.3: on every ACK until the peer's CWR
            ack = rcv.nxt
            window = self._window_field()
            rcv.last_ack_sent = ack
            rcv.ack_pending = False
            rcv.ack_now = False
            rcv.unacked_bytes = 0
            rcv.acks_folded = 0
            self.delayed_ack_deadline = None
        else:
            ack = 0
            window = self._window_field() if not flags & RST else 0
        seg = TcpSegment(self.local_port, self.remote_port, seq, ack, flags, window, payload)
        sack = self.rcv.sack
        # (SACK blocks only while out-of-order data is held or a D-SACK is due: tested here, on every
        # segment sent, before the call that builds them)
        if flags & ACK and sack is not None and (self.rcv.buffer.queue.held or sack.dsack_pending):
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
        flags = (SYN | ACK if with_ack else SYN) | self._ecn_syn_flags(with_ack)  # RFC 3168 §6.1.1
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
        payload = b""
        if not with_ack and self.fastopen_cache is not None and self.snd.max == self.snd.iss:
            seg.fastopen_cookie, payload = client_syn(self)  # RFC 7413 client (fastopen.py)
            seg.payload = payload
        if with_ack and self.fastopen_reply_cookie is not None:
            seg.fastopen_cookie = self.fastopen_reply_cookie  # RFC 7413 §4.1.2
        if cfg.timestamps and (not with_ack or peer_ok.timestamps):
            seg.tsval = self.timestamp_state.tsval(now)
            seg.tsecr = self.timestamp_state.ts_recent or 0 if with_ack else 0
        self.outbox.append(seg)
        self.stats["segments_out"] += 1
        if self.snd.max == self.snd.iss:
            self.snd.nxt = self.snd.max = seq_add(self.snd.iss, 1 + len(payload))
            self.snd.rtt_time = now
        else:
            self.stats["retransmissions"] += 1
            self.counters.incr("tcp.retransmissions")
        if self.retransmit_deadline is None:
            self.retransmit_deadline = now + self._handshake_rto()

    def _handshake_rto(self) -> float:
        """The RTO for a SYN or SYN-ACK, stretched by up to ``syn_retransmit_jitter`` at random: clients
        refused in one burst (a full backlog) then retry spread out, not all in the same instant."""
        rng = self.handshake_jitter
        if rng is None:
            return self.snd.rtt.rto
        return self.snd.rtt.rto * (1.0 + self.config.syn_retransmit_jitter * rng.random())

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
        rec = snd.recovery
        sb = snd.buffer
        mss = snd.mss
        buf_seq = snd.buf_seq
        end_offset = len(sb)
        if (
            not snd.fin_queued
            and (snd.nxt - buf_seq) & SEQ_MASK == end_offset
            and (rec is None or not rec.sack or not (rec.scoreboard.in_recovery or rec.scoreboard.sacked_bytes))
        ):
            return  # nothing new to send and nothing to repair (an ACK of everything sent, a request's reply)
        # With SACK information the budget is cwnd - pipe (RFC 6675), or PRR's quota in recovery (RFC 6937):
        # holes being repaired go first (NextSeg), new data fills what cwnd - pipe leaves.
        budget = None
        allowance = 0
        if rec is not None:
            if rec.sack:
                sboard = rec.scoreboard
                if sboard.in_recovery or sboard.sacked_bytes:  # (not bool(sboard): a call per send)
                    if rec.retransmission_due():
                        self._send_recovery(now)
                    budget = rec.send_budget()
                elif rec.probe_credit:
                    budget = rec.send_budget()  # a probe's one segment beyond cwnd (timeouts.py)
            else:
                allowance = rec.window_allowance()  # RFC 3042 limited transmit
        cwnd = snd.cc.cwnd + allowance
        base_nxt = snd.nxt
        max_before = snd.max
        sent_any = False
        template = None  # the burst's first segment
        local_port, remote_port = self.local_port, self.remote_port
        outbox = self.outbox
        stats = self.stats
        ecn = self.ecn
        # RFC 3168 §6.1.2: CWR on the first new data segment after a window reduction (ECE, loss, RTO)
        cwr_due = ecn and snd.cwr_reductions != snd.cc.reductions
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
            if budget is None:
                wnd = snd.wnd if snd.wnd < cwnd else cwnd
                usable = wnd - flight
            else:
                usable = budget - ((snd_nxt - base_nxt) & SEQ_MASK)  # the budget left
                if snd.wnd - flight < usable:
                    usable = snd.wnd - flight
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
                retransmission = offset < (snd.max - buf_seq) & SEQ_MASK
                if retransmission:
                    self.stats["retransmissions"] += 1
                    self.counters.incr("tcp.retransmissions")
                    if self.trace is not None:
                        self.trace("tcp.retransmit", conn=self.name, seq=snd_nxt, len=n, reason="go-back-N")
                elif snd.rtt_seq is None and not self.use_timestamps:
                    snd.rtt_seq = snd_nxt
                    snd.rtt_time = now
                if cwr_due and not retransmission:
                    flags |= CWR
                    cwr_due = False
                    snd.cwr_reductions = snd.cc.reductions
                    self.counters.incr("tcp.ecn.cwr_sent")
                if template is None:
                    seg = template = self._emit(snd_nxt, flags, sb.peek(offset, n), now)
                else:
                    # Later segments of this burst: ACK, window and timestamps are the first one's
                    # (nothing arrived in between; _emit's bookkeeping is done), so copy them.
                    seg = TcpSegment(local_port, remote_port, snd_nxt, template.ack, flags | (template.flags & ECE),
                                     template.window, sb.peek(offset, n))
                    seg.tsval = template.tsval
                    seg.tsecr = template.tsecr
                    outbox.append(seg)
                    stats["segments_out"] += 1
                if ecn and not retransmission:
                    seg.ecn = ECN_ECT0  # RFC 3168 §6.1.2; retransmissions stay Not-ECT (§6.1.5)
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
        if sent_any:
            if rec is not None and snd.max != max_before:
                # one record per burst: its segments share the transmit time RACK compares
                rec.sent(max_before, (snd.max - max_before) & SEQ_MASK, now)
            if self.retransmit_deadline is None:
                self.retransmit_deadline = now + snd.rtt.rto
                if self.config.user_timeout is not None and self.user_timeout_deadline is None:
                    self.user_timeout_deadline = now + self.config.user_timeout
            if rec is not None and rec.sack:
                self._arm_probe(now)

    def _send_recovery(self, now: float) -> None:
        """RFC 6675 §5 (C): while cwnd - pipe >= 1 SMSS, retransmit what NextSeg() picks (rules 1, 3, 4);
        rule 2 (new data) is left to the segmentation loop of ``_output``."""
        snd = self.snd
        rec = snd.recovery
        previous = None
        while True:
            offset = (snd.nxt - snd.buf_seq) & SEQ_MASK
            new_data = offset < len(snd.buffer) and ((snd.nxt - snd.una) & SEQ_MASK) < snd.wnd
            segment = rec.next_segment(new_data)
            if segment is None or segment.rule == 2 or segment == previous:
                return  # (the same segment twice: nothing moved, never loop)
            previous = segment
            n = self._retransmit_range(segment.seq, segment.length, now,
                                       "rescue" if segment.rule == 4 else f"NextSeg rule {segment.rule}")
            if n <= 0:
                return
            rec.sent(segment.seq, n, now, retransmission=True, rescue=segment.rule == 4)
            self._arm_probe(now)  # the recovery probe waits 2*SRTT from the last send (timeouts.py)

    def _retransmit_first(self, now: float) -> None:
        """Resend the first unacknowledged segment without moving SND.NXT (fast retransmit)."""
        self._retransmit_range(self.snd.una, self.snd.mss, now, "first unacknowledged")
        self.retransmit_deadline = now + self.snd.rtt.rto

    def _retransmit_range(self, seq: int, length: int, now: float, reason: str) -> int:
        """Resend up to ``length`` bytes from ``seq`` (below SND.MAX; the FIN too when they reach it)
        without moving SND.NXT; returns the sequence space sent (0: nothing to send)."""
        snd = self.snd
        sb = snd.buffer
        offset = max(seq_diff(seq, snd.buf_seq), 0)
        # never beyond SND.MAX: this is a retransmission, new data goes out through _output
        n = min(length, len(sb) - offset, seq_diff(snd.max, seq))
        flags = ACK
        if n <= 0:
            if snd.fin_seq is None or seq != snd.fin_seq:
                return 0
            n = 0
            flags |= FIN
        elif snd.fin_seq is not None and seq_add(seq, n) == snd.fin_seq:
            flags |= FIN
        self.stats["retransmissions"] += 1
        self.counters.incr("tcp.retransmissions")
        if self.trace is not None:
            self.trace("tcp.retransmit", conn=self.name, seq=seq, len=n, reason=reason)
        snd.rtt_seq = None  # Karn: this range is ambiguous now
        snd.ts_retransmit_floor = self.timestamp_state.tsval(now)
        if self.use_timestamps:
            snd.arm_eifel(snd.ts_retransmit_floor, seq_add(seq, n))
        self._emit(seq, flags, sb.peek(offset, n), now)
        if self.retransmit_deadline is None:
            self.retransmit_deadline = now + snd.rtt.rto
        return n + (1 if flags & FIN else 0)

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
