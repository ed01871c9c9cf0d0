"""The converters ``Frame.parse``'s views use (``frame_views``), read from the declarations, and what
the builder on the generated codec (``frame_encoder``) shares with them.

The public API keeps its shapes: ``Frame.parse`` returns the same nested ``Container``s as the
declarative layers (names for enums, ``Container``s of booleans for flags, text addresses, the option
list, ``checksum_ok``, ``padding``, the hidden ``_derived``); only the work behind them changes: the
headers are unpacked by ``fast``'s generated ``struct`` code, and each decoded value is turned into its
container form by a converter read from the declaration (``converter``: an ``Enum`` gives its name, a
``FlagsEnum`` its flag container, an address field its text, a ``BitStruct`` its sub-fields). Nothing
restates a header. ``field_defaults`` reads the declared defaults the builder fills in.

Construct's interpreter stays behind the same objects for what the generated codec does not cover
(``NotOurs``): a protocol a user registered (or a built-in number re-registered), and any value the
fast builder cannot take as is. A frame that fails to decode is decoded again declaratively, so its
``FormatError`` (layer, field, offset) is exactly the declarative one. ``tests/formats/test_frame_codec.py``
checks both paths agree on every strategy-drawn frame, malformed ones included.
"""

from __future__ import annotations

from construct import Container, Default, Enum, Flag, FlagsEnum, Renamed, Struct, Subconstruct

from netstack.formats.fields import AddressField, Flattened

# --- decoded value -> container value, read from the declarations ------------------------------------


def _identity(value):
    return value


def _unwrap(construct):
    while isinstance(construct, Subconstruct) and not isinstance(construct, (Enum, FlagsEnum, AddressField, Flattened)):
        construct = construct.subcon
    return construct


def _bit_width(construct) -> int:
    construct = _unwrap(construct)
    return 1 if construct is Flag else construct.length


def converter(construct):
    """The function turning ``fast``'s raw value of a field into the declarative container's value."""
    construct = _unwrap(construct)
    if isinstance(construct, FlagsEnum):
        bits = ", ".join(f"{name}=value & {mask} != 0" for name, mask in construct.flags.items())
        return _generated(f"Container(_flagsenum=True, {bits})")
    if isinstance(construct, Enum):
        labels = construct.decmapping

        def label(value):
            return labels.get(value, value)

        label.labels = labels  # read by _compile_fill to inline the lookup
        return label
    if isinstance(construct, AddressField):
        return construct.to_text
    if construct is Flag:
        return bool
    if isinstance(construct, Struct):  # a BitStruct (unwrapped): the byte's bits split into its fields
        parts = []
        shift = sum(_bit_width(sc) for sc in construct.subcons)
        for sc in construct.subcons:
            shift -= _bit_width(sc)
            parts.append((sc.name, shift, (1 << _bit_width(sc)) - 1))
        return _generated("Container(" + ", ".join(f"{name}=(value >> {at}) & {mask}" for name, at, mask in parts) + ")")
    return _identity


def _generated(expression: str):
    """``lambda value: <expression>`` compiled once (a flag or bit-field container, written out)."""
    function = eval(compile(f"lambda value: {expression}", "<netstack.formats.frame_codec>", "eval"), {"Container": Container})
    function.makes_container = True  # a value the user may edit in place (frame_views keeps it once made)
    return function


def field_converters(header) -> list[tuple[str, object]]:
    """(field, converter) for every field of a header declaration, flattened members expanded."""
    found = []
    for sc in header.subcons:
        if isinstance(sc, Flattened) and isinstance(_unwrap(sc.subcon), Struct):
            found.extend(field_converters(_unwrap(sc.subcon)))
        elif sc.name and not sc.name.startswith("_") and not isinstance(sc, Flattened):
            found.append((sc.name, converter(sc)))
    return found


class NotOurs(Exception):
    """A frame or value the generated codec does not cover: the declarative path takes it."""


def field_defaults(header) -> dict:
    """field -> the default its declaration gives (``Default(..., value)``), flattened members expanded."""
    found = {}
    for sc in header.subcons:
        if isinstance(sc, Flattened) and isinstance(_unwrap(sc.subcon), Struct):
            found.update(field_defaults(_unwrap(sc.subcon)))
        elif sc.name:
            inner = sc
            while isinstance(inner, Renamed):  # the name, then the doc text, then the Default
                inner = inner.subcon
            if isinstance(inner, Default):
                found[sc.name] = inner.value
    return found


__all__ = ["NotOurs", "converter", "field_converters", "field_defaults"]
