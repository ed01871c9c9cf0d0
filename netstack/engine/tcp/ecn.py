"""Explicit congestion notification for TCP (RFC 3168): negotiation, ECT, the echo and the answer.

Read first: RFC 3168 §5 (the IPv4 codepoints: ECT(0), ECT(1), CE), §6.1.1 (an ECN-setup SYN carries
ECE and CWR, an ECN-setup SYN-ACK ECE alone; §6.1.1.1: a SYN sent again may drop the request), §6.1.2
(the sender: an ACK with ECE is a congestion loss, cwnd reduced at most once per window of data, CWR
on the first new data segment after a reduction), §6.1.3 (the receiver: ECE on every ACK from a CE
segment until a segment with CWR arrives), §6.1.4-§6.1.6 (pure ACKs, retransmissions and window
probes are never ECT).

``TcpConfig.ecn`` is Linux's ``net.ipv4.tcp_ecn``: 0 off, 1 request and accept, 2 accept only (the
default, as Linux's). Which segments leave ECT(0): new data of an ECN connection, sent by ``_output``
(``TcpSegment.ecn``, which the transport layer hands to IPv4); the SYNs, pure ACKs, retransmissions,
tail loss probes (a retransmission) and zero-window probes go Not-ECT. A SYN cookie keeps the ECN bit
in the timestamp it echoes (``syn_cookies.py``).

The sender's reduction goes through the congestion machine (``CongestionControl.on_ecn_echo``:
CUBIC's beta or NewReno's half, then CONGESTION_WINDOW_REDUCED until the window is acknowledged).

Counters: ``tcp.ecn.negotiated``, ``tcp.ecn.ce_received`` (CE-marked segments on ECN connections),
``tcp.ecn.ece_received`` (ACKs with ECE), ``tcp.ecn.cwnd_reductions``, ``tcp.ecn.cwr_sent``,
``tcp.ecn.cwr_received``. Trace events ``tcp.ecn`` (conn, negotiated: at the handshake),
``tcp.ecn_reduction`` (conn, cwnd, ssthresh), ``tcp.ecn_echo`` (conn, on: the receiver starts or
stops echoing).
"""

from __future__ import annotations

from netstack.engine.tcp.segment import ACK, CWR, ECE, SYN
from netstack.formats.ipv4 import ECN_CE

#: ``TcpConfig.ecn`` values (Linux net.ipv4.tcp_ecn): off, request and accept, accept only.
ECN_OFF, ECN_REQUEST, ECN_ACCEPT = 0, 1, 2
ECN_MODES = (ECN_OFF, ECN_REQUEST, ECN_ACCEPT)


def is_ecn_setup_syn(flags: int) -> bool:
    """RFC 3168 §6.1.1: a SYN with both ECE and CWR set asks for ECN."""
    return flags & (SYN | ACK | ECE | CWR) == SYN | ECE | CWR


def is_ecn_setup_syn_ack(flags: int) -> bool:
    """RFC 3168 §6.1.1: a SYN-ACK with ECE and without CWR agrees to ECN (both set is a middlebox
    reflecting the SYN's bits, not an agreement)."""
    return flags & (SYN | ACK | ECE | CWR) == SYN | ACK | ECE


class EcnPath:
    """Mixin of ``TcpConnection``: ECN state (``ecn``: negotiated; ``ecn_requested``: our SYN asked;
    ``rcv.ecn_echo``: the receiver's ECE; ``snd.cwr_reductions``: reductions already signalled)."""

    def _ecn_syn_flags(self, with_ack: bool) -> int:
        """The ECN bits of the SYN or SYN-ACK we are about to send (RFC 3168 §6.1.1)."""
        if with_ack:
            return ECE if self.ecn else 0
        # §6.1.1.1: the first SYN asks; a retransmission goes without, so that a path which drops
        # ECN-setup SYNs does not cost the connection (Linux tcp_ecn_clear_syn)
        self.ecn_requested = self.config.ecn == ECN_REQUEST and self.snd.max == self.snd.iss
        return ECE | CWR if self.ecn_requested else 0

    def _ecn_negotiate(self, syn) -> None:
        """Whether this connection uses ECN, from the peer's SYN or SYN-ACK."""
        if syn.flags & ACK:
            self.ecn = self.ecn_requested and is_ecn_setup_syn_ack(syn.flags)
        else:
            self.ecn = self.config.ecn != ECN_OFF and is_ecn_setup_syn(syn.flags)
        if self.ecn:
            self.counters.incr("tcp.ecn.negotiated")
        if self.trace is not None and (self.ecn or self.ecn_requested or is_ecn_setup_syn(syn.flags)):
            self.trace("tcp.ecn", conn=self.name, negotiated=self.ecn)

    def _ecn_arrived(self, seg) -> None:
        """RFC 3168 §6.1.3, before the segment is processed: CWR ends the echo, then a CE mark (the
        same segment's too) starts it; the first CE is acknowledged at once, as Linux's quick ACK,
        so the sender hears of congestion one delayed-ACK timeout sooner."""
        rcv = self.rcv
        if seg.flags & CWR:
            self.counters.incr("tcp.ecn.cwr_received")
            if rcv.ecn_echo:
                rcv.ecn_echo = False
                if self.trace is not None:
                    self.trace("tcp.ecn_echo", conn=self.name, on=False)
        if seg.ecn == ECN_CE and not seg.flags & SYN:
            self.counters.incr("tcp.ecn.ce_received")
            self.stats["ce_received"] += 1
            if not rcv.ecn_echo:
                rcv.ecn_echo = True
                rcv.ack_now = True
                if self.trace is not None:
                    self.trace("tcp.ecn_echo", conn=self.name, on=True)

    def _ecn_echo_arrived(self, seg) -> None:
        """RFC 3168 §6.1.2: an acceptable ACK with ECE: reduce the window (once per window of data)
        through the congestion machine, and set CWR on the next new data segment."""
        snd = self.snd
        self.counters.incr("tcp.ecn.ece_received")
        cc = snd.cc
        if cc.on_ecn_echo(snd.in_flight, seg.ack, snd.max):
            self.stats["ecn_reductions"] += 1
            self.counters.incr("tcp.ecn.cwnd_reductions")
            if self.trace is not None:
                self.trace("tcp.ecn_reduction", conn=self.name, cwnd=cc.cwnd, ssthresh=cc.ssthresh)
