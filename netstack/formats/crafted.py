"""``Crafted``: one layer's fields and its payload, stacked with ``/`` and built with ``bytes()``.

Every ``Layer`` is callable and returns one (``TCP(dst_port=80)``); ``netstack.formats.craft`` has the
scapy-style names and ``dissect``. This module needs only the registry (which number names which
upper layer), so the header modules' ``Layer`` can hand out ``Crafted`` without an import cycle.

What scapy users reach for, in our idiom: ``summary()`` (one line like tshark's), ``show()`` (the
layered tree with each field's meaning from its declaration), ``hexdump()``, ``answers(request)``,
``TCP in frame`` and ``frame[UDP]`` (``MissingLayer``, a ``KeyError``, when there is none). Those
functions decode with the generated codec (``fast``), which imports the header modules, which import
this one: so ``netstack.formats.craft`` hands them over through ``use_frame_functions`` (and
``netstack.formats`` imports ``craft``, so they are there whenever a layer is).
"""

from __future__ import annotations

from netstack.errors import FormatError
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOLS

#: frame bytes -> text or verdict: "summary", "show", "hexdump" (bytes -> str), "answers" (bytes, bytes -> bool);
#: "build": a frame's nested dict -> bytes (``Frame.build``)
_FRAME_FUNCTIONS: dict = {}


def use_frame_functions(**functions) -> None:
    """Give ``Crafted`` the functions behind summary/show/hexdump/answers (called by ``craft``)."""
    _FRAME_FUNCTIONS.update(functions)


class MissingLayer(KeyError):
    """``frame[UDP]`` on a frame without a UDP layer: "no UDP layer in Ethernet/IPv4/TCP"."""

    def __str__(self):
        return str(self.args[0]) if self.args else "no such layer"

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

    @classmethod
    def owning(cls, layer, fields: dict) -> "Crafted":
        """A Crafted layer over ``fields`` itself (no copy): for a dict nobody else holds."""
        crafted = cls.__new__(cls)
        object.__setattr__(crafted, "layer", layer)
        object.__setattr__(crafted, "fields", fields)
        return crafted

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
        name = getattr(key, "layer", key)
        raise MissingLayer(f"no {_DISPLAY_NAMES.get(name, name)} layer in {self.stack_name()}")

    def stack_name(self) -> str:
        """The layers' names joined by "/": "Ethernet/IPv4/TCP"."""
        return "/".join(_DISPLAY_NAMES.get(layer.layer.layer, layer.layer.layer) for layer in self.layers())

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
        """The bytes; ``context`` passes e.g. ``src``/``dst`` to a TCP/UDP layer built alone. A whole
        frame is built by ``Frame`` (on the generated codec)."""
        if self.layer.layer == "ethernet" and not context:
            return _FRAME_FUNCTIONS["build"](self.container())
        return self.layer.build(self.container(), **context)

    def __bytes__(self) -> bytes:
        return self.build()

    def __len__(self) -> int:
        return len(self.build())

    # --- what scapy users reach for ---------------------------------------------------------------

    def summary(self) -> str:
        """One line like tshark's: "192.0.2.2 → 192.0.2.1 TCP 74 40000 → 80 [SYN] Seq=1000 ..."
        (a frame; a layer alone gets its name and fields)."""
        if self.layer.layer != "ethernet":
            return repr(self)
        return _FRAME_FUNCTIONS["summary"](self.build())

    def hexdump(self) -> str:
        """The bytes as ``tshark -x`` shows them: offset, 16 bytes in hex, the printable ones."""
        return _FRAME_FUNCTIONS["hexdump"](self.build())

    def show(self, file=None) -> str:
        """Print (to ``file``, default stdout; ``file=False`` prints nothing) and return the layered
        tree: every field with its value and its meaning from the declaration, computed lengths and
        checksums included (the frame is built, then decoded)."""
        text = _FRAME_FUNCTIONS["show"](self.build(), self.layer)
        if file is not False:
            print(text, file=file)
        return text

    def answers(self, request) -> bool:
        """True when this frame is a reply to ``request`` (a Crafted frame or bytes): SYN-ACK to SYN,
        echo reply to echo request, an ICMP error to the datagram it quotes, ARP reply to request."""
        return _FRAME_FUNCTIONS["answers"](self.build(), bytes(request))

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
    return Crafted.owning(layer, fields)  # fields is this call's own copy
