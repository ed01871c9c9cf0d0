"""The TCP option codec of the fast path, generated from ``tcp_options.tcp_option_values``.

One ``if kind == ...`` branch per option kind, in a hot-first order, each with the kind's allowed
lengths (``tcp_options.OPTION_LENGTHS``) and a ``struct`` codec derived from the kind's value
declaration (``Int16ub`` -> "H", ``Struct`` of integers -> a tuple, ``GreedyRange`` -> tuple of tuples,
``GreedyBytes`` -> bytes, ``Pass`` -> None). The loop applies the same integrity rules as
``tcp_options.decode_options`` (RFC 9293 §3.2: a length below 2 would never advance; a length past the
option space is refused) and raises the same ``FormatError``. Public through ``netstack.formats.fast``:

``decode_tcp_options(buf, start, end) -> tuple[(kind, value), ...]``
``encode_tcp_options(options, pad=True) -> bytes``
"""

from __future__ import annotations

import struct

from construct import GreedyBytes, GreedyRange, Pass, Struct

from netstack.errors import FormatError
from netstack.formats import tcp_options as options_schema
from netstack.formats.codegen import _unwrap, header_layout


def _option_length_error(kind, length, position, end):
    """The FormatError for a length byte below 2 (would loop forever) or past the option space."""
    if length < 2:
        return FormatError("tcp_options", "length", position + 1, "option kind %d has length %d, below 2" % (kind, length))
    return FormatError(
        "tcp_options", "length", position + 1,
        "option kind %d length %d overruns the %d bytes of option space left" % (kind, length, end - position),
    )


def _indent(lines, depth):
    return "\n".join(" " * (4 * depth) + line for line in lines)


_HOT_KIND_ORDER = ["timestamps", "sack", "mss", "window_scale", "sack_permitted", "tfo"]


def _option_codec(name, declaration):
    """(decode expression, encode statement lines) for one option kind's value declaration."""
    base = _unwrap(declaration)
    kind = options_schema.TCP_OPTION_KIND.encmapping[name]
    if base is Pass:
        return "None", [f"data += {bytes((kind, 2))!r}"], {}
    if base is GreedyBytes:
        return (
            "bytes(buf[position + 2 : position + length])",
            [f"data += bytes(({kind}, 2 + len(value))) + bytes(value)"],
            {},
        )
    if isinstance(base, Struct):
        layout = header_layout(base)
        packer = f"_OPT_{name.upper()}"
        return (
            f"{packer}.unpack_from(buf, position + 2)",
            [f"data += {packer}_WHOLE.pack({kind}, {2 + layout.size}, *value)"],
            {packer: struct.Struct(layout.format), packer + "_WHOLE": struct.Struct("!BB" + layout.format[1:])},
        )
    if isinstance(base, GreedyRange):
        layout = header_layout(_unwrap(base.subcon))
        packer = f"_OPT_{name.upper()}"
        return (
            f"tuple({packer}.iter_unpack(buf[position + 2 : position + length]))",
            [
                f"data += bytes(({kind}, 2 + {layout.size} * len(value))) + b''.join([{packer}.pack(*item) for item in value])"
            ],
            {packer: struct.Struct(layout.format)},
        )
    layout = header_layout(Struct("value" / declaration))
    packer = f"_OPT_{name.upper()}"
    return (
        f"{packer}.unpack_from(buf, position)[2]",
        [f"data += {packer}.pack({kind}, {2 + layout.size}, value)"],
        {packer: struct.Struct("!BB" + layout.format[1:])},
    )


def _generate_options():
    namespace = {"_NOP": (options_schema.OPT_NOP, None), "_option_length_error": _option_length_error, "FormatError": FormatError, "_OPT_HEAD": struct.Struct("!BB"), "_kind_number": options_schema.TCP_OPTION_KIND.number,
                 "_KIND_BY_NAME": {str(name): number for name, number in options_schema.TCP_OPTION_KIND.encmapping.items()}}
    decode_branches = []
    encode_branches = []
    names = sorted(
        (n for n in options_schema.tcp_option_values if n not in ("eol", "nop")),
        key=lambda n: _HOT_KIND_ORDER.index(n) if n in _HOT_KIND_ORDER else len(_HOT_KIND_ORDER),
    )
    for number, name in enumerate(names):
        kind = options_schema.TCP_OPTION_KIND.encmapping[name]
        decode_expression, encode_lines, structs = _option_codec(name, options_schema.tcp_option_values[name])
        namespace.update(structs)
        allowed = sorted(options_schema.OPTION_LENGTHS[kind])
        keyword = "if" if number == 0 else "elif"
        if len(allowed) == 1:
            check = f"length != {allowed[0]}"
        elif allowed == list(range(allowed[0], allowed[-1] + 1)):
            check = f"not {allowed[0]} <= length <= {allowed[-1]}"
        else:
            check = f"length not in {tuple(allowed)!r}"
        decode_branches += [
            f"{keyword} kind == {kind}:",
            f"    if {check}: raise FormatError('tcp_options', 'length', position + 1, 'option {name} cannot have length %d' % length)",
            f"    append(({kind}, {decode_expression}))",
        ]
        encode_branches += [f"{keyword} kind == {kind}:"] + ["    " + line for line in encode_lines]
    decode_branches += ["else:", "    append((kind, bytes(buf[position + 2 : position + length])))"]
    encode_branches += [
        f"elif kind == {options_schema.OPT_EOL}:",
        "    data += b'\\x00' + bytes(value or b'')",
        "elif kind.__class__ is not int:",
        "    data += encode_tcp_options(((_kind_number(kind), value),), False)  # an IntEnum, say",
        "else:",
        "    value = bytes(value)",
        "    data += bytes((kind, 2 + len(value))) + value",
    ]
    source = f'''
def decode_tcp_options(buf, position, end):
    """The options between ``position`` and ``end`` of ``buf`` as a tuple of (kind, value)."""
    if end <= len(buf):
        matchers = _LAYOUTS_BY_LENGTH.get(end - position)
        if matchers is not None:
            for match in matchers:
                options = match(buf, position)
                if options is not None:
                    return options
    return decode_tcp_options_loop(buf, position, end)


def decode_tcp_options_loop(buf, position, end):
    """The general option loop (any kinds, any order), with every integrity check."""
    options = []
    append = options.append
    while position < end:
        kind = buf[position]
        if kind == {options_schema.OPT_NOP}:
            append(_NOP)
            position += 1
            continue
        if kind == {options_schema.OPT_EOL}:
            append(({options_schema.OPT_EOL}, bytes(buf[position + 1 : end])))
            break
        if position + 1 >= end:
            raise FormatError("tcp_options", "length", position + 1, "option kind %d has no length byte" % kind)
        length = buf[position + 1]
        if length < 2 or position + length > end:
            raise _option_length_error(kind, length, position, end)
{_indent(decode_branches, 2)}
        position += length
    return tuple(options)


def encode_tcp_options(options, pad=True):
    """(kind, value) pairs -> option bytes, zero-padded (EOL) to a multiple of 4 unless ``pad`` is False."""
    if isinstance(options, (bytes, bytearray, memoryview)):
        data = bytes(options)
    else:
        data = b""
        for kind, value in options:
            if kind.__class__ is str:  # a name ("mss"): one dict lookup, then the same branches
                kind = _KIND_BY_NAME.get(kind) if kind in _KIND_BY_NAME else _kind_number(kind)
            if kind == {options_schema.OPT_NOP}:
                data += b"\\x01"
{_indent(["el" + encode_branches[0]] + encode_branches[1:], 3)}
    if pad and len(data) & 3:
        data += bytes(-len(data) & 3)
    return data
'''
    layouts_source, by_length = _layout_matchers(namespace)
    source += layouts_source
    exec(compile(source, "<netstack.formats.fast: tcp options>", "exec"), namespace)
    namespace["_LAYOUTS_BY_LENGTH"].update(
        {length: tuple(namespace[name] for name in names) for length, names in by_length.items()}
    )
    return namespace["decode_tcp_options"], namespace["decode_tcp_options_loop"], namespace["encode_tcp_options"], source


def _layout_matchers(namespace):
    """One whole-layout matcher per entry of COMMON_LAYOUTS: a single struct unpack, a check of every
    kind and length byte, and the decoded tuple. A layout that does not match falls to the loop, so
    the result is always the loop's (tests/formats/test_fast.py checks both on every layout)."""
    namespace["_LAYOUTS_BY_LENGTH"] = {}
    namespace["_SACK_PERMITTED"] = (options_schema.TCP_OPTION_KIND.encmapping["sack_permitted"], None)
    by_length: dict[int, list[str]] = {}
    source = ""
    for index, layout in enumerate(COMMON_LAYOUTS):
        code = "!"
        checks = []
        values = []
        variable = 0
        for name in layout:
            kind = options_schema.TCP_OPTION_KIND.encmapping[name]
            if name == "nop":
                code += "B"
                checks.append((f"v{variable}", kind))
                variable += 1
                values.append("_NOP")
                continue
            base = _unwrap(options_schema.tcp_option_values[name])
            value_layout = header_layout(base) if isinstance(base, Struct) else (
                None if base is Pass else header_layout(Struct("value" / options_schema.tcp_option_values[name])))
            width = 0 if value_layout is None else value_layout.size
            if 2 + width not in options_schema.OPTION_LENGTHS[kind]:
                raise ValueError(f"COMMON_LAYOUTS: {name} cannot be {2 + width} bytes")
            code += "BB" + ("" if value_layout is None else value_layout.format[1:])
            checks.append((f"v{variable}", kind))
            checks.append((f"v{variable + 1}", 2 + width))
            variable += 2
            fields = 0 if value_layout is None else len(value_layout.slots)
            names = [f"v{variable + i}" for i in range(fields)]
            variable += fields
            if value_layout is None:
                values.append("_SACK_PERMITTED")
            elif isinstance(base, Struct):
                values.append(f"({kind}, ({', '.join(names)},))")
            else:
                values.append(f"({kind}, {names[0]})")
        packer = f"_LAYOUT{index}"
        namespace[packer] = struct.Struct(code)
        targets = ", ".join(f"v{i}" for i in range(variable))
        condition = " and ".join(f"{name} == {value}" for name, value in checks)
        source += f'''

def _match_layout{index}(buf, position):  # {", ".join(layout)}
    {targets}, = {packer}.unpack_from(buf, position)
    if {condition}:
        return ({", ".join(values)},)
    return None
'''
        by_length.setdefault(namespace[packer].size, []).append(f"_match_layout{index}")
    return source, by_length


#: Option sequences seen on almost every segment, matched whole before the general loop:
COMMON_LAYOUTS = (
    ("nop", "nop", "timestamps"),  # every segment of a connection with timestamps (RFC 7323 App. A)
    ("mss", "sack_permitted", "timestamps", "nop", "window_scale"),  # Linux SYN and SYN-ACK
    ("mss", "nop", "window_scale", "sack_permitted", "timestamps"),  # FreeBSD-style/scapy SYN
    ("mss", "nop", "window_scale", "nop", "nop", "timestamps"),  # SYN without SACK
    ("mss", "nop", "window_scale", "nop", "nop", "sack_permitted"),  # Windows SYN
    ("mss",),  # minimal SYN
)

decode_tcp_options, decode_tcp_options_loop, encode_tcp_options, OPTIONS_SOURCE = _generate_options()
