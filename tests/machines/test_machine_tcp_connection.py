"""RFC 9293 connection states: one test per arrow of Figure 5 and per RST / abnormal rule (§3.10)."""

from __future__ import annotations

import errno

import pytest

from netstack.errors import TransitionError
from netstack.machines.tcp_connection import (
    TCP_ACTIONS,
    TCP_GUARDS,
    TCP_MACHINE,
    TCP_REFUSALS,
    TCP_TABLE,
    TRANSITIONS,
    USER_CALLS,
    TcpEvent,
    TcpModel,
    TcpState,
)

from tests.support.machine_models import RecordingModel

S = TcpState
E = TcpEvent


def fire(state, event, **guards):
    model = RecordingModel(state, TCP_GUARDS, TCP_ACTIONS, guards)
    new_state = TCP_TABLE.fire(model, event)
    assert new_state is model.state
    return new_state, model.actions


def refused(state, event, **guards) -> TransitionError:
    model = RecordingModel(state, TCP_GUARDS, TCP_ACTIONS, guards)
    with pytest.raises(TransitionError) as caught:
        TCP_TABLE.fire(model, event)
    assert model.state is state, "a refused user call must not change the state"
    assert model.actions == []
    return caught.value


# -- the declaration itself -------------------------------------------------------------------------

def test_states_are_the_eleven_of_rfc9293_3_3_2_with_rfc_spelling():
    assert [s.value for s in TcpState] == [
        "CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2",
        "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
    ]
    assert str(TcpState.SYN_RECEIVED) == "SYN-RECEIVED"


def test_every_row_cites_rfc_and_names_only_published_guards_and_actions():
    for row in TRANSITIONS:
        assert row["rfc"].split()[0] in {"9293", "1122", "5961"}, row
        assert "§" in row["rfc"], row
        for name in (*row.get("conditions", ()), *row.get("unless", ())):
            assert name in TCP_GUARDS, name
        for name in row.get("after", ()):
            assert name in TCP_ACTIONS, name


def test_published_names_are_all_used_and_in_the_protocol():
    used = {name for row in TRANSITIONS for key in ("conditions", "unless", "after") for name in row.get(key, ())}
    assert used == set(TCP_GUARDS) | set(TCP_ACTIONS)
    for name in (*TCP_GUARDS, *TCP_ACTIONS):
        assert callable(getattr(TcpModel, name)), name


def test_machine_is_declared_without_auto_transitions():
    assert not TCP_MACHINE.auto_transitions
    assert set(TCP_MACHINE.events) <= set(TcpEvent)


def test_plain_string_events_work_like_tcp_event_members():
    assert fire(S.CLOSED, "active_open") == (S.SYN_SENT, ["send_syn"])


def test_unknown_event_is_a_programming_error():
    with pytest.raises(ValueError, match="not a"):
        fire(S.ESTABLISHED, "rcv_banana")


# -- RFC 9293 Figure 5, arrow by arrow ----------------------------------------------------------

def test_passive_open_in_closed_enters_listen_3_10_1():
    assert fire(S.CLOSED, E.passive_open) == (S.LISTEN, [])


def test_active_open_in_closed_sends_syn_enters_syn_sent_3_10_1():
    assert fire(S.CLOSED, E.active_open) == (S.SYN_SENT, ["send_syn"])


def test_syn_in_listen_sends_syn_ack_enters_syn_received_3_10_7_2():
    assert fire(S.LISTEN, E.rcv_syn) == (S.SYN_RECEIVED, ["send_syn_ack"])


def test_send_in_listen_with_foreign_socket_sends_syn_enters_syn_sent_3_10_2():
    assert fire(S.LISTEN, E.send, foreign_socket_specified=True) == (S.SYN_SENT, ["send_syn"])


def test_send_in_listen_without_foreign_socket_is_foreign_socket_unspecified_3_10_2():
    error = refused(S.LISTEN, E.send, foreign_socket_specified=False)
    assert str(error).startswith("foreign socket unspecified")
    assert error.errno == errno.EDESTADDRREQ


def test_active_open_in_listen_changes_passive_to_active_3_10_1():
    assert fire(S.LISTEN, E.active_open) == (S.SYN_SENT, ["send_syn"])


def test_close_in_listen_deletes_tcb_3_10_4():
    assert fire(S.LISTEN, E.close) == (S.CLOSED, ["delete_tcb"])


def test_simultaneous_open_syn_in_syn_sent_sends_syn_ack_enters_syn_received_3_10_7_3():
    assert fire(S.SYN_SENT, E.rcv_syn) == (S.SYN_RECEIVED, ["send_syn_ack"])


def test_syn_ack_of_our_syn_in_syn_sent_sends_ack_enters_established_3_10_7_3():
    assert fire(S.SYN_SENT, E.rcv_syn_ack) == (S.ESTABLISHED, ["send_ack", "report_connection_established"])


def test_close_in_syn_sent_deletes_tcb_3_10_4():
    assert fire(S.SYN_SENT, E.close) == (S.CLOSED, ["delete_tcb"])


def test_ack_of_syn_in_syn_received_enters_established_3_10_7_4_fifth():
    assert fire(S.SYN_RECEIVED, E.rcv_ack_of_syn) == (S.ESTABLISHED, ["report_connection_established"])


def test_syn_ack_in_syn_received_completes_simultaneous_open_3_5_figure_7():
    assert fire(S.SYN_RECEIVED, E.rcv_syn_ack) == (S.ESTABLISHED, ["send_ack", "report_connection_established"])


def test_close_in_syn_received_sends_fin_enters_fin_wait_1_3_10_4():
    assert fire(S.SYN_RECEIVED, E.close) == (S.FIN_WAIT_1, ["send_fin"])


def test_close_in_established_sends_fin_enters_fin_wait_1_3_10_4():
    assert fire(S.ESTABLISHED, E.close) == (S.FIN_WAIT_1, ["send_fin"])


def test_fin_in_established_sends_ack_enters_close_wait_3_10_7_4_eighth():
    assert fire(S.ESTABLISHED, E.rcv_fin) == (S.CLOSE_WAIT, ["send_ack"])


def test_ack_of_fin_in_fin_wait_1_enters_fin_wait_2_3_10_7_4_fifth():
    assert fire(S.FIN_WAIT_1, E.rcv_ack_of_fin) == (S.FIN_WAIT_2, [])


def test_simultaneous_close_fin_in_fin_wait_1_sends_ack_enters_closing_3_10_7_4_eighth():
    assert fire(S.FIN_WAIT_1, E.rcv_fin) == (S.CLOSING, ["send_ack"])


def test_fin_acking_our_fin_in_fin_wait_1_enters_time_wait_3_10_7_4_eighth():
    assert fire(S.FIN_WAIT_1, E.rcv_fin_ack_of_fin) == (S.TIME_WAIT, ["send_ack", "start_time_wait_timer"])


def test_fin_in_fin_wait_2_sends_ack_enters_time_wait_3_10_7_4_eighth():
    assert fire(S.FIN_WAIT_2, E.rcv_fin) == (S.TIME_WAIT, ["send_ack", "start_time_wait_timer"])


def test_close_in_close_wait_sends_fin_enters_last_ack_3_10_4():
    assert fire(S.CLOSE_WAIT, E.close) == (S.LAST_ACK, ["send_fin"])


def test_ack_of_fin_in_closing_enters_time_wait_3_10_7_4_fifth():
    assert fire(S.CLOSING, E.rcv_ack_of_fin) == (S.TIME_WAIT, ["start_time_wait_timer"])


def test_ack_of_fin_in_last_ack_deletes_tcb_enters_closed_3_10_7_4_fifth():
    assert fire(S.LAST_ACK, E.rcv_ack_of_fin) == (S.CLOSED, ["delete_tcb"])


def test_time_wait_timeout_after_2msl_deletes_tcb_enters_closed_3_10_8():
    assert fire(S.TIME_WAIT, E.time_wait_timeout) == (S.CLOSED, ["delete_tcb"])


def test_full_three_way_handshake_and_active_close_walk_figure_5():
    model = RecordingModel(S.CLOSED, TCP_GUARDS, TCP_ACTIONS)
    walk = [E.active_open, E.rcv_syn_ack, E.close, E.rcv_ack_of_fin, E.rcv_fin, E.time_wait_timeout]
    states = [TCP_TABLE.fire(model, event) for event in walk]
    assert states == [S.SYN_SENT, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT, S.CLOSED]


# -- resets (§3.10.7.3, §3.10.7.4 second check) ----------------------------------------------------

def test_rst_acknowledging_our_syn_in_syn_sent_is_connection_refused_3_10_7_3():
    assert fire(S.SYN_SENT, E.rcv_rst, rst_acknowledges_our_syn=True) == (
        S.CLOSED, ["report_connection_refused", "delete_tcb"])


def test_rst_not_acknowledging_our_syn_in_syn_sent_is_dropped_3_10_7_3():
    assert fire(S.SYN_SENT, E.rcv_rst, rst_acknowledges_our_syn=False) == (S.SYN_SENT, [])


def test_rst_in_syn_received_after_passive_open_returns_to_listen_3_10_7_4():
    assert fire(S.SYN_RECEIVED, E.rcv_rst, opened_passively=True) == (S.LISTEN, ["return_to_listen"])


def test_rst_in_syn_received_after_active_open_is_connection_refused_3_10_7_4():
    assert fire(S.SYN_RECEIVED, E.rcv_rst, opened_passively=False) == (
        S.CLOSED, ["report_connection_refused", "delete_tcb"])


@pytest.mark.parametrize("state", [S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT])
def test_rst_in_established_fin_wait_close_wait_is_connection_reset_3_10_7_4(state):
    assert fire(state, E.rcv_rst) == (S.CLOSED, ["report_connection_reset", "delete_tcb"])


@pytest.mark.parametrize("state", [S.CLOSING, S.LAST_ACK])
def test_rst_in_closing_or_last_ack_enters_closed_without_report_3_10_7_4(state):
    assert fire(state, E.rcv_rst) == (S.CLOSED, ["delete_tcb"])


def test_rst_in_time_wait_is_ignored_against_assassination_rfc1337():
    assert fire(S.TIME_WAIT, E.rcv_rst) == (S.TIME_WAIT, [])


@pytest.mark.parametrize("state", [S.CLOSED, S.LISTEN])
def test_rst_in_closed_or_listen_is_ignored_3_10_7_1_and_2(state):
    assert fire(state, E.rcv_rst) == (state, [])


def test_syn_in_syn_received_after_passive_open_returns_to_listen_3_10_7_4_fourth():
    assert fire(S.SYN_RECEIVED, E.rcv_syn, opened_passively=True) == (S.LISTEN, ["return_to_listen"])


@pytest.mark.parametrize("state", [S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING,
                                   S.LAST_ACK, S.TIME_WAIT])
def test_syn_in_synchronized_state_sends_challenge_ack_rfc5961_4(state):
    assert fire(state, E.rcv_syn) == (state, ["send_challenge_ack"])


def test_syn_in_syn_received_after_active_open_sends_challenge_ack_3_10_7_4_fourth():
    assert fire(S.SYN_RECEIVED, E.rcv_syn, opened_passively=False) == (S.SYN_RECEIVED, ["send_challenge_ack"])


@pytest.mark.parametrize("state", [S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT,
                                   S.CLOSING, S.LAST_ACK, S.TIME_WAIT])
def test_unacceptable_segment_in_synchronized_state_is_answered_with_ack_3_10_7_4_first(state):
    assert fire(state, E.rcv_unacceptable) == (state, ["send_ack"])


def test_unacceptable_ack_in_syn_sent_is_answered_with_rst_3_10_7_3_first():
    assert fire(S.SYN_SENT, E.rcv_unacceptable) == (S.SYN_SENT, ["send_rst"])


@pytest.mark.parametrize("event", [E.rcv_syn_ack, E.rcv_ack_of_syn, E.rcv_ack_of_fin, E.rcv_fin_ack_of_fin,
                                   E.rcv_unacceptable])
def test_any_ack_in_listen_is_answered_with_rst_3_10_7_2_second(event):
    assert fire(S.LISTEN, event) == (S.LISTEN, ["send_rst"])


@pytest.mark.parametrize("event", [E.rcv_syn, E.rcv_syn_ack, E.rcv_ack_of_syn, E.rcv_ack_of_fin, E.rcv_fin,
                                   E.rcv_fin_ack_of_fin, E.rcv_unacceptable])
def test_segment_in_closed_is_answered_with_rst_3_10_7_1(event):
    assert fire(S.CLOSED, event) == (S.CLOSED, ["send_rst"])


def test_retransmitted_fin_in_time_wait_is_acked_and_restarts_2msl_3_10_7_4_eighth():
    assert fire(S.TIME_WAIT, E.rcv_fin) == (S.TIME_WAIT, ["send_ack", "start_time_wait_timer"])


@pytest.mark.parametrize("state", [S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK])
def test_retransmitted_fin_after_their_fin_is_acked_and_state_kept_3_10_7_4_eighth(state):
    assert fire(state, E.rcv_fin) == (state, ["send_ack"])


@pytest.mark.parametrize("state", [S.LISTEN, S.SYN_SENT, S.SYN_RECEIVED])
def test_fin_before_synchronization_is_not_processed_3_10_7_4_eighth(state):
    assert fire(state, E.rcv_fin) == (state, [])


# -- abort (§3.10.5) and timeouts (§3.10.8) -------------------------------------------------------

@pytest.mark.parametrize("state", [s for s in TcpState if s is not S.CLOSED])
def test_abort_reaches_closed_from_every_state_3_10_5(state):
    new_state, actions = fire(state, E.abort)
    assert new_state is S.CLOSED
    assert actions[-1] == "delete_tcb"


@pytest.mark.parametrize("state", [S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT])
def test_abort_in_synchronized_states_sends_rst_3_10_5(state):
    assert fire(state, E.abort) == (S.CLOSED, ["send_rst", "delete_tcb"])


@pytest.mark.parametrize("state", [S.LISTEN, S.SYN_SENT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT])
def test_abort_without_rst_where_rfc_sends_none_3_10_5(state):
    assert fire(state, E.abort) == (S.CLOSED, ["delete_tcb"])


def test_abort_in_closed_is_connection_does_not_exist_3_10_5():
    error = refused(S.CLOSED, E.abort)
    assert str(error).startswith("connection does not exist")
    assert error.errno == errno.ENOTCONN


@pytest.mark.parametrize("state", [S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2,
                                   S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK])
def test_user_timeout_aborts_with_connection_timed_out_3_10_8(state):
    assert fire(state, E.user_timeout) == (S.CLOSED, ["report_connection_timed_out", "delete_tcb"])


def test_user_timeout_does_not_end_time_wait():
    assert fire(S.TIME_WAIT, E.user_timeout) == (S.TIME_WAIT, [])


@pytest.mark.parametrize("state", [S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT,
                                   S.CLOSING, S.LAST_ACK])
def test_retransmission_give_up_r2_aborts_with_connection_timed_out_3_8_3(state):
    assert fire(state, E.retransmit_give_up) == (S.CLOSED, ["report_connection_timed_out", "delete_tcb"])


def test_fin_wait_2_timeout_deletes_tcb_linux_tcp_fin_timeout():
    assert fire(S.FIN_WAIT_2, E.fin_wait_2_timeout) == (S.CLOSED, ["delete_tcb"])


@pytest.mark.parametrize("state", [s for s in TcpState if s is not S.TIME_WAIT])
def test_stale_time_wait_timer_outside_time_wait_is_ignored(state):
    assert fire(state, E.time_wait_timeout) == (state, [])


# -- user calls a state refuses (§3.10.1-§3.10.6) -------------------------------------------------

@pytest.mark.parametrize("event", [E.send, E.close])
def test_send_or_close_in_closed_is_connection_does_not_exist(event):
    error = refused(S.CLOSED, event)
    assert str(error).startswith("connection does not exist")
    assert error.errno == errno.ENOTCONN
    assert (error.state, error.event) == (S.CLOSED, event)


@pytest.mark.parametrize("state,expected_errno", [
    (S.SYN_SENT, errno.EALREADY), (S.SYN_RECEIVED, errno.EALREADY), (S.ESTABLISHED, errno.EISCONN),
    (S.FIN_WAIT_1, errno.EISCONN), (S.FIN_WAIT_2, errno.EISCONN), (S.CLOSE_WAIT, errno.EISCONN),
    (S.CLOSING, errno.EISCONN), (S.LAST_ACK, errno.EISCONN), (S.TIME_WAIT, errno.EISCONN),
])
@pytest.mark.parametrize("event", [E.active_open, E.passive_open])
def test_open_on_existing_connection_is_connection_already_exists_3_10_1(state, expected_errno, event):
    error = refused(state, event)
    assert str(error).startswith("connection already exists")
    assert error.errno == expected_errno


def test_passive_open_in_listen_is_connection_already_exists_3_10_1():
    error = refused(S.LISTEN, E.passive_open)
    assert str(error).startswith("connection already exists")
    assert error.errno == errno.EINVAL


@pytest.mark.parametrize("state", [S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.LAST_ACK, S.TIME_WAIT])
def test_send_after_our_fin_is_connection_closing_3_10_2(state):
    error = refused(state, E.send)
    assert str(error).startswith("connection closing")
    assert error.errno == errno.EPIPE


@pytest.mark.parametrize("state", [S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.LAST_ACK, S.TIME_WAIT])
def test_second_close_is_connection_closing_3_10_4(state):
    error = refused(state, E.close)
    assert str(error).startswith("connection closing")
    assert error.errno == errno.EALREADY


@pytest.mark.parametrize("state", [S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.CLOSE_WAIT])
def test_send_is_queued_or_sent_without_state_change_3_10_2(state):
    assert fire(state, E.send) == (state, [])


def test_every_refusal_is_for_a_user_call_and_names_an_rfc_message():
    messages = {"connection does not exist", "connection already exists", "connection closing",
                "foreign socket unspecified"}
    for (state, event), (message, number) in TCP_REFUSALS.items():
        assert event in USER_CALLS
        assert message in messages
        assert isinstance(number, int) and number > 0


@pytest.mark.parametrize("state", list(TcpState))
@pytest.mark.parametrize("event", list(USER_CALLS))
def test_every_user_call_in_every_state_moves_or_raises_the_documented_error(state, event):
    for foreign in (True, False):
        model = RecordingModel(state, TCP_GUARDS, TCP_ACTIONS,
                               {"foreign_socket_specified": foreign, "opened_passively": foreign})
        try:
            TCP_TABLE.fire(model, event)
        except TransitionError as error:
            assert (state, event) in TCP_REFUSALS
            assert error.errno == TCP_REFUSALS[state, event][1]
            assert model.state is state



def test_a_model_in_a_foreign_state_is_a_programming_error():
    model = RecordingModel("ESTABLISHED", TCP_GUARDS, TCP_ACTIONS)
    with pytest.raises(ValueError, match="not a"):
        TCP_TABLE.fire(model, E.close)


def test_extra_arguments_reach_guards_and_actions():
    seen = []

    class Connection:
        state = S.SYN_SENT

        def rst_acknowledges_our_syn(self, now):
            seen.append(("guard", now))
            return True

        def report_connection_refused(self, now):
            seen.append(("refused", now))

        def delete_tcb(self, now):
            seen.append(("delete", now))

    assert TCP_TABLE.fire(Connection(), E.rcv_rst, 12.5) is S.CLOSED
    assert seen == [("guard", 12.5), ("refused", 12.5), ("delete", 12.5)]
