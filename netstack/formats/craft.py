"""Crafting packets in one readable expression, scapy style, on top of the declarative layers.

Every layer object is callable: ``TCP(dst_port=80, flags="S")`` returns a ``Crafted`` layer holding
those fields; ``/`` stacks layers (and fills the selector field below: Ethernet ``ethertype``, IPv4
``protocol``); ``bytes()`` builds, computing lengths and checksums. Field names and defaults are the
schemas' (see each module); ``Ether`` and ``IP`` are aliases of ``Ethernet`` and ``IPv4``::

    from netstack.formats.craft import Ether, IP, TCP, UDP, ICMP, ARP, dissect

    syn = Ether(dst="02:00:5e:00:53:01", src="02:00:5e:00:53:02") / IP(src="192.0.2.2", dst="192.0.2.1") / TCP(
        src_port=40000, dst_port=80, seq=1000, flags="S",
        options=[("mss", 1460), ("nop", None), ("wscale", 7), ("sack_permitted", None), ("timestamps", (1, 0))],
    )
    data = bytes(syn)                      # 74 bytes, every length and checksum right

    ping = Ether() / IP(dst="192.0.2.1") / ICMP(type="echo_request", identifier=1, sequence=1) / b"abc"
    arp = Ether(ethertype="arp") / ARP(sha="02:00:5e:00:53:02", spa="192.0.2.2", tpa="192.0.2.1")

    frame = dissect(data)                  # Crafted layers over the decoded containers
    frame[TCP].window = 512                # layers by schema or name: frame["tcp"]
    frame[IP].ttl = 1
    again = bytes(frame)                   # rebuilt: lengths/checksums follow the edits
    print(frame)                           # Ethernet(dst=..., ...) / IPv4(...) / TCP(...)

Reading a field returns it from that layer (``syn[TCP].flags``); ``layer.fields`` is the dict. A
field set explicitly (``TCP(checksum=0)``) is kept: that is how broken packets are made on purpose.
``Crafted.container()`` gives the plain nested dict ``Frame.build`` accepts.
"""

from __future__ import annotations

from netstack.errors import FormatError
from netstack.formats.arp import ARP
from netstack.formats.ethernet import Ethernet
from netstack.formats.frame import Frame
from netstack.formats.icmp import ICMP
from netstack.formats.ipv4 import IPv4
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOLS
from netstack.formats.tcp import TCP
from netstack.formats.udp import UDP

Ether = Ethernet
IP = IPv4

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


def _wrap(layer, container) -> Crafted:
    fields = dict(container)
    payload = fields.get("payload")
    selector = _SELECTORS.get(layer.layer)
    if selector and payload is not None and not isinstance(payload, (bytes, bytearray)):
        upper = selector[1].schema(fields[selector[0]])
        if upper is not None and hasattr(upper, "layer"):
            fields["payload"] = _wrap(upper, payload)
    return Crafted(layer, fields)


def dissect(data: bytes, layer=Frame) -> Crafted:
    """Decode ``data`` (a whole Ethernet frame by default) into Crafted layers ready to edit."""
    return _wrap(Ethernet if layer is Frame else layer, layer.parse(data))


__all__ = ["ARP", "Crafted", "Ether", "Ethernet", "ICMP", "IP", "IPv4", "TCP", "UDP", "dissect"]
