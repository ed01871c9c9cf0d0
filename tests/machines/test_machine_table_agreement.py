"""The derived tables agree with the `transitions` Machines they come from, on every (state, event)
pair, every guard valuation, and random event sequences (issue 3: the Machine stays the single
declaration, the table is only a faster way to run it)."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st
from transitions import MachineError

from netstack.errors import TransitionError
from netstack.machines import arp_neighbour, congestion, tcp_connection
from netstack.machines.table import TransitionTable, declare_machine

from tests.support.machine_models import RecordingModel


class Spec(NamedTuple):
    name: str
    module: object
    states: type
    initial: object
    table: TransitionTable
    guards: tuple
    actions: tuple


SPECS = [
    Spec("tcp", tcp_connection, tcp_connection.TcpState, tcp_connection.TcpState.CLOSED,
         tcp_connection.TCP_TABLE, tcp_connection.TCP_GUARDS, tcp_connection.TCP_ACTIONS),
    Spec("cc", congestion, congestion.CongestionPhase, congestion.CongestionPhase.SLOW_START,
         congestion.CONGESTION_TABLE, congestion.CONGESTION_GUARDS, congestion.CONGESTION_ACTIONS),
    Spec("arp", arp_neighbour, arp_neighbour.NeighbourState, arp_neighbour.NeighbourState.NONE,
         arp_neighbour.NEIGHBOUR_TABLE, arp_neighbour.NEIGHBOUR_GUARDS, arp_neighbour.NEIGHBOUR_ACTIONS),
]
SPEC_IDS = [spec.name for spec in SPECS]


def machine_outcome(machine, model, event):
    """(moved, state, calls) after machine.trigger; moved False when the Machine did nothing."""
    try:
        moved = model.trigger(event)
    except MachineError:
        moved = False
    return moved, model.state, list(model.calls)


def table_outcome(spec, model, event):
    """(moved-or-refused, state, calls) after table.fire."""
    try:
        spec.table.fire(model, event)
    except TransitionError as error:
        return ("refused", error.errno), model.state, list(model.calls)
    return None, model.state, list(model.calls)


def fresh_machine(spec):
    return declare_machine(spec.name, spec.states, spec.module.TRANSITIONS, spec.initial)


def check_step(spec, machine_model, table_model, event):
    moved, machine_state, machine_calls = machine_outcome(None, machine_model, event)
    refusal, table_state, table_calls = table_outcome(spec, table_model, event)
    assert table_state is machine_state, (event, machine_state, table_state)
    assert table_calls == machine_calls, (event, machine_calls, table_calls)
    if moved:
        assert refusal is None, f"table refused {event} which the Machine allowed"
    elif event in spec.table.user_calls:
        assert refusal is not None, f"user call {event} not allowed by the Machine must raise TransitionError"
    else:
        assert refusal is None


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_table_is_derived_from_every_machine_row(spec):
    machine = fresh_machine(spec)
    machine_rows = sum(len(rows) for event in machine.events.values() for rows in event.transitions.values())
    table_rows = sum(len(spec.table.candidates(state, event)) for state, event in spec.table.pairs())
    assert table_rows == machine_rows > 0


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
@given(data=st.data())
def test_table_and_machine_agree_on_every_state_event_pair(spec, data):
    guard_values = data.draw(st.fixed_dictionaries({name: st.booleans() for name in spec.guards}))
    machine = fresh_machine(spec)
    for state, event in spec.table.pairs():
        machine_model = RecordingModel(state, spec.guards, spec.actions, guard_values)
        machine.add_model(machine_model, initial=state)
        table_model = RecordingModel(state, spec.guards, spec.actions, guard_values)
        check_step(spec, machine_model, table_model, event)
        machine.remove_model(machine_model)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
@given(data=st.data())
def test_table_and_machine_agree_on_random_event_sequences(spec, data):
    start = data.draw(st.sampled_from(list(spec.states)))
    steps = data.draw(st.lists(
        st.tuples(st.sampled_from(spec.table.events),
                  st.fixed_dictionaries({name: st.booleans() for name in spec.guards})),
        max_size=40,
    ))
    machine = fresh_machine(spec)
    machine_model = RecordingModel(start, spec.guards, spec.actions)
    machine.add_model(machine_model, initial=start)
    table_model = RecordingModel(start, spec.guards, spec.actions)
    for event, guard_values in steps:
        machine_model.guard_values = table_model.guard_values = guard_values
        check_step(spec, machine_model, table_model, event)
