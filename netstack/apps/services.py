"""Small standard services a stack can offer, for ``netstack up --services`` and the demo.

- echo (RFC 862): UDP port 7 sends every datagram back to its sender (TCP 7 arrives with TCP).
- discard (RFC 863): UDP port 9 swallows every datagram (TCP 9 arrives with TCP).

``SERVICES`` maps a service name to its starters, each ``starter(stack) -> handle`` run on the stack's
thread (``running.call(start_services, running.stack, names)``); a handle has ``close()``. The TCP
layer adds its starters (TCP echo, discard, chargen, HTTP status page) to the same names, so
``--services echo`` means echo on every transport that has it.
"""

from __future__ import annotations

from netstack.engine.config import ConfigError

ECHO_PORT = 7  # RFC 862
DISCARD_PORT = 9  # RFC 863


def udp_echo(stack):
    """RFC 862: "When a datagram is received, the data from it is sent back in an answering datagram"."""
    endpoint = stack.udp_bind(ECHO_PORT)
    counters = stack.counters

    def echo(data: bytes, remote, now: float) -> None:
        try:
            endpoint.sendto(data, remote, now)
        except OSError:
            counters.incr("services.drop.echo_unsendable")
            return
        counters.incr("services.udp_echo")

    endpoint.on_datagram = echo
    return endpoint


def udp_discard(stack):
    """RFC 863: "When a datagram is received, throw it away"."""
    endpoint = stack.udp_bind(DISCARD_PORT)
    counters = stack.counters

    def discard(data: bytes, remote, now: float) -> None:
        counters.incr("services.udp_discard")

    endpoint.on_datagram = discard
    return endpoint


SERVICES: dict[str, list] = {
    "echo": [udp_echo],
    "discard": [udp_discard],
}


def parse_services(text: str | None) -> list[str]:
    """``"echo,discard"`` -> names; ``"all"`` or None -> every known service; ``"none"`` or "" -> []."""
    if text is None or text.strip() == "all":
        return list(SERVICES)
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["none"]:
        return []
    for name in names:
        if name not in SERVICES:
            raise ConfigError("services", f"unknown service {name!r}; known: {', '.join(SERVICES)}")
    return names


def start_services(stack, names) -> list:
    """Start every starter of each named service on ``stack``; returns the handles."""
    handles = []
    for name in names:
        for starter in SERVICES[name]:
            handles.append(starter(stack))
    return handles

# TCP services (netstack.apps.tcp_services) under the same names, plus chargen and the HTTP status page.
from netstack.apps import tcp_services as _tcp_services  # noqa: E402  (after SERVICES: it extends it)

SERVICES["echo"].append(_tcp_services.tcp_echo)
SERVICES["discard"].append(_tcp_services.tcp_discard)
SERVICES["chargen"] = [_tcp_services.tcp_chargen]
SERVICES["http"] = [_tcp_services.http_status]
