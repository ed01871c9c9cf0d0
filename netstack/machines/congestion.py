"""Congestion control phases (RFC 5681, RFC 6582, RFC 6298 §5) and the pluggable algorithm interface.

Read first: RFC 5681 §3.1 (slow start, congestion avoidance, timeout), §3.2 (fast retransmit / fast
recovery); RFC 6582 §3.2 (NewReno: ``recover``, full and partial ACKs); RFC 6298 §5 (the
retransmission timer: the engine backs the RTO off, this machine shrinks the window).

The *phase* is a `transitions` declaration (``TRANSITIONS``, ``CONGESTION_MACHINE``) and a table
derived from it (``CONGESTION_TABLE``); the *arithmetic* (how cwnd and ssthresh move) lives in the
actions of an algorithm class. ``CongestionControl`` is the interface: it owns the phase, the
duplicate-ACK count and NewReno's ``recover`` point, and fires the table; a subclass implements the
eight actions below. ``netstack.machines.reno.NewReno`` is the RFC 5681/6582 algorithm; CUBIC
(RFC 9438) will be another subclass.

Runtime API
-----------
``cc = congestion_control("newreno")(mss=1460)`` (the registry maps names to classes;
``register_congestion_control(name, cls)`` adds one). Then, per ACK the engine has classified:

- ``cc.on_ack(acked_bytes: int, flight_size: int, snd_una: int | None = None) -> bool``:
  an ACK advanced SND.UNA by ``acked_bytes``; ``flight_size`` is the data still outstanding after
  it; ``snd_una`` (the new SND.UNA) lets NewReno tell a full from a partial ACK in fast recovery
  (without it every ACK counts as full: plain Reno). Returns True when the engine must retransmit
  the first unacknowledged segment now (a partial acknowledgment, RFC 6582 §3.2).
- ``cc.on_duplicate_ack(flight_size: int, snd_una: int | None = None, snd_nxt: int | None = None)
  -> bool``: a duplicate ACK (RFC 5681 §2). The third one (``DUPLICATE_ACK_THRESHOLD``) enters fast
  recovery, unless it does not cover more than ``recover`` (RFC 6582 §3.2, three duplicate ACKs); ``snd_nxt``
  becomes the new ``recover``. Returns True when the engine must fast-retransmit now.
- ``cc.on_retransmit_timeout(flight_size: int, snd_nxt: int | None = None) -> bool``: the RTO
  fired (RFC 6298 §5.4-5.7 is the engine's: retransmit, back off). Returns True (retransmit).
- ``cc.cwnd``, ``cc.ssthresh``, ``cc.mss`` (bytes), ``cc.phase`` (a ``CongestionPhase``),
  ``cc.duplicate_acks``, ``cc.recover`` (None until the first loss).

Invariants every algorithm keeps (checked by tests/machines): cwnd >= 1 MSS; after any loss
ssthresh >= 2 MSS.

Phases
------
SLOW_START (cwnd < ssthresh) -> CONGESTION_AVOIDANCE on the first ACK that finds cwnd >= ssthresh;
SLOW_START/CONGESTION_AVOIDANCE -> FAST_RECOVERY on the third duplicate ACK; FAST_RECOVERY ->
CONGESTION_AVOIDANCE on a full ACK (partial ACKs stay, deflating); any phase -> LOSS on an RTO; LOSS
-> SLOW_START on the next new ACK. A phase is the rule applied to the latest ACK, so
CONGESTION_AVOIDANCE returns to SLOW_START when an ACK finds cwnd < ssthresh (RFC 6582's
exit window after a full acknowledgment may be below ssthresh). Duplicate ACKs in LOSS, and a third duplicate ACK not covering
``recover``, change nothing.

Actions a ``CongestionControl`` subclass implements (no arguments; the event's numbers are in
``self.acked_bytes`` and ``self.flight_size``): ``grow_slow_start``, ``grow_congestion_avoidance``,
``enter_fast_recovery``, ``inflate_window``, ``deflate_on_partial_ack``, ``exit_fast_recovery``,
``enter_loss``, ``reset_loss_window``. Guards (implemented here, overridable):
``cwnd_below_ssthresh``, ``third_duplicate_ack``, ``ack_covers_more_than_recover``,
``full_acknowledgment``.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from enum import Enum, StrEnum

from netstack.machines.table import TransitionTable, declare_machine, transition

# RFC 5681 §3.2: "the fast retransmit algorithm uses the arrival of 3 duplicate ACKs".
DUPLICATE_ACK_THRESHOLD = 3

_SEQ_MASK = 0xFFFFFFFF


def _seq_after(a: int, b: int) -> bool:
    """a > b in 32-bit sequence space (RFC 9293 §3.4, RFC 1982)."""
    return 0 < ((a - b) & _SEQ_MASK) < 0x80000000


class CongestionPhase(Enum):
    """The phases of RFC 5681/6582 congestion control, plus LOSS after an RTO (RFC 6298 §5)."""

    SLOW_START = "slow start"
    CONGESTION_AVOIDANCE = "congestion avoidance"
    FAST_RECOVERY = "fast recovery"
    LOSS = "loss"

    def __str__(self) -> str:
        return self.value

    # Members are singletons, so identity is the right hash; Enum's own hashes the name in Python,
    # which costs the table ~60 ns per lookup.
    __hash__ = object.__hash__


class CongestionEvent(StrEnum):
    """What the engine reports: a new ACK, a duplicate ACK, a retransmission timeout."""

    new_ack = "new_ack"
    duplicate_ack = "duplicate_ack"
    retransmit_timeout = "retransmit_timeout"


P = CongestionPhase
E = CongestionEvent

TRANSITIONS = [
    transition(E.new_ack, P.SLOW_START, None, conditions=["cwnd_below_ssthresh"], after=["grow_slow_start"],
               rfc="5681 §3.1 (2): slow start while cwnd < ssthresh"),
    transition(E.new_ack, P.SLOW_START, P.CONGESTION_AVOIDANCE, unless=["cwnd_below_ssthresh"],
               after=["grow_congestion_avoidance"], rfc="5681 §3.1: congestion avoidance once cwnd >= ssthresh"),
    transition(E.new_ack, P.CONGESTION_AVOIDANCE, P.SLOW_START, conditions=["cwnd_below_ssthresh"],
               after=["grow_slow_start"], rfc="5681 §3.1: slow start while cwnd < ssthresh"),
    transition(E.new_ack, P.CONGESTION_AVOIDANCE, None, after=["grow_congestion_avoidance"],
               rfc="5681 §3.1 (3): about one SMSS per RTT"),
    transition(E.duplicate_ack, [P.SLOW_START, P.CONGESTION_AVOIDANCE], P.FAST_RECOVERY,
               conditions=["third_duplicate_ack", "ack_covers_more_than_recover"], after=["enter_fast_recovery"],
               rfc="5681 §3.2 (2)-(3), 6582 §3.2 (three duplicate ACKs): fast retransmit"),
    transition(E.duplicate_ack, P.FAST_RECOVERY, None, after=["inflate_window"],
               rfc="5681 §3.2 (4): inflate by one SMSS per duplicate ACK"),
    transition(E.new_ack, P.FAST_RECOVERY, P.CONGESTION_AVOIDANCE, conditions=["full_acknowledgment"],
               after=["exit_fast_recovery"], rfc="6582 §3.2 (full acknowledgment): deflate, leave recovery"),
    transition(E.new_ack, P.FAST_RECOVERY, None, after=["deflate_on_partial_ack"],
               rfc="6582 §3.2 (partial acknowledgment): retransmit, partial deflate"),
    transition(E.retransmit_timeout, [P.SLOW_START, P.CONGESTION_AVOIDANCE, P.FAST_RECOVERY], P.LOSS,
               after=["enter_loss"], rfc="5681 §3.1 (4), 6298 §5: loss window"),
    transition(E.retransmit_timeout, P.LOSS, None, after=["reset_loss_window"],
               rfc="5681 §3.1: ssthresh held constant on a repeated timeout"),
    transition(E.new_ack, P.LOSS, P.SLOW_START, conditions=["cwnd_below_ssthresh"], after=["grow_slow_start"],
               rfc="5681 §3.1: slow start after a timeout"),
    transition(E.new_ack, P.LOSS, P.CONGESTION_AVOIDANCE, unless=["cwnd_below_ssthresh"],
               after=["grow_congestion_avoidance"],
               rfc="5681 §3.1: congestion avoidance once cwnd >= ssthresh"),
]

CONGESTION_MACHINE = declare_machine("congestion_control", CongestionPhase, TRANSITIONS, initial=P.SLOW_START)
CONGESTION_TABLE = TransitionTable(CONGESTION_MACHINE, CongestionPhase, list(CongestionEvent))

CONGESTION_GUARDS = ("cwnd_below_ssthresh", "third_duplicate_ack", "ack_covers_more_than_recover",
                     "full_acknowledgment")
CONGESTION_ACTIONS = ("grow_slow_start", "grow_congestion_avoidance", "enter_fast_recovery", "inflate_window",
                      "deflate_on_partial_ack", "exit_fast_recovery", "enter_loss", "reset_loss_window")


class CongestionControl(ABC):
    """A congestion control algorithm: phases from ``CONGESTION_TABLE``, arithmetic in the subclass.

    ``state`` holds the ``CongestionPhase`` (the table's model attribute); ``phase`` reads it.
    """

    __slots__ = ("mss", "cwnd", "ssthresh", "state", "duplicate_acks", "recover", "acked_bytes",
                 "flight_size", "snd_una", "snd_nxt", "retransmit_now")

    def __init__(self, mss: int, initial_window: int, initial_ssthresh: int):
        if mss <= 0:
            raise ValueError(f"mss must be positive, not {mss}")
        if initial_window < mss:
            raise ValueError(f"initial window {initial_window} is below one MSS ({mss})")
        self.mss = mss
        self.cwnd = initial_window
        self.ssthresh = initial_ssthresh
        self.state = CongestionPhase.SLOW_START
        self.duplicate_acks = 0
        self.recover: int | None = None  # RFC 6582 §3.2: SND.NXT when recovery began
        self.acked_bytes = 0
        self.flight_size = 0
        self.snd_una: int | None = None
        self.snd_nxt: int | None = None
        self.retransmit_now = False

    @property
    def phase(self) -> CongestionPhase:
        return self.state

    # -- what the engine calls ---------------------------------------------------------------------

    def on_ack(self, acked_bytes: int, flight_size: int, snd_una: int | None = None) -> bool:
        """New data acknowledged; True when the first unacknowledged segment must go again now."""
        self.acked_bytes = acked_bytes
        self.flight_size = flight_size
        self.snd_una = snd_una
        self.retransmit_now = False
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
        CONGESTION_TABLE.fire(self, CongestionEvent.duplicate_ack)
        return self.retransmit_now

    def on_retransmit_timeout(self, flight_size: int, snd_nxt: int | None = None) -> bool:
        """The retransmission timer expired (RFC 6298 §5.4): the window collapses to the loss window."""
        self.flight_size = flight_size
        self.snd_nxt = snd_nxt
        self.duplicate_acks = 0
        self.retransmit_now = True
        CONGESTION_TABLE.fire(self, CongestionEvent.retransmit_timeout)
        # RFC 6582 §3.2 (retransmit timeouts): after a timeout, duplicate ACKs for data sent before it must not trigger
        # another fast retransmit; recording SND.NXT as recover does that.
        if snd_nxt is not None:
            self.recover = snd_nxt
        return True

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


_BUILT_IN = {"newreno": ("netstack.machines.reno", "NewReno")}
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
