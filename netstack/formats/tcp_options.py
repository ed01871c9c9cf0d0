"""TCP options (RFC 9293 §3.1 "Options", §3.2; RFC 7323 §2-3; RFC 2018 §2-3; RFC 7413 §4.1.1).

Every option but two is kind-length-value; the kinds netstack knows::

    kind  length  name            value                                        RFC
     0    -       eol             end of option list; the rest is zero padding  9293 §3.2
     1    -       nop             no operation, aligns the next option          9293 §3.2
     2    4       mss             maximum segment size, bytes (SYN only)        9293 §3.7.1
     3    3       window_scale    shift count 0-14                              7323 §2.2
     4    2       sack_permitted  (none)                                        2018 §2
     5    2+8n    sack            n = 1..4 blocks of (left edge, right edge)    2018 §3
     8    10      timestamps      TSval, TSecr, 32 bits each                    7323 §3.2
    34    2-18    tfo             TCP Fast Open cookie, 0-16 bytes              7413 §4.1.1

    +--------+--------+---------...      +--------+      +--------+------...
    |  kind  | length |  value           |  kind  |      |   0    | zero padding
    +--------+--------+---------...      +--------+      +--------+------...
      kind-length-value (length counts     nop (1)         eol: ends the list
      kind and length bytes)

Decoded, the option list is a list of ``Container(kind, length, value)``: ``kind`` is the name (an int
for a kind nobody named), ``length`` the length byte (None for eol and nop), ``value`` as in the table:
an int (mss, window_scale), None (nop, sack_permitted), bytes (tfo cookie; an unknown kind's raw value;
the zero padding after eol), a list of ``Container(left, right)`` (sack) or ``Container(ts_value,
ts_echo_reply)`` (timestamps). An unknown kind is kept raw and rebuilt byte for byte.

Decode refuses (``FormatError``, layer "tcp_options", field "length" or "kind", absolute offset):
a length byte missing at the end of the list, a length below 2 (a zero length would loop forever), a
length that overruns the option space, and a length a known kind does not allow (MSS of 5 bytes).

Build takes those containers, dicts, or ``(kind, value)`` tuples (``("mss", 1460)``, ``("sack",
[(l, r)])``, ``("timestamps", (tsval, tsecr))``); ``length`` is computed when absent or None and kept
when given (to craft a broken option). Aliases: "wscale" for window_scale, "ts" for timestamps.
"""

from __future__ import annotations

from construct import (
    Construct,
    ConstructError,
    Container,
    GreedyBytes,
    GreedyRange,
    Int8ub,
    Int16ub,
    Int32ub,
    ListContainer,
    Pass,
    SizeofError,
    Struct,
    stream_read_entire,
)

from netstack.errors import FormatError
from netstack.formats.fields import NamedNumber

# Option kinds as ints (IANA tcp-parameters registry); the engine and the codec import these.
OPT_EOL = 0
OPT_NOP = 1
OPT_MSS = 2
OPT_WINDOW_SCALE = 3
OPT_SACK_PERMITTED = 4
OPT_SACK = 5
OPT_TIMESTAMPS = 8
OPT_TFO = 34

TCP_OPTION_KIND = NamedNumber(
    Int8ub, eol=OPT_EOL, nop=OPT_NOP, mss=OPT_MSS, window_scale=OPT_WINDOW_SCALE,
    sack_permitted=OPT_SACK_PERMITTED, sack=OPT_SACK, timestamps=OPT_TIMESTAMPS, tfo=OPT_TFO,
)
"""TCP option kind (IANA tcp-parameters registry)."""
TCP_OPTION_KIND.alias("wscale", OPT_WINDOW_SCALE)
TCP_OPTION_KIND.alias("ts", OPT_TIMESTAMPS)

sack_block = Struct(
    "left" / Int32ub * "left edge: sequence number of the first byte of the block (RFC 2018 §3)",
    "right" / Int32ub * "right edge: sequence number just after the block's last byte (RFC 2018 §3)",
)

tcp_option_values = {
    "eol": GreedyBytes * "zero padding after the end of the option list (RFC 9293 §3.2)",
    "nop": Pass * "no value: one byte aligning the next option (RFC 9293 §3.2)",
    "mss": Int16ub * "maximum segment size the sender can receive, bytes (RFC 9293 §3.7.1)",
    "window_scale": Int8ub * "window shift count, 0-14 (RFC 7323 §2.2, §2.3)",
    "sack_permitted": Pass * "no value: SACK may be used (RFC 2018 §2)",
    "sack": GreedyRange(sack_block) * "1-4 blocks of received, not yet acknowledged data (RFC 2018 §3)",
    "timestamps": Struct(
        "ts_value" / Int32ub * "TSval: the sender's timestamp clock (RFC 7323 §3.2)",
        "ts_echo_reply" / Int32ub * "TSecr: the TSval being echoed, when ACK is set (RFC 7323 §3.2)",
    )
    * "timestamps (RFC 7323 §3.2)",
    "tfo": GreedyBytes * "Fast Open cookie, 0 (a cookie request) or 4-16 bytes (RFC 7413 §4.1.1)",
}
"""Value declaration per option kind; an unnamed kind's value is ``GreedyBytes`` (raw)."""

unknown_option_value = GreedyBytes * "value of an option kind netstack does not know, raw"

#: kinds without a length byte
SINGLE_BYTE_KINDS = frozenset({OPT_EOL, OPT_NOP})

#: kind -> allowed total lengths (kind and length bytes included)
OPTION_LENGTHS: dict[int, frozenset[int]] = {
    OPT_MSS: frozenset({4}),
    OPT_WINDOW_SCALE: frozenset({3}),
    OPT_SACK_PERMITTED: frozenset({2}),
    OPT_SACK: frozenset({10, 18, 26, 34}),
    OPT_TIMESTAMPS: frozenset({10}),
    OPT_TFO: frozenset(range(2, 19)),
}

MAXIMUM_OPTIONS_LENGTH = 40  # data offset 15 words minus the 20-byte header (RFC 9293 §3.1)


def _value_construct(kind: int):
    name = TCP_OPTION_KIND.ksymapping.get(kind)
    return tcp_option_values.get(name, unknown_option_value) if name else unknown_option_value


def _clean(value):
    if isinstance(value, Container):
        value.pop("_io", None)
    elif isinstance(value, list):
        for item in value:
            _clean(item)
    return value


def decode_options(data: bytes, base: int = 0) -> ListContainer:
    """The option list in ``data`` (the bytes between the fixed header and data offset * 4).

    ``base`` is the absolute offset of ``data[0]``, for error messages.
    """
    options = ListContainer()
    position = 0
    end = len(data)
    while position < end:
        kind = data[position]
        label = TCP_OPTION_KIND.label(kind)
        if kind == OPT_EOL:
            options.append(Container(kind=label, length=None, value=data[position + 1 :]))
            break
        if kind == OPT_NOP:
            options.append(Container(kind=label, length=None, value=None))
            position += 1
            continue
        if position + 1 >= end:
            raise FormatError("tcp_options", "length", base + position + 1, f"option kind {kind} has no length byte")
        length = data[position + 1]
        if length < 2:
            raise FormatError("tcp_options", "length", base + position + 1, f"option kind {kind} has length {length}, below 2")
        if position + length > end:
            raise FormatError(
                "tcp_options", "length", base + position + 1,
                f"option kind {kind} length {length} overruns the {end - position} bytes of option space left",
            )
        allowed = OPTION_LENGTHS.get(kind)
        if allowed is not None and length not in allowed:
            raise FormatError("tcp_options", "length", base + position + 1, f"option {label} cannot have length {length}")
        raw = data[position + 2 : position + length]
        try:
            value = _value_construct(kind).parse(raw)
        except ConstructError as error:  # lengths were checked above; never leak construct's error
            raise FormatError("tcp_options", "value", base + position + 2, str(error)) from None
        options.append(Container(kind=label, length=length, value=_clean(value)))
        position += length
    return options


def option_tuple_to_value(kind: int, value):
    """A crafted value (tuples allowed) in the shape the value construct builds from."""
    if kind == OPT_SACK and value is not None:
        return [block if isinstance(block, dict) else {"left": block[0], "right": block[1]} for block in value]
    if kind == OPT_TIMESTAMPS and value is not None and not isinstance(value, dict):
        return {"ts_value": value[0], "ts_echo_reply": value[1]}
    return value


def encode_option(option) -> bytes:
    """One option (Container/dict with kind, value, length; or a (kind, value) tuple) as bytes."""
    if isinstance(option, dict):
        kind_field, value, length = option.get("kind"), option.get("value"), option.get("length")
    else:
        try:
            kind_field, value = option
        except (TypeError, ValueError):
            raise FormatError("tcp_options", None, None, f"an option is a dict or (kind, value), got {option!r}") from None
        length = None
    try:
        kind = TCP_OPTION_KIND.number(kind_field)
    except FormatError:
        raise FormatError("tcp_options", "kind", None, f"unknown option name {kind_field!r}") from None
    if not 0 <= kind <= 255:
        raise FormatError("tcp_options", "kind", None, f"kind {kind} is not a byte")
    if kind == OPT_NOP:
        return b"\x01"
    if kind == OPT_EOL:
        if not isinstance(value, (bytes, bytearray, memoryview, type(None))):
            raise FormatError("tcp_options", "value", None, f"eol padding must be bytes, got {type(value).__name__}")
        return b"\x00" + bytes(value or b"")
    try:
        raw = _value_construct(kind).build(option_tuple_to_value(kind, value))
    except (ConstructError, TypeError, ValueError, KeyError, IndexError) as error:
        raise FormatError("tcp_options", "value", None, f"cannot build option {kind_field!r} from {value!r}: {error}") from None
    if length is None:
        length = 2 + len(raw)
    if not 0 <= length <= 255:
        raise FormatError("tcp_options", "length", None, f"length {length} is not a byte")
    return bytes((kind, length)) + raw


def encode_options(options) -> bytes:
    """The option list as bytes, unpadded (TCP pads to a 4-byte boundary)."""
    if options is None:
        return b""
    if isinstance(options, (bytes, bytearray, memoryview)):
        return bytes(options)
    if isinstance(options, (str, dict)) or not hasattr(options, "__iter__"):
        raise FormatError("tcp_options", None, None, f"options are a list of options or bytes, got {type(options).__name__}")
    return b"".join(encode_option(option) for option in options)


class TcpOptionList(Construct):
    """The TCP option list as a construct: parses the whole (sub)stream, builds a list or raw bytes."""

    def __init__(self):
        super().__init__()
        self.flagbuildnone = True

    def _parse(self, stream, context, path):
        return decode_options(stream_read_entire(stream, path))

    def _build(self, obj, stream, context, path):
        stream.write(encode_options(obj))
        return obj

    def _sizeof(self, context, path):
        raise SizeofError("the TCP option list has a variable length", path=path)
