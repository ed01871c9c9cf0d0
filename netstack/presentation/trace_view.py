"""``--trace`` as a reader wants it: one line per event, in time order, relative sequence numbers,
the rule behind every decision, coloured on a terminal or JSON lines.

``enable_trace(stream=None, *, format="text", color=None) -> TraceView`` installs a ``TraceView``
(a ``logging.Handler``) on the engine's trace logger (``netstack.engine.observability``) and returns
it; ``disable_trace(view)`` removes it. While none is installed the engine pays its one cached level
check per event and nothing else (the logger stays above DEBUG).

A text line reads::

    0.002000 192.0.2.3 SYN-RECEIVED  192.0.2.3:7000>192.0.2.2:49152  LISTEN -> SYN-RECEIVED on rcv_syn
             [RFC 9293 §3.10.7.2] (LISTEN, third: SYN)
    0.003000 192.0.2.2 >  192.0.2.2:49152>192.0.2.3:7000  A seq=1 ack=1 len=0 win=32768

- **Time order**: lines are written as events happen; each carries the driver's clock (virtual time in
  the simulator, the loop's monotonic clock on a TAP), so a line never shows an older time than the
  line before it (``Trace.clock``). Text times are relative to the first event seen.
- **Relative sequence numbers** (as Wireshark shows them): per connection and per direction, sequence
  numbers count from that direction's ISN (the SYN's sequence number: the SYN is 0, the first data
  byte 1). A connection first seen without its SYN counts from the first sequence number seen minus
  one. Fields of other TCP events are in the same spaces: a retransmitted or probed ``seq`` (zero
  window and tail loss probes) and a duplicate ``ack`` are in the sender's space, an out-of-order ``seq`` in the peer's.
- **Rules**: state changes cite the machine row that fired, decisions their RFC section
  (``netstack.presentation.trace_rules``).
- **One connection**: ``connection="192.0.2.2:40000"`` (or just a port, ``"7000"``) keeps the events of
  the connections with that endpoint and drops the rest (ARP, ICMP, other connections).
- **Colour**: only when the stream is a terminal and ``NO_COLOR`` is unset (https://no-color.org/);
  ``color=True/False`` forces it.
- **JSON lines** (``format="json"``): ``{"time", "host", "event", "conn", "rule", "text", ...fields}``
  (a state change's machine event is its ``trigger`` field)
  with sequence fields relative and the absolute values kept as ``seq_abs``/``ack_abs``; the
  ``tcp.congestion`` lines are what ``netstack plot`` draws cwnd, ssthresh and srtt from.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from netstack.engine.observability import TRACE_LOGGER
from netstack.presentation.trace_rules import explain

SEQ_MASK = 0xFFFFFFFF
FORMATS = ("text", "json")

# Which sequence space each field of a TCP event is in: "local" is the sender of this host's
# segments (the first endpoint of ``conn``), "remote" the peer.
_SEQUENCE_SPACES = {
    "tcp.segment_out": {"seq": "local", "ack": "remote"},
    "tcp.segment_in": {"seq": "remote", "ack": "local"},
    "tcp.retransmit": {"seq": "local"},
    "tcp.fast_retransmit": {"seq": "local"},
    "tcp.zero_window_probe": {"seq": "local"},
    "tcp.tail_loss_probe": {"seq": "local"},
    "tcp.recovery_probe": {"seq": "local"},
    "tcp.dup_ack": {"ack": "local"},
    "tcp.out_of_order": {"seq": "remote"},
}

_RESET, _BOLD, _DIM = "\x1b[0m", "\x1b[1m", "\x1b[2m"
_COLOURS = {"state": "\x1b[1;33m", "out": "\x1b[36m", "in": "\x1b[32m", "loss": "\x1b[1;31m",
            "drop": "\x1b[31m", "other": "\x1b[0m"}


def _kind(event: str) -> str:
    if event.endswith(".state"):
        return "state"
    if event == "tcp.segment_out":
        return "out"
    if event == "tcp.segment_in":
        return "in"
    if event in ("tcp.rto", "tcp.retransmit", "tcp.fast_retransmit", "tcp.tail_loss_probe", "tcp.recovery_probe",
                 "tcp.dup_ack", "tcp.reset_received"):
        return "loss"
    if ".drop" in event or event.endswith("failed") or event.endswith("timeout"):
        return "drop"
    return "other"


def split_connection(conn: str) -> tuple[str, str]:
    """``"192.0.2.2:49152-192.0.2.3:7000"`` -> (local, remote) endpoints."""
    local, _, remote = conn.partition("-")
    return local, remote


class SequenceNumbering:
    """ISN-relative sequence numbers per direction of every connection seen (see the module doc)."""

    def __init__(self):
        self._base: dict[tuple[str, str], int] = {}  # (sender, receiver) -> the ISN

    def relative(self, event: str, fields: dict) -> dict:
        """``fields`` with the sequence fields of ``event`` made relative (a new dict)."""
        spaces = _SEQUENCE_SPACES.get(event)
        conn = fields.get("conn")
        if spaces is None or not isinstance(conn, str):
            return fields
        local, remote = split_connection(conn)
        direction = {"local": (local, remote), "remote": (remote, local)}
        flags = str(fields.get("flags", ""))
        result = dict(fields)
        if event in ("tcp.segment_out", "tcp.segment_in") and "S" in flags:
            # a SYN starts (or restarts: a new incarnation) its direction's numbering
            self._base[direction[spaces["seq"]]] = fields["seq"]
        for name, space in spaces.items():
            value = fields.get(name)
            if not isinstance(value, int):
                continue
            if name == "ack" and event.startswith("tcp.segment") and "A" not in flags:
                continue  # no ACK flag: the field means nothing (RFC 9293 §3.1)
            key = direction[space]
            base = self._base.setdefault(key, (value - 1) & SEQ_MASK)
            result[name] = (value - base) & SEQ_MASK
            result[f"{name}_abs"] = value
        return result


class TraceView(logging.Handler):
    """Renders engine trace records as text or JSON lines on a stream (see the module docstring)."""

    def __init__(self, stream=None, *, format: str = "text", color: bool | None = None,
                 connection: str | None = None):
        if format not in FORMATS:
            raise ValueError(f"trace format must be one of {', '.join(FORMATS)}, got {format!r}")
        super().__init__(logging.DEBUG)
        self.stream = stream if stream is not None else sys.stderr
        self.format_name = format
        self.color = wants_colour(self.stream) if color is None else color
        self.numbering = SequenceNumbering()
        self.start: float | None = None
        self.connection = connection

    def wanted(self, fields: dict) -> bool:
        """Whether an event belongs to the connection asked for (always, without one)."""
        if self.connection is None:
            return True
        conn = fields.get("conn")
        if not isinstance(conn, str):
            return False
        wanted = self.connection
        return any(endpoint == wanted or endpoint.rpartition(":")[2] == wanted for endpoint in split_connection(conn))

    def entry(self, record: logging.LogRecord) -> dict | None:
        """The enriched event: time, host, event, rule, text and its fields (relative numbers)."""
        event = getattr(record, "event", None)
        if event is None:
            return None
        fields = dict(getattr(record, "fields", {}) or {})
        if not self.wanted(fields):
            return None
        if "event" in fields:
            fields["trigger"] = fields.pop("event")  # a state change's machine event; "event" names the line
        fields = self.numbering.relative(event, fields)
        explanation = explain(event, fields)
        entry = {"time": getattr(record, "stack_time", 0.0), "host": getattr(record, "host", ""), "event": event}
        if explanation is not None:
            entry["rule"], entry["text"] = explanation.rule, explanation.text
        entry.update(fields)
        return entry

    def render(self, record: logging.LogRecord) -> str | None:
        entry = self.entry(record)
        if entry is None:
            return None
        if self.format_name == "json":
            return json.dumps(entry, default=str, ensure_ascii=False)
        return self.text(entry)

    def text(self, entry: dict) -> str:
        if self.start is None:
            self.start = entry["time"]
        event = entry["event"]
        when = f"{entry['time'] - self.start:10.6f}"
        head = f"{when} {entry['host']:<15}"
        if event in ("tcp.segment_out", "tcp.segment_in"):
            arrow = ">" if event == "tcp.segment_out" else "<"
            local, remote = split_connection(entry.get("conn", ""))
            path = f"{local}>{remote}" if arrow == ">" else f"{remote}>{local}"
            ack = f" ack={entry['ack']}" if "ack_abs" in entry else ""
            body = (f"{arrow} {path} {entry.get('flags', '')} seq={entry.get('seq')}{ack} "
                    f"len={entry.get('len')} win={entry.get('window')}")
        else:
            rule = entry.get("rule")
            conn = f" {entry['conn']}" if "conn" in entry else ""
            words = entry.get("text") or " ".join(f"{key}={value}" for key, value in entry.items()
                                                  if key not in ("time", "host", "event"))
            body = f"{event}{conn} {words}" + (f" [{rule}]" if rule else "")
        if not self.color:
            return f"{head} {body}"
        colour = _COLOURS[_kind(event)]
        return f"{_DIM}{head}{_RESET} {colour}{body}{_RESET}"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.render(record)
            if line is not None:
                self.stream.write(line + "\n")
                self.stream.flush()
        except Exception:  # a broken pipe must not take the stack down with it
            self.handleError(record)


def wants_colour(stream) -> bool:
    """ANSI colour only on a terminal, and never when NO_COLOR is set (to anything non-empty)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def enable_trace(stream=None, *, format: str = "text", color: bool | None = None,
                 connection: str | None = None) -> TraceView:
    """Print every trace event (of ``connection`` only, if given) on ``stream`` (stderr by default);
    returns the installed handler."""
    view = TraceView(stream, format=format, color=color, connection=connection)
    logger = logging.getLogger(TRACE_LOGGER)
    logger.addHandler(view)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return view


def disable_trace(view: logging.Handler) -> None:
    """Remove ``view``; with no handler left the logger goes back to costing one level check."""
    logger = logging.getLogger(TRACE_LOGGER)
    logger.removeHandler(view)
    if not logger.handlers:
        # back to the logger's defaults: inherit the root's level (WARNING: one cached check per
        # event) and propagate again, as before enable_trace
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
