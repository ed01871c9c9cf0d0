"""Every trace event the engine emits has a rule (an RFC section) in ``trace_rules.RULES``."""

from __future__ import annotations

import re
from pathlib import Path

import netstack
from netstack.machines.tcp_connection import TRANSITIONS
from netstack.machines.table import expand_rows
from netstack.presentation.trace_rules import RULES, explain

ENGINE = Path(netstack.__file__).parent / "engine"
EMITTED = re.compile(r"""(?:trace|event|_trace_segment|_trace)\(\s*["']([a-z0-9_]+\.[a-z0-9_.]+)["']""")


def emitted_event_names() -> set[str]:
    names = set()
    for path in ENGINE.rglob("*.py"):
        names.update(EMITTED.findall(path.read_text()))
    return names


def test_the_scan_finds_the_events_it_must():
    names = emitted_event_names()
    assert {"tcp.state", "tcp.rto", "tcp.segment_out", "arp.state", "ipv4.drop"} <= names


def test_every_emitted_event_has_a_rule():
    missing = sorted(emitted_event_names() - set(RULES))
    assert not missing, f"trace events without a rule in netstack/presentation/trace_rules.py: {missing}"


def test_every_tcp_machine_arrow_explains_with_its_own_row():
    for source, row in expand_rows(TRANSITIONS):
        dest = row["dest"] or source
        explanation = explain("tcp.state", {"old": source.value, "new": dest.value, "trigger": str(row["trigger"])})
        # the first row declared for an arrow is the one cited (rows differing only by guard share it)
        assert explanation.rule.startswith("RFC 9293 §"), explanation
        assert f"{source.value} -> {dest.value} on {row['trigger']}" == explanation.text


def test_an_event_may_cite_its_own_rule():
    assert explain("tcp.rack_timeout", {"rule": "RFC 8985 §6.3", "text": "RACK reordering timer"}) == (
        "RFC 8985 §6.3", "RACK reordering timer")
    assert explain("nobody.knows", {}) is None
