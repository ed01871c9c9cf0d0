"""``netstack ss``: the TCP connections of a running ``netstack up``, like ``ss -tni``.

``netstack up`` publishes its connection table every second beside its counters (the stats file,
``netstack.commands.up.publish_stats``); this prints it: state, Recv-Q/Send-Q, local and peer address,
then per connection mss, rtt/rttvar, rto, cwnd and ssthresh (segments), bytes acked and received,
retransmissions, windows, and any further figure the engine reports (delivery and pacing rates once
loss recovery measures them). ``-l`` shows the listeners instead, ``--json`` the raw rows.
``netstack stats`` stays the ``netstat -s`` view.
"""

from __future__ import annotations

import json
import time

HELP = "the TCP connections of a running stack (netstack up), like ss -tni"


def add_arguments(parser) -> None:
    parser.add_argument("--tap", metavar="NAME", help="the stack started by `netstack up --tap NAME`")
    parser.add_argument("--file", metavar="FILE", help="a stats file written by `netstack up --stats-file`")
    parser.add_argument("-l", "--listening", action="store_true", help="show the listeners (ss -tnl)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")


def run(args) -> int:
    from netstack.commands.stats import read_snapshot
    from netstack.presentation.connection_table import format_table

    snapshot = read_snapshot(args, "ss")
    if snapshot is None:
        return 1
    rows = snapshot.get("connections")
    if not isinstance(rows, list):
        rows = []  # a stack from before connections were published: an empty table, not an error
    if args.json:
        print(json.dumps(rows, indent=1, sort_keys=True))
        return 0
    age = time.time() - snapshot.get("time", 0)
    print(f"# {snapshot.get('tap')} {snapshot.get('ip')} (pid {snapshot.get('pid')}, {age:.1f} s ago)")
    print(format_table([row for row in rows if isinstance(row, dict)], listening=args.listening))
    return 0
