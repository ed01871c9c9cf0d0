"""``TcpReceiver``: the receive side of a TCB (gVisor's ``rcv``), RFC 9293 §3.3.1 receive variables.

What we have and what to acknowledge: IRS, RCV.NXT, the right edge we advertised (RCV.NXT + RCV.WND,
``adv``), Last.ACK.sent (RFC 7323 §4.3), our window scale, the receive buffer with its reassembly
queue, the delayed-ACK bookkeeping (RFC 1122 §4.2.3.2, RFC 5681 §4.2) and the peer's FIN.

The connection (``TcpConnection``) owns the state machine, the timers and the wire; SEGMENT ARRIVES
(``receive.py``) and the window field of what we send (``transmit.py``) move these variables. The SACK
blocks (RFC 2018 §4, D-SACK RFC 2883) describing the reassembly queue come from ``sack``, a
``SackReporter``, once the peer agreed to SACK.
"""

from __future__ import annotations

from netstack.engine.tcp.receive_buffer import ReceiveBuffer
from netstack.engine.tcp.sack_blocks import SackReporter
from netstack.engine.tcp.seqnum import HALF_SPACE, SEQ_MASK, seq_add

#: Linux TCP_MAX_QUICKACKS: in-order segments acknowledged at once after a sign of loss (``quickack``).
MAX_QUICK_ACKS = 16


class TcpReceiver:
    """Receive sequence space, receive buffer and acknowledgment state of one connection."""

    def __init__(self, config, mss: int):
        self.irs = 0
        self.nxt = 0  # RCV.NXT
        self.adv = 0  # the right edge we advertised: RCV.NXT + RCV.WND
        self.last_ack_sent = 0
        self.wscale = 0  # our window scale, once the peer agreed to it (RFC 7323 §2.3)
        self.mss = mss  # the MSS we announce: the largest segment we take
        self.buffer = ReceiveBuffer(config.receive_buffer, config.reassembly_limit)
        # Delayed-ACK bookkeeping: an ACK is owed (timer), owed at once, bytes not yet acknowledged.
        self.ack_pending = False
        self.ack_now = False
        self.unacked_bytes = 0
        self.quick_acks = 0  # in-order segments still to acknowledge at once (``quickack``)
        self.acks_folded = 0  # immediate ACKs owed at the batch's end (TcpConfig.immediate_acks_folded)
        self.folded_end = 0  # stream offset just past the last segment taken (folding: contiguous only)
        self.peer_fin_offset = None  # stream offset of the peer's FIN (may arrive out of order)
        self.fin_received = False
        self.sack: SackReporter | None = None  # SACK blocks to report, once SACK is agreed (RFC 2018)
        self.autotuning = None  # a ReceiveAutotuning while the buffer may grow (not after SO_RCVBUF)
        self.ecn_echo = False  # RFC 3168 §6.1.3: a CE mark arrived, no CWR since: ECE on every ACK

    def quickack(self) -> None:
        """A sign of loss (data out of order, a gap filled, a duplicate): acknowledge the next in-order
        segments each at once instead of every second one (Linux ``tcp_enter_quickack_mode``: up to
        ``MAX_QUICK_ACKS``, and no more than half the window's segments, at least 2).

        Why: the sender is recovering with a reduced window, and with a window of a few segments the
        delayed ACK for its odd last segment (``delayed_ack``, 40 ms here, two round trips on a 20 ms
        path) holds back the ACK clock it depends on; with ACKs lost too, fewer ACKs also mean fewer
        chances for RACK and SACK to see what arrived. RFC 5681 §4.2 asks for an ACK at least every
        second full-sized segment; more often is allowed."""
        quick = min(MAX_QUICK_ACKS, max(2, self.wnd // (2 * self.mss)))
        if quick > self.quick_acks:
            self.quick_acks = quick

    def enable_sack(self) -> None:
        self.sack = SackReporter()

    def note_segment(self, start: int, end: int) -> None:
        """Data [start, end) (stream offsets) arrived out of order or again: what the next ACK's SACK
        blocks report first (RFC 2018 §4, RFC 2883 §4)."""
        rb = self.buffer
        self.sack.on_segment(start, end, rb.next_offset, rb.queue.blocks())

    def sack_option(self, timestamps: bool) -> tuple:
        """The SACK blocks of the ACK about to go, as sequence numbers: while out-of-order data is held,
        and once after a duplicate (D-SACK). 3 blocks fit beside timestamps, 4 without (RFC 2018 §3)."""
        reporter = self.sack
        queue = self.buffer.queue
        if not queue and not reporter.dsack_pending:
            return ()
        base = self.buffer.next_offset
        nxt = self.nxt
        limit = 3 if timestamps else 4
        return tuple(((nxt + s - base) & SEQ_MASK, (nxt + e - base) & SEQ_MASK)
                     for s, e in reporter.blocks(queue.blocks(), base, limit))

    @property
    def wnd(self) -> int:
        """RCV.WND as the peer knows it: the advertised right edge minus RCV.NXT (never negative)."""
        wnd = (self.adv - self.nxt) & SEQ_MASK  # written out: read for every ACK we send
        return 0 if wnd >= HALF_SPACE else wnd

    def start(self, syn_seq: int) -> None:
        """The peer's SYN arrived: IRS = SEG.SEQ, RCV.NXT = SEG.SEQ + 1 (RFC 9293 §3.10.7.2/3)."""
        self.irs = syn_seq
        self.nxt = seq_add(syn_seq, 1)
