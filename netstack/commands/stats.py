"""``netstack stats``: the counters of a running stack (from ``netstack up``) or of a simulated run.

``netstack up`` publishes its counters every second to ``/run/netstack/NAME.json`` (``--stats-file``);
``netstack stats --tap NAME`` prints them (``--drops``: only drop reasons; ``--json``: raw). Without a
running stack, ``netstack stats --sim`` runs a short simulated session (pings and UDP echoes over a
lossy link) and prints the counters of both stacks and of the link. Counter names are stable:
``<layer>.<event>`` and ``<layer>.drop.<reason>`` (see ``netstack.engine.observability``).
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time

HELP = "print the counters of a running stack (netstack up) or of a simulated session (--sim)"


def add_arguments(parser) -> None:
    parser.add_argument("--tap", metavar="NAME", help="the stack started by `netstack up --tap NAME`")
    parser.add_argument("--file", metavar="FILE", help="a stats file written by `netstack up --stats-file`")
    parser.add_argument("--sim", action="store_true", help="run a simulated session and print its counters")
    parser.add_argument("--drops", action="store_true", help="only the drop reasons")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _table(counters: dict, drops_only: bool) -> str:
    items = sorted((name, value) for name, value in counters.items() if not drops_only or ".drop." in name)
    if not items:
        return "  (none)"
    width = max(len(name) for name, _ in items)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in items)


def read_snapshot(args, command: str = "stats") -> dict | None:
    """The snapshot a running `netstack up` publishes (``--tap``/``--file``/the first of this
    namespace), or None after printing why there is none."""
    from netstack.commands.up import STATS_DIRECTORY, namespace_suffix, stats_path

    if args.file:
        path = args.file
    elif args.tap:
        path = stats_path(args.tap)
    else:
        # Only stacks of this network namespace (see namespace_suffix): "*.json" would also match the
        # files of stacks in other namespaces.
        suffix = namespace_suffix()
        found = sorted(path for path in glob.glob(os.path.join(STATS_DIRECTORY, f"*{suffix}.json"))
                       if ("@" in os.path.basename(path)) == bool(suffix))
        if not found:
            print(f"netstack {command}: no running stack publishes stats in {STATS_DIRECTORY} "
                  "(start one with `netstack up`, or try `netstack stats --sim`)", file=sys.stderr)
            return None
        path = found[0]
    try:
        with open(path) as file:
            snapshot = json.load(file)
    except FileNotFoundError:
        print(f"netstack {command}: {path} does not exist: is `netstack up` running with that TAP?", file=sys.stderr)
        return None
    except (OSError, ValueError) as error:
        print(f"netstack {command}: cannot read {path}: {error}", file=sys.stderr)
        return None
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("counters", {}), dict):
        print(f"netstack {command}: {path} is not a stats file written by `netstack up`", file=sys.stderr)
        return None
    return snapshot


def run(args) -> int:
    if args.sim:
        return _run_sim(args)
    snapshot = read_snapshot(args)
    if snapshot is None:
        return 1
    if args.json:
        print(json.dumps(snapshot, indent=1, sort_keys=True))
        return 0
    age = time.time() - snapshot.get("time", 0)
    print(f"{snapshot.get('tap')} {snapshot.get('ip')} (pid {snapshot.get('pid')}, {age:.1f} s ago)")
    print(_table(snapshot.get("counters", {}), args.drops))
    return 0


def _run_sim(args) -> int:
    import netstack
    from netstack.engine.icmp import Pinger
    from netstack.apps.services import start_services

    network = netstack.sim.Network(seed=1)
    ours = network.host("192.0.2.2/24", name="netstack")
    peer = network.host("192.0.2.1/24", name="peer")
    link = network.link(ours, peer, loss=0.05, duplicate=0.02, reorder=0.05, delay=0.001, jitter=0.0005)
    ours.call(start_services, ours.stack, ["echo", "discard"])
    pinger = Pinger(peer.stack, ours.address, identifier=1, size=3000)
    endpoint = peer.udp_bind(0)
    for index in range(50):
        peer.call(pinger.send, network.clock)
        peer.call(endpoint.sendto, bytes(index * 100), ("192.0.2.2", 7 if index % 2 else 9), network.clock)
        network.run(0.1)
    network.run(35.0)  # let reassembly timers of lost fragments fire
    result = {"netstack 192.0.2.2": ours.counters.snapshot(), "peer 192.0.2.1": peer.counters.snapshot(),
              "link": link.counters.snapshot()}
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
        return 0
    print(f"simulated {network.clock:.1f} s, {network.events_processed} events (seed 1)")
    for name, counters in result.items():
        print(f"\n{name}")
        print(_table(counters, args.drops))
    return 0
