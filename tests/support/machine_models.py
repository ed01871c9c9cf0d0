"""Test doubles for the machines: a model that answers guards from a dict and records every call.

Imported by the machine tests as ``tests.support.machine_models``.
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable, Mapping


class RecordingModel:
    """A model for ``TransitionTable.fire`` and for a `transitions` Machine alike.

    Guards return ``guard_values[name]`` (False when absent); actions do nothing. Every guard and
    action call is appended to ``calls`` as ("guard", name) / ("action", name), so a test sees what
    ran and in which order.
    """

    def __init__(self, state: Enum, guards: Iterable[str], actions: Iterable[str],
                 guard_values: Mapping[str, bool] | None = None):
        self.state = state
        self.calls: list[tuple[str, str]] = []
        self.guard_names = frozenset(guards)
        self.action_names = frozenset(actions)
        self.guard_values = dict(guard_values or {})

    def __getattr__(self, name: str):
        # Only reached for names not set in __init__ (the guards and actions).
        if name.startswith("_") or name in ("guard_names", "action_names", "guard_values", "calls"):
            raise AttributeError(name)
        if name in self.guard_names:
            def guard(*args):
                self.calls.append(("guard", name))
                return self.guard_values.get(name, False)
            return guard
        if name in self.action_names:
            def action(*args):
                self.calls.append(("action", name))
            return action
        raise AttributeError(name)

    @property
    def actions(self) -> list[str]:
        return [name for kind, name in self.calls if kind == "action"]
