"""Header rules: each integrity check of a header stated once, for both codec paths.

A header module (``ipv4``, ``tcp``, ``udp``) declares its checks as a ``HeaderRules`` table beside its
construct declaration: what the header needs before it is read (``minimum`` bytes), then, in order,
``Derive`` steps (a named value computed from the fields, e.g. ``header_length = ihl << 2``) and
``Rule`` rows. A rule's ``broken`` is a Python expression over the header's named values (its fields,
``available`` bytes, derived values) that is true when the header breaks the rule; the error is
``FormatError(layer, rule.field, <offset of that field>, rule.reason % (rule.arguments))``, the offset
read from the declaration's layout (a field after the fixed part, e.g. ``options``, starts at its end).

Two readers, one table:

* the declarative ``Layer.decode`` calls ``rules.check(values, base)``, which evaluates each row;
* the fast-path generator (``netstack.formats.fast_layers``) calls ``rules.truncation_source(...)`` and
  ``rules.check_source(...)``, which emit the same rows as straight-line ``if``/``raise`` statements
  into the generated decoder, so ``fast.GENERATED_SOURCE`` shows them and they run at compiled speed.

Checks of *values* (sanity, e.g. a SYN carrying data) are the engine's; these are integrity checks of
the bytes: lengths against what is present (PyTCP's integrity/sanity split, see ``docs/formats.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from netstack.errors import FormatError
from netstack.formats.codegen import header_layout


@dataclass(frozen=True)
class Rule:
    """A header breaks this rule when ``broken`` is true; the error names ``field``."""

    field: str
    broken: str  # Python expression over the named header values
    reason: str  # %-format of the error reason
    arguments: str  # Python expression: the tuple of values for ``reason``
    cite: str = ""  # the RFC section that states the rule


@dataclass(frozen=True)
class Derive:
    """A named value computed from the fields, for the rules after it and for the decoder."""

    name: str
    expression: str


class HeaderRules:
    """One header's integrity rules (see the module docstring)."""

    def __init__(self, layer: str, header, minimum: int, steps: tuple, *, truncated: str = "available < {minimum}",
                 has: str = "available"):
        self.layer = layer
        self.header = header
        self.minimum = minimum
        self.steps = tuple(steps)
        self.truncated = truncated.format(minimum=minimum)  # true when the fixed header is not all there
        self.has = has  # the byte count a truncation error reports
        layout = header_layout(header)
        self.offsets = dict(layout.offsets)
        self.fixed_length = layout.size
        self._compiled = [self._compile(step) for step in self.steps]
        self._compiled_truncated = compile(self.truncated, f"<{layer} rules>", "eval")
        self._compiled_has = compile(self.has, f"<{layer} rules>", "eval")

    def offset_of(self, field: str) -> int:
        """Where ``field`` starts in the header; a field after the fixed part starts at its end."""
        return self.offsets.get(field, self.fixed_length)

    def _compile(self, step):
        where = f"<{self.layer} rules: {getattr(step, 'field', None) or step.name}>"
        if isinstance(step, Derive):
            return step, compile(step.expression, where, "eval"), None
        return step, compile(step.broken, where, "eval"), compile(step.arguments, where, "eval")

    # --- the declarative path ---------------------------------------------------------------------

    def check_truncated(self, values: dict, base: int, layer) -> None:
        """Raise ``layer.truncated(...)`` when the fixed header is not all present."""
        if eval(self._compiled_truncated, {}, values):
            raise layer.truncated(eval(self._compiled_has, {}, values), self.minimum, base)

    def check(self, values: dict, base: int) -> dict:
        """Evaluate every step over ``values`` (updated with the derived values, and returned); the first
        broken rule raises its FormatError, ``base`` the absolute offset of the header."""
        for step, test, arguments in self._compiled:
            if arguments is None:
                values[step.name] = eval(test, {}, values)
            elif eval(test, {}, values):
                raise FormatError(self.layer, step.field, base + self.offset_of(step.field),
                                  step.reason % eval(arguments, {}, values))
        return values

    # --- the generated path -----------------------------------------------------------------------

    def truncation_source(self, layer_name: str, offset: str = "offset") -> list[str]:
        """``if``/``raise`` for a header shorter than ``minimum``; ``layer_name`` names the Layer object."""
        return [f"if {self.truncated}:",
                f"    raise {layer_name}.truncated({self.has}, {self.minimum}, {offset})"]

    def check_source(self, offset: str = "offset") -> list[str]:
        """The steps as straight-line statements over the decoder's local names."""
        lines = []
        for step in self.steps:
            if isinstance(step, Derive):
                lines.append(f"{step.name} = {step.expression}")
                continue
            where = f"{offset} + {self.offset_of(step.field)}" if self.offset_of(step.field) else offset
            comment = f"  # {step.cite}" if step.cite else ""
            lines += [f"if {step.broken}:{comment}",
                      f"    raise FormatError({self.layer!r}, {step.field!r}, {where}, {step.reason!r} % ({step.arguments}))"]
        return lines
