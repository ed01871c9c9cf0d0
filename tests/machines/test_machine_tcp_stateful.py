"""Random event sequences against the TCP table (hypothesis RuleBasedStateMachine), with the
invariants of issue 3: ESTABLISHED only after both SYNs are acknowledged; TIME-WAIT is left only by
its timer or an abort; abort reaches CLOSED from every state; nothing raises but the documented
TransitionError of a user call."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from netstack.errors import TransitionError
from netstack.machines.tcp_connection import (
    TCP_ACTIONS,
    TCP_GUARDS,
    TCP_REFUSALS,
    TCP_TABLE,
    USER_CALLS,
    TcpEvent,
    TcpState,
)

from tests.support.machine_models import RecordingModel

S = TcpState
E = TcpEvent
RFC_MESSAGES = ("connection does not exist", "connection already exists", "connection closing",
                "foreign socket unspecified")
# States that need both SYNs acknowledged. FIN-WAIT-1 and CLOSING are also reached by CLOSE in
# SYN-RECEIVED (RFC 9293 §3.10.4), before our SYN is acknowledged: their SYN is all they need.
BOTH_SYNS_ACKNOWLEDGED = {S.ESTABLISHED, S.CLOSE_WAIT, S.LAST_ACK, S.FIN_WAIT_2, S.TIME_WAIT}
THEIR_SYN_RECEIVED = BOTH_SYNS_ACKNOWLEDGED | {S.FIN_WAIT_1, S.CLOSING}
# An ACK of our FIN acknowledges our SYN too (it is below the FIN in sequence space).
ACKS_OF_OUR_SYN = (E.rcv_syn_ack, E.rcv_ack_of_syn, E.rcv_ack_of_fin, E.rcv_fin_ack_of_fin)


class TcpConnectionRandomEvents(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.model = RecordingModel(S.CLOSED, TCP_GUARDS, TCP_ACTIONS)
        self.their_syn_received = False
        self.our_syn_acknowledged = False

    def _fire(self, event, guard_values):
        self.model.guard_values = guard_values
        before = self.model.state
        try:
            after = TCP_TABLE.fire(self.model, event)
        except TransitionError as error:
            assert event in USER_CALLS, f"{event} raised, but only user calls may"
            assert str(error).startswith(RFC_MESSAGES)
            assert error.errno == TCP_REFUSALS[before, event][1]
            assert self.model.state is before
            return before, before
        # Track the handshake from the arrows actually taken.
        if after is not before:
            if event in (E.rcv_syn, E.rcv_syn_ack) and before in (S.LISTEN, S.SYN_SENT):
                self.their_syn_received = True
            if event in ACKS_OF_OUR_SYN:
                self.our_syn_acknowledged = True
        if after in (S.CLOSED, S.LISTEN):
            self.their_syn_received = self.our_syn_acknowledged = False
        if before is S.TIME_WAIT and after is not S.TIME_WAIT:
            assert event in (E.time_wait_timeout, E.abort), f"TIME-WAIT left by {event}"
        return before, after

    @rule(event=st.sampled_from(list(TcpEvent)),
          guard_values=st.fixed_dictionaries({name: st.booleans() for name in TCP_GUARDS}))
    def any_event(self, event, guard_values):
        self._fire(event, guard_values)

    @rule()
    def abort(self):
        self._fire(E.abort, {})
        assert self.model.state is S.CLOSED

    @rule(passive=st.booleans())
    def open_from_closed(self, passive):
        # Bias towards connections that get somewhere.
        if self.model.state is S.CLOSED:
            self._fire(E.passive_open if passive else E.active_open, {})

    @invariant()
    def established_only_after_both_syns_acknowledged(self):
        if self.model.state in THEIR_SYN_RECEIVED:
            assert self.their_syn_received
        if self.model.state in BOTH_SYNS_ACKNOWLEDGED:
            assert self.our_syn_acknowledged

    @invariant()
    def state_is_a_tcp_state(self):
        assert isinstance(self.model.state, TcpState)


TestTcpConnectionRandomEvents = TcpConnectionRandomEvents.TestCase
