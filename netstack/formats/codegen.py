"""The fast-path generator: walks a construct header declaration and emits ``struct.Struct`` code.

This is how netstack keeps one source of truth and still decodes a frame in a few microseconds: the
header layout (field order, names, widths, sub-byte bit groups) is *read from the declaration* at import
time, and Python source for the unpack/pack statements is generated and compiled with ``exec``. Nothing
here knows a protocol; ``netstack.formats.fast`` combines the generated statements with each layer's
rules (the same length checks as the declarative ``Layer``) into the decode/encode functions.

Understood declaration elements, outside in:

* ``Renamed`` (``"name" / ...``), ``Default``: names and defaults; the width comes from inside.
* ``Adapter`` subclasses (``NamedNumber``/``Enum``, ``FlagsEnum``, ``MacAddress``, ``IPv4Address``,
  ``HardwareAddress(this.hlen)``): the fast path keeps the raw wire value: ints for enums and flags,
  bytes for addresses (formatted lazily by ``ipv4_text``/``mac_text``).
* ``FormatField`` (``Int8ub``, ``Int16ub``, ``Int32ub``) -> one struct code; ``BytesInteger`` and
  ``Bytes(n)`` -> ``ns`` (a ``BytesInteger`` is converted to an int).
* ``Flattened(BitStruct(...))`` -> one 8/16/32-bit struct code, fields extracted by shift and mask;
  a named ``BitStruct`` (IPv4 ``tos``) -> one int.
* ``Const`` -> packed/unpacked and checked like the declarative parser checks it.
* Anything after the fixed part (``GreedyBytes``, the TCP option list, ``Peek``/``If``) ends the
  fixed layout: it is the layer's rules' business.

``HeaderLayout.unpack_lines(...)``/``pack_expression(...)`` return source text; ``make_record`` builds
the tuple-based record classes (attribute access by ``operator.itemgetter`` properties: about as fast
as a dict key, no per-record ``__dict__``).
"""

from __future__ import annotations

import struct
from collections import namedtuple
from dataclasses import dataclass, field

from construct import (
    Adapter,
    BitsInteger,
    Bytes,
    BytesInteger,
    Const,
    Default,
    Flag,
    FormatField,
    IfThenElse,
    Pass,
    Peek,
    Renamed,
    Struct,
    Subconstruct,
)

from netstack.formats.fields import Flattened


class LayoutError(Exception):
    """A declaration element the generator does not understand (a bug in netstack, raised at import)."""


@dataclass
class BitField:
    name: str
    shift: int
    width: int
    doc: str = ""

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1


@dataclass
class Slot:
    """One struct code of the generated format: a field, a bit group, or a constant."""

    code: str
    name: str | None = None  # None for a bit group or a constant
    bits: list[BitField] = field(default_factory=list)
    const: object = None
    integer_bytes: int = 0  # >0: a BytesInteger of that many bytes, unpacked as bytes then int()
    doc: str = ""


@dataclass
class HeaderLayout:
    """The fixed-size prefix of a header as struct slots, plus what follows it."""

    slots: list[Slot]
    rest: list[str]  # names of the variable-size members after the fixed part
    optional: list[str] = field(default_factory=list)  # skipped optional members (Peek, If)

    @property
    def format(self) -> str:
        return "!" + "".join(slot.code for slot in self.slots)

    @property
    def size(self) -> int:
        return struct.calcsize(self.format)

    @property
    def offsets(self) -> dict[str, int]:
        """Byte offset of every field from the header's start (a bit field: the first byte holding it)."""
        offsets = {}
        position = 0
        for slot in self.slots:
            size = struct.calcsize("!" + slot.code)
            if slot.name is not None:
                offsets[slot.name] = position
            for bit in slot.bits:
                offsets[bit.name] = position + (size * 8 - bit.shift - bit.width) // 8
            position += size
        return offsets

    def reader(self, *names: str) -> struct.Struct:
        """A ``struct.Struct`` unpacking just the whole-byte fields ``names`` (in header order) from the
        header's start, skipping the bytes between: for a header cut short, e.g. the 8 bytes an ICMP
        error quotes."""
        code = "!"
        position = 0
        slots = {slot.name: slot for slot in self.slots if slot.name is not None}
        offsets = self.offsets
        for name in names:
            if name not in slots or offsets[name] < position:
                raise LayoutError(f"{name!r} is not a whole-byte field after the ones before it")
            code += "x" * (offsets[name] - position) + slots[name].code
            position = offsets[name] + struct.calcsize("!" + slots[name].code)
        return struct.Struct(code)

    @property
    def field_names(self) -> list[str]:
        names = []
        for slot in self.slots:
            if slot.name:
                names.append(slot.name)
            names.extend(bit.name for bit in slot.bits)
        return names

    def unpack_lines(self, struct_name: str, buf: str, offset: str, prefix: str = "") -> list[str]:
        """Statements binding ``prefix + field`` for every field, from ``struct_name.unpack_from``."""
        targets = []
        extra = []
        for index, slot in enumerate(self.slots):
            if slot.name:
                targets.append(prefix + slot.name)
                if slot.integer_bytes:
                    extra.append(f"{prefix}{slot.name} = int.from_bytes({prefix}{slot.name}, 'big')")
            elif slot.bits:
                raw = f"_{prefix}bits{index}"
                targets.append(raw)
                total = struct.calcsize("!" + slot.code) * 8
                for bit in slot.bits:
                    if bit.shift + bit.width == total:  # the top field needs no mask
                        extra.append(f"{prefix}{bit.name} = {raw} >> {bit.shift}")
                    elif bit.shift:
                        extra.append(f"{prefix}{bit.name} = ({raw} >> {bit.shift}) & {bit.mask}")
                    else:
                        extra.append(f"{prefix}{bit.name} = {raw} & {bit.mask}")
            else:
                raw = f"_{prefix}const{index}"
                targets.append(raw)
                extra.append(f"if {raw} != {slot.const!r}: raise _const_error({struct_name!r}, {index}, {offset})")
        target = ", ".join(targets) + ("," if len(targets) == 1 else "")
        return [f"{target} = {struct_name}.unpack_from({buf}, {offset})"] + extra

    def group_lines(self, prefix: str = "") -> list[str]:
        """Statements binding ``_group<i>`` to each bit group's packed value (computed once, used by
        ``pack_arguments(grouped=True)`` and ``sum_expression(..., grouped=True)``)."""
        lines = []
        for index, slot in enumerate(self.slots):
            if slot.bits:
                parts = [
                    f"(({prefix}{bit.name} & {bit.mask}) << {bit.shift})" if bit.shift else f"({prefix}{bit.name} & {bit.mask})"
                    for bit in slot.bits
                ]
                lines.append(f"{_group(prefix, index)} = " + " | ".join(parts))
        return lines

    def pack_arguments(self, prefix: str = "", grouped: bool = False) -> str:
        """The argument list of ``struct_name.pack(...)`` from variables named like the fields."""
        arguments = []
        for index, slot in enumerate(self.slots):
            if slot.bits and grouped:
                arguments.append(_group(prefix, index))
                continue
            if slot.name:
                if slot.integer_bytes:
                    arguments.append(f"{prefix}{slot.name}.to_bytes({slot.integer_bytes}, 'big')")
                else:
                    arguments.append(prefix + slot.name)
            elif slot.bits:
                parts = [
                    f"(({prefix}{bit.name} & {bit.mask}) << {bit.shift})" if bit.shift else f"({prefix}{bit.name} & {bit.mask})"
                    for bit in slot.bits
                ]
                arguments.append(" | ".join(parts))
            else:
                arguments.append(repr(slot.const))
        return ", ".join(arguments)


def _group(prefix: str, index: int) -> str:
    """The variable holding bit group ``index``: ``_group4``, or ``_tcp_group4`` with prefix "tcp_" (so
    two headers' groups can live in one function)."""
    return f"_{prefix}group{index}"


def _slot_terms(layout, prefix, grouped):
    """(slot, value expression, size, is byte string) for each slot, in wire order."""
    for index, slot in enumerate(layout.slots):
        size = struct.calcsize("!" + slot.code)
        if slot.name:
            if slot.code.endswith("s") and not slot.integer_bytes:
                yield slot, prefix + slot.name, size, True
            else:
                yield slot, prefix + slot.name, size, False
        elif slot.bits:
            if grouped:
                yield slot, _group(prefix, index), size, False
                continue
            parts = [
                f"(({prefix}{bit.name} & {bit.mask}) << {bit.shift})" if bit.shift else f"({prefix}{bit.name} & {bit.mask})"
                for bit in slot.bits
            ]
            yield slot, "(" + " | ".join(parts) + ")", size, False
        else:
            yield slot, repr(slot.const), size, False


def sum_expression(layout: HeaderLayout, skip: tuple[str, ...] = (), prefix: str = "", grouped: bool = False) -> str:
    """An expression congruent (mod 0xFFFF) to the header read as one big-endian integer.

    RFC 1071 sums are arithmetic mod 0xFFFF, and 256**k is 1 or 256 mod 0xFFFF as k is even or odd, so
    the header's integer is the sum of its fields' values, each times 256 when an odd number of bytes
    follows it. Fields in ``skip`` (the checksum itself, zero while computing) are left out; adjacent
    byte strings (IPv4 src, dst) are read in one ``int.from_bytes``. This lets a builder compute a
    checksum without packing the header twice. ``grouped`` uses the ``_group<i>`` of ``group_lines``.
    """
    terms = []
    strings: list[str] = []
    remaining = layout.size

    def flush():
        if strings:
            joined = " + ".join(strings)
            terms.append(f"_from_bytes({joined}, 'big')" + (" * 256" if remaining & 1 else ""))
            strings.clear()

    for slot, expression, size, is_string in _slot_terms(layout, prefix, grouped):
        if slot.name in skip:
            flush()
            remaining -= size
            continue
        if is_string:
            strings.append(expression)
            remaining -= size
            continue
        flush()
        remaining -= size
        terms.append(f"{expression} * 256" if remaining & 1 else expression)
    flush()
    return " + ".join(terms) if terms else "0"


def _unwrap(sc):
    """Strip naming, defaults and adapters down to the construct that fixes the width."""
    while True:
        if isinstance(sc, (Renamed, Default)) or isinstance(sc, Adapter):
            sc = sc.subcon
        elif type(sc) is Subconstruct:
            sc = sc.subcon
        else:
            return sc


def _evaluate(value, context):
    return value(context) if callable(value) else value


def _bits_of(bitstruct) -> tuple[list[BitField], int]:
    """Bit fields (MSB first) of a BitStruct = Transformed(Struct(...)), and the total width."""
    inner = bitstruct
    while not isinstance(inner, Struct):
        inner = inner.subcon
    layout = []
    position = 0
    for sc in inner.subcons:
        base = _unwrap(sc)
        if isinstance(base, BitsInteger):
            width = base.length
        elif isinstance(base, _FLAG_TYPE):
            width = 1
        else:
            raise LayoutError(f"bit field {sc.name!r}: {type(base).__name__} is not a bit integer")
        layout.append((sc.name, position, width, sc.docs))
        position += width
    bits = [BitField(name, position - start - width, width, doc) for name, start, width, doc in layout]
    return bits, position


_FLAG_TYPE = type(Flag)  # construct's Flag is an instance of a class of the same name
_BIT_CODES = {8: "B", 16: "H", 32: "I"}


def header_layout(header, context: dict | None = None) -> HeaderLayout:
    """The struct layout of ``header``'s fixed-size prefix; ``context`` evaluates length expressions."""
    context = context or {}
    slots: list[Slot] = []
    rest: list[str] = []
    optional: list[str] = []
    for sc in header.subcons:
        if rest:
            rest.append(sc.name or type(sc).__name__)
            continue
        name = sc.name
        if isinstance(_unwrap(sc), (Peek, IfThenElse)):
            # An optional member (the 802.1Q tag): the fixed layout skips it; the layer's rules decide.
            optional.append(name)
            continue
        if isinstance(sc, Flattened):
            bits, width = _bits_of(sc.subcon) if not hasattr(sc.subcon, "cases") else (None, 0)
            if bits is None:
                rest.append("(switch)")
                continue
            if width not in _BIT_CODES:
                raise LayoutError(f"bit group of {width} bits")
            slots.append(Slot(_BIT_CODES[width], bits=bits))
            continue
        base = _unwrap(sc)
        if isinstance(base, Const) or (isinstance(sc, Const)):
            const = sc if isinstance(sc, Const) else base
            inner = _unwrap(const.subcon)
            if not isinstance(inner, FormatField):
                raise LayoutError("only integer constants are supported")
            slots.append(Slot(inner.fmtstr[1:], const=const.value))
            continue
        if isinstance(base, FormatField):
            slots.append(Slot(base.fmtstr[1:], name=name, doc=sc.docs))
        elif isinstance(base, BytesInteger):
            slots.append(Slot(f"{base.length}s", name=name, integer_bytes=base.length, doc=sc.docs))
        elif isinstance(base, Bytes):
            length = _evaluate(base.length, context)
            slots.append(Slot(f"{length}s", name=name, doc=sc.docs))
        elif hasattr(base, "subcon") and isinstance(getattr(base, "subcon", None), Struct) and name:
            bits, width = _bits_of(base)  # a named BitStruct: one int (IPv4 tos)
            slots.append(Slot(_BIT_CODES[width], name=name, doc=sc.docs))
        elif base is Pass:
            continue
        else:
            rest.append(name or type(base).__name__)
    return HeaderLayout(slots, rest, optional)


def make_record(class_name: str, fields: list[str], doc: str, properties: dict | None = None) -> type:
    """A tuple subclass with one read-only attribute per field (in order) and ``_fields``/``_asdict``.

    The attributes are ``collections.namedtuple``'s (its C field getters read a field in about two
    thirds of the time a ``property`` over ``operator.itemgetter`` takes: the engine and the views read
    several a segment); the record's own class adds the repr without the buffer and ``properties``."""
    namespace = {
        "__slots__": (),
        "__doc__": doc,
        "__repr__": lambda self: f"{class_name}(" + ", ".join(f"{n}={v!r}" for n, v in zip(fields, self) if n != "buf") + ")",
        "_asdict": lambda self: dict(zip(fields, self)),
    }
    namespace.update(properties or {})
    return type(class_name, (namedtuple(f"_{class_name}Fields", fields),), namespace)
