"""Transition tables derived from `transitions` declarations: the hot path of every netstack machine.

A netstack machine is declared once, as a module-level list of rows built with :func:`transition`
(``trigger``, ``source``, ``dest``, ``conditions``/``unless`` guard names, ``after`` action names,
plus ``rfc``, the section the arrow comes from). :func:`declare_machine` builds the `transitions`
``Machine`` from those rows (``auto_transitions=False``, no model): it is the declaration, the
teaching view and the diagram source. :class:`TransitionTable` is then *derived from that Machine*
(it walks ``machine.events``), once, at import time.

Why a table: a ``transitions.Machine`` per connection costs ~95 µs to create and ~30 µs per trigger,
and one shared Machine with ``add_model`` grows with the model count. The table is one dict lookup
per event and costs nothing per connection: the model is any plain object with a ``state``
attribute (``__slots__`` welcome).

Semantics of ``TransitionTable.fire(model, event, *args) -> state`` (the same as
``Machine.trigger`` on a model, which a property test in tests/machines checks):

- The candidate rows for ``(model.state, event)`` are tried in declaration order. A row's guards
  are model methods called with ``*args``: every ``conditions`` name must return True and every
  ``unless`` name False (evaluated in that order, stopping at the first failure).
- The first row whose guards pass is taken: ``model.state`` is set to its ``dest`` (unchanged for an
  internal row, ``dest=None``), then its ``after`` actions are called, in order, as model methods
  with ``*args``. ``fire`` returns the new state.
- No candidate row, or none whose guards pass: for a *user call* (an event listed in
  ``user_calls``), ``fire`` raises :class:`netstack.errors.TransitionError` with the message and
  errno of the machine's ``refusals`` entry for that state; for any other event (a segment arrival,
  a timeout) the event is ignored: no action runs and the current state is returned.
- An event name the machine does not declare is a programming error: ``ValueError``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Iterable, Mapping, NamedTuple

from transitions import Machine

from netstack.errors import TransitionError

# Keys of a declaration row that are ours, not transitions': stripped before building the Machine.
_DOCUMENTATION_KEYS = ("rfc", "figure")


def transition(
    trigger: str,
    source: Enum | Iterable[Enum],
    dest: Enum | None,
    *,
    rfc: str,
    conditions: Iterable[str] = (),
    unless: Iterable[str] = (),
    after: Iterable[str] = (),
    figure: bool = True,
) -> dict[str, Any]:
    """One declaration row: an arrow (or, with several sources, the same arrow from each).

    ``dest=None`` declares an internal transition: the state stays, the actions run. ``rfc`` names
    the section the arrow comes from; ``figure=False`` keeps the arrow out of the main diagram
    (abnormal paths such as abort and timeouts, which would hide the RFC's figure), not out of the
    table or the docs.
    """
    sources = [source] if isinstance(source, Enum) else list(source)
    row: dict[str, Any] = {
        "trigger": str(trigger),
        "source": sources,
        "dest": dest,
        "rfc": rfc,
        "figure": figure,
    }
    if conditions:
        row["conditions"] = list(conditions)
    if unless:
        row["unless"] = list(unless)
    if after:
        row["after"] = list(after)
    return row


def declare_machine(
    name: str, states: type[Enum], rows: Iterable[Mapping[str, Any]], initial: Enum
) -> Machine:
    """The `transitions` Machine of a declaration: no model attached, no auto transitions."""
    machine_rows = [
        {key: value for key, value in row.items() if key not in _DOCUMENTATION_KEYS}
        for row in rows
    ]
    return Machine(
        model=None,
        states=states,
        transitions=machine_rows,
        initial=initial,
        auto_transitions=False,
        name=name,
    )


class Candidate(NamedTuple):
    """One row of the derived table, for one (state, event) pair."""

    guards: tuple[tuple[str, bool], ...]  # (model method name, value it must return), in order
    dest: Enum | None  # None: internal, the state stays
    actions: tuple[str, ...]  # model method names called after the state changes


class TransitionTable:
    """(state, event) -> candidate rows, derived from a `transitions` Machine; see the module doc."""

    def __init__(
        self,
        machine: Machine,
        states: type[Enum],
        events: Iterable[str],
        *,
        user_calls: Iterable[str] = (),
        refusals: Mapping[tuple[Enum, str], tuple[str, int | None]] | None = None,
    ):
        self.name = machine.name.strip(": ") or states.__name__
        self.states = states
        self.events = tuple(str(event) for event in events)
        self.user_calls = frozenset(str(event) for event in user_calls)
        self.refusals = dict(refusals or {})
        declared = set(machine.events)
        unknown = declared - set(self.events)
        if unknown:
            raise ValueError(f"{self.name}: triggers {sorted(unknown)} are not declared events")
        by_state: dict[Enum, dict[str, tuple[Candidate, ...]]] = {state: {} for state in states}
        for event_name, event in machine.events.items():
            for source_name, rows in event.transitions.items():
                state = states[source_name]
                by_state[state][event_name] = tuple(
                    Candidate(
                        guards=tuple((str(c.func), bool(c.target)) for c in row.conditions),
                        dest=None if row.dest is None else states[row.dest],
                        actions=tuple(str(name) for name in row.after),
                    )
                    for row in rows
                )
        self._by_state = by_state
        for state in states:
            for call in self.user_calls:
                if (state, call) not in self.refusals and call not in by_state[state]:
                    raise ValueError(f"{self.name}: user call {call} in {state} needs a row or a refusal")

    def candidates(self, state: Enum, event: str) -> tuple[Candidate, ...]:
        """The rows for (state, event) in declaration order; empty when the event has none there."""
        return self._by_state[state].get(event, ())

    def pairs(self) -> list[tuple[Enum, str]]:
        """Every (state, event) pair, declared or not, in a stable order."""
        return [(state, event) for state in self.states for event in self.events]

    def fire(self, model: Any, event: str, *args: Any) -> Enum:
        """Apply ``event`` to ``model`` (whose ``state`` attribute holds the current state)."""
        state = model.state
        try:
            candidates = self._by_state[state].get(event)
        except KeyError:
            raise ValueError(f"{state!r} is not a {self.name} state") from None
        if candidates is not None:
            for guards, dest, actions in candidates:
                for name, wanted in guards:
                    if getattr(model, name)(*args) != wanted:
                        break
                else:
                    if dest is not None:
                        model.state = state = dest
                    for name in actions:
                        getattr(model, name)(*args)
                    return state
        elif event not in self.events:
            raise ValueError(f"{event!r} is not a {self.name} event")
        if event in self.user_calls:
            raise self.refusal(state, event)
        return state

    def refusal(self, state: Enum, event: str) -> TransitionError:
        """The TransitionError a user call gets in a state that does not allow it."""
        message, errno = self.refusals.get((state, event), ("operation not allowed in this state", None))
        return TransitionError(
            f"{message} ({event} in {getattr(state, 'value', state)})",
            state=state,
            event=event,
            errno=errno,
        )

    def allows(self, state: Enum, event: str) -> bool:
        """True when ``event`` has at least one row in ``state`` (whatever its guards say)."""
        return event in self._by_state[state]


def expand_rows(rows: Iterable[Mapping[str, Any]]):
    """One (source, row) per arrow of a declaration, in declaration order (for diagrams and docs)."""
    for row in rows:
        for source in row["source"]:
            yield source, row
