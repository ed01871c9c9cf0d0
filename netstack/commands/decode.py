"""``netstack decode [FILE]`` / ``netstack decode --hex HEX``: frames from a pcap or pcapng file (or stdin),
one line each like tshark's default output, or field by field like ``tshark -V`` with ``-V``.

``-Y FILTER`` shows only the frames the display filter matches (``tcp.dst_port == 80``; field names as
the declarations spell them, see ``netstack.formats.display_filter``); ``-c N`` stops after N frames
shown. With no FILE (or ``-``) and a pipe on stdin, the capture is read from stdin.

A frame that does not decode is shown with the error naming the layer, field and offset (and with -V
its bytes); the other frames are still shown, and the exit status is 1. A file that is not a capture,
hex that is not hex, or a filter naming an unknown field is one clear error line, never a traceback.
"""

from __future__ import annotations

import sys

HELP = "decode frames from a pcap/pcapng file, stdin or hex: one line each like tshark, -V field by field"


def add_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("pcap", nargs="?", metavar="FILE", help="pcap or pcapng file of Ethernet frames ('-': stdin)")
    source.add_argument("--hex", metavar="HEX", help="one Ethernet frame as hex (spaces and colons allowed)")
    parser.add_argument("-V", "--verbose", action="store_true", help="every layer field by field (like tshark -V)")
    parser.add_argument("-Y", "--filter", metavar="FILTER", help="display filter, e.g. 'tcp.dst_port == 80 and not icmp'")
    parser.add_argument("-c", "--count", type=_positive_count, default=None, help="stop after this many frames")


def _positive_count(text: str) -> int:
    import argparse

    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count} is not a positive number of frames")
    return count


def _frame_from_hex(text: str) -> bytes:
    from netstack.errors import FormatError

    digits = "".join(text.split()).replace(":", "").replace("-", "")
    if digits.lower().startswith("0x"):
        digits = digits[2:]
    bad = next((character for character in digits if character not in "0123456789abcdefABCDEF"), None)
    if bad is not None:
        raise FormatError("hex", None, None, f"{bad!r} is not a hex digit")
    if len(digits) % 2:
        raise FormatError("hex", None, None, f"{len(digits)} hex digits: not a whole number of bytes")
    if not digits:
        raise FormatError("hex", None, None, "no hex digits given")
    return bytes.fromhex(digits)


def _records(args):
    """(timestamp, frame, linktype) of the capture named on the command line, or of stdin."""
    from netstack.formats import pcap

    if args.hex is not None:
        return [(None, _frame_from_hex(args.hex), pcap.LINKTYPE_ETHERNET)]
    if args.pcap in (None, "-"):
        if args.pcap is None and sys.stdin.isatty():
            raise SystemExit("netstack decode: give a capture FILE, '-' or a pipe on stdin, or --hex HEX")
        return pcap.records(sys.stdin.buffer)
    return pcap.records(args.pcap)


def run(args) -> int:
    from netstack.formats import pcap
    from netstack.formats.display_filter import compile_filter
    from netstack.formats.text import MALFORMED, summary_columns
    from netstack.presentation.frame_text import decode_text

    matches = compile_filter(args.filter) if args.filter else None
    out = sys.stdout
    failures = shown = 0
    first = None
    lines: list[str] = []
    for number, (timestamp, frame, linktype) in enumerate(_records(args), start=1):
        if args.count is not None and shown >= args.count:
            break
        if linktype != pcap.LINKTYPE_ETHERNET:
            out.write("".join(lines))
            print(f"netstack decode: frame {number}: link type {linktype}, only Ethernet (1) is decoded",
                  file=sys.stderr)
            return 1
        if matches is not None and not matches(frame):
            continue
        shown += 1
        if args.verbose:
            text, error = decode_text(frame, number, timestamp)
            failures += error is not None
            lines.append(text if args.hex is not None else text + "\n")
        else:
            if first is None:
                first = timestamp or 0.0
            source, destination, protocol, length, info = summary_columns(frame)
            failures += info.startswith(MALFORMED)
            lines.append(f"{number:>5} {(timestamp or 0.0) - first:.6f} {source} → {destination} {protocol} {length} {info}\n")
        if len(lines) >= 512:
            out.write("".join(lines))
            lines.clear()
    out.write("".join(lines))
    if failures and args.hex is None:
        print(f"netstack decode: {failures} of {shown} frames did not decode", file=sys.stderr)
    return 1 if failures else 0
