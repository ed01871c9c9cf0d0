"""``netstack sniff -i IFACE [--netns NS] [-c N] [--timeout S] [-Y FILTER] [-w FILE] [-V]``: live frames.

Opens IFACE with an AF_PACKET socket (``netstack.link``; inside network namespace NS when given; needs
root or CAP_NET_RAW) and prints each frame as it arrives, one line like tshark (``-V``: field by
field). ``-Y`` is a display filter (``netstack decode``'s); ``-w`` also writes the frames to a pcap
(pcapng when the name ends in .pcapng). Stops after ``-c`` frames, after ``--timeout`` seconds, or on
Ctrl-C.
"""

from __future__ import annotations

import sys

HELP = "print live frames from an interface (AF_PACKET), optionally inside a network namespace"
#: how long one bounded wait lasts when neither -c nor --timeout bounds the capture (Ctrl-C stops it)
SLICE_SECONDS = 1.0


def add_arguments(parser) -> None:
    parser.add_argument("-i", "--interface", required=True, metavar="IFACE", help="interface to capture on")
    parser.add_argument("--netns", metavar="NS", help="network namespace the interface lives in")
    parser.add_argument("-c", "--count", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("-Y", "--filter", metavar="FILTER", help="display filter, e.g. 'icmp or arp'")
    parser.add_argument("-w", "--write", metavar="FILE", help="also write the frames to this pcap/pcapng file")
    parser.add_argument("-V", "--verbose", action="store_true", help="every layer field by field")


def run(args) -> int:
    import time

    from netstack.drivers import link
    from netstack.formats import pcap, pcapng
    from netstack.formats.display_filter import compile_filter
    from netstack.formats.text import summary_line
    from netstack.presentation.frame_text import decode_text

    if args.count is not None and args.count < 1:
        print(f"netstack sniff: -c needs a positive count, got {args.count}", file=sys.stderr)
        return 2
    if args.filter:
        compile_filter(args.filter)  # a bad filter is an error before anything is opened
    writer = None
    if args.write:
        writer = (pcapng.PcapngWriter if args.write.endswith(".pcapng") else pcap.PcapWriter)(args.write)
    shown = 0
    first = None
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        with link.open(args.interface, netns=args.netns) as wire:
            while args.count is None or shown < args.count:
                left = SLICE_SECONDS if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    break
                remaining = None if args.count is None else args.count - shown
                for received in wire.watch(args.filter, remaining, min(left, SLICE_SECONDS)):
                    shown += 1
                    first = received.timestamp if first is None else first
                    if writer is not None:
                        writer.write(received.data, received.timestamp)
                    if args.verbose:
                        text, _ = decode_text(received.data, shown, received.timestamp)
                        sys.stdout.write(text + "\n")
                    else:
                        sys.stdout.write(f"{shown:>5} {received.timestamp - first:.6f} {summary_line(received.data)}\n")
                    sys.stdout.flush()
    finally:
        if writer is not None:
            writer.close()
    return 0
