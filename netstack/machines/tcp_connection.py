"""The TCP connection state machine of RFC 9293 (§3.3.2 Figure 5, event processing §3.10).

Read first: RFC 9293 §3.3.2 (states, Figure 5), §3.10.1-§3.10.6 (user calls), §3.10.7 (segment
arrives), §3.10.8 (timeouts); RFC 5961 §3-§4 (challenge ACKs); RFC 1337 (TIME-WAIT assassination).

The machine decides *which state* and *which actions*; the engine (netstack's TcpConnection) owns the
TCB, the buffers, the timers and the sequence arithmetic, classifies each arriving segment into one
of the events below, and implements the guards and actions as methods.

Runtime API
-----------
- ``TcpState``: Enum of the eleven states; ``.value`` is the RFC spelling (``"SYN-RECEIVED"``).
- ``TcpEvent``: StrEnum of the events (a plain ``str`` of the same name works too).
- ``TRANSITIONS``: the declaration, one row per arrow (see ``netstack.machines.table.transition``).
- ``TCP_MACHINE``: the `transitions` Machine built from it (declaration, teaching view, diagrams).
- ``TCP_TABLE``: the transition table derived from ``TCP_MACHINE`` at import;
  ``TCP_TABLE.fire(model, event, *args) -> TcpState`` (extra positional arguments, e.g. ``now``,
  reach every guard and action, as with `transitions`' ``trigger``). ``model.state`` holds the current ``TcpState``;
  guards are model methods returning bool, actions model methods called after the state changed;
  see ``netstack.machines.table`` for the exact rules. Constant cost per connection: the model is
  any object with a ``state`` attribute, nothing is registered anywhere.
- ``TCP_GUARDS``, ``TCP_ACTIONS``: the method names the model must implement; ``TcpModel`` is the
  same as a ``typing.Protocol``.
- ``TCP_REFUSALS``: (state, user call) -> (RFC message, errno) for user calls a state refuses.

Events
------
User calls (§3.10.1-§3.10.6): ``passive_open``, ``active_open``, ``send``, ``close``, ``abort``.
A user call a state does not allow raises ``netstack.errors.TransitionError`` whose message starts
with RFC 9293's words and whose ``.errno`` is what the socket call reports:

=============================  ===============================  ====================================
call / state                   message                          errno
=============================  ===============================  ====================================
send, close, abort in CLOSED   connection does not exist        ENOTCONN
send in LISTEN, no peer given  foreign socket unspecified       EDESTADDRREQ
passive_open in LISTEN         connection already exists        EINVAL (listen() twice)
either open in SYN-SENT,       connection already exists        EALREADY (connect() in progress)
SYN-RECEIVED
either open in any later state connection already exists        EISCONN
send after our FIN             connection closing               EPIPE
close after our FIN            connection closing               EALREADY (RFC: an "ok" is allowed
                                                                 too; the socket may swallow it)
=============================  ===============================  ====================================

Segment arrivals, classified by the engine in RFC 9293 §3.10.7 order (one segment may yield two
events, e.g. ``rcv_ack_of_syn`` then ``rcv_fin``; fire them in that order):

- ``rcv_syn``: SYN without ACK. ``rcv_syn_ack``: SYN whose ACK acknowledges our SYN (§3.10.7.3).
- ``rcv_ack_of_syn``: an acceptable segment whose ACK newly acknowledges our SYN (§3.10.7.4 fifth).
- ``rcv_ack_of_fin``: an acceptable segment whose ACK newly acknowledges our FIN, carrying no new FIN.
- ``rcv_fin``: an in-order FIN that does not newly acknowledge our FIN.
- ``rcv_fin_ack_of_fin``: an in-order FIN whose ACK also newly acknowledges our FIN.
- ``rcv_rst``: an RST that passed the reset check: in SYN-SENT any RST (the guard
  ``rst_acknowledges_our_syn`` applies §3.10.7.3), elsewhere SEG.SEQ == RCV.NXT (RFC 5961 §3.2). An
  RST inside the window but not at RCV.NXT is classified ``rcv_unacceptable`` (the challenge ACK of
  RFC 5961 §3.2 is the same ACK); an RST outside the window is dropped without firing anything.
- ``rcv_unacceptable``: fails the §3.10.7.4 acceptability test (or an unacceptable ACK in SYN-SENT
  or LISTEN, §3.10.7.2-3).

Data segments that only move the window fire nothing: data transfer is the engine's arithmetic.

Timeouts (§3.10.8, RFC 1122 §4.2.3.5, Linux tcp_fin_timeout): ``user_timeout``,
``retransmit_give_up`` (R2 reached), ``time_wait_timeout`` (2×MSL), ``fin_wait_2_timeout``.

What an event without a row does (no action, state unchanged):

- ``rcv_rst`` in CLOSED and LISTEN (§3.10.7.1-2: an RST is never answered), in SYN-SENT without
  ``rst_acknowledges_our_syn`` (§3.10.7.3), and in TIME-WAIT: RFC 9293 §3.10.7.4 would close, we
  follow RFC 1337 §3 (fix F1) and Linux's own advice: ignore it, so TIME-WAIT cannot be assassinated.
- ``rcv_fin`` in LISTEN, SYN-SENT, SYN-RECEIVED (§3.10.7.4 eighth: "do not process the FIN"; a FIN
  that acks our SYN arrives as ``rcv_ack_of_syn`` first).
- Any ACK event in a state whose ACK is not outstanding (the ACK just updates SND.UNA).
- Timeouts in states where that timer does not run (e.g. ``time_wait_timeout`` outside TIME-WAIT:
  a stale timer).

Where the RFC says "send an ACK/RST and stay", there is an internal row (``dest=None``) whose action
does it: CLOSED answers every non-RST segment with ``send_rst`` (§3.10.7.1); LISTEN answers every
ACK-bearing segment with ``send_rst`` (§3.10.7.2); SYN-SENT answers an unacceptable ACK with
``send_rst`` (§3.10.7.3); synchronized states answer ``rcv_unacceptable`` with ``send_ack`` and a SYN
with ``send_challenge_ack`` (§3.10.7.4 first and fourth checks, RFC 5961 §4); TIME-WAIT answers a
retransmitted FIN with ``send_ack`` and ``start_time_wait_timer`` (restart 2×MSL, §3.10.7.4 eighth).

Deviations from the RFC text
----------------------------
- RST in SYN-SENT reports ``connection refused`` (ECONNREFUSED), as every socket API does; the RFC
  text says "connection reset".
- RST in TIME-WAIT is ignored (RFC 1337), see above.
- ``user_timeout`` does not run in TIME-WAIT (nothing is outstanding there, so no user timer runs);
  TIME-WAIT is left only by its timer or an abort.
- CLOSE in SYN-RECEIVED sends the FIN at once (``send_fin``); the engine's send_fin queues it behind
  pending data, which is the RFC's "queue for processing after entering ESTABLISHED".
"""

from __future__ import annotations

import errno
from enum import Enum, StrEnum
from typing import Protocol

from netstack.machines.table import TransitionTable, declare_machine, transition


class TcpState(Enum):
    """RFC 9293 §3.3.2: the states of a connection, valued by their RFC spelling."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"

    def __str__(self) -> str:
        return self.value

    # Members are singletons, so identity is the right hash; Enum's own hashes the name in Python,
    # which costs the table ~60 ns per lookup.
    __hash__ = object.__hash__


class TcpEvent(StrEnum):
    """User calls, classified segment arrivals and timeouts (see the module docstring)."""

    passive_open = "passive_open"
    active_open = "active_open"
    send = "send"
    close = "close"
    abort = "abort"
    rcv_syn = "rcv_syn"
    rcv_syn_ack = "rcv_syn_ack"
    rcv_ack_of_syn = "rcv_ack_of_syn"
    rcv_ack_of_fin = "rcv_ack_of_fin"
    rcv_fin = "rcv_fin"
    rcv_fin_ack_of_fin = "rcv_fin_ack_of_fin"
    rcv_rst = "rcv_rst"
    rcv_unacceptable = "rcv_unacceptable"
    user_timeout = "user_timeout"
    retransmit_give_up = "retransmit_give_up"
    time_wait_timeout = "time_wait_timeout"
    fin_wait_2_timeout = "fin_wait_2_timeout"


USER_CALLS = (TcpEvent.passive_open, TcpEvent.active_open, TcpEvent.send, TcpEvent.close, TcpEvent.abort)

S = TcpState
E = TcpEvent

# States after the SYN exchange (RFC 9293 §3.3.2 "synchronized states").
SYNCHRONIZED = (
    S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2,
    S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT,
)
# States in which we have sent our FIN (a send or a second close is "connection closing").
FIN_SENT = (S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.LAST_ACK, S.TIME_WAIT)
# Non-RST segment events.
SEGMENTS = (
    E.rcv_syn, E.rcv_syn_ack, E.rcv_ack_of_syn, E.rcv_ack_of_fin,
    E.rcv_fin, E.rcv_fin_ack_of_fin, E.rcv_unacceptable,
)
ACK_BEARING = (E.rcv_syn_ack, E.rcv_ack_of_syn, E.rcv_ack_of_fin, E.rcv_fin_ack_of_fin, E.rcv_unacceptable)

TRANSITIONS = [
    # -- RFC 9293 Figure 5, top to bottom ---------------------------------------------------------
    transition(E.passive_open, S.CLOSED, S.LISTEN, rfc="9293 §3.10.1 (OPEN, CLOSED)"),
    transition(E.active_open, S.CLOSED, S.SYN_SENT, after=["send_syn"],
               rfc="9293 §3.10.1 (OPEN, CLOSED)"),
    transition(E.rcv_syn, S.LISTEN, S.SYN_RECEIVED, after=["send_syn_ack"],
               rfc="9293 §3.10.7.2 (LISTEN, third: SYN)"),
    transition(E.send, S.LISTEN, S.SYN_SENT, conditions=["foreign_socket_specified"], after=["send_syn"],
               rfc="9293 §3.10.2 (SEND, LISTEN)"),
    transition(E.active_open, S.LISTEN, S.SYN_SENT, after=["send_syn"],
               rfc="9293 §3.10.1 (OPEN, LISTEN: passive to active)"),
    transition(E.close, S.LISTEN, S.CLOSED, after=["delete_tcb"], rfc="9293 §3.10.4 (CLOSE, LISTEN)"),
    # Simultaneous open: our SYN crossed theirs (§3.5 Figure 7).
    transition(E.rcv_syn, S.SYN_SENT, S.SYN_RECEIVED, after=["send_syn_ack"],
               rfc="9293 §3.10.7.3 (SYN-SENT, fourth: SYN, simultaneous open)"),
    transition(E.rcv_syn_ack, S.SYN_SENT, S.ESTABLISHED, after=["send_ack", "report_connection_established"],
               rfc="9293 §3.10.7.3 (SYN-SENT, fourth: SYN acking our SYN)"),
    transition(E.close, S.SYN_SENT, S.CLOSED, after=["delete_tcb"], rfc="9293 §3.10.4 (CLOSE, SYN-SENT)"),
    transition(E.rcv_ack_of_syn, S.SYN_RECEIVED, S.ESTABLISHED, after=["report_connection_established"],
               rfc="9293 §3.10.7.4 (SYN-RECEIVED, fifth: ACK)"),
    transition(E.rcv_syn_ack, S.SYN_RECEIVED, S.ESTABLISHED, after=["send_ack", "report_connection_established"],
               rfc="9293 §3.5 Figure 7 (simultaneous open, SYN,ACK in SYN-RECEIVED)"),
    transition(E.close, S.SYN_RECEIVED, S.FIN_WAIT_1, after=["send_fin"],
               rfc="9293 §3.10.4 (CLOSE, SYN-RECEIVED)"),
    transition(E.close, S.ESTABLISHED, S.FIN_WAIT_1, after=["send_fin"],
               rfc="9293 §3.10.4 (CLOSE, ESTABLISHED)"),
    transition(E.rcv_fin, S.ESTABLISHED, S.CLOSE_WAIT, after=["send_ack"],
               rfc="9293 §3.10.7.4 (ESTABLISHED, eighth: FIN)"),
    transition(E.rcv_ack_of_fin, S.FIN_WAIT_1, S.FIN_WAIT_2,
               rfc="9293 §3.10.7.4 (FIN-WAIT-1, fifth: our FIN acked)"),
    # Simultaneous close.
    transition(E.rcv_fin, S.FIN_WAIT_1, S.CLOSING, after=["send_ack"],
               rfc="9293 §3.10.7.4 (FIN-WAIT-1, eighth: FIN, simultaneous close)"),
    transition(E.rcv_fin_ack_of_fin, S.FIN_WAIT_1, S.TIME_WAIT, after=["send_ack", "start_time_wait_timer"],
               rfc="9293 §3.10.7.4 (FIN-WAIT-1, eighth: FIN, our FIN acked in this segment)"),
    transition(E.rcv_fin, S.FIN_WAIT_2, S.TIME_WAIT, after=["send_ack", "start_time_wait_timer"],
               rfc="9293 §3.10.7.4 (FIN-WAIT-2, eighth: FIN)"),
    transition(E.close, S.CLOSE_WAIT, S.LAST_ACK, after=["send_fin"],
               rfc="9293 §3.10.4 (CLOSE, CLOSE-WAIT)"),
    transition(E.rcv_ack_of_fin, S.CLOSING, S.TIME_WAIT, after=["start_time_wait_timer"],
               rfc="9293 §3.10.7.4 (CLOSING, fifth: our FIN acked)"),
    transition(E.rcv_ack_of_fin, S.LAST_ACK, S.CLOSED, after=["delete_tcb"],
               rfc="9293 §3.10.7.4 (LAST-ACK, fifth: our FIN acked)"),
    transition(E.time_wait_timeout, S.TIME_WAIT, S.CLOSED, after=["delete_tcb"],
               rfc="9293 §3.10.8 (time-wait timeout, 2 MSL)"),
    # -- Resets (§3.10.7.3, §3.10.7.4 second check) -------------------------------------------------
    transition(E.rcv_rst, S.SYN_SENT, S.CLOSED, conditions=["rst_acknowledges_our_syn"],
               after=["report_connection_refused", "delete_tcb"], figure=False,
               rfc="9293 §3.10.7.3 (SYN-SENT, second: RST with acceptable ACK)"),
    # In Figure 5 too ("rcv RST", note 1).
    transition(E.rcv_rst, S.SYN_RECEIVED, S.LISTEN, conditions=["opened_passively"], after=["return_to_listen"],
               rfc="9293 §3.10.7.4 (SYN-RECEIVED, second: RST after passive OPEN)"),
    transition(E.rcv_rst, S.SYN_RECEIVED, S.CLOSED, unless=["opened_passively"],
               after=["report_connection_refused", "delete_tcb"], figure=False,
               rfc="9293 §3.10.7.4 (SYN-RECEIVED, second: RST after active OPEN)"),
    transition(E.rcv_rst, [S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT], S.CLOSED,
               after=["report_connection_reset", "delete_tcb"], figure=False,
               rfc="9293 §3.10.7.4 (ESTABLISHED..CLOSE-WAIT, second: RST)"),
    transition(E.rcv_rst, [S.CLOSING, S.LAST_ACK], S.CLOSED, after=["delete_tcb"], figure=False,
               rfc="9293 §3.10.7.4 (CLOSING, LAST-ACK, second: RST)"),
    # §3.10.7.4 fourth check: a SYN in SYN-RECEIVED after a passive OPEN returns to LISTEN.
    transition(E.rcv_syn, S.SYN_RECEIVED, S.LISTEN, conditions=["opened_passively"], after=["return_to_listen"],
               figure=False, rfc="9293 §3.10.7.4 (SYN-RECEIVED, fourth: SYN after passive OPEN)"),
    # -- Abort (§3.10.5) and timeouts (§3.10.8) -----------------------------------------------------
    transition(E.abort, [S.LISTEN, S.SYN_SENT], S.CLOSED, after=["delete_tcb"], figure=False,
               rfc="9293 §3.10.5 (ABORT, LISTEN, SYN-SENT)"),
    transition(E.abort, [S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT], S.CLOSED,
               after=["send_rst", "delete_tcb"], figure=False,
               rfc="9293 §3.10.5 (ABORT, SYN-RECEIVED..CLOSE-WAIT: send RST)"),
    transition(E.abort, [S.CLOSING, S.LAST_ACK, S.TIME_WAIT], S.CLOSED, after=["delete_tcb"], figure=False,
               rfc="9293 §3.10.5 (ABORT, CLOSING, LAST-ACK, TIME-WAIT)"),
    transition(E.user_timeout,
               [S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2,
                S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK],
               S.CLOSED, after=["report_connection_timed_out", "delete_tcb"], figure=False,
               rfc="9293 §3.10.8 (user timeout)"),
    transition(E.retransmit_give_up,
               [S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK],
               S.CLOSED, after=["report_connection_timed_out", "delete_tcb"], figure=False,
               rfc="9293 §3.8.3 (R2 reached; RFC 1122 §4.2.3.5)"),
    transition(E.fin_wait_2_timeout, S.FIN_WAIT_2, S.CLOSED, after=["delete_tcb"], figure=False,
               rfc="9293 §3.10.7.4 (FIN-WAIT-2 may wait forever; Linux tcp_fin_timeout bounds it)"),
    # -- Replies that keep the state (internal rows) --------------------------------------------------
    transition(E.send, [S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.CLOSE_WAIT], None, figure=False,
               rfc="9293 §3.10.2 (SEND: queue or segmentize)"),
    *[transition(event, S.CLOSED, None, after=["send_rst"], figure=False,
                 rfc="9293 §3.10.7.1 (CLOSED: answer with RST)") for event in SEGMENTS],
    *[transition(event, S.LISTEN, None, after=["send_rst"], figure=False,
                 rfc="9293 §3.10.7.2 (LISTEN, second: any ACK is bad)") for event in ACK_BEARING],
    transition(E.rcv_unacceptable, S.SYN_SENT, None, after=["send_rst"], figure=False,
               rfc="9293 §3.10.7.3 (SYN-SENT, first: unacceptable ACK)"),
    transition(E.rcv_unacceptable, SYNCHRONIZED, None, after=["send_ack"], figure=False,
               rfc="9293 §3.10.7.4 (first: unacceptable segment, send ACK)"),
    transition(E.rcv_syn, SYNCHRONIZED, None, after=["send_challenge_ack"], figure=False,
               rfc="9293 §3.10.7.4 (fourth: SYN, challenge ACK, RFC 5961 §4)"),
    transition(E.rcv_fin, [S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK], None, after=["send_ack"], figure=False,
               rfc="9293 §3.10.7.4 (eighth: retransmitted FIN, remain)"),
    transition(E.rcv_fin, S.TIME_WAIT, None, after=["send_ack", "start_time_wait_timer"], figure=False,
               rfc="9293 §3.10.7.4 (TIME-WAIT, eighth: FIN, restart 2 MSL)"),
]

_DOES_NOT_EXIST = ("connection does not exist", errno.ENOTCONN)
_CLOSING_SEND = ("connection closing", errno.EPIPE)
_CLOSING_CLOSE = ("connection closing", errno.EALREADY)

TCP_REFUSALS: dict[tuple[TcpState, str], tuple[str, int]] = {
    (S.CLOSED, E.send): _DOES_NOT_EXIST,
    (S.CLOSED, E.close): _DOES_NOT_EXIST,
    (S.CLOSED, E.abort): _DOES_NOT_EXIST,
    (S.LISTEN, E.send): ("foreign socket unspecified", errno.EDESTADDRREQ),
    (S.LISTEN, E.passive_open): ("connection already exists", errno.EINVAL),
    **{(state, open_call): ("connection already exists", errno.EALREADY)
       for state in (S.SYN_SENT, S.SYN_RECEIVED) for open_call in (E.passive_open, E.active_open)},
    **{(state, open_call): ("connection already exists", errno.EISCONN)
       for state in (S.ESTABLISHED, S.CLOSE_WAIT, *FIN_SENT) for open_call in (E.passive_open, E.active_open)},
    **{(state, E.send): _CLOSING_SEND for state in FIN_SENT},
    **{(state, E.close): _CLOSING_CLOSE for state in FIN_SENT},
}

TCP_MACHINE = declare_machine("tcp_connection", TcpState, TRANSITIONS, initial=S.CLOSED)
TCP_TABLE = TransitionTable(TCP_MACHINE, TcpState, list(TcpEvent), user_calls=USER_CALLS, refusals=TCP_REFUSALS)

TCP_GUARDS: tuple[str, ...] = (
    "foreign_socket_specified",   # §3.10.2: SEND in LISTEN names the peer
    "opened_passively",           # §3.10.7.4: this SYN-RECEIVED came from LISTEN
    "rst_acknowledges_our_syn",   # §3.10.7.3: SND.UNA < SEG.ACK =< SND.NXT on the RST
)
TCP_ACTIONS: tuple[str, ...] = (
    "send_syn", "send_syn_ack", "send_ack", "send_fin", "send_rst", "send_challenge_ack",
    "start_time_wait_timer", "report_connection_established", "report_connection_refused",
    "report_connection_reset", "report_connection_timed_out", "return_to_listen", "delete_tcb",
)


class TcpModel(Protocol):
    """What ``TCP_TABLE.fire`` needs from a connection: a state, the guards, the actions.

    Shown without parameters; each method also receives the extra arguments given to ``fire``.
    """

    state: TcpState

    # Guards (must return bool).
    def foreign_socket_specified(self) -> bool: ...
    def opened_passively(self) -> bool: ...
    def rst_acknowledges_our_syn(self) -> bool: ...

    # Actions (called after the state changed; return value ignored).
    def send_syn(self) -> None: ...
    def send_syn_ack(self) -> None: ...
    def send_ack(self) -> None: ...
    def send_fin(self) -> None: ...
    def send_rst(self) -> None: ...
    def send_challenge_ack(self) -> None: ...  # RFC 5961 §4: rate-limited ACK
    def start_time_wait_timer(self) -> None: ...  # (re)start 2×MSL
    def report_connection_established(self) -> None: ...  # connect()/accept() may return
    def report_connection_refused(self) -> None: ...  # ECONNREFUSED to the user
    def report_connection_reset(self) -> None: ...  # ECONNRESET, flush queues
    def report_connection_timed_out(self) -> None: ...  # ETIMEDOUT, flush queues
    def return_to_listen(self) -> None: ...  # forget the peer; the listener lives on
    def delete_tcb(self) -> None: ...
