"""Bytes <-> ``TcpSegment``, through the codec of ``netstack.formats`` (never a hand-written layout).

``decode_segment(data, src, dst)`` verifies the checksum (RFC 9293 §3.1, pseudo-header from the IPv4
addresses) and returns ``(segment, checksum_ok)``; it raises ``FormatError`` for bytes that are not a
TCP segment. ``encode_segment(segment, src, dst)`` builds the header with the options the segment
carries (MSS, window scale, SACK-permitted, timestamps, SACK blocks, in Linux's order and NOP
alignment) and the checksum.

The generated fast codec (``netstack.formats.fast``: ``decode_tcp`` / ``encode_tcp``, struct codecs
derived from the construct declarations) is used when it is present; otherwise the declarative
``netstack.formats.tcp.TCP`` layer, which is correct but slower. Options are read from either form
the codec gives: name or number kinds; SACK blocks are carried to the sender's scoreboard, unknown
kinds are ignored.
"""

from __future__ import annotations

import functools

from netstack.engine.tcp.segment import TcpSegment

_FLAG_BITS = {"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20, "ece": 0x40, "cwr": 0x80}
_KIND_NAMES = {2: "mss", 3: "window_scale", 4: "sack_permitted", 5: "sack", 8: "timestamps"}

try:  # the generated fast path, once formats ships it
    from netstack.formats import fast as _fast

    _FAST_DECODE = getattr(_fast, "decode_tcp", None)
    _FAST_ENCODE = getattr(_fast, "encode_tcp", None)
except Exception:  # pragma: no cover - the generated codec is another team's work in progress
    _FAST_DECODE = _FAST_ENCODE = None

from netstack.formats.tcp import TCP as _TCP  # noqa: E402  (declarative path, always available)


def _flags_int(flags) -> int:
    if isinstance(flags, int):
        return flags
    value = 0
    for name, bit in _FLAG_BITS.items():
        if flags.get(name):
            value |= bit
    return value


def _apply_options(segment: TcpSegment, options) -> None:
    for option in options:
        if isinstance(option, tuple):
            kind, value = option
        else:
            kind, value = option["kind"], option["value"]
        if isinstance(kind, int) and not isinstance(kind, str):
            kind = _KIND_NAMES.get(int(kind), kind)
        if kind == "mss":
            segment.mss = int(value)
        elif kind == "window_scale":
            segment.wscale = int(value)
        elif kind == "sack_permitted":
            segment.sack_permitted = True
        elif kind == "timestamps":
            if isinstance(value, (tuple, list)):
                segment.tsval, segment.tsecr = int(value[0]), int(value[1])
            else:
                segment.tsval, segment.tsecr = int(value["ts_value"]), int(value["ts_echo_reply"])
        elif kind == "sack":
            segment.sack_blocks = tuple(
                (b[0], b[1]) if isinstance(b, (tuple, list)) else (b["left"], b["right"]) for b in value
            )
        # unknown kinds, NOP, EOL: ignored (RFC 9293 §3.1)


def _options_of(segment: TcpSegment) -> list:
    """The options to send, as (kind number, value) pairs in Linux's order and NOP alignment."""
    tsval = segment.tsval
    if segment.mss is None and segment.wscale is None and not segment.sack_permitted:
        # every segment after the handshake: NOP, NOP, timestamps (RFC 7323 Appendix A layout), then
        # NOP, NOP, SACK blocks when there are any (RFC 2018 §3; Linux's order)
        options = [(1, None), (1, None), (8, (tsval, segment.tsecr or 0))] if tsval is not None else []
        if segment.sack_blocks:
            options += [(1, None), (1, None), (5, list(segment.sack_blocks))]
        return options
    options = []
    if segment.mss is not None:
        options.append((2, segment.mss))
    if segment.sack_permitted and tsval is not None:
        options += [(4, None), (8, (tsval, segment.tsecr or 0))]
    else:
        if segment.sack_permitted:
            options += [(1, None), (1, None), (4, None)]
        if tsval is not None:
            options += [(1, None), (1, None), (8, (tsval, segment.tsecr or 0))]
    if segment.wscale is not None:
        options += [(1, None), (3, segment.wscale)]
    return options


def _apply_fast_options(segment: TcpSegment, options) -> None:
    """Options as the generated codec gives them: (kind number, value) pairs."""
    for kind, value in options:
        if kind == 8:
            segment.tsval, segment.tsecr = value
        elif kind == 1:
            continue
        elif kind == 2:
            segment.mss = value
        elif kind == 3:
            segment.wscale = value
        elif kind == 4:
            segment.sack_permitted = True
        elif kind == 5:
            segment.sack_blocks = tuple(value)
        # EOL, unknown kinds: ignored (RFC 9293 §3.1)


if _FAST_DECODE is not None:
    # The record is a tuple: fetch the fields we use in one call, by name (robust to field order).
    from operator import itemgetter as _itemgetter

    _FIELDS = _itemgetter(*(
        _fast.TcpHeader._fields.index(name)
        for name in ("src_port", "dst_port", "seq", "ack", "flags", "window", "urgent_pointer", "options",
                     "checksum_ok")
    ))


def decode_segment(data, src: bytes, dst: bytes) -> tuple[TcpSegment, bool]:
    """Decode one TCP segment; ``FormatError`` when it is malformed."""
    if _FAST_DECODE is not None:
        r = _FAST_DECODE(data, 0, None, src, dst)
        src_port, dst_port, seq, ack, flags, window, urgent_pointer, options, checksum_ok = _FIELDS(r)
        segment = TcpSegment(src_port, dst_port, seq, ack, flags, window, r.payload)
        if urgent_pointer:
            segment.urgent_pointer = urgent_pointer
        if options:
            if len(options) == 3 and options[2][0] == 8 and options[0][0] == 1 and options[1][0] == 1:
                segment.tsval, segment.tsecr = options[2][1]  # NOP NOP TS: every segment after the SYN
            else:
                _apply_fast_options(segment, options)
        return segment, checksum_ok
    record = _TCP.parse(bytes(data), src=src, dst=dst)
    segment = TcpSegment(
        record["src_port"], record["dst_port"], record["seq"], record["ack"], _flags_int(record["flags"]),
        record["window"], record["payload"], urgent_pointer=record["urgent_pointer"],
    )
    if record["options"]:
        _apply_options(segment, record["options"])
    return segment, bool(record["checksum_ok"])


@functools.lru_cache(maxsize=64)
def _timestamp_options(tsval: int, tsecr: int) -> bytes:
    """NOP, NOP, timestamps encoded by the generated codec; a burst of segments shares one value pair."""
    return _fast.encode_tcp_options([(1, None), (1, None), (8, (tsval, tsecr))])


def encode_segment(segment: TcpSegment, src: bytes, dst: bytes) -> bytes:
    """The segment as bytes, header and checksum computed."""
    if (_FAST_ENCODE is not None and segment.mss is None and segment.wscale is None and not segment.sack_permitted
            and not segment.sack_blocks):
        # every segment after the handshake (``_options_of``'s first case), options pre-encoded
        tsval = segment.tsval
        return _FAST_ENCODE(
            src, dst, segment.src_port, segment.dst_port, segment.seq, segment.ack, segment.flags,
            segment.window, segment.urgent_pointer,
            _timestamp_options(tsval, segment.tsecr or 0) if tsval is not None else b"", segment.payload,
        )
    options = _options_of(segment)
    if _FAST_ENCODE is not None:
        return _FAST_ENCODE(
            src, dst, segment.src_port, segment.dst_port, segment.seq, segment.ack, segment.flags,
            segment.window, segment.urgent_pointer, options, segment.payload,
        )
    return _TCP.build(
        dict(
            src_port=segment.src_port,
            dst_port=segment.dst_port,
            seq=segment.seq,
            ack=segment.ack,
            flags=segment.flags,
            window=segment.window,
            urgent_pointer=segment.urgent_pointer,
            options=options,
            payload=bytes(segment.payload),
        ),
        src=src,
        dst=dst,
    )
