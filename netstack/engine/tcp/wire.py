"""Bytes <-> ``TcpSegment``, through the codec of ``netstack.formats`` (never a hand-written layout).

``decode_segment(data, src, dst)`` verifies the checksum (RFC 9293 §3.1, pseudo-header from the IPv4
addresses) and returns ``(segment, checksum_ok)``; it raises ``FormatError`` for bytes that are not a
TCP segment. ``encode_segment(segment, src, dst)`` builds the header with the options the segment
carries (MSS, window scale, SACK-permitted, timestamps, SACK blocks, in Linux's order and NOP
alignment) and the checksum.

Both go through the codec generated from the construct declarations (``netstack.formats.fast``:
``decode_tcp`` / ``encode_tcp``); options arrive and leave as ``(kind number, value)`` pairs, kinds named
by ``netstack.formats.tcp_options``' ``OPT_*``. SACK blocks are carried to the sender's scoreboard,
unknown kinds are ignored.
"""

from __future__ import annotations

import functools
from operator import itemgetter

from netstack.engine.tcp.segment import TcpSegment
from netstack.formats.fast import TcpHeader, decode_tcp, encode_tcp, encode_tcp_options
from netstack.formats.tcp_options import (
    OPT_MSS,
    OPT_NOP,
    OPT_SACK,
    OPT_SACK_PERMITTED,
    OPT_TFO,
    OPT_TIMESTAMPS,
    OPT_WINDOW_SCALE,
)

_NOP = (OPT_NOP, None)


def _options_of(segment: TcpSegment) -> list:
    """The options to send, as (kind number, value) pairs in Linux's order and NOP alignment."""
    tsval = segment.tsval
    if segment.mss is None and segment.wscale is None and not segment.sack_permitted:
        # every segment after the handshake: NOP, NOP, timestamps (RFC 7323 Appendix A layout), then
        # NOP, NOP, SACK blocks when there are any (RFC 2018 §3; Linux's order)
        options = [_NOP, _NOP, (OPT_TIMESTAMPS, (tsval, segment.tsecr or 0))] if tsval is not None else []
        if segment.sack_blocks:
            options += [_NOP, _NOP, (OPT_SACK, list(segment.sack_blocks))]
        return options
    options = []
    if segment.mss is not None:
        options.append((OPT_MSS, segment.mss))
    if segment.sack_permitted and tsval is not None:
        options += [(OPT_SACK_PERMITTED, None), (OPT_TIMESTAMPS, (tsval, segment.tsecr or 0))]
    else:
        if segment.sack_permitted:
            options += [_NOP, _NOP, (OPT_SACK_PERMITTED, None)]
        if tsval is not None:
            options += [_NOP, _NOP, (OPT_TIMESTAMPS, (tsval, segment.tsecr or 0))]
    if segment.wscale is not None:
        options += [_NOP, (OPT_WINDOW_SCALE, segment.wscale)]
    cookie = segment.fastopen_cookie
    if cookie is not None:  # RFC 7413 §4.1.1, NOPs first so the option block stays 4-byte aligned
        options += [_NOP] * ((-(2 + len(cookie))) % 4) + [(OPT_TFO, bytes(cookie))]
    return options


def _apply_options(segment: TcpSegment, options) -> None:
    """Options as the generated codec gives them: (kind number, value) pairs."""
    for kind, value in options:
        if kind == OPT_TIMESTAMPS:
            segment.tsval, segment.tsecr = value
        elif kind == OPT_NOP:
            continue
        elif kind == OPT_MSS:
            segment.mss = value
        elif kind == OPT_WINDOW_SCALE:
            segment.wscale = value
        elif kind == OPT_SACK_PERMITTED:
            segment.sack_permitted = True
        elif kind == OPT_SACK:
            segment.sack_blocks = tuple(value)
        elif kind == OPT_TFO:
            segment.fastopen_cookie = bytes(value or b"")
        # EOL, unknown kinds: ignored (RFC 9293 §3.1)


# The record is a tuple: fetch the fields we use in one call, by name (robust to field order).
_FIELDS = itemgetter(*(
    TcpHeader._fields.index(name)
    for name in ("src_port", "dst_port", "seq", "ack", "flags", "window", "urgent_pointer", "options", "checksum_ok")
))


def decode_segment(data, src: bytes, dst: bytes) -> tuple[TcpSegment, bool]:
    """Decode one TCP segment; ``FormatError`` when it is malformed."""
    r = decode_tcp(data, 0, None, src, dst)
    src_port, dst_port, seq, ack, flags, window, urgent_pointer, options, checksum_ok = _FIELDS(r)
    segment = TcpSegment(src_port, dst_port, seq, ack, flags, window, r.payload)
    if urgent_pointer:
        segment.urgent_pointer = urgent_pointer
    if options:
        if (len(options) == 3 and options[2][0] == OPT_TIMESTAMPS and options[0][0] == OPT_NOP
                and options[1][0] == OPT_NOP):
            segment.tsval, segment.tsecr = options[2][1]  # NOP NOP TS: every segment after the SYN
        else:
            _apply_options(segment, options)
    return segment, checksum_ok


@functools.lru_cache(maxsize=64)
def _timestamp_options(tsval: int, tsecr: int) -> bytes:
    """NOP, NOP, timestamps encoded by the generated codec; a burst of segments shares one value pair."""
    return encode_tcp_options([_NOP, _NOP, (OPT_TIMESTAMPS, (tsval, tsecr))])


def encode_segment(segment: TcpSegment, src: bytes, dst: bytes) -> bytes:
    """The segment as bytes, header and checksum computed."""
    if segment.mss is None and segment.wscale is None and not segment.sack_permitted and not segment.sack_blocks:
        # every segment after the handshake (``_options_of``'s first case), options pre-encoded
        tsval = segment.tsval
        return encode_tcp(
            src, dst, segment.src_port, segment.dst_port, segment.seq, segment.ack, segment.flags,
            segment.window, segment.urgent_pointer,
            _timestamp_options(tsval, segment.tsecr or 0) if tsval is not None else b"", segment.payload,
        )
    return encode_tcp(
        src, dst, segment.src_port, segment.dst_port, segment.seq, segment.ack, segment.flags,
        segment.window, segment.urgent_pointer, _options_of(segment), segment.payload,
    )
