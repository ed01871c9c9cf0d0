"""``--trace`` / ``--trace-format`` on the commands: JSON lines in time order, text with the rules."""

from __future__ import annotations

import json
import logging

from netstack.cli import main
from netstack.presentation.trace_view import TRACE_LOGGER, disable_trace


def _remove_views():
    for handler in list(logging.getLogger(TRACE_LOGGER).handlers):
        disable_trace(handler)


def test_ping_sim_trace_format_json(capsys):
    try:
        assert main(["ping", "--sim", "-c", "2", "-i", "0.2", "192.0.2.9", "--trace-format", "json"]) == 0
    finally:
        _remove_views()
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert entries and all(entry["rule"].startswith("RFC ") for entry in entries)
    times = [entry["time"] for entry in entries]
    assert times == sorted(times)
    resolved = [entry for entry in entries if entry["event"] == "arp.resolved"]
    assert resolved and resolved[0]["text"].startswith("192.0.2.9 is-at ")


def test_demo_sim_trace_text_in_time_order(capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    try:
        assert main(["demo", "--sim", "--trace"]) == 0
    finally:
        _remove_views()
    lines = capsys.readouterr().err.splitlines()
    assert not any("\x1b[" in line for line in lines)
    times = [float(line.split()[0]) for line in lines]
    assert times == sorted(times) and len(times) > 1000
    assert any("fast retransmit after 3 duplicate ACKs" in line or "RTO doubled" in line for line in lines)
    assert any(" tcp.state " in line and "[RFC 9293 §3.10.7.3 (SYN-SENT, fourth: SYN acking our SYN)]" in line
               for line in lines)


def test_demo_sim_one_connection(capsys):
    try:
        assert main(["demo", "--sim", "--trace-connection", "80"]) == 0
    finally:
        _remove_views()
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(":80" in line for line in lines)
    assert any(" tcp.state " in line and "-> LISTEN" not in line for line in lines)
