"""State machines: per-connection cost of netstack's derived transition table against `transitions`.

For 1k, 10k and 100k TCP connections: create each connection and drive it through the same ten
events (passive open, SYN, ACK of SYN, send, unacceptable segment, FIN, send, close, ACK of FIN,
passive open again: six state changes, four answers that keep the state), then report time per
connection, time per transition and memory per connection (tracemalloc, measured in a separate run
so that it does not slow the timed one; for `transitions`, on 1000 connections), for:

- table: ``TCP_TABLE.fire(connection, event)``; a connection is a plain object with ``__slots__``.
- transitions, Machine per connection: ``Machine(model=connection, ...)`` built from the same
  declaration, ``connection.trigger(event)``.
- transitions, shared Machine: one Machine, ``add_model`` per connection.

The `transitions` runs stop at 10k connections (at 100k they would take minutes and gigabytes; their
per-connection cost already grows or stays far above the table's at 10k). Usage:

    python benchmarks/machines.py [--sizes 1000,10000,100000] [--peer-sizes 1000,10000]

Targets (issue 3): flat per-connection time from 1k to 100k, >= 20x faster than a transitions
trigger, < 1 KB of machine state per connection.
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
import tracemalloc

from transitions import Machine

from netstack.machines.table import declare_machine
from netstack.machines.tcp_connection import TCP_ACTIONS, TCP_GUARDS, TCP_TABLE, TRANSITIONS, TcpState

EVENTS = ("passive_open", "rcv_syn", "rcv_ack_of_syn", "send", "rcv_unacceptable", "rcv_fin", "send", "close",
          "rcv_ack_of_fin", "passive_open")
EXPECTED_FINAL = TcpState.LISTEN


def _false(self, *args):
    return False


def _nothing(self, *args):
    return None


def _with_guards_and_actions(cls):
    for name in TCP_GUARDS:
        setattr(cls, name, _false)
    for name in TCP_ACTIONS:
        setattr(cls, name, _nothing)
    return cls


@_with_guards_and_actions
class SlottedConnection:
    """What the table needs per connection: one slot."""

    __slots__ = ("state",)

    def __init__(self):
        self.state = TcpState.CLOSED


@_with_guards_and_actions
class PlainConnection:
    """A model `transitions` can decorate (it adds trigger methods per instance)."""


MACHINE_ROWS = [{key: value for key, value in row.items() if key not in ("rfc", "figure")} for row in TRANSITIONS]


def create_table_connections(count: int) -> list:
    return [SlottedConnection() for _ in range(count)]


def drive_table_connections(connections: list) -> None:
    fire = TCP_TABLE.fire
    for connection in connections:
        for event in EVENTS:
            fire(connection, event)


def create_machine_per_connection(count: int) -> list:
    connections = []
    for _ in range(count):
        connection = PlainConnection()
        Machine(model=connection, states=TcpState, transitions=MACHINE_ROWS, initial=TcpState.CLOSED,
                auto_transitions=False)
        connections.append(connection)  # the Machine stays alive through the bound trigger methods
    return connections


def create_shared_machine_connections(count: int) -> list:
    machine = declare_machine("tcp_shared", TcpState, TRANSITIONS, TcpState.CLOSED)
    connections = []
    for _ in range(count):
        connection = PlainConnection()
        machine.add_model(connection, initial=TcpState.CLOSED)
        connections.append(connection)
    return connections


def drive_transitions_connections(connections: list) -> None:
    for connection in connections:
        for event in EVENTS:
            connection.trigger(event)


def measure(create, drive, count: int, memory_count: int) -> tuple[float, float, float]:
    """(create µs per connection, µs per transition, bytes per connection) for ``count`` connections.

    Time and memory come from separate runs (tracemalloc slows allocation down); memory is measured
    on ``memory_count`` connections.
    """
    gc.collect()
    start = time.perf_counter()
    connections = create(count)
    created = time.perf_counter()
    drive(connections)
    driven = time.perf_counter()
    assert all(connection.state is EXPECTED_FINAL for connection in connections[:: max(1, count // 100)])
    del connections
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    connections = create(memory_count)
    drive(connections)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del connections
    gc.collect()
    return ((created - start) / count * 1e6, (driven - created) / (count * len(EVENTS)) * 1e6,
            (after - before) / memory_count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="connection counts for the table")
    parser.add_argument("--peer-sizes", default="1000,10000", help="connection counts for transitions")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    peer_sizes = [int(size) for size in args.peer_sizes.split(",")]
    transitions_count = len(EVENTS)

    print(f"python {platform.python_version()} on {platform.machine()}, transitions "
          f"{sys.modules['transitions'].__version__}; {transitions_count} events per connection")
    print(f"{'implementation':38} {'connections':>11} {'create+10 µs/conn':>18} {'µs/transition':>14} "
          f"{'create µs':>10} {'bytes/conn':>11}")
    results: dict[tuple[str, int], tuple[float, float]] = {}
    table = "table (netstack)"
    per_connection = "transitions: Machine per connection"
    shared = "transitions: shared Machine + add_model"
    peers = [
        (table, create_table_connections, drive_table_connections, sizes),
        (per_connection, create_machine_per_connection, drive_transitions_connections, peer_sizes),
        (shared, create_shared_machine_connections, drive_transitions_connections, peer_sizes),
    ]
    for name, create, drive, counts in peers:
        for count in counts:
            # transitions' memory per connection is flat; 1000 of them keep the run short.
            memory_count = count if name == table else min(count, 1000)
            create_us, transition_us, memory = measure(create, drive, count, memory_count)
            total = create_us + transition_us * transitions_count
            results[name, count] = (total, transition_us)
            print(f"{name:38} {count:>11} {total:>18.2f} {transition_us:>14.3f} {create_us:>10.2f} {memory:>11.0f}",
                  flush=True)
    print()
    for count in peer_sizes:
        if (table, count) in results:
            table_total, table_transition = results[table, count]
            print(f"{count:>7} connections: per transition the table is "
                  f"{results[per_connection, count][1] / table_transition:.0f}x faster than a Machine per connection "
                  f"and {results[shared, count][1] / table_transition:.0f}x faster than a shared Machine; "
                  f"per connection (create + 10) {results[per_connection, count][0] / table_total:.0f}x and "
                  f"{results[shared, count][0] / table_total:.0f}x")
    if len(sizes) > 1:
        first, last = results[table, sizes[0]][0], results[table, sizes[-1]][0]
        print(f"table: per-connection time at {sizes[-1]} connections is x{last / first:.2f} that at {sizes[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
