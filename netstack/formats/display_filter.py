"""Display filters, Wireshark's ``-Y`` in our spelling: ``tcp.dst_port == 80 and not ipv4.src == 192.0.2.9``.

Grammar (``netstack decode -Y``, ``netstack.link`` ``sniff(filter=...)``)::

    filter     := or
    or         := and (("or" | "||") and)*
    and        := not (("and" | "&&") not)*
    not        := ("not" | "!") not | "(" filter ")" | test
    test       := FIELD [OPERATOR VALUE]        a FIELD alone: the frame has it (``tcp``, ``ipv4.options``)
    OPERATOR   := == | != | < | > | <= | >= | contains

Fields are ``layer.field`` as the declarations spell them (``ethernet.src``, ``ipv4.ttl``,
``tcp.dst_port``, ``icmp.type``, ``arp.tpa``), flag bits as ``tcp.flags.syn`` / ``ipv4.flags.df``,
``layer.payload`` (bytes), ``layer.checksum_ok`` and ``frame.len``. Values are numbers (``80``,
``0x50``), addresses (``192.0.2.1``, ``02:00:5e:00:53:01``), names the declaration gives the number
(``icmp.type == echo_request``, ``ipv4.protocol == udp``), ``true``/``false``, or quoted text
(``tcp.payload contains "GET"``). An unknown layer or field, or a value that does not fit the field,
raises ``FormatError`` (layer "filter") naming it and listing what exists.

The frame is decoded with the generated codec (``fast``): a test costs a few microseconds. A frame
that does not decode has the layers before the damage; a test of a missing layer's field is false
(``!=`` included, as in Wireshark).
"""

from __future__ import annotations

import re

from netstack.errors import FormatError
from netstack.formats import fast
from netstack.formats.arp import ARP_OPERATION
from netstack.formats.icmp import ICMP_TYPE
from netstack.formats.ipv4 import IP_FLAGS
from netstack.formats.registry import ETHERTYPE, IP_PROTOCOL
from netstack.formats.tcp import TCP_FLAGS

_POSITIONS = {"offset", "header_length", "payload_offset", "payload_end", "buf"}
#: layer -> its fields: the generated records' names (from the declarations), minus positions
FIELDS = {
    "ethernet": [*fast.EthernetHeader._fields],
    "arp": [*fast.ArpPacket._fields],
    "ipv4": [*fast.Ipv4Header._fields],
    "icmp": [*fast.IcmpHeader._fields],
    "udp": [*fast.UdpHeader._fields],
    "tcp": [*fast.TcpHeader._fields],
    "frame": ["len"],
}
for _names in FIELDS.values():
    _names[:] = [name for name in _names if name not in _POSITIONS] + (["payload"] if _names != ["len"] else [])
FLAG_BITS = {"ipv4.flags": dict(IP_FLAGS.flags), "tcp.flags": dict(TCP_FLAGS.flags)}
NAMED_NUMBERS = {"ethernet.ethertype": ETHERTYPE, "ipv4.protocol": IP_PROTOCOL, "icmp.type": ICMP_TYPE,
                 "arp.op": ARP_OPERATION}
MAC_FIELDS = {"ethernet.src", "ethernet.dst", "arp.sha", "arp.tha"}
IPV4_FIELDS = {"ipv4.src", "ipv4.dst", "arp.spa", "arp.tpa"}

_TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>==|!=|<=|>=|&&|\|\||[()<>!])|(?P<word>[^\s()"=!<>&|]+))')
_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "contains": lambda a, b: b in a,
}


def decode_layers(data: bytes) -> dict:
    """layer name -> the generated codec's record, for every layer of ``data`` that decodes."""
    layers: dict = {"frame": len(data)}
    try:
        link = fast.decode_ethernet(data)
        layers["ethernet"] = link
        if link.ethertype == fast.ETHERTYPE_ARP:
            layers["arp"] = fast.decode_arp(data, link.payload_offset)
        elif link.ethertype == fast.ETHERTYPE_IPV4:
            packet = layers["ipv4"] = fast.decode_ipv4(data, link.payload_offset)
            if not packet.fragment_offset and not packet.flags & fast.IP_MF:
                start, end, protocol = packet.payload_offset, packet.payload_end, packet.protocol
                if protocol == fast.IP_PROTOCOL_TCP:
                    layers["tcp"] = fast.decode_tcp(data, start, end, packet.src, packet.dst)
                elif protocol == fast.IP_PROTOCOL_UDP:
                    layers["udp"] = fast.decode_udp(data, start, end, packet.src, packet.dst)
                elif protocol == fast.IP_PROTOCOL_ICMP:
                    layers["icmp"] = fast.decode_icmp(data, start, end)
    except FormatError:
        pass
    return layers


def _field_getter(name: str):
    """(layer, function of the layer's record -> value) for a field name; FormatError when unknown."""
    parts = name.split(".")
    layer = parts[0]
    if layer not in FIELDS:
        raise FormatError("filter", name, None, f"unknown layer {layer!r} (layers: {', '.join(sorted(FIELDS))})")
    if len(parts) == 1:
        return layer, None
    field = parts[1]
    if field not in FIELDS[layer] or len(parts) > 3:
        raise FormatError("filter", name, None, f"unknown field {name!r} ({layer} fields: {', '.join(FIELDS[layer])})")
    if layer == "frame":
        return layer, lambda length: length
    if len(parts) == 3:
        bits = FLAG_BITS.get(f"{layer}.{field}")
        if bits is None or parts[2] not in bits:
            known = ", ".join(f"{layer}.{field}.{bit}" for bit in bits) if bits else "none"
            raise FormatError("filter", name, None, f"unknown flag {name!r} (flags: {known})")
        mask = bits[parts[2]]
        return layer, lambda record: bool(getattr(record, field) & mask)
    if field == "payload":
        return layer, lambda record: record.payload
    if field == "options" and layer == "tcp":
        return layer, lambda record: bytes(record.buf[record.offset + 20 : record.payload_offset])
    return layer, lambda record: getattr(record, field)


def _value(name: str, text: str, quoted: bool):
    """The filter's literal as the field's raw value (what the generated records hold)."""
    if quoted:
        return text.encode("utf-8")
    field = ".".join(name.split(".")[:2])
    try:
        if name.count(".") == 2 or text in ("true", "false"):
            if text in ("true", "false"):
                return text == "true"
            return bool(int(text, 0))
        if field in MAC_FIELDS:
            return fast.mac_bytes(text)
        if field in IPV4_FIELDS:
            return fast.ipv4_bytes(text)
        if field.endswith(".payload") or field.endswith(".options"):
            return bytes.fromhex(text.replace(":", ""))
        if re.fullmatch(r"0[xX][0-9a-fA-F]+|\d+", text):
            return int(text, 0)
        if field in NAMED_NUMBERS:
            return NAMED_NUMBERS[field].number(text)
    except (FormatError, ValueError):
        pass
    raise FormatError("filter", name, None, f"{text!r} is not a value of {name}")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip():
                    raise FormatError("filter", None, position, f"cannot read {text[position:]!r}")
                break
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise FormatError("filter", None, None, f"unexpected end of filter {self.text!r}")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self):
        test = self.parse_or()
        if self.index != len(self.tokens):
            raise FormatError("filter", None, None, f"unexpected {self.peek()!r} in {self.text!r}")
        return test

    def parse_or(self):
        return self._joined(("or", "||"), self.parse_and, any)

    def parse_and(self):
        return self._joined(("and", "&&"), self.parse_not, all)

    def _joined(self, words, parse_part, combine):
        """``part (word part)*``: one test, or ``combine`` (any/all) of several."""
        tests = [parse_part()]
        while self.peek() in words:
            self.take()
            tests.append(parse_part())
        return tests[0] if len(tests) == 1 else (lambda layers: combine(test(layers) for test in tests))

    def parse_not(self):
        kind, token = self.take()
        if token in ("not", "!"):
            inner = self.parse_not()
            return lambda layers: not inner(layers)
        if token == "(":
            inner = self.parse_or()
            if self.take()[1] != ")":
                raise FormatError("filter", None, None, f"missing ')' in {self.text!r}")
            return inner
        if kind != "word":
            raise FormatError("filter", None, None, f"expected a field, got {token!r} in {self.text!r}")
        layer, getter = _field_getter(token)
        if self.peek() not in _COMPARE:
            if getter is None:
                return lambda layers: layer in layers
            return lambda layers: layer in layers and bool(getter(layers[layer]))
        if getter is None:
            raise FormatError("filter", token, None, f"compare a field of {token}, not the layer itself")
        operator = _COMPARE[self.take()[1]]
        value_kind, value_text = self.take()
        quoted = value_kind == "string"
        value = _value(token, value_text[1:-1].encode().decode("unicode_escape") if quoted else value_text, quoted)

        def test(layers):
            record = layers.get(layer)
            if record is None:
                return False
            try:
                return operator(getter(record), value)
            except TypeError:  # e.g. "contains" on a number, "<" on an address: not a match
                return False

        return test


def compile_filter(text: str):
    """A function of frame bytes -> bool for the display filter ``text``; FormatError when bad."""
    test = _Parser(text).parse()
    return lambda data: test(decode_layers(data))


__all__ = ["FIELDS", "compile_filter", "decode_layers"]
