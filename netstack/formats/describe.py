"""Text generated from the schemas: field tables (``netstack explain``), decoded frames
(``netstack decode``) and ``docs/formats.md``.

Everything here is read from the construct declarations: a field's bit offset and width from its
construct (``Int16ub`` is 16 bits, ``BitsInteger(13)`` 13, a ``FlagsEnum`` bit from its mask), its
meaning and RFC section from its ``* "doc"`` text, enum names from the ``Enum`` mapping. Nothing is
written twice, so the docs cannot drift from the code (a test regenerates docs/formats.md and compares).

    python -m netstack.formats.describe            # rewrite docs/formats.md
    python -m netstack.formats.describe --check    # exit 1 if docs/formats.md is stale
"""

from __future__ import annotations

import dataclasses
import re

import construct as cs
from construct.lib import bytes2bits

# "RFC 9293 §3.1", "RFC 791, section 3.1", "RFC 7323 §3.2" inside a field's doc text.
_RFC_REFERENCE = re.compile(r"\s*[\(\[]?\b(RFC\s?\d+(?:(?:,?\s*§\s?|,?\s*section\s)[\d.]*\d)?)[\)\]]?", re.IGNORECASE)


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
    """``("meaning", "RFC 9293 §3.1")`` from a field's doc text (the reference removed from the text)."""
    if not doc:
        return "", ""
    doc = " ".join(doc.split())
    references = [match.group(1) for match in _RFC_REFERENCE.finditer(doc)]
    meaning = _RFC_REFERENCE.sub("", doc).strip().rstrip(",;:")
    meaning = re.sub(r"\s*\(\s*\)", "", meaning).strip()
    return meaning, "; ".join(dict.fromkeys(references))


def _is_bitwise(construct) -> bool:
    return (isinstance(construct, cs.Transformed) and construct.decodefunc is bytes2bits) or (
        isinstance(construct, cs.Restreamed) and construct.decoder is bytes2bits
    )


def _width(construct, in_bits: bool) -> int | None:
    """Width in bits of a fixed-size construct, None when its size depends on the data."""
    try:
        size = construct.sizeof()
    except (cs.SizeofError, KeyError, AttributeError, TypeError):
        return None
    return size if in_bits else size * 8


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
                                  cs.Restreamed, cs.RawCopy, cs.Prefixed, cs.FixedSized, cs.Aligned)):
            construct = construct.subcon
            continue
        if isinstance(construct, cs.Checksum):
            construct = construct.checksumfield
            continue
        return construct, enum, flags, bitwise


def _condition_text(keyfunc, key) -> str:
    expression = str(keyfunc)
    match = re.fullmatch(r"this\[['\"](\w+)['\"]\]", expression)
    field = match.group(1) if match else expression
    return f"{field} = {key}"


class _TableWalk:
    def __init__(self, default_rfc: str):
        self.default_rfc = default_rfc
        self.rows: list[FieldRow] = []

    def struct(self, struct, offset: int | None, in_bits: bool, prefix: str, depth: int, condition: str):
        for field in struct.subcons:
            width = self.field(field, offset, in_bits, prefix, depth, condition)
            offset = None if offset is None or width is None else offset + width
        return offset

    def field(self, field, offset, in_bits, prefix, depth, condition) -> int | None:
        """Add the rows of one field; return its width in bits (None when variable)."""
        inner, enum, flags, bitwise = _unwrap(field)
        width = _width(field, in_bits)
        in_bits = in_bits or bitwise
        if field.name is None:
            # An unnamed group (e.g. an unnamed BitStruct) contributes its members at this level.
            if isinstance(inner, cs.Struct):
                end = self.struct(inner, offset, in_bits, prefix, depth, condition)
                return width if width is not None else (None if end is None or offset is None else end - offset)
            return width
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
                self.rows.append(FieldRow(
                    None if offset is None else offset + bit, 1, f"{name}.{flag}", "", rfc or self.default_rfc,
                    depth + 1, (), condition))
        elif isinstance(inner, cs.Struct):
            self.struct(inner, offset, in_bits, name + ".", depth + 1, condition)
        elif isinstance(inner, cs.Switch):
            for key, case in inner.cases.items():
                case_inner = _unwrap(case)[0]
                if isinstance(case_inner, cs.Struct):
                    self.struct(case_inner, offset, in_bits, name + ".", depth + 1,
                                _condition_text(inner.keyfunc, key))
        return width


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


def _cell(number: int | None, width: int | None = None) -> str:
    return "var" if number is None else str(number)


def field_table_text(schema, title: str = "") -> str:
    """The field table as aligned plain text, the output of ``netstack explain``."""
    rows = field_table(schema)
    header = ("bit", "width", "field", "meaning", "RFC")
    cells = []
    for row in rows:
        name = "  " * row.depth + row.name
        meaning = row.meaning
        if row.condition:
            meaning = f"[{row.condition}] {meaning}".strip()
        if row.values:
            meaning += (" " if meaning else "") + "(" + ", ".join(f"{n} {label}" for n, label in row.values) + ")"
        cells.append((_cell(row.bit_offset), _cell(row.bit_width), name, meaning, row.rfc))
    widths = [max(len(header[i]), *(len(c[i]) for c in cells)) if cells else len(header[i]) for i in range(4)]
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(header[:4], widths)) + "  " + header[4])
    for c in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(c[:4], widths)) + "  " + c[4])
    return "\n".join(line.rstrip() for line in lines) + "\n"


def field_table_markdown(schema) -> str:
    """The field table as a Markdown table, for docs/formats.md."""
    lines = ["| bit | width | field | meaning | RFC |", "|---:|---:|---|---|---|"]
    for row in field_table(schema):
        name = "&nbsp;&nbsp;" * row.depth + f"`{row.name}`"
        meaning = row.meaning
        if row.condition:
            meaning = f"*{row.condition}:* {meaning}".strip()
        if row.values:
            meaning += (" " if meaning else "") + "(" + ", ".join(f"{n} `{label}`" for n, label in row.values) + ")"
        meaning = meaning.replace("|", "\\|")
        lines.append(f"| {_cell(row.bit_offset)} | {_cell(row.bit_width)} | {name} | {meaning} | {row.rfc} |")
    return "\n".join(lines) + "\n"
