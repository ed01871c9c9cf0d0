"""Congestion control phases (RFC 5681, RFC 6582, RFC 6675, RFC 9406, RFC 3168, RFC 6298 §5) and the pluggable algorithm interface.

Read first: RFC 5681 §3.1 (slow start, congestion avoidance, timeout), §3.2 (fast retransmit / fast
recovery); RFC 3465 §2 (byte counting); RFC 6675 §5 (SACK-based recovery); RFC 9406 §4 (HyStart++);
RFC 3522 and RFC 2883 §5 (undoing a spurious reduction); RFC 3168 §6.1.2 (the answer to an ECN echo); RFC 6582 §3.2 (NewReno: ``recover``, full and partial ACKs); RFC 6298 §5 (the
retransmission timer: the engine backs the RTO off, this machine shrinks the window).

The *phase* is a `transitions` declaration (``TRANSITIONS``, ``CONGESTION_MACHINE``) and a table
derived from it (``CONGESTION_TABLE``); the *arithmetic* (how cwnd and ssthresh move) lives in the
actions of an algorithm class. ``CongestionControl`` is the interface: it owns the phase, the
duplicate-ACK count and NewReno's ``recover`` point, and fires the table; a subclass implements the
nine actions below. ``netstack.machines.reno.NewReno`` is the RFC 5681/6582 algorithm,
``netstack.machines.cubic.Cubic`` the RFC 9438 one (with HyStart++, ``netstack.machines.hystart``).

Runtime API
-----------
``cc = congestion_control("cubic")(mss=1460)`` (the registry maps names to classes: "cubic", "newreno"
and its alias "reno"; ``register_congestion_control(name, cls)`` adds one). Then, per ACK the engine
has classified:

- ``cc.on_ack(acked_bytes, flight_size, snd_una=None, *, now=None, rtt=None, snd_nxt=None) -> bool``:
  an ACK advanced SND.UNA by ``acked_bytes``; ``flight_size`` is the data still outstanding after
  it; ``snd_una`` (the new SND.UNA) lets NewReno tell a full from a partial ACK in fast recovery
  (without it every ACK counts as full: plain Reno); ``now`` (seconds) and ``rtt`` (this ACK's RTT
  sample) drive CUBIC's window function and HyStart++; ``snd_nxt`` marks HyStart++'s rounds. Returns
  True when the engine must retransmit the first unacknowledged segment now (a partial
  acknowledgment without SACK, RFC 6582 §3.2).
- ``cc.on_duplicate_ack(flight_size, snd_una=None, snd_nxt=None) -> bool``: a duplicate ACK (RFC
  5681 §2) from a peer without SACK. The third one (``DUPLICATE_ACK_THRESHOLD``) enters fast recovery,
  unless it does not cover more than ``recover`` (RFC 6582 §3.2); ``snd_nxt`` becomes the new
  ``recover``. Returns True when the engine must fast-retransmit now.
- ``cc.on_loss_detected(flight_size, snd_una=None, snd_nxt=None) -> bool``: the SACK scoreboard (RFC
  6675) or RACK (RFC 8985) declared data lost. Enters SACK-based recovery (cwnd = ssthresh; the engine
  sends while pipe < cwnd, RFC 6675 §5) once per window; True when it did.
- ``cc.on_retransmit_timeout(flight_size, snd_nxt=None) -> bool``: the RTO fired (RFC 6298 §5.4-5.7
  is the engine's: retransmit, back off). Returns True (retransmit).
- ``cc.on_ecn_echo(flight_size, snd_una=None, snd_nxt=None) -> bool``: an ACK with ECE on an ECN
  connection (RFC 3168 §6.1.2): from an open phase whose ``snd_una`` (the ACK's) lies beyond
  ``recover``, the algorithm's loss reduction without a retransmission (CUBIC's beta, RFC 9438 §4.6)
  and CONGESTION_WINDOW_REDUCED until the window outstanding at the echo is acknowledged; once per
  window of data. True when it reduced (the engine then sets CWR on its next new segment). An echo
  during a loss recovery keeps that reduction from being undone.
- ``cc.on_spurious_loss() -> bool``: the last reduction was spurious (RFC 3522 Eifel, or D-SACKs for
  every retransmission, RFC 2883 §5): cwnd and ssthresh (and CUBIC's W_max) return to their values
  before it. True when something was undone.
- ``cc.cwnd``, ``cc.ssthresh``, ``cc.mss`` (bytes), ``cc.phase`` (a ``CongestionPhase``),
  ``cc.duplicate_acks``, ``cc.recover`` (None until the first loss), ``cc.sack_recovery`` (the
  current recovery is pipe-limited), ``cc.reductions`` / ``cc.undone`` (counts).

Invariants every algorithm keeps (checked by tests/machines): cwnd >= 1 MSS; after any loss
ssthresh >= 2 MSS.

Phases
------
SLOW_START (cwnd < ssthresh, growing by the bytes each ACK covers, RFC 3465; see BYTE_COUNT_LIMIT) ->
CONSERVATIVE_SLOW_START when HyStart++ sees the round's minimum RTT rise (RFC 9406; back to SLOW_START
if the RTT falls below the baseline, on to CONGESTION_AVOIDANCE after CSS_ROUNDS rounds) ->
CONGESTION_AVOIDANCE on the first ACK that finds cwnd >= ssthresh; any open phase -> FAST_RECOVERY
on the third duplicate ACK or a detected loss; FAST_RECOVERY -> CONGESTION_AVOIDANCE on a full ACK
(partial ACKs stay, deflating); any phase -> LOSS on an RTO; LOSS -> SLOW_START on the next new ACK;
any phase -> SLOW_START or CONGESTION_AVOIDANCE on a spurious-loss undo. An ECN echo takes an open
phase to CONGESTION_WINDOW_REDUCED (Linux's CWR state): cwnd stops growing until the ACK that covers
``recover``, then CONGESTION_AVOIDANCE; a loss found in that window enters FAST_RECOVERY without
reducing ssthresh again ("reduced only once in response to a series of dropped and/or CE packets
from a single window of data", RFC 3168 §6.1.2); an RTO still goes to LOSS. A phase is the rule applied
to the latest ACK, so CONGESTION_AVOIDANCE returns to SLOW_START when an ACK finds cwnd < ssthresh
(RFC 6582's exit window after a full acknowledgment may be below ssthresh). Duplicate ACKs in LOSS,
and a third duplicate ACK not covering ``recover``, change nothing.

Actions a ``CongestionControl`` subclass implements (no arguments; the event's numbers are in
``self.acked_bytes``, ``self.flight_size``, ``self.now``, ``self.rtt``): ``grow_slow_start``,
``grow_congestion_avoidance``, ``enter_fast_recovery``, ``enter_sack_recovery``, ``inflate_window``,
``deflate_on_partial_ack``, ``exit_fast_recovery``, ``enter_loss``, ``reset_loss_window``. The
HyStart++ actions (``enter_conservative_slow_start``, ``grow_conservative_slow_start``,
``leave_conservative_slow_start``), ``undo_reduction`` and the ECN ones
(``enter_congestion_window_reduced``, ``enter_fast_recovery_keeping_ssthresh``,
``enter_sack_recovery_keeping_ssthresh``) are shared here (an algorithm with state
of its own to undo overrides ``saved_state`` / ``restore_state``). Guards (implemented here,
overridable): ``cwnd_below_ssthresh``, ``third_duplicate_ack``, ``ack_covers_more_than_recover``,
``full_acknowledgment``, ``delay_increase_detected``, ``rtt_below_css_baseline``,
``css_rounds_done``, ``reduction_to_undo``, ``undone_window_below_ssthresh``.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from enum import Enum, StrEnum

from netstack.machines.hystart import CSS_GROWTH_DIVISOR
from netstack.machines.table import TransitionTable, declare_machine, transition

# RFC 5681 §3.2: "the fast retransmit algorithm uses the arrival of 3 duplicate ACKs".
DUPLICATE_ACK_THRESHOLD = 3

_SEQ_MASK = 0xFFFFFFFF


def _seq_after(a: int, b: int) -> bool:
    """a > b in 32-bit sequence space (RFC 9293 §3.4, RFC 1982)."""
    return 0 < ((a - b) & _SEQ_MASK) < 0x80000000


class CongestionPhase(Enum):
    """The phases of RFC 5681/6582 congestion control, RFC 9406's conservative slow start, and LOSS
    after an RTO (RFC 6298 §5)."""

    SLOW_START = "slow start"
    CONSERVATIVE_SLOW_START = "conservative slow start"
    CONGESTION_AVOIDANCE = "congestion avoidance"
    FAST_RECOVERY = "fast recovery"
    LOSS = "loss"
    CONGESTION_WINDOW_REDUCED = "congestion window reduced"

    def __str__(self) -> str:
        return self.value

    # Members are singletons, so identity is the right hash; Enum's own hashes the name in Python,
    # which costs the table ~60 ns per lookup.
    __hash__ = object.__hash__


class CongestionEvent(StrEnum):
    """What the engine reports: a new ACK, a duplicate ACK, a loss found by the SACK scoreboard or
    RACK, a retransmission timeout, a reduction found spurious, an ECN echo (ECE)."""

    new_ack = "new_ack"
    duplicate_ack = "duplicate_ack"
    loss_detected = "loss_detected"
    retransmit_timeout = "retransmit_timeout"
    spurious_loss = "spurious_loss"
    ecn_echo = "ecn_echo"


P = CongestionPhase
E = CongestionEvent
_OPEN = [P.SLOW_START, P.CONSERVATIVE_SLOW_START, P.CONGESTION_AVOIDANCE]

TRANSITIONS = [
    transition(E.new_ack, P.SLOW_START, P.CONSERVATIVE_SLOW_START,
               conditions=["cwnd_below_ssthresh", "delay_increase_detected"], after=["enter_conservative_slow_start"],
               rfc="9406 §4.2: the round's minimum RTT rose by RttThresh: conservative slow start"),
    transition(E.new_ack, P.SLOW_START, None, conditions=["cwnd_below_ssthresh"], after=["grow_slow_start"],
               rfc="5681 §3.1 (2), 3465 §2.1: slow start while cwnd < ssthresh, counting bytes"),
    transition(E.new_ack, P.SLOW_START, P.CONGESTION_AVOIDANCE, unless=["cwnd_below_ssthresh"],
               after=["grow_congestion_avoidance"], rfc="5681 §3.1: congestion avoidance once cwnd >= ssthresh"),
    transition(E.new_ack, P.CONSERVATIVE_SLOW_START, P.SLOW_START, conditions=["rtt_below_css_baseline"],
               after=["grow_slow_start"], rfc="9406 §4.2: the RTT fell below the baseline: back to slow start"),
    transition(E.new_ack, P.CONSERVATIVE_SLOW_START, P.CONGESTION_AVOIDANCE, conditions=["css_rounds_done"],
               after=["leave_conservative_slow_start"], rfc="9406 §4.2: CSS_ROUNDS rounds: ssthresh = cwnd"),
    transition(E.new_ack, P.CONSERVATIVE_SLOW_START, P.CONGESTION_AVOIDANCE, unless=["cwnd_below_ssthresh"],
               after=["grow_congestion_avoidance"], rfc="5681 §3.1: congestion avoidance once cwnd >= ssthresh"),
    transition(E.new_ack, P.CONSERVATIVE_SLOW_START, None, after=["grow_conservative_slow_start"],
               rfc="9406 §4.2: grow by a CSS_GROWTH_DIVISOR-th of slow start"),
    transition(E.new_ack, P.CONGESTION_AVOIDANCE, P.SLOW_START, conditions=["cwnd_below_ssthresh"],
               after=["grow_slow_start"], rfc="5681 §3.1: slow start while cwnd < ssthresh"),
    transition(E.new_ack, P.CONGESTION_AVOIDANCE, None, after=["grow_congestion_avoidance"],
               rfc="5681 §3.1 (3): about one SMSS per RTT"),
    transition(E.duplicate_ack, _OPEN, P.FAST_RECOVERY,
               conditions=["third_duplicate_ack", "ack_covers_more_than_recover"], after=["enter_fast_recovery"],
               rfc="5681 §3.2 (2)-(3), 6582 §3.2 (three duplicate ACKs): fast retransmit"),
    transition(E.duplicate_ack, P.FAST_RECOVERY, None, after=["inflate_window"],
               rfc="5681 §3.2 (4): inflate by one SMSS per duplicate ACK"),
    transition(E.loss_detected, _OPEN, P.FAST_RECOVERY, conditions=["ack_covers_more_than_recover"],
               after=["enter_sack_recovery"],
               rfc="6675 §5, 8985 §6: a loss the scoreboard or RACK found: cwnd = ssthresh, pipe limits sending"),
    transition(E.new_ack, P.FAST_RECOVERY, P.CONGESTION_AVOIDANCE, conditions=["full_acknowledgment"],
               after=["exit_fast_recovery"], rfc="6582 §3.2 (full acknowledgment): deflate, leave recovery"),
    transition(E.new_ack, P.FAST_RECOVERY, None, after=["deflate_on_partial_ack"],
               rfc="6582 §3.2 (partial acknowledgment): retransmit, partial deflate"),
    transition(E.ecn_echo, _OPEN, P.CONGESTION_WINDOW_REDUCED, conditions=["ack_covers_more_than_recover"],
               after=["enter_congestion_window_reduced"],
               rfc="3168 §6.1.2, 9438 §4.6: ECE: reduce as for a loss, nothing to resend, once per window"),
    transition(E.new_ack, P.CONGESTION_WINDOW_REDUCED, P.CONGESTION_AVOIDANCE, conditions=["full_acknowledgment"],
               after=["grow_congestion_avoidance"],
               rfc="3168 §6.1.2: the window that saw congestion is acknowledged: grow again"),
    transition(E.new_ack, P.CONGESTION_WINDOW_REDUCED, None,
               rfc="3168 §6.1.2: no increase in response to ACKs of the window that saw congestion"),
    transition(E.duplicate_ack, P.CONGESTION_WINDOW_REDUCED, P.FAST_RECOVERY, conditions=["third_duplicate_ack"],
               after=["enter_fast_recovery_keeping_ssthresh"],
               rfc="3168 §6.1.2, 5681 §3.2: a loss in the window already reduced: fast retransmit, no new reduction"),
    transition(E.loss_detected, P.CONGESTION_WINDOW_REDUCED, P.FAST_RECOVERY,
               after=["enter_sack_recovery_keeping_ssthresh"],
               rfc="3168 §6.1.2, 6675 §5: a loss in the window already reduced: recovery, no new reduction"),
    transition(E.retransmit_timeout, [*_OPEN, P.FAST_RECOVERY, P.CONGESTION_WINDOW_REDUCED], P.LOSS,
               after=["enter_loss"], rfc="5681 §3.1 (4), 6298 §5: loss window"),
    transition(E.retransmit_timeout, P.LOSS, None, after=["reset_loss_window"],
               rfc="5681 §3.1: ssthresh held constant on a repeated timeout"),
    transition(E.new_ack, P.LOSS, P.SLOW_START, conditions=["cwnd_below_ssthresh"], after=["grow_slow_start"],
               rfc="5681 §3.1: slow start after a timeout"),
    transition(E.new_ack, P.LOSS, P.CONGESTION_AVOIDANCE, unless=["cwnd_below_ssthresh"],
               after=["grow_congestion_avoidance"],
               rfc="5681 §3.1: congestion avoidance once cwnd >= ssthresh"),
    transition(E.spurious_loss, list(P), P.SLOW_START, conditions=["reduction_to_undo", "undone_window_below_ssthresh"],
               after=["undo_reduction"], rfc="3522 §2, 2883 §5: the retransmission was spurious: restore the window"),
    transition(E.spurious_loss, list(P), P.CONGESTION_AVOIDANCE, conditions=["reduction_to_undo"],
               after=["undo_reduction"], rfc="3522 §2, 2883 §5: the retransmission was spurious: restore the window"),
]

CONGESTION_MACHINE = declare_machine("congestion_control", CongestionPhase, TRANSITIONS, initial=P.SLOW_START)
CONGESTION_TABLE = TransitionTable(CONGESTION_MACHINE, CongestionPhase, list(CongestionEvent))

CONGESTION_GUARDS = ("cwnd_below_ssthresh", "third_duplicate_ack", "ack_covers_more_than_recover",
                     "full_acknowledgment", "delay_increase_detected", "rtt_below_css_baseline", "css_rounds_done",
                     "reduction_to_undo", "undone_window_below_ssthresh")
CONGESTION_ACTIONS = ("grow_slow_start", "grow_congestion_avoidance", "enter_fast_recovery", "inflate_window",
                      "deflate_on_partial_ack", "exit_fast_recovery", "enter_loss", "reset_loss_window",
                      "enter_sack_recovery", "enter_conservative_slow_start", "grow_conservative_slow_start",
                      "leave_conservative_slow_start", "undo_reduction", "enter_congestion_window_reduced",
                      "enter_fast_recovery_keeping_ssthresh", "enter_sack_recovery_keeping_ssthresh")
_REDUCED = (P.FAST_RECOVERY, P.LOSS)

#: RFC 3465 §2.1 L (slow start grows by at most L * SMSS per ACK): None, no limit, by default. With
#: L = 2 an ACK for every other segment doubles cwnd per RTT, but a receiver that acknowledges a whole
#: burst at once (GRO, coalescing, our ``ack_at_batch_end``) gets 2 SMSS per burst and slow start turns
#: linear (issue 10: 1 MiB in 0.72 s instead of 0.28 s); Linux removed the limit (3.8) for that reason
#: and grows by every byte acknowledged, never past ssthresh in one step. ``byte_count_limit=2`` gives
#: RFC 3465's limit back.
BYTE_COUNT_LIMIT: int | None = None


class CongestionControl(ABC):
    """A congestion control algorithm: phases from ``CONGESTION_TABLE``, arithmetic in the subclass.

    ``state`` holds the ``CongestionPhase`` (the table's model attribute); ``phase`` reads it.
    ``hystart`` is a ``HystartPlusPlus`` when the algorithm leaves slow start by RFC 9406, else None.
    """

    __slots__ = ("mss", "cwnd", "ssthresh", "state", "duplicate_acks", "recover", "acked_bytes",
                 "flight_size", "snd_una", "snd_nxt", "retransmit_now", "now", "rtt", "hystart", "sack_recovery",
                 "byte_count_limit", "prior", "initial_ssthresh", "reductions", "undone")

    def __init__(self, mss: int, initial_window: int, initial_ssthresh: int,
                 byte_count_limit: int | None = BYTE_COUNT_LIMIT):
        if mss <= 0:
            raise ValueError(f"mss must be positive, not {mss}")
        if initial_window < mss:
            raise ValueError(f"initial window {initial_window} is below one MSS ({mss})")
        if byte_count_limit is not None and byte_count_limit < 1:
            raise ValueError(f"byte_count_limit must be >= 1 SMSS, not {byte_count_limit}")
        self.mss = mss
        self.cwnd = initial_window
        self.ssthresh = initial_ssthresh
        self.initial_ssthresh = initial_ssthresh
        self.state = CongestionPhase.SLOW_START
        self.duplicate_acks = 0
        self.recover: int | None = None  # RFC 6582 §3.2: SND.NXT when recovery began
        self.acked_bytes = 0
        self.flight_size = 0
        self.snd_una: int | None = None
        self.snd_nxt: int | None = None
        self.retransmit_now = False
        self.now: float | None = None
        self.rtt: float | None = None
        self.hystart = None
        self.sack_recovery = False
        self.byte_count_limit = byte_count_limit
        self.prior: tuple | None = None  # (cwnd, ssthresh, algorithm state) before the last reduction
        self.reductions = 0
        self.undone = 0

    @property
    def phase(self) -> CongestionPhase:
        return self.state

    # -- what the engine calls ---------------------------------------------------------------------

    def on_ack(self, acked_bytes: int, flight_size: int, snd_una: int | None = None, *, now: float | None = None,
               rtt: float | None = None, snd_nxt: int | None = None) -> bool:
        """New data acknowledged; True when the first unacknowledged segment must go again now.

        ``now`` (seconds) and ``rtt`` (this ACK's RTT sample, if any) feed CUBIC and HyStart++;
        ``snd_nxt`` marks HyStart++'s rounds."""
        self.acked_bytes = acked_bytes
        self.flight_size = flight_size
        self.snd_una = snd_una
        self.now = now
        self.rtt = rtt
        self.retransmit_now = False
        if snd_nxt is not None:
            self.snd_nxt = snd_nxt
        hystart = self.hystart
        if hystart is not None and self.state in (P.SLOW_START, P.CONSERVATIVE_SLOW_START):
            hystart.observe(snd_una, self.snd_nxt, rtt, self.state is P.CONSERVATIVE_SLOW_START)
        CONGESTION_TABLE.fire(self, CongestionEvent.new_ack)
        if self.state is not CongestionPhase.FAST_RECOVERY:
            self.duplicate_acks = 0
        return self.retransmit_now

    def on_duplicate_ack(self, flight_size: int, snd_una: int | None = None, snd_nxt: int | None = None) -> bool:
        """A duplicate ACK; True when it starts fast retransmit."""
        self.duplicate_acks += 1
        self.flight_size = flight_size
        self.snd_una = snd_una
        self.snd_nxt = snd_nxt
        self.retransmit_now = False
        self._reduce(CongestionEvent.duplicate_ack)
        return self.retransmit_now

    def on_loss_detected(self, flight_size: int, snd_una: int | None = None, snd_nxt: int | None = None) -> bool:
        """The SACK scoreboard (RFC 6675 IsLost) or RACK (RFC 8985) found a loss: True when this
        started a recovery (cwnd reduced once per window of data, RFC 6675 §5)."""
        self.flight_size = flight_size
        self.snd_una = snd_una
        self.snd_nxt = snd_nxt
        before = self.state
        self._reduce(CongestionEvent.loss_detected)
        return self.state is not before

    def on_retransmit_timeout(self, flight_size: int, snd_nxt: int | None = None) -> bool:
        """The retransmission timer expired (RFC 6298 §5.4): the window collapses to the loss window."""
        self.flight_size = flight_size
        self.snd_nxt = snd_nxt
        self.duplicate_acks = 0
        self.retransmit_now = True
        self._reduce(CongestionEvent.retransmit_timeout)
        # RFC 6582 §3.2 (retransmit timeouts): after a timeout, duplicate ACKs for data sent before it must not trigger
        # another fast retransmit; recording SND.NXT as recover does that.
        if snd_nxt is not None:
            self.recover = snd_nxt
        return True

    def on_spurious_loss(self) -> bool:
        """RFC 3522 (Eifel) / RFC 2883 §5 (D-SACK): the last reduction was for data that had not been
        lost; restore cwnd and ssthresh as they were before it. True when something was undone."""
        before = self.prior
        CONGESTION_TABLE.fire(self, CongestionEvent.spurious_loss)
        return before is not None and self.prior is None

    def on_ecn_echo(self, flight_size: int, snd_una: int | None = None, snd_nxt: int | None = None) -> bool:
        """An ACK with ECE (RFC 3168 §6.1.2): True when this reduced the window (at most once per
        window of data; ``snd_una`` is the ACK's, ``snd_nxt`` becomes ``recover``)."""
        self.flight_size = flight_size
        self.snd_una = snd_una
        self.snd_nxt = snd_nxt
        before = self.state
        if before in _REDUCED:
            # the network says congestion is real: the reduction in progress is not spurious (Linux
            # tcp_enter_cwr clears its undo marker the same way)
            self.prior = None
            return False
        CONGESTION_TABLE.fire(self, CongestionEvent.ecn_echo)
        if self.state is before:
            return False
        self.reductions += 1
        self.hystart = None  # RFC 9406 §4.2: a congestion event (loss or ECN-CE) ends HyStart++
        return True

    def _reduce(self, event: CongestionEvent) -> None:
        # Remember the window before the first reduction of an episode, for undo.
        before = self.state
        saved = (self.cwnd, self.ssthresh, self.saved_state())
        CONGESTION_TABLE.fire(self, event)
        if self.state in _REDUCED and before not in _REDUCED:
            self.prior = saved
            if before is not P.CONGESTION_WINDOW_REDUCED:  # (that window was reduced already)
                self.reductions += 1
            self.hystart = None  # RFC 9406 §4.3: HyStart++ ends with the first loss

    # -- guards ------------------------------------------------------------------------------------

    def cwnd_below_ssthresh(self) -> bool:
        return self.cwnd < self.ssthresh

    def third_duplicate_ack(self) -> bool:
        return self.duplicate_acks == DUPLICATE_ACK_THRESHOLD

    def ack_covers_more_than_recover(self) -> bool:
        # RFC 6582 §3.2 (three duplicate ACKs): no new fast retransmit for losses of the window already recovered.
        if self.recover is None or self.snd_una is None:
            return True
        return _seq_after(self.snd_una, self.recover)

    def full_acknowledgment(self) -> bool:
        # RFC 6582 §3.2 (full acknowledgment): the ACK covers everything outstanding when recovery began.
        if self.recover is None or self.snd_una is None:
            return True
        return not _seq_after(self.recover, self.snd_una)

    def delay_increase_detected(self) -> bool:
        return self.hystart is not None and self.hystart.delay_increased()

    def rtt_below_css_baseline(self) -> bool:
        return self.hystart is not None and self.hystart.rtt_below_baseline()

    def css_rounds_done(self) -> bool:
        return self.hystart is None or self.hystart.css_rounds_done()

    def reduction_to_undo(self) -> bool:
        return self.prior is not None

    def undone_window_below_ssthresh(self) -> bool:
        cwnd, ssthresh, _ = self.prior
        return cwnd < ssthresh

    # -- actions shared by every algorithm ---------------------------------------------------------

    def slow_start_increase(self) -> int:
        """RFC 3465 §2.1: the bytes acknowledged (at most L * SMSS per ACK when L is set), and no further
        than ssthresh in one step (Linux tcp_slow_start)."""
        increase = self.acked_bytes
        if self.byte_count_limit is not None:
            increase = min(increase, self.byte_count_limit * self.mss)
        if self.cwnd < self.ssthresh < self.cwnd + increase:
            increase = self.ssthresh - self.cwnd
        return increase

    def enter_conservative_slow_start(self) -> None:
        self.hystart.enter_css()
        self.grow_conservative_slow_start()

    def grow_conservative_slow_start(self) -> None:
        # RFC 9406 §4.2: cwnd += min(N, L*SMSS) / CSS_GROWTH_DIVISOR.
        self.cwnd += max(1, self.slow_start_increase() // CSS_GROWTH_DIVISOR)

    def leave_conservative_slow_start(self) -> None:
        # RFC 9406 §4.2: after CSS_ROUNDS rounds, ssthresh = cwnd and congestion avoidance.
        self.ssthresh = self.cwnd
        self.hystart = None

    def undo_reduction(self) -> None:
        cwnd, ssthresh, state = self.prior
        self.cwnd = max(self.cwnd, cwnd)
        self.ssthresh = max(self.ssthresh, ssthresh)
        self.restore_state(state)
        self.prior = None
        self.sack_recovery = False
        self.duplicate_acks = 0
        self.undone += 1

    def enter_congestion_window_reduced(self) -> None:
        # RFC 3168 §6.1.2: ECE "should be treated just as a congestion loss": the algorithm's own
        # reduction (NewReno halves, CUBIC multiplies by beta_cubic, RFC 9438 §4.6) and recover =
        # SND.NXT, but nothing was lost, so nothing is resent and the recovery is not pipe-limited.
        self.enter_sack_recovery()
        self.sack_recovery = False

    def enter_fast_recovery_keeping_ssthresh(self) -> None:
        # RFC 5681 §3.2 (2)-(3) with the ssthresh the ECN echo already set for this window.
        if self.snd_nxt is not None:
            self.recover = self.snd_nxt
        self.cwnd = self.ssthresh + 3 * self.mss
        self.retransmit_now = True

    def enter_sack_recovery_keeping_ssthresh(self) -> None:
        # RFC 6675 §5 (4.1)-(4.2) with the ssthresh the ECN echo already set for this window.
        if self.snd_nxt is not None:
            self.recover = self.snd_nxt
        self.cwnd = self.ssthresh
        self.sack_recovery = True

    def saved_state(self) -> object:
        """The algorithm's own state an undo must restore (CUBIC's W_max); None by default."""
        return None

    def restore_state(self, state: object) -> None:
        """Put back what ``saved_state`` returned."""

    # -- actions: the arithmetic of one algorithm -------------------------------------------------

    @abstractmethod
    def grow_slow_start(self) -> None: ...

    @abstractmethod
    def grow_congestion_avoidance(self) -> None: ...

    @abstractmethod
    def enter_fast_recovery(self) -> None:
        """Set ssthresh and cwnd; set ``self.retransmit_now`` and ``self.recover`` (see NewReno)."""

    @abstractmethod
    def inflate_window(self) -> None: ...

    @abstractmethod
    def deflate_on_partial_ack(self) -> None: ...

    @abstractmethod
    def exit_fast_recovery(self) -> None: ...

    @abstractmethod
    def enter_loss(self) -> None: ...

    @abstractmethod
    def reset_loss_window(self) -> None: ...

    @abstractmethod
    def enter_sack_recovery(self) -> None:
        """RFC 6675 §5: set ssthresh, cwnd = ssthresh, ``self.recover``; pipe limits what is sent."""


_BUILT_IN = {"newreno": ("netstack.machines.reno", "NewReno"), "reno": ("netstack.machines.reno", "NewReno"),
             "cubic": ("netstack.machines.cubic", "Cubic")}
_REGISTERED: dict[str, type[CongestionControl]] = {}


def register_congestion_control(name: str, algorithm: type[CongestionControl]) -> None:
    """Make ``algorithm`` available as ``congestion_control(name)``."""
    if not (isinstance(algorithm, type) and issubclass(algorithm, CongestionControl)):
        raise TypeError(f"{algorithm!r} is not a CongestionControl subclass")
    _REGISTERED[name.lower()] = algorithm


def congestion_control(name: str) -> type[CongestionControl]:
    """The algorithm class registered as ``name`` ("newreno", ...); ValueError names the choices."""
    key = name.lower()
    if key in _REGISTERED:
        return _REGISTERED[key]
    if key in _BUILT_IN:
        module, attribute = _BUILT_IN[key]
        return getattr(importlib.import_module(module), attribute)
    raise ValueError(f"unknown congestion control {name!r}; known: {', '.join(available_congestion_controls())}")


def available_congestion_controls() -> list[str]:
    return sorted(set(_BUILT_IN) | set(_REGISTERED))
