"""A decoded frame as text, layer by layer and field by field, like ``tshark -V`` (``netstack decode``).

The layers come from ``Frame.parse`` and the registry, the field order and the flag bit positions from
the schemas' declarations (``describe.field_table``), so a registered protocol is shown the same way.
Checksums are shown with the verdict the decoder put in ``checksum_ok``: ``[correct]``,
``[INCORRECT]``, ``[unverified]`` (no addresses to check against) or ``[none]`` (UDP checksum 0).

A frame that does not decode is shown as far as its link-layer header goes, then one line naming the
layer, field and offset at fault (the ``FormatError``), then its bytes.
"""

from __future__ import annotations

import construct as cs

from netstack.errors import FormatError
from netstack.presentation import describe
from netstack.formats.fields import field_names
from netstack.formats.ethernet import Ethernet
from netstack.formats.frame import Frame
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOLS
from netstack.formats.icmp import ERROR_TYPES, original_datagram
from netstack.formats import fast, text
from netstack.formats.ipv4 import IPv4

INDENT = "    "
#: bytes of a payload shown in the hex dump (the rest is counted)
PAYLOAD_SHOWN = 64

_HIDDEN = {"checksum_ok", "payload", "padding"}
_HEX_ENUMS = {"ethertype", "ptype"}


def hex_dump(data: bytes, indent: str = INDENT, limit: int | None = PAYLOAD_SHOWN) -> list[str]:
    """``0000  45 00 00 3c ...  E..<`` lines, like tshark -x (``netstack.formats.text.hex_dump``)."""
    return text.hex_dump(data, indent, limit)


def _schema_fields(schema) -> list[str]:
    header = getattr(schema, "header", schema)
    names = field_names(header)
    return [name for name in names if not name.startswith("_")]


_FLAG_BITS: dict[tuple[int, str], list[tuple[str, int, int]]] = {}


def _flag_bits(schema, name: str) -> list[tuple[str, int, int]]:
    """(flag, bit offset in the field, field width) for the flags field ``name`` of ``schema``."""
    key = (id(schema), name)
    if key not in _FLAG_BITS:
        _FLAG_BITS[key] = _read_flag_bits(schema, name)
    return _FLAG_BITS[key]


def _read_flag_bits(schema, name: str) -> list[tuple[str, int, int]]:
    rows = describe.field_table(getattr(schema, "header", schema))
    parent = next((row for row in rows if row.name == name), None)
    if parent is None or parent.bit_width is None or parent.bit_offset is None:
        return []
    return [(row.name.split(".", 1)[1], row.bit_offset - parent.bit_offset, parent.bit_width)
            for row in rows if row.name.startswith(name + ".") and row.bit_width == 1]


def _value_text(name: str, value) -> str:
    if isinstance(value, cs.EnumIntegerString):
        number = int(value)
        return f"{value} (0x{number:04x})" if name in _HEX_ENUMS else f"{value} ({number})"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int) and name in _HEX_ENUMS:
        return f"0x{value:04x}"
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes" + (f": {bytes(value).hex()}" if 0 < len(value) <= 16 else "")
    if isinstance(value, dict):
        return ", ".join(f"{key} {_value_text(key, inner)}" for key, inner in value.items()
                         if not str(key).startswith("_"))
    if value is None:
        return "none"
    return str(value)


def _checksum_text(container) -> str:
    verdict = container.get("checksum_ok")
    value = container.get("checksum")
    if value == 0 and verdict is None:
        return "0x0000 [none]"
    word = {True: "correct", False: "INCORRECT", None: "unverified"}[verdict]
    return f"0x{value:04x} [{word}]"


def _option_text(option) -> str:
    kind = option.get("kind")
    value = option.get("value")
    name = str(kind) if isinstance(kind, str) else f"kind {kind}"
    if kind in ("nop", "sack_permitted"):
        return name
    if kind == "eol":
        return f"eol (+{len(value)} bytes of zero padding)" if value else "eol"
    if kind == "sack":
        return "sack: " + ", ".join(f"{block.left}-{block.right}" for block in value)
    if kind == "timestamps":
        return f"timestamps: TSval {value.ts_value}, TSecr {value.ts_echo_reply}"
    if isinstance(value, (bytes, bytearray)):
        return f"{name}: {bytes(value).hex() or '(empty)'}" + (f" (length {option.get('length')})" if option.get("length") else "")
    return f"{name}: {value}"


def _summary(layer_name: str, container) -> str:
    """The details after a layer's title, tshark's one-line summary of it."""
    get = container.get
    if layer_name == "ethernet":
        tag = f", 802.1Q vid {get('vlan')['vid']}" if get("vlan") else ""
        return f"src {get('src')}, dst {get('dst')}{tag}"
    if layer_name == "arp":
        if get("op") == "request":
            return f"who has {get('tpa')}? tell {get('spa')}"
        if get("op") == "reply":
            return f"{get('spa')} is at {get('sha')}"
        return f"operation {get('op')}"
    if layer_name == "ipv4":
        text = f"src {get('src')}, dst {get('dst')}"
        if get("flags") and (get("flags").get("mf") or get("fragment_offset")):
            text += f", fragment at byte {get('fragment_offset') * 8}{' (more follow)' if get('flags').get('mf') else ' (last)'}"
        return text
    if layer_name in ("tcp", "udp"):
        text = f"port {get('src_port')} → {get('dst_port')}"
        if layer_name == "tcp":
            flags = [name for name, on in get("flags").items() if on and not str(name).startswith("_")]
            text += f", seq {get('seq')}, ack {get('ack')}, [{' '.join(flags).upper() or 'no flags'}]"
        return text + f", {len(get('payload') or b'')} bytes of data"
    if layer_name == "icmp":
        return f"{get('type')}, code {get('code')}"
    return ""


def layer_lines(schema, name: str, container, depth: int = 0) -> list[str]:
    """Lines for one decoded layer (``schema`` is its declaration, ``name`` its registry name)."""
    pad = INDENT * depth
    title = getattr(schema, "title", None) or name
    summary = _summary(getattr(schema, "layer", name), container) if isinstance(container, dict) else ""
    lines = [f"{pad}{title}" + (f", {summary}" if summary else "")]
    if not isinstance(container, dict):
        lines.append(f"{pad}{INDENT}{_value_text(name, container)}")
        return lines
    declared = _schema_fields(schema)
    names = declared + [key for key in container if key not in declared and not str(key).startswith("_")
                        and key not in _HIDDEN]
    for field in names:
        if field not in container:
            continue
        value = container[field]
        if field == "checksum" and "checksum_ok" in container:
            lines.append(f"{pad}{INDENT}checksum: {_checksum_text(container)}")
        elif field == "options" and isinstance(value, list):
            lines.append(f"{pad}{INDENT}options: {len(value) or 'none'}")
            lines.extend(f"{pad}{INDENT * 2}{_option_text(option)}" for option in value)
        elif isinstance(value, dict) and value.get("_flagsenum") is not None or field == "flags" and isinstance(value, dict):
            bits = _flag_bits(schema, field)
            number = sum(1 << (width - 1 - bit) for flag, bit, width in bits if value.get(flag))
            names_set = [flag for flag, _, _ in bits if value.get(flag)]
            width = bits[0][2] if bits else 8
            lines.append(f"{pad}{INDENT}{field}: 0x{number:0{(width + 3) // 4}x} ({', '.join(names_set) or 'none'})")
            for flag, bit, width in bits:
                picture = "".join(("1" if value.get(flag) else "0") if index == bit else "." for index in range(width))
                lines.append(f"{pad}{INDENT * 2}{picture} = {flag}: {'set' if value.get(flag) else 'not set'}")
        else:
            lines.append(f"{pad}{INDENT}{field}: {_value_text(field, value)}")
    padding = container.get("padding")
    if padding:
        lines.append(f"{pad}{INDENT}padding: {len(padding)} bytes")
    return lines


def _payload_schema(name: str, container):
    """(schema, registry name) of the decoded payload of a layer, or None when it is bytes."""
    payload = container.get("payload") if isinstance(container, dict) else None
    if payload is None or isinstance(payload, (bytes, bytearray)):
        return None
    if name == "ethernet":
        table, number = ETHERTYPES, container.get("ethertype")
    else:
        table, number = IP_PROTOCOLS, container.get("protocol")
    if number is None:
        return None
    try:
        entry = table.entries.get(int(number) if not isinstance(number, str) else table.enum.number(number))
    except FormatError:
        return None
    return (entry.schema, entry.name) if entry else None


def _quoted_datagram_lines(message) -> list[str]:
    """An ICMP error's quote of the original datagram (RFC 792): its IPv4 header, summarised."""
    try:
        if int(message.get("type")) not in ERROR_TYPES:
            return []
        quote = original_datagram(message)
    except (FormatError, TypeError, ValueError):
        return []
    header = quote.header
    return [f"{INDENT}quoted datagram: {header.src} → {header.dst}, protocol {header.protocol}, "
            f"total_length {header.total_length}, {len(quote.data)} bytes of its data"]


def frame_lines(container) -> list[str]:
    """Every layer of a decoded frame (``Frame.parse``'s container), outermost first."""
    lines = []
    schema, name = Ethernet, "ethernet"
    while True:
        lines.extend(layer_lines(schema, name, container))
        found = _payload_schema(name, container)
        if found is None:
            break
        schema, name = found
        container = container["payload"]
    payload = container.get("payload") if isinstance(container, dict) else None
    if name == "icmp" and isinstance(payload, (bytes, bytearray)):
        lines.extend(_quoted_datagram_lines(container))
    if isinstance(payload, (bytes, bytearray)) and payload:
        lines.append(f"Data ({len(payload)} bytes)")
        lines.extend(hex_dump(bytes(payload)))
    return lines


def _outer_layer_lines(data: bytes) -> list[str]:
    """The layers of a frame that does not decode, down to the one at fault (like tshark, which shows
    what it could dissect): each header is length-checked by the generated fast codec, then parsed
    alone by its declaration, so its payload's damage does not hide it."""

    lines: list[str] = []
    try:
        link = fast.decode_ethernet(data)
        container = Ethernet.parse_header(data[:link.payload_offset], 0)
    except FormatError:
        return lines
    container.pop("_tpid", None)
    lines.extend(layer_lines(Ethernet, "ethernet", container))
    if link.ethertype != fast.ETHERTYPE_IPV4:
        return lines
    try:
        packet = fast.decode_ipv4(data, link.payload_offset)
        container = IPv4.parse_header(data[packet.offset:packet.payload_offset], packet.offset)
    except FormatError:
        return lines
    container.checksum_ok = packet.checksum_ok
    lines.extend(layer_lines(IPv4, "ipv4", container))
    return lines


def decode_text(data: bytes, number: int = 1, timestamp: float | None = None) -> tuple[str, FormatError | None]:
    """The text of one frame, and the FormatError when it does not decode (the text then shows the
    link-layer header if it can, the error and the bytes)."""
    when = f", captured at {timestamp:.6f}" if timestamp is not None else ""
    lines = [f"Frame {number}: {len(data)} bytes{when}"]
    try:
        container = Frame.parse(data)
    except FormatError as error:
        lines.extend(_outer_layer_lines(data))
        lines.append(f"[Malformed: {error}]")
        lines.extend(hex_dump(data, indent=INDENT, limit=None))
        return "\n".join(lines) + "\n", error
    lines.extend(frame_lines(container))
    return "\n".join(lines) + "\n", None
