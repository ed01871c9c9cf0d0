"""A hypothesis ``RuleBasedStateMachine`` that drives TCP segments at a DUT's echo service and checks
invariants; hypothesis shrinks a failing run to the shortest script of steps.

::

    from hypothesis.stateful import run_state_machine_as_test
    Machine = tcp_state_machine(target)           # target: a started netstack.testing.targets.Target
    run_state_machine_as_test(Machine, settings=settings(max_examples=50, stateful_step_count=15))

Every run connects to echo (port 7) and then takes steps: new data whose ACK is valid, acknowledges
data the DUT never sent, or is far older than SND.UNA; retransmissions; data ahead of a hole; an RST
outside the window, exactly at RCV.NXT or inside the window; a SYN; idle time. Byte ``i`` of the stream is
always ``CONTENT[i]``, whichever segment carries it, so the echo shows what the DUT delivered.

Invariants, checked on every segment the DUT sends:

* it never acknowledges data that was not sent (RFC 9293 §3.10.7.4: ACK <= SND.NXT of the sender);
* it never delivers a byte twice or out of order: the echoed stream is a prefix of ``CONTENT``;
* it never delivers data from a segment that acknowledged unsent data (RFC 9293 §3.10.7.4, fifth
  check, SYN-RECEIVED/ESTABLISHED: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then
  send an ACK, drop the segment, and return"); data whose ACK is merely too old may be taken or not
  (RFC 5961 §5.2 drops it, RFC 793 kept the text), both pass;
* RST rules (RFC 9293 §3.10.7.4 second check, RFC 5961 §3.2): an RST outside the window changes
  nothing (the connection still echoes); an RST at exactly RCV.NXT resets it (new data gets an RST);
  an RST inside the window but not at RCV.NXT either resets it or draws a challenge ACK and keeps it;
  a SYN draws a challenge ACK (RFC 5961 §4.2) or an RST (RFC 793), never a SYN-ACK.

``steps`` of the last run (the shrunk one, after a failure) are kept on the class as ``last_steps``.
"""

from __future__ import annotations

import random

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from netstack.testing.matchers import SEQUENCE_SPACE
from netstack.testing.tcp_peer import TcpPeer

STREAM_LIMIT = 4096
CONTENT = random.Random(13).randbytes(STREAM_LIMIT)  # byte i of every stream; no short repeats
UNSENT_ACK_DISTANCE = 100_000        # far past anything the echo could have sent
OLD_ACK_DISTANCE = 1 << 30           # far before SND.UNA - MAX.SND.WND, still "in the past" (< 2**31)
PUMP_SECONDS = 0.3                   # on the sim: virtual time, past a delayed ACK (RFC 9293 §3.8.6.3)


class TcpInvariantViolation(AssertionError):
    """A DUT broke one of the invariants; the message says which and on which segment."""


class TcpEchoMachine(RuleBasedStateMachine):
    """The machine; ``tcp_state_machine(target)`` binds it to a target."""

    target = None
    last_steps: list[str] = []

    def __init__(self):
        super().__init__()
        self.bench = self.target.bench()
        self.peer = TcpPeer(self.bench, self.target.ports["echo"], within=2.0)
        self.peer.connect()
        self.steps: list[str] = []
        type(self).last_steps = self.steps
        self.allowed = bytearray(STREAM_LIMIT)   # 1 where a byte was sent in a segment that may deliver it
        self.sent_end = 0                          # stream offsets [0, sent_end) were sent at least once
        self.echoed = 0
        self.closed = False                        # reset for sure
        self.maybe_reset = False                   # an in-window RST: reset or challenge ACK, both legal
        self.rst_seen = False
        self.dut_ack = self.offset_seq(0)          # the DUT's RCV.NXT, as its last ACK said

    # --- the model ---------------------------------------------------------------------------------
    def offset_seq(self, offset: int) -> int:
        return (self.peer.isn + 1 + offset) % SEQUENCE_SPACE

    def transmit(self, offset: int, size: int, ack_kind: str) -> None:
        size = min(size, STREAM_LIMIT - offset)
        if size <= 0:
            return
        ack = self.peer.rcv_nxt
        if ack_kind == "unsent":
            ack = (ack + UNSENT_ACK_DISTANCE) % SEQUENCE_SPACE
        elif ack_kind == "old":
            ack = (ack - OLD_ACK_DISTANCE) % SEQUENCE_SPACE
        self.bench.send(self.peer.segment("PA", seq=self.offset_seq(offset), ack=ack, absolute=True,
                                          payload=CONTENT[offset:offset + size]))
        if ack_kind != "unsent":
            self.allowed[offset:offset + size] = b"\x01" * size
        self.sent_end = max(self.sent_end, offset + size)
        self.pump()

    def pump(self, seconds: float = PUMP_SECONDS) -> None:
        """Read what the DUT sends for ``seconds``, ACK echoed data, check every segment."""
        end = self.bench.now() + seconds
        while self.bench.now() < end:
            frame = self.bench._read(end - self.bench.now())
            if frame is None:
                break
            if frame.layers is None or "tcp" not in frame:
                continue
            segment = frame["tcp"]
            if segment.src_port != self.peer.port or segment.dst_port != self.peer.src_port:
                continue
            self.check(segment)
            if self.peer.take(frame):
                self.check_echo()
                self.bench.send(self.peer.segment("A", seq=self.offset_seq(self.sent_end), absolute=True))

    def check(self, segment) -> None:
        if segment.flags.syn:
            raise TcpInvariantViolation(f"the DUT sent a SYN on an established connection; steps: {self.steps}")
        if segment.flags.rst:
            if not (self.closed or self.maybe_reset):
                raise TcpInvariantViolation(f"the DUT reset a connection nothing legal reset: RST seq={segment.seq}; "
                                            f"steps: {self.steps}")
            self.closed = self.rst_seen = True
            return
        if segment.flags.ack:
            self.dut_ack = segment.ack
            acked = (segment.ack - self.peer.isn - 1) % SEQUENCE_SPACE
            if acked < SEQUENCE_SPACE // 2 and acked > self.sent_end:
                raise TcpInvariantViolation(f"the DUT acknowledged {acked} bytes; only {self.sent_end} were sent "
                                            f"(RFC 9293 §3.10.7.4); steps: {self.steps}")

    def check_echo(self) -> None:
        echoed = bytes(self.peer.received)
        for offset in range(self.echoed, len(echoed)):
            if offset >= STREAM_LIMIT or echoed[offset] != CONTENT[offset]:
                raise TcpInvariantViolation(f"byte {offset} delivered wrong or twice: the echo is not a prefix of "
                                            f"what was sent; steps: {self.steps}")
            if not self.allowed[offset]:
                raise TcpInvariantViolation(
                    f"byte {offset} was delivered, but the only segment carrying it acknowledged unsent data "
                    f"and must have been dropped (RFC 9293 §3.10.7.4); steps: {self.steps}")
        self.echoed = len(echoed)

    # --- rules ----------------------------------------------------------------------------------------
    @precondition(lambda self: not self.closed and self.sent_end < STREAM_LIMIT)
    @rule(size=st.integers(1, 300), ack_kind=st.sampled_from(["valid", "unsent", "old"]))
    def send_data(self, size, ack_kind):
        self.steps.append(f"send_data(size={size}, ack={ack_kind})")
        self.transmit(self.sent_end, size, ack_kind)

    @precondition(lambda self: not self.closed and self.sent_end > 0)
    @rule(start=st.integers(0, STREAM_LIMIT - 1), size=st.integers(1, 300))
    def retransmit(self, start, size):
        start %= self.sent_end
        size = min(size, self.sent_end - start)
        self.steps.append(f"retransmit(start={start}, size={size})")
        self.transmit(start, size, "valid")

    @precondition(lambda self: not self.closed and self.sent_end < STREAM_LIMIT - 400)
    @rule(gap=st.integers(1, 200), size=st.integers(1, 200))
    def send_after_hole(self, gap, size):
        """Data beyond a hole: the DUT may queue it (RFC 9293 §3.10.7.4) but must not deliver it yet."""
        self.steps.append(f"send_after_hole(gap={gap}, size={size})")
        hole = self.sent_end
        start = hole + gap
        self.bench.send(self.peer.segment("PA", seq=self.offset_seq(start), ack=self.peer.rcv_nxt, absolute=True,
                                          payload=CONTENT[start:start + size]))
        self.allowed[start:start + size] = b"\x01" * size
        self.sent_end = start + size
        self.pump()
        self.transmit(hole, gap, "valid")  # fill the hole: both parts may be delivered now

    @precondition(lambda self: not self.closed)
    @rule(where=st.sampled_from(["outside", "exact", "inside"]))
    def reset(self, where):
        self.steps.append(f"reset({where})")
        rcv_nxt = self.dut_ack
        seq = {"outside": rcv_nxt + 3 * self.peer.window, "exact": rcv_nxt, "inside": rcv_nxt + 10}[where]
        self.bench.send(self.peer.segment("R", seq=seq % SEQUENCE_SPACE, ack=0, absolute=True))
        self.maybe_reset = where in ("inside", "exact")
        self.rst_seen = False
        self.pump()
        if where == "exact":
            self.closed = True
        self.probe(expect_reset=where == "exact")

    @precondition(lambda self: not self.closed)
    @rule(offset=st.integers(0, 1000))
    def syn(self, offset):
        """A SYN in ESTABLISHED: a challenge ACK (RFC 5961 §4.2, RFC 9293 §3.10.7.4 fourth check) or,
        under RFC 793's rule, an RST; never a new handshake."""
        self.steps.append(f"syn(offset={offset})")
        self.bench.send(self.peer.segment("S", seq=(self.dut_ack + offset) % SEQUENCE_SPACE, ack=0, absolute=True,
                                          options=[("mss", 1460)]))
        self.maybe_reset = True
        self.rst_seen = False
        self.pump()
        self.probe(expect_reset=False)

    def probe(self, *, expect_reset: bool) -> None:
        """One new byte: an alive connection acknowledges it, a reset one answers RST (RFC 9293 §3.10.7.1)."""
        if self.sent_end >= STREAM_LIMIT:
            return
        offset = self.sent_end
        self.bench.send(self.peer.segment("PA", seq=self.offset_seq(offset), ack=self.peer.rcv_nxt, absolute=True,
                                          payload=CONTENT[offset:offset + 1]))
        self.allowed[offset] = 1
        self.sent_end += 1
        self.pump(1.0 if self.target.real_time else 2.0)
        if expect_reset and not self.rst_seen:
            raise TcpInvariantViolation(f"an RST at exactly RCV.NXT did not reset the connection (RFC 9293 "
                                        f"§3.10.7.4): new data was not refused; steps: {self.steps}")
        self.maybe_reset = False

    @rule(seconds=st.sampled_from([0.1, 1.0, 5.0]))
    def wait(self, seconds):
        self.steps.append(f"wait({seconds})")
        self.pump(seconds)

    @invariant()
    def echo_is_prefix(self):
        if hasattr(self, "peer"):
            self.check_echo()

    def teardown(self):
        if getattr(self, "bench", None) is not None:
            if not self.closed and self.peer.rcv_nxt is not None:
                self.peer.abort()
            self.bench.close(keep=False)
            self.target.release(self.bench)


def tcp_state_machine(target) -> type[TcpEchoMachine]:
    """``TcpEchoMachine`` bound to a started ``target``."""
    return type("TcpEchoMachineOn" + target.kind.capitalize(), (TcpEchoMachine,), {"target": target, "last_steps": []})
