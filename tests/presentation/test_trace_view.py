"""``--trace`` output on scripted simulator runs: time order, relative numbers, machine rows, rules.

The golden lines are the handshake, a 100-byte write and both closes of a:40000 -> b:7000; windows
are cut out (a receive-window policy change is not a trace change), everything else is compared.
"""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from netstack.engine.observability import TRACE_LOGGER, Trace
from netstack.presentation.trace_view import TraceView, disable_trace, enable_trace, wants_colour

from tests.support.trace_scenarios import (
    handshake_data_close, one_segment_lost, syn_unanswered, tail_segments_lost, traced,
)


GOLDEN = """\
  0.000000 192.0.2.2       tcp.state 192.0.2.2:40000-192.0.2.3:7000 CLOSED -> SYN-SENT on active_open [RFC 9293 §3.10.1 (OPEN, CLOSED)]
  0.000000 192.0.2.2       > 192.0.2.2:40000>192.0.2.3:7000 S seq=0 len=0
  0.002000 192.0.2.3       < 192.0.2.2:40000>192.0.2.3:7000 S seq=0 len=0
  0.002000 192.0.2.3       tcp.state 192.0.2.3:7000-192.0.2.2:40000 CLOSED -> LISTEN on passive_open [RFC 9293 §3.10.1 (OPEN, CLOSED)]
  0.002000 192.0.2.3       tcp.state 192.0.2.3:7000-192.0.2.2:40000 LISTEN -> SYN-RECEIVED on rcv_syn [RFC 9293 §3.10.7.2 (LISTEN, third: SYN)]
  0.002000 192.0.2.3       > 192.0.2.3:7000>192.0.2.2:40000 SA seq=0 ack=1 len=0
  0.003000 192.0.2.2       < 192.0.2.3:7000>192.0.2.2:40000 SA seq=0 ack=1 len=0
  0.003000 192.0.2.2       tcp.state 192.0.2.2:40000-192.0.2.3:7000 SYN-SENT -> ESTABLISHED on rcv_syn_ack [RFC 9293 §3.10.7.3 (SYN-SENT, fourth: SYN acking our SYN)]
  0.003000 192.0.2.2       > 192.0.2.2:40000>192.0.2.3:7000 A seq=1 ack=1 len=0
  0.004000 192.0.2.3       < 192.0.2.2:40000>192.0.2.3:7000 A seq=1 ack=1 len=0
  0.004000 192.0.2.3       tcp.state 192.0.2.3:7000-192.0.2.2:40000 SYN-RECEIVED -> ESTABLISHED on rcv_ack_of_syn [RFC 9293 §3.10.7.4 (SYN-RECEIVED, fifth: ACK)]
  0.004000 192.0.2.2       > 192.0.2.2:40000>192.0.2.3:7000 PA seq=1 ack=1 len=100
  0.005000 192.0.2.3       < 192.0.2.2:40000>192.0.2.3:7000 PA seq=1 ack=1 len=100
  0.005000 192.0.2.3       > 192.0.2.3:7000>192.0.2.2:40000 A seq=1 ack=101 len=0
  0.005000 192.0.2.2       tcp.state 192.0.2.2:40000-192.0.2.3:7000 ESTABLISHED -> FIN-WAIT-1 on close [RFC 9293 §3.10.4 (CLOSE, ESTABLISHED)]
  0.005000 192.0.2.2       > 192.0.2.2:40000>192.0.2.3:7000 FA seq=101 ack=1 len=0
  0.006000 192.0.2.2       < 192.0.2.3:7000>192.0.2.2:40000 A seq=1 ack=101 len=0
  0.006000 192.0.2.3       < 192.0.2.2:40000>192.0.2.3:7000 FA seq=101 ack=1 len=0
  0.006000 192.0.2.3       tcp.state 192.0.2.3:7000-192.0.2.2:40000 ESTABLISHED -> CLOSE-WAIT on rcv_fin [RFC 9293 §3.10.7.4 (ESTABLISHED, eighth: FIN)]
  0.006000 192.0.2.3       > 192.0.2.3:7000>192.0.2.2:40000 A seq=1 ack=102 len=0
  0.007000 192.0.2.2       < 192.0.2.3:7000>192.0.2.2:40000 A seq=1 ack=102 len=0
  0.007000 192.0.2.2       tcp.state 192.0.2.2:40000-192.0.2.3:7000 FIN-WAIT-1 -> FIN-WAIT-2 on rcv_ack_of_fin [RFC 9293 §3.10.7.4 (FIN-WAIT-1, fifth: our FIN acked)]
  0.015000 192.0.2.3       tcp.state 192.0.2.3:7000-192.0.2.2:40000 CLOSE-WAIT -> LAST-ACK on close [RFC 9293 §3.10.4 (CLOSE, CLOSE-WAIT)]
  0.015000 192.0.2.3       > 192.0.2.3:7000>192.0.2.2:40000 FA seq=1 ack=102 len=0
  0.016000 192.0.2.2       < 192.0.2.3:7000>192.0.2.2:40000 FA seq=1 ack=102 len=0
  0.016000 192.0.2.2       tcp.state 192.0.2.2:40000-192.0.2.3:7000 FIN-WAIT-2 -> TIME-WAIT on rcv_fin [RFC 9293 §3.10.7.4 (FIN-WAIT-2, eighth: FIN)]
  0.016000 192.0.2.2       > 192.0.2.2:40000>192.0.2.3:7000 A seq=102 ack=2 len=0
  0.017000 192.0.2.3       < 192.0.2.2:40000>192.0.2.3:7000 A seq=102 ack=2 len=0
  0.017000 192.0.2.3       tcp.state 192.0.2.3:7000-192.0.2.2:40000 LAST-ACK -> CLOSED on rcv_ack_of_fin [RFC 9293 §3.10.7.4 (LAST-ACK, fifth: our FIN acked)]
"""


def _segments_and_states(lines: list[str]) -> list[str]:
    kept = [line for line in lines if " tcp.state " in line or re.search(r" [<>] \d", line)]
    return [re.sub(r" win=\d+", "", line) for line in kept]


def test_handshake_data_and_close_golden_lines():
    assert _segments_and_states(traced(handshake_data_close)) == GOLDEN.splitlines()


def test_lines_are_in_time_order_across_hosts_and_application_calls():
    lines = traced(handshake_data_close, format="json")
    times = [json.loads(line)["time"] for line in lines]
    assert times == sorted(times)
    # the close() call runs between two frames: its line carries the virtual time of the call
    close = next(json.loads(line) for line in lines if '"trigger": "close"' in line)
    assert close["time"] == pytest.approx(0.005)


def test_json_lines_keep_absolute_numbers_beside_relative_ones():
    entries = [json.loads(line) for line in traced(handshake_data_close, format="json")]
    syns = [e for e in entries if e["event"] == "tcp.segment_out" and "S" in e["flags"]]
    assert [e["seq"] for e in syns] == [0, 0]
    assert all(e["seq_abs"] != 0 for e in syns)  # a random ISN, counted from
    client_isn = syns[0]["seq_abs"]
    fin = next(e for e in entries if e["event"] == "tcp.segment_out" and e["flags"] == "FA" and e["seq"] == 101)
    assert fin["seq_abs"] == (client_isn + 101) & 0xFFFFFFFF
    for entry in entries:
        assert entry["rule"].startswith("RFC "), entry
    established = [e for e in entries if e["event"] == "tcp.state" and e["new"] == "ESTABLISHED"]
    assert {e["rule"].split(" (")[0] for e in established} == {"RFC 9293 §3.10.7.3", "RFC 9293 §3.10.7.4"}


def test_rto_backoff_cites_rfc_6298():
    rto = [line for line in traced(syn_unanswered) if " tcp.rto " in line]
    assert rto[0].endswith("retransmission timeout #1: RTO doubled to 2 s [RFC 6298 §5.5]")
    assert rto[1].endswith("retransmission timeout #2: RTO doubled to 4 s [RFC 6298 §5.5]")
    # SYN retransmissions carry up to 25 % jitter (TcpConfig.syn_retransmit_jitter) so bursts spread out
    first, second = float(rto[0].split()[0]), float(rto[1].split()[0])
    assert 1.0 <= first <= 1.25 and 2.0 <= second - first <= 2.5


def test_fast_retransmit_on_duplicate_acks_with_sack_cites_rfc_6675():
    # SACK is agreed, so recovery starts once more than two segments' worth is SACKed above the hole
    # (RFC 6675 IsLost), which may take fewer than three duplicate ACKs when one ACK covers two segments
    lines = traced(one_segment_lost)
    fast = next(index for index, line in enumerate(lines) if " tcp.fast_retransmit " in line)
    assert "loss recovery" in lines[fast] and lines[fast].endswith("[RFC 6675 §5]")
    duplicates = [line for line in lines[:fast] if " tcp.dup_ack " in line]
    assert 2 <= len(duplicates) <= 3 and "duplicate ACK #1" in duplicates[0]
    # relative numbers: the lost segment is the 12th of 1448 bytes (seq 11 * 1448 + 1)
    assert f"seq {11 * 1448 + 1}," in lines[fast]
    resent = [line for line in lines[fast:] if re.search(rf" > 192.0.2.2:40000>192.0.2.3:7000 A seq={11 * 1448 + 1} ", line)]
    assert resent


def test_tail_loss_probe_seq_is_relative_like_the_segments_rfc8985_7_3():
    # the last two of five segments are lost; the probe resends the fifth: relative seq 4 * 1448 + 1,
    # the number its segment line shows too (the event used to print the absolute one)
    lines = traced(tail_segments_lost)
    probe = next(line for line in lines if " tcp.tail_loss_probe " in line)
    assert f"the last segment again, seq {4 * 1448 + 1} (1448 bytes)" in probe and probe.endswith("[RFC 8985 §7.3]")
    after = lines[lines.index(probe):]
    assert any(re.search(rf" > 192.0.2.2:40000>192.0.2.3:7000 A seq={4 * 1448 + 1} ack=1 len=1448", line)
               for line in after)
    entries = [json.loads(line) for line in traced(tail_segments_lost, format="json")]
    syn = next(e for e in entries if e["event"] == "tcp.segment_out" and e["flags"] == "S")
    event = next(e for e in entries if e["event"] == "tcp.tail_loss_probe")
    assert event["seq"] == 4 * 1448 + 1 and event["seq_abs"] == (syn["seq_abs"] + 4 * 1448 + 1) & 0xFFFFFFFF


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert wants_colour(Terminal()) and not wants_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour(Terminal())
    monkeypatch.delenv("NO_COLOR")
    stream = Terminal()
    view = enable_trace(stream)
    try:
        Trace(host="192.0.2.2").event("tcp.rto", conn="192.0.2.2:1-192.0.2.3:2", rto=0.8, attempt=2)
    finally:
        disable_trace(view)
    assert "\x1b[" in stream.getvalue() and "RTO doubled to 0.8 s" in stream.getvalue()


def test_off_costs_one_level_check_and_formats_nothing():
    logger = logging.getLogger(TRACE_LOGGER)
    assert not logger.isEnabledFor(logging.DEBUG)

    class Explodes:
        def __str__(self):
            raise AssertionError("formatted while tracing is off")

    trace = Trace(host="192.0.2.2")
    trace.clock = lambda: (_ for _ in ()).throw(AssertionError("clock read while tracing is off"))
    trace.event("tcp.state", conn=Explodes())


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="text, json"):
        TraceView(io.StringIO(), format="xml")


def test_one_connection_only():
    everything = traced(handshake_data_close)
    stream = io.StringIO()
    view = enable_trace(stream, color=False, connection="192.0.2.2:40000")
    try:
        Trace(host="192.0.2.2").event("arp.resolved", ip="192.0.2.3", mac="02:00:c0:00:02:03")
        Trace(host="192.0.2.2").event("tcp.rto", conn="192.0.2.2:40001-192.0.2.3:7000", rto=2.0, attempt=1)
        Trace(host="192.0.2.3").event("tcp.rto", conn="192.0.2.3:7000-192.0.2.2:40000", rto=2.0, attempt=1)
    finally:
        disable_trace(view)
    assert stream.getvalue().count("\n") == 1 and "192.0.2.3:7000-192.0.2.2:40000" in stream.getvalue()
    assert any(" arp." in line for line in everything)
    by_port = TraceView(io.StringIO(), connection="7000")
    assert by_port.wanted({"conn": "192.0.2.3:7000-192.0.2.2:40000"}) and not by_port.wanted({"ip": "x"})
