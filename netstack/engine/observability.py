"""Counters and structured trace events of the engine (``netstack stats``, ``--trace``).

**Counters.** ``Counters`` is a ``dict`` of name -> int. Names are dotted and stable:
``<layer>.<event>`` for protocol events (``ipv4.received``, ``icmp.echo_replied``) and
``<layer>.drop.<reason>`` for every frame or datagram we drop (``ipv4.drop.bad_checksum``,
``arp.drop.queue_full``). Tests and ``netstack stats`` read them; ``Counters.drops()`` lists only
the drop reasons. Counting is one dict update: cheap enough for the hot path.

**Trace events.** ``Trace.event(name, **fields)`` emits a ``logging`` record on the logger
``netstack.trace`` at DEBUG level with ``record.event`` (the stable name, e.g. ``arp.resolved``) and
``record.fields`` (a dict of plain values: addresses as text, numbers, states as their names), and
``record.host`` (the stack's address) and ``record.stack_time`` (the engine's ``now``, or the driver's
clock when one is attached: ``trace.clock``).
Nothing is formatted unless a handler wants it: the check is one attribute read while tracing is off.
``TraceFormatter`` renders ``12.000123 192.0.2.2 arp.resolved ip=192.0.2.1 mac=02:00:...`` for
``--trace``.

Stable event names (fields in parentheses):
  ``stack.up`` (ip, mac, mtu)
  ``arp.request_sent`` (target, attempt), ``arp.resolved`` (ip, mac), ``arp.state`` (ip, old, new, event),
  ``arp.failed`` (ip, dropped), ``arp.reply_sent`` (to, mac)
  ``ipv4.drop`` (reason, src, dst), ``ipv4.fragmented`` (dst, fragments, mtu)
  ``reassembly.done`` (src, dst, id, size), ``reassembly.timeout`` (src, dst, id, held),
  ``reassembly.drop`` (reason, src, dst, id)
  ``icmp.error_received`` (type, code, errno, src, dst), ``icmp.error_sent`` (type, code, to),
  ``icmp.rate_limited`` (type, code, to), ``icmp.pmtu`` (dst, mtu)
  ``udp.drop`` (reason, src, dst, port)
"""

from __future__ import annotations

import logging

TRACE_LOGGER = "netstack.trace"


class Counters(dict):
    """Stable-named event and drop counters; missing names read as 0."""

    def __missing__(self, key):
        return 0

    def incr(self, name: str, amount: int = 1) -> None:
        self[name] = self.get(name, 0) + amount

    def drops(self) -> dict[str, int]:
        return {name: value for name, value in sorted(self.items()) if ".drop." in name}

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.items()))

    def format_table(self) -> str:
        if not self:
            return "(no counters)"
        width = max(len(name) for name in self)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in sorted(self.items()))


class Trace:
    """Structured trace events through ``logging`` (see the module docstring)."""

    def __init__(self, logger: logging.Logger | None = None, host: str = ""):
        self.logger = logger or logging.getLogger(TRACE_LOGGER)
        self.host = host  # which stack speaks (its IPv4 address): several share one logger in a sim
        self.now = 0.0  # the engine's current time, set by Stack.receive/tick (never read from a clock)
        # The driver's clock (virtual in the sim, monotonic on a TAP), injected by the driver. Without it an
        # event emitted by an application call (connect, send, close between two frames) carries the time
        # of the host's last frame or tick: a 0.003 line printed after 0.004 and 0.005 in a sim.
        self.clock = None

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)

    def event(self, name: str, **fields) -> None:
        logger = self.logger
        if not logger.isEnabledFor(logging.DEBUG):
            return
        logger.debug(
            "%s %s", name, _format_fields(fields),
            extra={"event": name, "fields": fields, "host": self.host,
                   "stack_time": self.now if self.clock is None else self.clock()},
        )


def _format_fields(fields: dict) -> str:
    return " ".join(f"{key}={value}" for key, value in fields.items())


class TraceFormatter(logging.Formatter):
    """``<stack time> <host> <event> key=value ...`` for ``--trace`` output."""

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "event", None)
        if event is None:
            return super().format(record)
        return (f"{getattr(record, 'stack_time', 0.0):.6f} {getattr(record, 'host', '')} {event} "
                f"{_format_fields(record.fields)}")


def enable_trace(stream=None) -> logging.Handler:
    """Print every trace event decoded on ``stream`` (stderr by default); returns the handler."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TraceFormatter())
    logger = logging.getLogger(TRACE_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return handler
