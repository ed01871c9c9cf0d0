"""``Crafted``: one layer's fields and its payload, stacked with ``/`` and built with ``bytes()``.

Every ``Layer`` is callable and returns one (``TCP(dst_port=80)``); ``netstack.formats.craft`` has the
scapy-style names and ``dissect``. This module needs only the registry (which number names which
upper layer), so the header modules' ``Layer`` can hand out ``Crafted`` without an import cycle.
"""

from __future__ import annotations

from netstack.errors import FormatError
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOLS

#: which field of a lower layer names the upper one, and the table to look the number up in
_SELECTORS = {"ethernet": ("ethertype", ETHERTYPES), "ipv4": ("protocol", IP_PROTOCOLS)}


def _number_for(table, schema):
    for number, entry in table.entries.items():
        if entry.schema is schema:
            return number
    return None


class Crafted:
    """One layer's fields plus its payload (another ``Crafted``, bytes or a container)."""

    __slots__ = ("layer", "fields")

    def __init__(self, layer, fields: dict):
        object.__setattr__(self, "layer", layer)
        object.__setattr__(self, "fields", dict(fields))

    # --- stacking ----------------------------------------------------------------------------------

    def copy(self) -> "Crafted":
        payload = self.fields.get("payload")
        copied = Crafted(self.layer, self.fields)
        if isinstance(payload, Crafted):
            copied.fields["payload"] = payload.copy()
        return copied

    def __truediv__(self, upper):
        if isinstance(upper, (bytes, bytearray, memoryview)):
            upper = bytes(upper)
        elif isinstance(upper, Crafted):
            upper = upper.copy()
        else:
            return NotImplemented
        top = self.copy()
        innermost = top
        while isinstance(innermost.fields.get("payload"), Crafted):
            innermost = innermost.fields["payload"]
        innermost.fields["payload"] = upper
        selector = _SELECTORS.get(innermost.layer.layer)
        if selector and isinstance(upper, Crafted) and innermost.fields.get(selector[0]) is None:
            number = _number_for(selector[1], upper.layer)
            if number is None:
                raise FormatError(innermost.layer.layer, selector[0], None, f"no number registered for {upper.layer.layer}")
            innermost.fields[selector[0]] = number
        return top

    # --- fields and layers ----------------------------------------------------------------------

    def __getattr__(self, name):
        fields = object.__getattribute__(self, "fields")
        if name in fields:
            return fields[name]
        raise AttributeError(f"{self.layer.layer} has no field {name!r} set (fields: {sorted(fields)})")

    def __setattr__(self, name, value):
        self.fields[name] = value

    def layers(self):
        """This layer and every Crafted layer above it, outermost first."""
        layer = self
        while isinstance(layer, Crafted):
            yield layer
            layer = layer.fields.get("payload")

    def __getitem__(self, key):
        for layer in self.layers():
            if layer.layer is key or layer.layer.layer == key:
                return layer
        raise KeyError(f"no {getattr(key, 'layer', key)} layer in {self!r}")

    def __contains__(self, key):
        return any(layer.layer is key or layer.layer.layer == key for layer in self.layers())

    # --- building ----------------------------------------------------------------------------

    def container(self) -> dict:
        """The nested dict the schemas build from."""
        values = dict(self.fields)
        payload = values.get("payload")
        if isinstance(payload, Crafted):
            values["payload"] = payload.container()
        return values

    to_container = container

    def build(self, **context) -> bytes:
        """The bytes; ``context`` passes e.g. ``src``/``dst`` to a TCP/UDP layer built alone."""
        return self.layer.build(self.container(), **context)

    def __bytes__(self) -> bytes:
        return self.build()

    def __len__(self) -> int:
        return len(self.build())

    def __eq__(self, other):
        return isinstance(other, Crafted) and self.layer is other.layer and self.container() == other.container()

    def __repr__(self):
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.fields.items() if k != "payload" and not k.startswith("_"))
        text = f"{_DISPLAY_NAMES.get(self.layer.layer, self.layer.layer)}({shown})"
        payload = self.fields.get("payload")
        if isinstance(payload, Crafted):
            return f"{text} / {payload!r}"
        if payload:
            return f"{text} / {bytes(payload)!r}"
        return text


_DISPLAY_NAMES = {"ethernet": "Ethernet", "arp": "ARP", "ipv4": "IPv4", "icmp": "ICMP", "udp": "UDP", "tcp": "TCP"}


def _show(value) -> str:
    """A decoded value as short text: enum names as strings, containers as dicts without hidden keys."""
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items() if not str(k).startswith("_")) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_show(item) for item in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)


def wrap(layer, container) -> Crafted:
    fields = dict(container)
    payload = fields.get("payload")
    selector = _SELECTORS.get(layer.layer)
    if selector and payload is not None and not isinstance(payload, (bytes, bytearray)):
        upper = selector[1].schema(fields[selector[0]])
        if upper is not None and hasattr(upper, "layer"):
            fields["payload"] = wrap(upper, payload)
    return Crafted(layer, fields)
