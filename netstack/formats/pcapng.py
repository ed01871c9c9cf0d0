"""pcapng capture files (draft-ietf-opsawg-pcapng): what tshark and dumpcap write by default.

A file is a sequence of blocks, each ``block_type (32) | block_total_length (32) | body | block_total_length
(32)``, the body padded to 4 bytes. The byte order is the writer's, announced by the Section Header
Block's byte-order magic 0x1A2B3C4D; a file may hold several sections, each with its own order.

Blocks read here (draft-ietf-opsawg-pcapng §4):

* SHB, Section Header Block (0x0A0D0D0A, §4.1): byte-order magic, version 1.0, section length; starts
  a section and forgets the previous section's interfaces.
* IDB, Interface Description Block (1, §4.2): link type, snaplen, options; the interface numbered by
  its position in the section. Options read: ``if_name`` (2), ``if_tsresol`` (9: 10^-n seconds, or
  2^-n when the top bit is set; default 10^-6), ``if_tsoffset`` (14: seconds added to every timestamp).
* EPB, Enhanced Packet Block (6, §4.3): interface id, 64-bit timestamp in the interface's units,
  captured and original length, data.
* SPB, Simple Packet Block (3, §4.4): original length and data of interface 0, no timestamp (0.0).
* the obsolete Packet Block (2, Appendix A), which old tools still write.

Any other block (name resolution, statistics, custom, decryption secrets) is skipped by its length.
A length that is not a multiple of 4, a trailing length that disagrees, a block running past the end
of the file or a packet of an interface never described raises ``FormatError`` (layer "pcapng").

Writing: ``PcapngWriter`` writes one section (little-endian unless ``byteorder="big"``), one IDB per
``add_interface`` (the first, Ethernet, is added for you), and EPBs with ``if_tsresol`` 6 (µs) or 9 (ns).
"""

from __future__ import annotations

import struct

from netstack.errors import FormatError
from netstack.formats.capture_file import CaptureFile

BLOCK_SECTION_HEADER = 0x0A0D0D0A
BLOCK_INTERFACE_DESCRIPTION = 1
BLOCK_PACKET_OBSOLETE = 2
BLOCK_SIMPLE_PACKET = 3
BLOCK_ENHANCED_PACKET = 6
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPTION_END = 0
OPTION_COMMENT = 1
OPTION_IF_NAME = 2
OPTION_IF_TSRESOL = 9
OPTION_IF_TSOFFSET = 14
LINKTYPE_ETHERNET = 1
DEFAULT_SNAPLEN = 262144


class Interface:
    """One IDB: ``linktype``, ``snaplen``, ``name`` (or None), ``units`` (timestamp ticks per second),
    ``offset`` (seconds added to timestamps)."""

    __slots__ = ("linktype", "snaplen", "name", "units", "offset")

    def __init__(self, linktype: int, snaplen: int, name: str | None = None, units: int = 1_000_000, offset: int = 0):
        self.linktype = linktype
        self.snaplen = snaplen
        self.name = name
        self.units = units
        self.offset = offset

    def __repr__(self):
        return f"Interface(linktype={self.linktype}, snaplen={self.snaplen}, name={self.name!r}, units={self.units})"


def _options(data: bytes, start: int, end: int, order: str) -> dict[int, bytes]:
    """code -> value of the options in ``data[start:end]`` (the first of a repeated code wins)."""
    found: dict[int, bytes] = {}
    header = struct.Struct(order + "HH")
    while start + 4 <= end:
        code, length = header.unpack_from(data, start)
        if code == OPTION_END:
            break
        value = data[start + 4 : start + 4 + length]
        found.setdefault(code, value)
        start += 4 + length + (-length % 4)
    return found


def _timestamp_units(resolution: bytes | None) -> int:
    """Ticks per second from an ``if_tsresol`` value (§4.2: 10^-n, or 2^-n with the top bit set)."""
    if not resolution:
        return 1_000_000
    exponent = resolution[0] & 0x7F
    return 2**exponent if resolution[0] & 0x80 else 10**exponent


def _interface(data: bytes, position: int, end: int, order: str) -> Interface:
    if end - position < 8:
        raise FormatError("pcapng", "interface_description", position, "block too short for an IDB")
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", data, position)
    options = _options(data, position + 8, end, order)
    name = options.get(OPTION_IF_NAME)
    offset = options.get(OPTION_IF_TSOFFSET)
    return Interface(
        linktype,
        snaplen,
        name.rstrip(b"\0").decode("utf-8", "replace") if name is not None else None,
        _timestamp_units(options.get(OPTION_IF_TSRESOL)),
        struct.unpack(order + "q", offset)[0] if offset is not None and len(offset) == 8 else 0,
    )


def records(data: bytes, nanoseconds: bool = False):
    """Yield ``(timestamp, frame, interface)`` for every packet block of the pcapng bytes ``data``.

    ``timestamp`` is float seconds, or int nanoseconds with ``nanoseconds=True``; ``interface`` the
    ``Interface`` the packet came in on (its ``linktype`` says how to decode the frame).
    """
    size = len(data)
    position = 0
    order = "<"
    interfaces: list[Interface] = []
    head = struct.Struct("<II")
    word = struct.Struct("<I")
    epb = struct.Struct("<IIIII")
    while position < size:
        if size - position < 12:
            raise FormatError("pcapng", "block_total_length", position, f"file truncated: {size - position} bytes left, a block needs 12")
        block_type = int.from_bytes(data[position : position + 4], "little")
        if block_type == BLOCK_SECTION_HEADER:
            magic = data[position + 8 : position + 12]
            if magic == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif magic == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                raise FormatError("pcapng", "byte_order_magic", position + 8, f"bad byte-order magic {magic.hex()}")
            head = struct.Struct(order + "II")
            word = struct.Struct(order + "I")
            epb = struct.Struct(order + "IIIII")
            interfaces = []
        block_type, length = head.unpack_from(data, position)
        if length < 12 or length % 4:
            raise FormatError("pcapng", "block_total_length", position + 4, f"block length {length} is not a multiple of 4 of at least 12")
        end = position + length
        if end > size:
            raise FormatError("pcapng", "block_total_length", position + 4, f"file truncated: the block needs {length} bytes, has {size - position}")
        if word.unpack_from(data, end - 4)[0] != length:
            raise FormatError("pcapng", "block_total_length", end - 4, "the trailing block length differs from the leading one")
        body = position + 8
        if block_type == BLOCK_ENHANCED_PACKET or block_type == BLOCK_PACKET_OBSOLETE:
            if length < 32:
                raise FormatError("pcapng", "captured_length", position, "packet block too short")
            interface_id, high, low, captured, _original = epb.unpack_from(data, body)
            if block_type == BLOCK_PACKET_OBSOLETE:
                # 16-bit interface id, then 16-bit drop count (Appendix A)
                interface_id = interface_id & 0xFFFF if order == "<" else interface_id >> 16
            if captured > length - 32:
                raise FormatError("pcapng", "captured_length", body + 12, f"captured length {captured} exceeds the block")
            if interface_id >= len(interfaces):
                raise FormatError("pcapng", "interface_id", body, f"packet of interface {interface_id}, only {len(interfaces)} described")
            interface = interfaces[interface_id]
            ticks = (high << 32) | low
            if nanoseconds:
                stamp = ticks * 1_000_000_000 // interface.units + interface.offset * 1_000_000_000
            else:
                stamp = ticks / interface.units + interface.offset
            yield stamp, data[body + 20 : body + 20 + captured], interface
        elif block_type == BLOCK_SIMPLE_PACKET:
            if not interfaces:
                raise FormatError("pcapng", "interface_id", body, "simple packet block before any interface")
            interface = interfaces[0]
            original = word.unpack_from(data, body)[0]
            captured = min(original, length - 16, interface.snaplen or original)
            yield (0 if nanoseconds else 0.0), data[body + 4 : body + 4 + captured], interface
        elif block_type == BLOCK_INTERFACE_DESCRIPTION:
            interfaces.append(_interface(data, body, end - 4, order))
        elif block_type == BLOCK_SECTION_HEADER:
            major = struct.unpack_from(order + "H", data, body + 4)[0]
            if major != 1:
                raise FormatError("pcapng", "major_version", body + 4, f"version {major}, expected 1")
        position = end


def is_pcapng(head: bytes) -> bool:
    """True when ``head`` (the first 4 bytes of a file) is a Section Header Block type."""
    return head[:4] == b"\x0a\x0d\x0d\x0a"


class PcapngWriter(CaptureFile):
    """Write frames to a pcapng file: one section, interfaces added with ``add_interface``.

    ``write(frame, timestamp, interface=0)``; ``timestamp`` is float seconds, or int nanoseconds when
    ``nanoseconds=True`` (then the interfaces use ``if_tsresol`` 9). Interface 0 (Ethernet, named
    ``interface_name``) exists from the start.
    """

    def __init__(self, fileobj_or_path, linktype: int = LINKTYPE_ETHERNET, snaplen: int = DEFAULT_SNAPLEN,
                 nanoseconds: bool = False, byteorder: str = "little", interface_name: str | None = None):
        if byteorder not in ("little", "big"):
            raise ValueError(f"byteorder must be 'little' or 'big', not {byteorder!r}")
        self._open(fileobj_or_path, "wb")
        self._order = "<" if byteorder == "little" else ">"
        self.nanoseconds = nanoseconds
        self.units = 1_000_000_000 if nanoseconds else 1_000_000
        self.interfaces: list[Interface] = []
        self._block(BLOCK_SECTION_HEADER, struct.pack(self._order + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1))
        self.add_interface(linktype, snaplen, interface_name)

    def _block(self, block_type: int, body: bytes) -> None:
        body += bytes(-len(body) % 4)
        length = len(body) + 12
        self._file.write(struct.pack(self._order + "II", block_type, length) + body + struct.pack(self._order + "I", length))

    def _option(self, code: int, value: bytes) -> bytes:
        return struct.pack(self._order + "HH", code, len(value)) + value + bytes(-len(value) % 4)

    def add_interface(self, linktype: int = LINKTYPE_ETHERNET, snaplen: int = DEFAULT_SNAPLEN, name: str | None = None) -> int:
        """Describe one more interface; returns its id for ``write``."""
        options = self._option(OPTION_IF_TSRESOL, bytes([9 if self.nanoseconds else 6]))
        if name:
            options += self._option(OPTION_IF_NAME, name.encode())
        options += self._option(OPTION_END, b"")
        self._block(BLOCK_INTERFACE_DESCRIPTION, struct.pack(self._order + "HHI", linktype, 0, snaplen) + options)
        self.interfaces.append(Interface(linktype, snaplen, name, self.units))
        return len(self.interfaces) - 1

    def write(self, frame: bytes | bytearray | memoryview, timestamp: float | int, interface: int = 0) -> None:
        """Append one Enhanced Packet Block."""
        if not 0 <= interface < len(self.interfaces):
            raise ValueError(f"interface {interface} was not added (have {len(self.interfaces)})")
        ticks = int(timestamp) if self.nanoseconds else int(round(timestamp * 1_000_000))
        saved = bytes(frame[: self.interfaces[interface].snaplen])
        header = struct.pack(self._order + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(saved), len(frame))
        self._block(BLOCK_ENHANCED_PACKET, header + saved)



__all__ = ["Interface", "PcapngWriter", "is_pcapng", "records"]
