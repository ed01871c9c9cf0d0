"""Values for any construct declaration, drawn field by field from what the declaration says.

``for_schema(schema)`` walks a Struct (netstack's ``HeaderStruct`` with its flattened members, a
``Layer``'s header, or a user's plain Struct): integer widths from ``FormatField``/``BytesInteger``/
``BitsInteger``, enums and flags through their adapters' own ``_decode`` (so a name, or a number the
enum does not name), addresses as their adapters decode raw bytes, ``Switch``/``If`` by evaluating
their keys on the fields drawn before them; fields the builder supplies (``Const``, ``Computed``,
``Checksum``, padding) are left out. ``mismatches`` compares a drawn value with a parsed container.
"""

from __future__ import annotations

from hypothesis import strategies as st

import construct as cs
from construct import Container

from netstack.formats.fields import Flattened, field_names
from netstack.formats.layer import Layer

#: how many bytes a strategy draws at most for a ``GreedyBytes`` field (a payload) unless told otherwise
PAYLOAD_MAX = 64

# A field the builder supplies itself (a Const, a Computed, a checksum, a length): the drawn value
# leaves it out.
_LEAVE_OUT = object()


# --------------------------------------------------------------------------------------------------
# The generic walk over a construct declaration
# --------------------------------------------------------------------------------------------------

# Fields whose value the builder supplies; construct's singletons (Pass, Tell, ...) by their class.
_BUILDER_SUPPLIED = (
    cs.Const, cs.Computed, cs.Rebuild, cs.Checksum, cs.Padded, cs.Check, cs.StopIf, cs.Seek, cs.Peek,
    type(cs.Pass), type(cs.Terminated), type(cs.Tell), type(cs.Index),
)


def _evaluate(expression, context):
    return expression(context) if callable(expression) else expression


def _integer_bounds(construct) -> tuple[int, int] | None:
    """The (min, max) an integer field holds, read from its declaration; None if not an integer."""
    if isinstance(construct, cs.FormatField):
        code = construct.fmtstr[-1]
        if code in "efd?":
            return None
        bits = construct.length * 8
        signed = code.islower()
    elif isinstance(construct, (cs.BytesInteger, cs.BitsInteger)):
        if not isinstance(construct.length, int):
            return None
        bits = construct.length * (8 if isinstance(construct, cs.BytesInteger) else 1)
        signed = construct.signed
    else:
        return None
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _plain(value):
    """A decoded adapter value as plain data: a FlagsEnum Container becomes a dict of booleans."""
    if isinstance(value, Container) and value.get("_flagsenum"):
        return {str(name): bool(flag) for name, flag in value.items() if not str(name).startswith("_")}
    return value


def _walk(draw, construct, context, rules):  # noqa: C901 - one arm per construct class
    """Draw a value for ``construct``. ``rules`` maps a field name to a strategy, a value or _LEAVE_OUT,
    and applies to the fields of the outermost Struct (and the members flattened into it)."""
    if isinstance(construct, Layer):
        value = _walk(draw, construct.header, context, rules)
        # Members the layer adds around its header (payload, padding) come only from the rules.
        declared = set(field_names(construct.header))
        for name, rule in rules.items():
            if name not in declared and rule is not _LEAVE_OUT:
                value[name] = draw(rule) if isinstance(rule, st.SearchStrategy) else rule
        return value
    if isinstance(construct, cs.Struct):
        return _walk_struct(draw, construct, context, rules)
    if isinstance(construct, _BUILDER_SUPPLIED):
        return _LEAVE_OUT
    if isinstance(construct, type(cs.Flag)):
        return draw(st.booleans())
    bounds = _integer_bounds(construct)
    if bounds is not None:
        return draw(st.integers(*bounds))
    if isinstance(construct, cs.Adapter):
        # Draw the encoded form and let the declaration's adapter decode it: an address gives the text
        # people write, an Enum a name (or a bare number it has no name for), a FlagsEnum booleans.
        raw = _walk(draw, construct.subcon, context, {})
        if raw is _LEAVE_OUT:
            return raw
        return _plain(construct._decode(raw, context, "(netstack.strategies)"))
    if isinstance(construct, cs.Bytes):
        size = _evaluate(construct.length, context)
        return draw(st.binary(min_size=size, max_size=size))
    if isinstance(construct, type(cs.GreedyBytes)):
        return draw(st.binary(max_size=PAYLOAD_MAX))
    if isinstance(construct, cs.Switch):
        key = _evaluate(construct.keyfunc, context)
        return _walk(draw, construct.cases.get(key, construct.default), context, rules)
    if isinstance(construct, cs.IfThenElse):
        taken = construct.thensubcon if _evaluate(construct.condfunc, context) else construct.elsesubcon
        return _walk(draw, taken, context, rules)
    if isinstance(construct, cs.Array):
        count = _evaluate(construct.count, context)
        return [_walk(draw, construct.subcon, context, {}) for _ in range(count)]
    if isinstance(construct, cs.GreedyRange):
        return [_walk(draw, construct.subcon, context, {}) for _ in range(draw(st.integers(0, 4)))]
    if isinstance(construct, cs.RawCopy):
        return {"value": _walk(draw, construct.subcon, context, {})}
    if isinstance(construct, cs.Select):
        return _walk(draw, construct.subcons[0], context, rules)
    if isinstance(construct, cs.LazyBound):
        return _walk(draw, construct.subconfunc(), context, rules)
    if isinstance(construct, cs.Subconstruct):
        # Renamed, Default, Transformed (BitStruct), Restreamed, Prefixed, FixedSized, Flattened, ...
        return _walk(draw, construct.subcon, context, rules)
    raise TypeError(f"netstack.strategies cannot draw a value for {construct!r}")


def _walk_struct(draw, struct, context, rules):
    inner = context if context.get("_flattening") else Container(_=context)
    inner.pop("_flattening", None)
    value = {}
    for field in struct.subcons:
        name = field.name
        if isinstance(field, Flattened):
            # Its fields sit in this container (HeaderStruct): draw them here, under the same rules.
            inner["_flattening"] = True
            members = _walk(draw, field.subcon, inner, rules)
            inner.pop("_flattening", None)
            if isinstance(members, dict):
                value.update(members)
                inner.update(members)
            continue
        if name is None or name.startswith("_"):
            continue
        if name in rules:
            rule = rules[name]
            drawn = draw(rule) if isinstance(rule, st.SearchStrategy) else rule
        else:
            drawn = _walk(draw, field, inner, {})
        if drawn is _LEAVE_OUT:
            continue
        inner[name] = drawn
        value[name] = drawn
    return value


def for_schema(schema, **fields) -> st.SearchStrategy:
    """Values (plain dicts) that ``schema.build`` accepts, derived from the declaration alone.

    Works for any construct Struct, netstack's layers and the schemas users register. Keyword arguments
    fix or steer fields: ``for_schema(toy, port=st.integers(1, 1023))`` or ``port=7``; pass
    ``name=LEAVE_OUT`` to let the builder fill a field in. For netstack's own layers prefer the
    protocol strategies below, which also know the lengths, checksums and options.
    """

    @st.composite
    def values(draw):
        return _walk(draw, schema, Container(), fields)

    return values()


#: pass as a field's rule to leave the field out of the drawn value (the builder computes it)
LEAVE_OUT = _LEAVE_OUT

# --------------------------------------------------------------------------------------------------
# Comparing a drawn value with what the parser returns
# --------------------------------------------------------------------------------------------------


def mismatches(drawn, parsed, path: str = "") -> list[str]:
    """Where ``parsed`` differs from ``drawn``, for every field ``drawn`` holds (an empty list: equal).

    Fields the drawn value left out (computed lengths, checksums, ``checksum_ok``) are not compared;
    ``(kind, value)`` shapes are not normalised, so compare values drawn by these strategies.
    """
    if isinstance(drawn, dict):
        if not isinstance(parsed, dict):
            return [f"{path or 'value'}: expected fields {sorted(drawn)}, got {parsed!r}"]
        found = []
        for key, value in drawn.items():
            where = f"{path}.{key}" if path else key
            if key not in parsed:
                found.append(f"{where}: missing after parsing")
            else:
                found.extend(mismatches(value, parsed[key], where))
        return found
    if isinstance(drawn, (list, tuple)):
        if not isinstance(parsed, (list, tuple)) or len(parsed) != len(drawn):
            return [f"{path}: expected {drawn!r}, got {parsed!r}"]
        found = []
        for index, (one, other) in enumerate(zip(drawn, parsed)):
            found.extend(mismatches(one, other, f"{path}[{index}]"))
        return found
    if drawn != parsed or (isinstance(drawn, str) != isinstance(parsed, str)):
        return [f"{path}: expected {drawn!r}, got {parsed!r}"]
    return []
