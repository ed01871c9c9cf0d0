"""One frame as one line, tshark's columns (``netstack decode``'s default, ``Crafted.summary()``), as a
tree of fields with their meanings (``Crafted.show()``), and as a hex dump (``tshark -x``,
``Crafted.hexdump()``).

``summary_columns(frame)`` returns ``(source, destination, protocol, length, info)`` the way tshark's
default output fills its columns (``tshark -n``, absolute sequence numbers, no reassembly)::

    192.0.2.2 → 192.0.2.1 TCP 74 40000 → 80 [SYN] Seq=1000 Win=65535 Len=0 MSS=1460 WS=128 SACK_PERM TSval=1 TSecr=0
    02:00:5e:00:53:02 → ff:ff:ff:ff:ff:ff ARP 42 Who has 192.0.2.1? Tell 192.0.2.2
    192.0.2.1 → 192.0.2.2 ICMP 98 Echo (ping) reply    id=0x0001, seq=1/256, ttl=64

It decodes with the codec generated from the declarations (``fast``), so a line costs a few
microseconds; names (ICMP types, protocols) come from the declarations' enums. A frame that does not
decode gets ``[Malformed: <the FormatError>]`` after the columns it could fill.

``show_text(frame)`` is the frame decoded by its declarations (``Frame.parse``), one block per layer,
every field in declaration order with its value and the meaning its declaration gives (``* "doc"``);
``netstack decode -V`` (``netstack.presentation.frame_text``) is the fuller, tshark -V-like view.
"""

from __future__ import annotations

from netstack.errors import FormatError
from construct import Container

from netstack.formats import fast
from netstack.formats.ethernet import Ethernet
from netstack.formats.frame import Frame
from netstack.formats.icmp import ICMP_TYPE, UNREACHABLE_CODES
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOLS
from netstack.formats.tcp import TCP_FLAGS

#: how the info column of a frame that does not decode starts
MALFORMED = "[Malformed: "

#: tshark's words for the ICMP types (its Info column), by type number
_ICMP_WORDS = {0: "Echo (ping) reply", 3: "Destination unreachable", 4: "Source quench", 5: "Redirect",
               8: "Echo (ping) request", 11: "Time-to-live exceeded", 12: "Parameter problem",
               13: "Timestamp request", 14: "Timestamp reply"}
#: the codes of time exceeded (RFC 792), tshark's words
_TIME_EXCEEDED_WORDS = {0: "Time to live exceeded in transit", 1: "Fragment reassembly time exceeded"}
#: TCP flag names in tshark's order (lowest bit first) with their bit, from the declaration
_FLAG_NAMES = [(name.upper(), bit) for name, bit in sorted(TCP_FLAGS.flags.items(), key=lambda item: item[1])]


def hex_dump(data: bytes, indent: str = "", limit: int | None = None) -> list[str]:
    """``0000  45 00 00 3c ...  E..<`` lines, like tshark -x; ``limit`` bytes at most, the rest counted."""
    shown = data if limit is None else data[:limit]
    lines = []
    for start in range(0, len(shown), 16):
        chunk = shown[start:start + 16]
        text = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{indent}{start:04x}  {chunk.hex(' '):<47}  {text}")
    if limit is not None and len(data) > limit:
        lines.append(f"{indent}... {len(data) - limit} more bytes")
    return lines


def _protocol_name(table, number: int) -> str:
    entry = table.entries.get(number)
    return entry.name.upper() if entry else f"0x{number:04x}" if table is ETHERTYPES else str(number)


def _tcp_info(segment, payload_length: int) -> str:
    flags = segment.flags
    names = ", ".join(name for name, bit in _FLAG_NAMES if flags & bit) or "<None>"
    text = f"{segment.src_port} → {segment.dst_port} [{names}] Seq={segment.seq}"
    if flags & fast.ACK:
        text += f" Ack={segment.ack}"
    text += f" Win={segment.window} Len={payload_length}"
    for kind, value in segment.options:
        if kind == fast.OPT_MSS:
            text += f" MSS={value}"
        elif kind == fast.OPT_WINDOW_SCALE:
            text += f" WS={1 << min(value, 14)}"
        elif kind == fast.OPT_SACK_PERMITTED:
            text += " SACK_PERM"
        elif kind == fast.OPT_TIMESTAMPS:
            text += f" TSval={value[0]} TSecr={value[1]}"
        elif kind == fast.OPT_SACK:
            text += "".join(f" SLE={left} SRE={right}" for left, right in value)
    return text


def _icmp_info(message, ttl: int) -> str:
    word = _ICMP_WORDS.get(message.type) or str(ICMP_TYPE.label(message.type))
    if message.type == 3 and message.code in UNREACHABLE_CODES:
        word += f" ({UNREACHABLE_CODES[message.code].replace('_', ' ').capitalize()})"
    elif message.type == 11 and message.code in _TIME_EXCEEDED_WORDS:
        word += f" ({_TIME_EXCEEDED_WORDS[message.code]})"
    elif message.type not in _ICMP_WORDS or message.code:
        word += f" (code {message.code})"
    if message.identifier is not None and message.type in (0, 8, 13, 14):
        # tshark shows the sequence number read both ways (big/little endian senders)
        swapped = ((message.sequence & 0xFF) << 8) | (message.sequence >> 8)
        word = f"{word:<19}  id=0x{message.identifier:04x}, seq={message.sequence}/{swapped}, ttl={ttl}"
    return word


def _ipv4_columns(data: bytes, offset: int, length: int) -> tuple[str, str, str, int, str]:
    packet = fast.decode_ipv4(data, offset)
    source, destination = fast.ipv4_text(packet.src), fast.ipv4_text(packet.dst)
    protocol = packet.protocol
    if packet.fragment_offset or packet.flags & fast.IP_MF:
        return (source, destination, "IPv4", length,
                f"Fragmented IP protocol (proto={_protocol_name(IP_PROTOCOLS, protocol)} {protocol}, "
                f"off={packet.fragment_offset * 8}, ID={packet.identification:04x})")
    start, end = packet.payload_offset, packet.payload_end
    if protocol == fast.IP_PROTOCOL_TCP:
        segment = fast.decode_tcp(data, start, end, packet.src, packet.dst)
        return source, destination, "TCP", length, _tcp_info(segment, end - segment.payload_offset)
    if protocol == fast.IP_PROTOCOL_UDP:
        datagram = fast.decode_udp(data, start, end, packet.src, packet.dst)
        info = f"{datagram.src_port} → {datagram.dst_port} Len={datagram.length - 8}"
        return source, destination, "UDP", length, info
    if protocol == fast.IP_PROTOCOL_ICMP:
        message = fast.decode_icmp(data, start, end)
        return source, destination, "ICMP", length, _icmp_info(message, packet.ttl)
    return source, destination, _protocol_name(IP_PROTOCOLS, protocol), length, f"IPv4 protocol {protocol}"


def summary_columns(data: bytes) -> tuple[str, str, str, int, str]:
    """``(source, destination, protocol, length, info)`` of one Ethernet frame, as tshark fills them."""
    length = len(data)
    source = destination = ""
    protocol = "Ethernet"
    try:
        link = fast.decode_ethernet(data)
        source, destination = link.src.hex(":"), link.dst.hex(":")
        ethertype = link.ethertype
        if ethertype == fast.ETHERTYPE_IPV4:
            protocol = "IPv4"
            return _ipv4_columns(data, link.payload_offset, length)
        if ethertype == fast.ETHERTYPE_ARP:
            protocol = "ARP"
            packet = fast.decode_arp(data, link.payload_offset)
            if packet.op == 1:
                info = f"Who has {fast.ipv4_text(packet.tpa)}? Tell {fast.ipv4_text(packet.spa)}"
            elif packet.op == 2:
                info = f"{fast.ipv4_text(packet.spa)} is at {packet.sha.hex(':')}"
            else:
                info = f"ARP operation {packet.op}"
            return source, destination, "ARP", length, info
        return source, destination, _protocol_name(ETHERTYPES, ethertype), length, f"EtherType 0x{ethertype:04x}"
    except (FormatError, IndexError) as error:  # IndexError: an ARP quirk with odd hlen/plen
        return source, destination, protocol, length, f"{MALFORMED}{error}]"


def field_meanings(construct, found: dict | None = None) -> dict[str, str]:
    """field name -> its declaration's doc text, for a header and everything nested in it."""
    found = {} if found is None else found
    name, docs = getattr(construct, "name", None), getattr(construct, "docs", "")
    if name and docs and not name.startswith("_"):
        found.setdefault(name, " ".join(docs.split()))
    for inner in getattr(construct, "subcons", ()):
        field_meanings(inner, found)
    if getattr(construct, "subcon", None) is not None:
        field_meanings(construct.subcon, found)
    for case in list(getattr(construct, "cases", {}).values()) + [getattr(construct, "default", None)]:
        if hasattr(case, "subcons"):
            field_meanings(case, found)
    return found


def _value(value, name: str = "") -> str:
    if name == "checksum" and isinstance(value, int):
        return f"0x{value:04x}"
    if isinstance(value, dict) and value.get("_flagsenum"):
        return "|".join(flag for flag, bit in value.items() if bit and not flag.startswith("_")) or "none"
    if isinstance(value, str) and hasattr(value, "__int__"):  # a named number: its name and number
        return f"{value} ({int(value)})"
    if isinstance(value, (bytes, bytearray)) and not value:
        return "none"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex() if len(value) <= 16 else f"{len(value)} bytes"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items() if not str(k).startswith("_")) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return str(value)


def show_text(data: bytes, layer=Ethernet) -> str:
    """The layered tree of ``data`` (an Ethernet frame, or a ``layer`` alone): field = value, meaning."""
    container = (Frame if layer is Ethernet else layer).parse(data)
    lines = []
    while isinstance(container, dict):
        meanings = field_meanings(layer.header)
        lines.append(f"{layer.title}")
        names = [key for key in container if not key.startswith("_") and key != "payload"]
        values = [_value(container[key], key) for key in names]
        width = max(map(len, names), default=0)
        value_width = min(max(map(len, values), default=0), 24)
        for key, value in zip(names, values):
            meaning = meanings.get(key, "")
            lines.append(f"  {key:<{width}} = {value:<{value_width}}  {meaning}".rstrip())
        payload = container.get("payload")
        upper = None
        if isinstance(payload, Container):
            selector = container.get("ethertype") if layer is Ethernet else container.get("protocol")
            table = ETHERTYPES if layer is Ethernet else IP_PROTOCOLS
            upper = table.schema(selector) if selector is not None else None
        if upper is None or not hasattr(upper, "header"):
            if payload:
                lines.append(f"Data ({len(payload)} bytes)" if isinstance(payload, (bytes, bytearray)) else _value(payload))
                if isinstance(payload, (bytes, bytearray)):
                    lines.extend(hex_dump(bytes(payload), "  ", 64))
            break
        layer, container = upper, payload
    return "\n".join(lines)


def summary_line(data: bytes) -> str:
    """``source → destination PROTOCOL length info``: one line like tshark's default output."""
    source, destination, protocol, length, info = summary_columns(data)
    return f"{source} → {destination} {protocol} {length} {info}"


__all__ = ["MALFORMED", "field_meanings", "hex_dump", "show_text", "summary_columns", "summary_line"]
