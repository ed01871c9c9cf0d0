"""``netstack explain NAME``: the field table of a header, generated from its construct declaration.

Bit offset, width, name, meaning and RFC section of every field, read from the schema (``netstack
explain tcp``, ``ipv4``, ``tcp_options``, ``pcap``, ... and every protocol registered with
``netstack.formats.register_ethertype``/``register_ip_protocol`` in the same process).
"""

from __future__ import annotations

import sys

HELP = "print a header's field table (bit offset, width, name, meaning, RFC) from its schema"


def add_arguments(parser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="schema: ethernet, arp, ipv4, icmp, udp, tcp, tcp_options, pcap, or a registered one; "
                             "omit it to list them")


def run(args) -> int:
    from netstack.presentation import describe

    catalogue = describe.explained_schemas()
    if not args.name:
        width = max(len(name) for name in catalogue)
        for name, entry in catalogue.items():
            print(f"{name.ljust(width)}  {entry.title}")
        return 0
    try:
        text = describe.explain_text(args.name)
    except KeyError:
        print(f"netstack explain: no schema named {args.name!r}; known: {', '.join(catalogue)}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
