"""``netstack decode FILE.pcap`` / ``netstack decode --hex HEX``: every frame, layer by layer and field
by field, like ``tshark -V``, with checksum verdicts.

A frame that does not decode is shown with the error naming the layer, field and offset (and its
bytes); the other frames are still shown, and the exit status is 1. A file that is not a pcap, or hex
that is not hex, is one clear error line, never a traceback.
"""

from __future__ import annotations

import sys

HELP = "decode frames from a pcap file or hex, field by field like tshark -V, with checksum checks"


def add_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("pcap", nargs="?", metavar="FILE.pcap", help="libpcap file of Ethernet frames")
    source.add_argument("--hex", metavar="HEX", help="one Ethernet frame as hex (spaces and colons allowed)")
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


def run(args) -> int:
    from netstack.presentation.frame_text import decode_text
    from netstack.formats.pcap import LINKTYPE_ETHERNET, PcapReader

    out = sys.stdout
    failures = 0
    if args.hex is not None:
        text, error = decode_text(_frame_from_hex(args.hex))
        out.write(text)
        return 1 if error else 0
    shown = 0
    with PcapReader(args.pcap) as reader:
        if reader.linktype != LINKTYPE_ETHERNET:
            print(f"netstack decode: {args.pcap}: link type {reader.linktype}, only Ethernet (1) is decoded",
                  file=sys.stderr)
            return 1
        for number, (timestamp, frame) in enumerate(reader, start=1):
            if args.count is not None and shown >= args.count:
                break
            text, error = decode_text(frame, number, timestamp)
            out.write(text + "\n")
            failures += error is not None
            shown += 1
    if failures:
        print(f"netstack decode: {failures} of {shown} frames did not decode", file=sys.stderr)
    return 1 if failures else 0
