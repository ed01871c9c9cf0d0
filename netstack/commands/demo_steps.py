"""The demo's steps as data, and how they run (shared by ``netstack demo``'s TAP and simulated tours).

A step is ``(title, function)``; the function gets a ``DemoContext`` and returns its one-line result,
or raises ``DemoFailure``/``AssertionError``/``OSError`` (failed) or ``ToolMissing`` (skipped). A
failure does not stop the tour: ``run_steps`` records it and goes on, ``print_table`` shows the rows.
Both tours check the HTTP status page and ``/stats.json`` the same way (``check_status_page``,
``check_stats_json``).
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field

STACK_IP = "192.0.2.2"
HOST_IP = "192.0.2.1"


class DemoFailure(Exception):
    """A step did not get the result it expects."""


class ToolMissing(Exception):
    """A step needs a tool that is not installed: it is skipped, not failed."""


@dataclass
class DemoContext:
    """What the steps work with: the namespace and running stack (TAP), or the network (sim)."""

    running: object  # RunningStack or SimHost
    namespace: object = None  # NetworkNamespace (TAP tour)
    network: object = None  # sim.Network (sim tour)
    peer: object = None  # SimHost playing the kernel (sim tour)
    link: object = None  # sim.Link between the two (sim tour): the TCP steps make it lossy
    notes: dict = field(default_factory=dict)
    payloads: random.Random | None = None  # sim tour: payloads from the seed, so its pcap repeats

    def payload(self, size: int) -> bytes:
        """``size`` bytes to send: random, and drawn from the seed in the sim tour."""
        return os.urandom(size) if self.payloads is None else self.payloads.randbytes(size)


def run_steps(steps, context: DemoContext, clock=time.perf_counter) -> list[tuple[str, str, str, float]]:
    """Run each step; returns rows (title, status, result, seconds). A failure does not stop the tour."""
    rows = []
    for title, function in steps:
        started = clock()
        try:
            result = function(context)
            status = "ok"
        except ToolMissing as missing:
            status, result = "skipped", str(missing)
        except (DemoFailure, AssertionError, OSError) as failure:
            status, result = "FAILED", str(failure) or type(failure).__name__
        rows.append((title, status, result, clock() - started))
        print(f"  {status:<7} {title}", flush=True)
    return rows


def print_table(rows) -> None:
    """The summary: one line per step with its status, time and result."""
    width = max(len(row[0]) for row in rows)
    print(f"\n{'step':<{width}}  {'status':<7}  {'time':>9}  result")
    print(f"{'-' * width}  {'-' * 7}  {'-' * 9}  {'-' * 40}")
    for title, status, result, seconds in rows:
        print(f"{title:<{width}}  {status:<7}  {seconds * 1000:>7.1f}ms  {result}")


def print_counters(counters: dict) -> None:
    """The counters that show the tour's traffic, and how many frames were dropped."""
    interesting = ("icmp.echo_replied", "reassembly.done", "ipv4.fragments_sent", "arp.reply_sent",
                   "udp.received", "services.udp_echo", "icmp.error_sent.3.3", "tcp.connections_established",
                   "tcp.segments_in", "tcp.segments_out", "tcp.retransmissions", "services.http_requests")
    shown = ", ".join(f"{name}={counters.get(name, 0)}" for name in interesting)
    drops = sum(value for name, value in counters.items() if ".drop." in name)
    print(f"\ncounters: {shown}; drops: {drops} (netstack stats shows them all)")


# TCP: what the status page and /stats.json must hold.
def check_status_page(status: int, body: str) -> None:
    if status != 200:
        raise DemoFailure(f"GET / answered HTTP {status}")
    if "<title>netstack status</title>" not in body or "TCP connections" not in body:
        raise DemoFailure(f"GET / is not netstack's status page: {body[:60]!r}")


def check_stats_json(status: int, body: str) -> int:
    """Returns the services.http_requests counter the JSON reports."""
    if status != 200:
        raise DemoFailure(f"GET /stats.json answered HTTP {status}")
    try:
        stats = json.loads(body)
    except ValueError as error:
        raise DemoFailure(f"/stats.json does not parse: {error}") from None
    if not isinstance(stats, dict) or not isinstance(stats.get("counters"), dict):
        raise DemoFailure("/stats.json has no counters object")
    requests = stats["counters"].get("services.http_requests", 0)
    if requests < 2:  # the status page and this request itself
        raise DemoFailure(f"/stats.json counts {requests} HTTP requests, expected at least 2")
    return requests
