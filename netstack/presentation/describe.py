"""Field tables generated from the schemas (``netstack explain``; ``frame_text`` and ``formats_docs``
build on them).

Everything here is read from the construct declarations: a field's bit offset and width from its
construct (``Int16ub`` is 16 bits, ``BitsInteger(13)`` 13, a ``FlagsEnum`` bit from its mask), its
meaning and RFC section from its ``* "doc"`` text, enum names from the ``Enum`` mapping. Nothing is
written twice, so the docs cannot drift from the code (a test regenerates docs/formats.md and compares).

    python -m netstack.presentation.formats_docs            # rewrite docs/formats.md
    python -m netstack.presentation.formats_docs --check    # exit 1 if docs/formats.md is stale
"""

from __future__ import annotations

import dataclasses
import re

import construct as cs
from construct.lib import bytes2bits

from netstack.formats import arp, ethernet, icmp, ipv4, pcap, registry, tcp, tcp_options, udp
from netstack.formats.fields import Flattened

# A parenthesised group, and within it the parts that are references ("RFC 9293 §3.1", "IEEE 802.3 §3.2.4").
_GROUP = re.compile(r"\s*\(([^()]*)\)")
_REFERENCE = re.compile(r"^(RFC|IEEE)\s?\d")


@dataclasses.dataclass(frozen=True)
class FieldRow:
    """One line of a header's field table.

    ``bit_offset`` counts from the first bit of the header (None once a variable-length field came
    before); ``bit_width`` is None for a variable-length field. ``depth`` is 0 for a top-level field, 1
    for a bit of a flags field or a member of a nested struct. ``values`` lists an enum's (number,
    name) pairs. ``condition`` says when a field is present ("type = echo_request").
    """
    bit_offset: int | None
    bit_width: int | None
    name: str
    meaning: str
    rfc: str
    depth: int = 0
    values: tuple[tuple[int, str], ...] = ()
    condition: str = ""


def split_reference(doc: str | None) -> tuple[str, str]:
    """``("meaning", "RFC 9293 §3.1")`` from a field's doc text: the parts of parenthesised groups that
    start with "RFC n" or "IEEE n" are the reference, the rest is the meaning."""
    if not doc:
        return "", ""
    doc = " ".join(doc.split())
    references = []

    def keep_text(match):
        parts = [part.strip() for part in re.split(r"[;,]\s*(?=RFC|IEEE)|,\s*", match.group(1))]
        found = [part for part in parts if _REFERENCE.match(part)]
        references.extend(found)
        rest = [part for part in parts if part and part not in found]
        if not found:
            return match.group(0)
        return f" ({', '.join(rest)})" if rest else ""

    meaning = _GROUP.sub(keep_text, doc).strip().rstrip(",;:")
    return meaning, "; ".join(dict.fromkeys(references))


def _is_bitwise(construct) -> bool:
    return (isinstance(construct, cs.Transformed) and construct.decodefunc is bytes2bits) or (
        isinstance(construct, cs.Restreamed) and construct.decoder is bytes2bits
    )


def _width(construct, in_bits: bool, context: dict | None = None) -> int | None:
    """Width in bits of a fixed-size construct (sized with ``context``, e.g. the defaults of the fields
    before it), None when its size depends on the data."""
    try:
        size = construct.sizeof(**(context or {}))
    except (cs.SizeofError, KeyError, AttributeError, TypeError):
        return None
    return size if in_bits else size * 8


def _default_value(field):
    """The int a ``Default`` field builds when left out, or None."""
    construct = field
    while isinstance(construct, cs.Renamed):
        construct = construct.subcon
    if isinstance(construct, cs.Default) and isinstance(construct.value, int) and not callable(construct.value):
        return construct.value
    return None


def _unwrap(construct):
    """The construct under the wrappers that do not change what a field *is*, with the enums and flags
    met on the way: (inner, enum or None, flags or None, bitwise?)."""
    enum = flags = None
    bitwise = False
    while True:
        if isinstance(construct, cs.Enum) and enum is None:
            enum = construct
        elif isinstance(construct, cs.FlagsEnum) and flags is None:
            flags = construct
        elif _is_bitwise(construct):
            bitwise = True
        if isinstance(construct, (cs.Renamed, cs.Adapter, cs.Default, cs.Rebuild, cs.Const, cs.Transformed,
                                  cs.Restreamed, cs.RawCopy, cs.Prefixed, cs.FixedSized, cs.Aligned, Flattened)):
            construct = construct.subcon
            continue
        if isinstance(construct, cs.Checksum):
            construct = construct.checksumfield
            continue
        return construct, enum, flags, bitwise


def _condition_text(keyfunc, keys) -> str:
    expression = str(keyfunc)
    match = re.fullmatch(r"this\[['\"](\w+)['\"]\]", expression)
    field = match.group(1) if match else expression
    if keys is None:
        return f"any other {field}"
    return f"{field} = " + " | ".join(str(key) for key in keys)


def _constant(field) -> str:
    construct = field
    while isinstance(construct, (cs.Renamed, cs.Subconstruct)) and not isinstance(construct, cs.Const):
        construct = construct.subcon
    if isinstance(construct, cs.Const) and isinstance(construct.value, int):
        return f"0x{construct.value:04x}"
    return ""


class _TableWalk:
    def __init__(self, default_rfc: str):
        self.default_rfc = default_rfc
        self.rows: list[FieldRow] = []

    def struct(self, struct, offset: int | None, in_bits: bool, prefix: str, depth: int, condition: str):
        defaults: dict[str, int] = {}
        for field in struct.subcons:
            width = self.field(field, offset, in_bits, prefix, depth, condition)
            if width is None and defaults:
                # A size that follows earlier fields (ARP's addresses follow hlen/plen): give the
                # offsets for their defaults, and say so on the row.
                width = _width(field, in_bits, defaults)
                if width is not None and self.rows and self.rows[-1].name == prefix + str(field.name):
                    used = ", ".join(f"{name} {value}" for name, value in defaults.items())
                    self.rows[-1] = dataclasses.replace(self.rows[-1], bit_width=width,
                                                        condition=self.rows[-1].condition or f"{used}")
            offset = None if offset is None or width is None else offset + width
            value = _default_value(field) if field.name else None
            if value is not None:
                defaults[field.name] = value
        return offset

    def field(self, field, offset, in_bits, prefix, depth, condition) -> int | None:
        """Add the rows of one field; return its width in bits (None when variable)."""
        inner, enum, flags, bitwise = _unwrap(field)
        width = _width(field, in_bits)
        in_bits = in_bits or bitwise
        if field.name is None:
            # An unnamed group (a flattened BitStruct or per-type Switch) puts its members at this level.
            if isinstance(inner, cs.Struct):
                end = self.struct(inner, offset, in_bits, prefix, depth, condition)
                return width if width is not None else (None if end is None or offset is None else end - offset)
            if isinstance(inner, cs.Switch):
                self.switch(inner, offset, in_bits, prefix, depth)
                return width
            if field.docs and width is not None:
                constant = _constant(field)
                meaning, rfc = split_reference(field.docs)
                self.rows.append(FieldRow(offset, width, f"({constant})" if constant else "(unnamed)", meaning,
                                          rfc or self.default_rfc, depth, (), condition))
            return width
        if field.name.startswith("_"):
            return width  # a helper (e.g. a Peek at the next bytes), not a field of the header
        if isinstance(inner, cs.IfThenElse) and inner.elsesubcon is cs.Pass:
            # An optional member (the 802.1Q tag): listed with its width; the offsets after it are
            # those of the header without it, the common case.
            present = _width(inner.thensubcon, in_bits)
            meaning, rfc = split_reference(field.docs)
            self.rows.append(FieldRow(offset, present, prefix + field.name, meaning, rfc or self.default_rfc,
                                      depth, (), condition or "optional"))
            then_inner = _unwrap(inner.thensubcon)[0]
            if isinstance(then_inner, cs.Struct):
                self.struct(then_inner, offset, in_bits, prefix + field.name + ".", depth + 1, condition)
            return 0
        name = prefix + field.name
        meaning, rfc = split_reference(field.docs)
        values = ()
        if enum is not None:
            values = tuple(sorted((int(number), str(label)) for number, label in enum.decmapping.items()))
        self.rows.append(FieldRow(offset, width, name, meaning, rfc or self.default_rfc, depth, values, condition))
        if flags is not None and width is not None:
            for flag, mask in sorted(flags.flags.items(), key=lambda item: -item[1]):
                if mask <= 0 or mask & (mask - 1):
                    continue  # a multi-bit "flag" is a value, not a bit of the field
                bit = width - mask.bit_length()
                # A declaration may say what each bit means: ``FLAGS.bit_docs = {"df": "... (RFC ...)"}``.
                bit_meaning, bit_rfc = split_reference(getattr(flags, "bit_docs", {}).get(flag, ""))
                self.rows.append(FieldRow(
                    None if offset is None else offset + bit, 1, f"{name}.{flag}", bit_meaning,
                    bit_rfc or rfc or self.default_rfc, depth + 1, (), condition))
        elif isinstance(inner, cs.Struct):
            self.struct(inner, offset, in_bits, name + ".", depth + 1, condition)
        elif isinstance(inner, cs.Switch):
            self.switch(inner, offset, in_bits, name + ".", depth + 1)
        return width

    def switch(self, switch, offset, in_bits, prefix, depth):
        """Rows for each case of a Switch (one per distinct Struct, with every key that selects it)."""
        keys_by_case: dict[int, list] = {}
        cases = {}
        for key, case in switch.cases.items():
            if isinstance(key, int) and not isinstance(key, str) and any(
                    isinstance(other, str) and switch.cases[other] is case for other in switch.cases):
                continue  # the number of a named key: the name says it
            keys_by_case.setdefault(id(case), []).append(key)
            cases[id(case)] = case
        for case_id, keys in keys_by_case.items():
            case_inner = _unwrap(cases[case_id])[0]
            if isinstance(case_inner, cs.Struct):
                self.struct(case_inner, offset, in_bits, prefix, depth, _condition_text(switch.keyfunc, keys))
        default = _unwrap(switch.default)[0]
        if isinstance(default, cs.Struct):
            self.struct(default, offset, in_bits, prefix, depth, _condition_text(switch.keyfunc, None))


def field_table(schema) -> list[FieldRow]:
    """The field table of a header schema (a construct Struct), read from its declaration."""
    _, default_rfc = split_reference(getattr(schema, "docs", "") or "")
    walk = _TableWalk(default_rfc.split(";")[0] if default_rfc else "")
    inner = _unwrap(schema)[0]
    if isinstance(inner, cs.Struct):
        walk.struct(inner, 0, _unwrap(schema)[3], "", 0, "")
    else:
        walk.field(schema, 0, False, "", 0, "")
    return walk.rows


def _cell(number: int | None) -> str:
    return "var" if number is None else str(number)


def _values_text(row: FieldRow) -> str:
    hexadecimal = row.bit_width == 16 and max(number for number, _ in row.values) > 0xFF
    return ", ".join((f"0x{number:04x}" if hexadecimal else str(number)) + f" {label}" for number, label in row.values)


def _meaning(row: FieldRow) -> str:
    return f"[{row.condition}] {row.meaning}".strip() if row.condition else row.meaning


def field_table_text(schema, title: str = "") -> str:
    """The field table as aligned plain text, the output of ``netstack explain``; the names of enum
    values are listed under the table."""
    rows = field_table(schema)
    header = ("bit", "width", "field", "meaning", "reference")
    cells = [(_cell(row.bit_offset), _cell(row.bit_width), "  " * row.depth + row.name, _meaning(row), row.rfc)
             for row in rows]
    widths = [max(len(header[i]), *(len(cell[i]) for cell in cells)) if cells else len(header[i]) for i in range(4)]
    lines = [title] if title else []
    for cell in [header, *cells]:
        lines.append("  ".join(value.ljust(width) for value, width in zip(cell[:4], widths)) + "  " + cell[4])
    for row in rows:
        if row.values:
            lines.append(f"  {row.name}: {_values_text(row)}")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def field_table_markdown(schema) -> str:
    """The field table as a Markdown table, for docs/formats.md."""
    rows = field_table(schema)
    lines = ["| bit | width | field | meaning | reference |", "|---:|---:|---|---|---|"]
    for row in rows:
        name = "&nbsp;&nbsp;" * row.depth + f"`{row.name}`"
        meaning = f"*{row.condition}:* {row.meaning}".strip() if row.condition else row.meaning
        if row.values:
            meaning += f" ({_values_text(row)})"
        meaning = meaning.replace("|", "\\|")
        lines.append(f"| {_cell(row.bit_offset)} | {_cell(row.bit_width)} | {name} | {meaning} | {row.rfc} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# The catalogue of schemas: what `netstack explain NAME` and docs/formats.md cover
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Explained:
    """One entry of ``netstack explain``: a title, the module docstring it comes from, and its tables
    (``(subtitle, schema)`` pairs, or ``(subtitle, text)`` for a table that is not a Struct)."""

    name: str
    title: str
    module_doc: str
    tables: tuple


def _option_kind_rows() -> list[tuple[str, str, str, str, str]]:
    """(kind, name, length, value meaning, reference) per TCP option kind, from tcp_options' tables."""
    rows = []
    for number, name in sorted(tcp_options.TCP_OPTION_KIND.names().items()):
        if number in tcp_options.SINGLE_BYTE_KINDS:
            length = "1 (no length byte)"
        else:
            allowed = sorted(tcp_options.OPTION_LENGTHS.get(number, ()))
            contiguous = allowed and allowed == list(range(allowed[0], allowed[-1] + 1)) and len(allowed) > 2
            length = f"{allowed[0]}-{allowed[-1]}" if contiguous else ", ".join(map(str, allowed))
        value = tcp_options.tcp_option_values.get(name)
        meaning, reference = split_reference(getattr(value, "docs", "") or "")
        rows.append((str(number), name, length, meaning, reference))
    meaning, reference = split_reference(tcp_options.unknown_option_value.docs)
    rows.append(("other", "(unknown)", "2-255", meaning + "; kept and rebuilt byte for byte", reference))
    return rows


def option_kinds_text() -> str:
    rows = _option_kind_rows()
    header = ("kind", "name", "length", "value", "reference")
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(4)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(cell[:4], widths)) + "  " + cell[4] for cell in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def option_kinds_markdown() -> str:
    lines = ["| kind | name | length (bytes) | value | reference |", "|---:|---|---|---|---|"]
    for kind, name, length, meaning, reference in _option_kind_rows():
        lines.append(f"| {kind} | `{name}` | {length} | {meaning} | {reference} |")
    return "\n".join(lines) + "\n"


def _first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def explained_schemas() -> dict[str, Explained]:
    """Every schema ``netstack explain`` knows, netstack's own first, then the registered ones."""
    import sys


    def of_layer(module, layer):
        return Explained(layer.layer, layer.title, _first_paragraph(module.__doc__), (("", layer.header),))

    catalogue = {
        "ethernet": of_layer(ethernet, ethernet.Ethernet),
        "arp": of_layer(arp, arp.ARP),
        "ipv4": of_layer(ipv4, ipv4.IPv4),
        "icmp": of_layer(icmp, icmp.ICMP),
        "udp": of_layer(udp, udp.UDP),
        "tcp": of_layer(tcp, tcp.TCP),
        "tcp_options": Explained(
            "tcp_options", "TCP options", _first_paragraph(tcp_options.__doc__),
            (("option kinds", "option_kinds"), ("timestamps value", tcp_options.tcp_option_values["timestamps"]),
             ("sack block", tcp_options.sack_block)),
        ),
        "pcap": Explained(
            "pcap", "libpcap capture file", _first_paragraph(pcap.__doc__),
            (("file header (24 bytes, once)", pcap.pcap_file_header),
             ("record header (16 bytes, before each frame)", pcap.pcap_record_header)),
        ),
    }
    builtin = {id(entry.header) for entry in (ethernet.Ethernet, arp.ARP, ipv4.IPv4, icmp.ICMP, udp.UDP, tcp.TCP)}
    for what, table in (("EtherType", registry.ETHERTYPES), ("IP protocol", registry.IP_PROTOCOLS)):
        for entry in table.entries.values():
            schema = getattr(entry.schema, "header", entry.schema)
            if id(schema) in builtin or entry.name in catalogue:
                continue
            module = sys.modules.get(getattr(entry.schema, "__module__", ""), None)
            title = getattr(entry.schema, "title", None) or _first_paragraph(getattr(entry.schema, "docs", "")) or entry.name
            number = f"0x{entry.number:04x}" if what == "EtherType" else str(entry.number)
            # A Layer's module documents it; a plain Struct's class module (construct, netstack.formats.fields)
            # does not, so only the schema's own docs are shown for it.
            about = getattr(entry.schema, "docs", "") or (getattr(module, "__doc__", "") if schema is not entry.schema else "")
            catalogue[entry.name] = Explained(entry.name, f"{title} ({what} {number}, registered)",
                                              _first_paragraph(about), (("", schema),))
    return catalogue


def explain_text(name: str) -> str:
    """The text ``netstack explain NAME`` prints. KeyError for an unknown name."""
    catalogue = explained_schemas()
    key = name.lower().replace("-", "_")
    if key not in catalogue:
        raise KeyError(name)
    entry = catalogue[key]
    parts = [entry.title, ""]
    if entry.module_doc:
        parts += [entry.module_doc, ""]
    for subtitle, schema in entry.tables:
        if subtitle:
            parts.append(f"{subtitle}:")
        parts.append(option_kinds_text() if schema == "option_kinds" else field_table_text(schema))
    return "\n".join(parts).rstrip() + "\n"
