"""``netstack demo``: until the engine's demo lands, the formats tour (``netstack.formats.tour``).

Crafts a TCP SYN with options, shows it decoded field by field, writes a pcap that tshark opens (and,
when tshark is installed, shows tshark's one-line summary of it). ``--formats`` runs the same tour;
the engine's demo keeps that flag.
"""

from __future__ import annotations

import sys

HELP = "tour of netstack (for now: the packet formats tour; --formats)"


def add_arguments(parser) -> None:
    parser.add_argument("--formats", action="store_true", help="run the packet formats tour")
    parser.add_argument("--pcap", metavar="PATH", default=None,
                        help="where the tour writes its pcap (default: a temporary file, removed afterwards)")


def run(args) -> int:
    from netstack.formats.tour import run_tour

    return run_tour(out=sys.stdout, pcap_path=args.pcap)
