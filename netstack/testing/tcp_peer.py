"""A scripted TCP peer on the bench: handshake, data with ACKs, close, with sequence numbers relative
to the connection (RFC 9293 §3.4: each side's numbers count from its ISN).

::

    peer = TcpPeer(bench, port=7)
    peer.connect()                                   # SYN, expects SYN-ACK, sends ACK
    peer.send(b"hello")                              # one segment at SND.NXT, ACK = RCV.NXT
    assert peer.receive(5) == b"hello"               # reads in-order data, ACKing it
    peer.expect(tcp(flags="A", ack=6))               # relative: 6 bytes past our ISN + SYN
    peer.close()                                     # FIN, then the DUT's FIN, final ACK

``peer.expect`` matches only this connection's segments (ports) and reads ``seq`` relative to the DUT's
ISN and ``ack`` relative to ours; ``peer.segment(...)`` builds a segment with any field overridden
(``seq=`` / ``ack=`` relative unless ``absolute=True``) for the cases that break the rules on purpose.
The peer offers MSS 1460 and SACK-permitted by default (no window scaling, no timestamps, so windows
read as they are); ``connect(options=...)`` offers others.
"""

from __future__ import annotations

import itertools
import os

from netstack.formats.craft import TCP
from netstack.testing.matchers import SEQUENCE_SPACE, all_of, flag_letters, options_of, tcp

DEFAULT_OPTIONS = (("mss", 1460), ("sack_permitted", None))
_ports = itertools.count()


def ephemeral_port() -> int:
    """A bench source port not used before in this process (RFC 6335 dynamic range)."""
    return 49152 + (os.getpid() * 97 + next(_ports)) % 16000


class TcpPeer:
    """One TCP connection from the bench to ``port`` on the DUT (or accepted from it)."""

    def __init__(self, bench, port: int, *, src_port: int | None = None, isn: int = 1_000_000,
                 window: int = 65535, within: float = 2.0):
        self.bench, self.port = bench, port
        self.src_port = src_port or ephemeral_port()
        self.isn = isn % SEQUENCE_SPACE
        self.snd_nxt = self.isn        # absolute: our next sequence number
        self.dut_isn: int | None = None
        self.rcv_nxt: int | None = None  # absolute: the DUT's next sequence number we expect
        self.window = window
        self.within = within
        self.synack = None
        self.dut_options: dict = {}
        self.received = bytearray()
        self.fin_received = False

    # --- relative numbers -------------------------------------------------------------------------
    @property
    def relative(self) -> dict:
        return {"seq": self.dut_isn or 0, "ack": self.isn}

    def rel_snd(self) -> int:
        return (self.snd_nxt - self.isn) % SEQUENCE_SPACE

    def rel_rcv(self) -> int:
        return (self.rcv_nxt - self.dut_isn) % SEQUENCE_SPACE

    def mine(self, matcher=None):
        """``matcher`` restricted to this connection's segments from the DUT."""
        own = tcp(src_port=self.port, dst_port=self.src_port)
        if matcher is None:
            return own
        return all_of(own, matcher)

    # --- building and sending -------------------------------------------------------------------------
    def segment(self, flags: str = "A", *, seq: int | None = None, ack: int | None = None, payload: bytes = b"",
                window: int | None = None, options=None, absolute: bool = False, ip=None, **fields):
        """A frame to the DUT; ``seq``/``ack`` relative to our / the DUT's ISN unless ``absolute``."""
        if seq is None:
            seq = self.snd_nxt
        elif not absolute:
            seq = (self.isn + seq) % SEQUENCE_SPACE
        if ack is None:
            ack = self.rcv_nxt if self.rcv_nxt is not None else 0
        elif not absolute:
            ack = ((self.dut_isn or 0) + ack) % SEQUENCE_SPACE
        segment = TCP(src_port=self.src_port, dst_port=self.port, seq=seq, ack=ack, flags=flags,
                      window=self.window if window is None else window, options=list(options or []), **fields)
        return self.bench.to_dut(**(ip or {})) / segment / payload

    def send_segment(self, flags: str = "A", **kwargs) -> None:
        self.bench.send(self.segment(flags, **kwargs))

    def expect(self, matcher=None, within: float | None = None):
        return self.bench.expect(self.mine(matcher), self.within if within is None else within, relative=self.relative)

    def expect_none(self, matcher=None, within: float = 0.5):
        return self.bench.expect_none(self.mine(matcher), within, relative=self.relative)

    # --- the connection -------------------------------------------------------------------------------
    def connect(self, options=DEFAULT_OPTIONS, *, ack: bool = True):
        """Three-way handshake (RFC 9293 §3.5): SYN, the DUT's SYN-ACK, our ACK (unless ``ack=False``)."""
        self.bench.send(self.segment("S", seq=self.snd_nxt, ack=0, options=options, absolute=True))
        self.snd_nxt = (self.snd_nxt + 1) % SEQUENCE_SPACE
        synack = self.bench.expect(self.mine(tcp(flags="SA", ack=self.snd_nxt)), self.within)
        self.accept_synack(synack)
        if ack:
            self.send_segment("A")
        return synack

    def accept_synack(self, synack) -> None:
        segment = synack["tcp"]
        self.synack = synack
        self.dut_isn = segment.seq
        self.rcv_nxt = (segment.seq + 1) % SEQUENCE_SPACE
        self.dut_options = options_of(segment.options)

    def send(self, data: bytes, *, flags: str = "PA", **kwargs) -> None:
        """``data`` in one segment at SND.NXT."""
        self.send_segment(flags, payload=data, **kwargs)
        self.snd_nxt = (self.snd_nxt + len(data)) % SEQUENCE_SPACE

    def take(self, received) -> bool:
        """Account for one DUT segment: in-order data joins ``received``; True when anything new came."""
        segment = received["tcp"]
        if segment.seq != self.rcv_nxt:
            return False
        length = len(segment.payload)
        self.received += segment.payload
        self.rcv_nxt = (self.rcv_nxt + length) % SEQUENCE_SPACE
        if segment.flags.fin:
            self.rcv_nxt = (self.rcv_nxt + 1) % SEQUENCE_SPACE
            self.fin_received = True
        return bool(length or segment.flags.fin)

    def receive(self, count: int, within: float | None = None, *, ack: bool = True) -> bytes:
        """Read until ``count`` more bytes came in order (ACKing each segment), return them."""
        start = len(self.received)
        end = self.bench.now() + (self.within if within is None else within)
        while len(self.received) - start < count and not self.fin_received:
            remaining = end - self.bench.now()
            frame = self.bench.expect(self.mine(), max(remaining, 0.001), relative=self.relative)
            if frame["tcp"].flags.rst:
                raise ConnectionResetError(f"the DUT reset the connection: {flag_letters(frame['tcp'].flags)}")
            if self.take(frame) and ack:
                self.send_segment("A")
        return bytes(self.received[start:start + count])

    def close(self, within: float | None = None) -> None:
        """Our FIN, then wait for the DUT's FIN and acknowledge it (RFC 9293 §3.6)."""
        self.send_segment("FA")
        self.snd_nxt = (self.snd_nxt + 1) % SEQUENCE_SPACE
        end = self.bench.now() + (self.within if within is None else within)
        while not self.fin_received:
            frame = self.bench.expect(self.mine(), max(end - self.bench.now(), 0.001), relative=self.relative)
            self.take(frame)
        self.send_segment("A")

    def abort(self) -> None:
        """RST at SND.NXT (RFC 9293 §3.5.2): the connection is gone at once on both sides."""
        self.send_segment("R", ack=0, absolute=True)

    @classmethod
    def accept(cls, bench, syn, *, isn: int = 2_000_000, options=DEFAULT_OPTIONS, within: float = 2.0) -> "TcpPeer":
        """Answer the DUT's SYN ``syn`` with a SYN-ACK: the passive side of a DUT's active open."""
        segment = syn["tcp"]
        peer = cls(bench, segment.src_port, src_port=segment.dst_port, isn=isn, within=within)
        peer.dut_isn = segment.seq
        peer.rcv_nxt = (segment.seq + 1) % SEQUENCE_SPACE
        peer.dut_options = options_of(segment.options)
        bench.send(peer.segment("SA", options=options))
        peer.snd_nxt = (peer.snd_nxt + 1) % SEQUENCE_SPACE
        return peer
