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
from netstack.formats.frame_codec import NotOurs
from netstack.formats.ownership import PRIVATE as _PRIVATE
from netstack.formats.ownership import TEMPORARY_LEFT as _TEMPORARY_LEFT
from netstack.formats.ownership import TEMPORARY_RIGHT as _TEMPORARY_RIGHT
from netstack.formats.ownership import private_innermost as _private
from netstack.formats.ownership import reference_count as _refcount
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOLS

#: frame bytes -> text or verdict: "summary", "show", "hexdump" (bytes -> str), "answers" (bytes, bytes -> bool);
#: "build": a frame's nested dict -> bytes (``Frame.build``); "encode": the same from a Crafted frame's fields
#: (payloads may be Crafted), ``NotOurs`` when the generated codec does not cover it
_FRAME_FUNCTIONS: dict = {}


def use_frame_functions(**functions) -> None:
    """Give ``Crafted`` the functions behind summary/show/hexdump/answers (called by ``craft``)."""
    _FRAME_FUNCTIONS.update(functions)


class MissingLayer(KeyError):
    """``frame[UDP]`` on a frame without a UDP layer: "no UDP layer in Ethernet/IPv4/TCP"."""

    def __str__(self):
        return str(self.args[0]) if self.args else "no such layer"

#: which field of a lower layer names the upper one, the table to look the number up in, and the
#: numbers found (schema -> number; checked against the table on use, as protocols are re-registered)
_SELECTORS = {"ethernet": ("ethertype", ETHERTYPES, {}), "ipv4": ("protocol", IP_PROTOCOLS, {})}


def _number_for(selector, schema, lower: str) -> int:
    """The number ``selector``'s table registers ``schema`` under (the selector field's value)."""
    field, table, found = selector
    number = found.get(schema)
    entry = table.entries.get(number) if number is not None else None
    if entry is not None and entry.schema is schema:
        return number
    for number, entry in table.entries.items():
        if entry.schema is schema:
            found[schema] = number
            return number
    raise FormatError(lower, field, None, f"no number registered for {schema.layer}")


class Crafted:
    """One layer's fields plus its payload (another ``Crafted``, bytes or a container)."""

    __slots__ = ("layer", "fields")

    def __init__(self, layer, fields: dict):
        _set_layer(self, layer)
        _set_fields(self, dict(fields))

    @classmethod
    def owning(cls, layer, fields: dict) -> "Crafted":
        """A Crafted layer over ``fields`` itself (no copy): for a dict nobody else holds."""
        crafted = _new_object(cls)
        _set_layer(crafted, layer)
        _set_fields(crafted, fields)
        return crafted

    # --- stacking ----------------------------------------------------------------------------------

    def copy(self) -> "Crafted":
        """This layer and the Crafted layers above it, each with its own dict (values are shared)."""
        return self._copy_chain()[0]

    def _copy_chain(self):
        """(the copy, its innermost Crafted layer)."""
        top = copied = _new_object(Crafted)
        layer = self
        while True:
            fields = dict(layer.fields)
            _set_layer(copied, layer.layer)
            _set_fields(copied, fields)
            payload = fields.get("payload")
            if not isinstance(payload, Crafted):
                return top, copied
            layer = payload
            copied = fields["payload"] = _new_object(Crafted)

    def __truediv__(self, upper):
        # scapy's semantics: ``a / b`` leaves a and b as they were, so both are copied, except an
        # operand only this expression holds (netstack.formats.ownership): the intermediate stacks of
        # ``Ether() / IP() / TCP() / payload`` are extended in place, and a fresh right layer adopted.
        left, right = _refcount(self), _refcount(upper)
        upper_class = upper.__class__
        if upper_class is Crafted:
            fields = upper.fields  # one layer (the usual right operand): private_innermost written out
            shared = right > _TEMPORARY_RIGHT or fields.__class__ is not dict or _refcount(fields) > _PRIVATE
            chained = not shared and fields.get("payload").__class__ is Crafted
            fields = None
            if shared or chained and _private(upper, Crafted, _PRIVATE) is None:
                upper = upper._copy_chain()[0]
        elif upper_class is not bytes:
            if isinstance(upper, Crafted):
                upper = upper._copy_chain()[0]
            elif isinstance(upper, (bytes, bytearray, memoryview)):
                upper = bytes(upper)
            else:
                return NotImplemented
        innermost = None
        if left <= _TEMPORARY_LEFT and self.__class__ is Crafted:
            innermost = _private(self, Crafted, _PRIVATE)
        if innermost is None:
            top, innermost = self._copy_chain()
        else:
            top = self
        fields = innermost.fields
        fields["payload"] = upper
        selector = _SELECTORS.get(innermost.layer.layer)
        if selector and upper.__class__ is Crafted and fields.get(selector[0]) is None:
            schema = upper.layer
            number = selector[2].get(schema)  # _number_for's remembered number, checked as it checks it
            entry = selector[1].entries.get(number) if number is not None else None
            if entry is None or entry.schema is not schema:
                number = _number_for(selector, schema, innermost.layer.layer)
            fields[selector[0]] = number
        return top

    # --- fields and layers ----------------------------------------------------------------------

    def __getattr__(self, name):
        fields = self.fields  # a slot: found without coming back here
        try:
            return fields[name]
        except KeyError:
            raise AttributeError(f"{self.layer.layer} has no field {name!r} set (fields: {sorted(fields)})") from None

    def __setattr__(self, name, value):
        self.fields[name] = value

    def next_layer(self):
        """The payload: the layer above (a Crafted), bytes, or None (a dissected layer reads it
        straight from its view)."""
        return self.fields.get("payload")

    def layers(self):
        """This layer and every Crafted layer above it, outermost first."""
        layer = self
        while isinstance(layer, Crafted):
            yield layer
            layer = layer.next_layer()

    def __getitem__(self, key):
        layer = self
        if isinstance(key, str):  # frame["tcp"]
            while isinstance(layer, Crafted):
                if layer.layer.layer == key:
                    return layer
                layer = layer.next_layer()
        else:  # frame[TCP]: the layer object itself, no name compared
            while isinstance(layer, Crafted):
                if layer.layer is key:
                    return layer
                layer = layer.next_layer()
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
            # the generated codec reads the layers' own dicts; None: it does not cover them
            try:  # the generated codec reads the layers' own dicts; NotOurs: it does not cover them
                return _FRAME_FUNCTIONS["encode"](self.fields)
            except NotOurs:
                return _FRAME_FUNCTIONS["build"](self.container())
        return self.layer.build(self.container(), **context)

    def __bytes__(self) -> bytes:
        if self.layer.layer == "ethernet":  # build() written out: bytes(Ether() / ...) is the usual call
            try:
                return _FRAME_FUNCTIONS["encode"](self.fields)
            except NotOurs:
                pass
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


_new_object = object.__new__
_set_layer = Crafted.layer.__set__
_set_fields = Crafted.fields.__set__

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
