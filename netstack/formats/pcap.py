"""libpcap capture files: the file and record headers as construct schemas, a reader and a writer.

Format: https://www.tcpdump.org/manpages/pcap-savefile.5.html (and draft-ietf-opsawg-pcap §4, §5).
A file is one 24-byte file header followed by records, each a 16-byte record header and the captured
bytes::

    file header                          record header
    +--------------------------------+   +--------------------------------+
    | magic_number (0xA1B2C3D4)   32 |   | ts_sec                      32 |
    | version_major (2) | minor (4)  |   | ts_usec (or ts_nsec)        32 |
    | thiszone (0)                32 |   | incl_len                    32 |
    | sigfigs (0)                 32 |   | orig_len                    32 |
    | snaplen                     32 |   +--------------------------------+
    | linktype (1 = Ethernet)     32 |   | packet data (incl_len bytes)   |
    +--------------------------------+

The writer writes little-endian files with microsecond (or, ``nanoseconds=True``, nanosecond)
timestamps, which tshark, Wireshark and tcpdump all read. The readers accept both byte orders and the
nanosecond magic (0xA1B23C4D). Bad files raise ``FormatError`` with layer "pcap".

The quick way, for pcap and pcapng alike (the format is told by the first bytes; ``netstack.formats.pcapng``
reads what tshark and dumpcap write by default)::

    from netstack.formats import pcap
    for timestamp, frame in pcap.read("capture.pcapng"):     # float seconds, frame bytes
        ...
    pcap.write("out.pcap", [(1700000000.25, frame_bytes)])   # or format="pcapng"

``read`` takes a path, bytes or a binary file object and reads it whole, then walks the records with
``struct.unpack_from`` (about 0.3 µs a record); ``records`` also yields each frame's link type (pcapng
files may mix interfaces). ``nanoseconds=True`` gives int nanoseconds instead of float seconds (a float
holds a 2026 timestamp to about 0.2 µs). ``PcapReader``/``PcapWriter`` stream a file record by record::

    with PcapWriter("out.pcap") as pcap:
        pcap.write(frame_bytes, 1700000000.25)
    for timestamp, frame in PcapReader("out.pcap"):
        ...
"""

from __future__ import annotations

import os
import struct

from construct import Const, Int16ub, Int16ul, Int32sb, Int32sl, Int32ub, Int32ul, Struct

from netstack.errors import FormatError
from netstack.formats.capture_file import CaptureFile
from netstack.formats import pcapng

MAGIC_MICROSECONDS = 0xA1B2C3D4
MAGIC_NANOSECONDS = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
DEFAULT_SNAPLEN = 262144


def _file_header(int16, int32, int32s):
    return Struct(
        "magic_number" / int32 * "0xA1B2C3D4 (µs timestamps) or 0xA1B23C4D (ns); its byte order is the file's",
        "version_major" / Const(2, int16) * "format version, major: 2",
        "version_minor" / int16 * "format version, minor: 4",
        "thiszone" / int32s * "GMT offset of timestamps in seconds, always 0",
        "sigfigs" / int32 * "timestamp accuracy, always 0",
        "snaplen" / int32 * "largest incl_len in the file, bytes",
        "linktype" / int32 * "link-layer header type of every record: 1 = Ethernet (LINKTYPE_ETHERNET)",
    )


def _record_header(int32):
    return Struct(
        "ts_sec" / int32 * "capture time, seconds since the Unix epoch",
        "ts_usec" / int32 * "capture time, microseconds (nanoseconds in a nanosecond file) past ts_sec",
        "incl_len" / int32 * "bytes of the packet saved in the file (at most snaplen)",
        "orig_len" / int32 * "length of the packet on the wire, bytes",
    )


pcap_file_header = _file_header(Int16ul, Int32ul, Int32sl)
"""The libpcap file header, little-endian (the byte order our writer uses)."""
pcap_file_header_big = _file_header(Int16ub, Int32ub, Int32sb)
"""The same header in a big-endian file."""
pcap_record_header = _record_header(Int32ul)
"""The per-record header, little-endian."""
pcap_record_header_big = _record_header(Int32ub)

# The record header runs per packet: plain struct codecs of the same four fields as the declarations.
_RECORD_LE = struct.Struct("<" + "I" * len(pcap_record_header.subcons))
_RECORD_BE = struct.Struct(">" + "I" * len(pcap_record_header.subcons))


class PcapWriter(CaptureFile):
    """Write Ethernet frames to a libpcap file (``fileobj_or_path``: a path or a binary file object).

    ``write(frame, timestamp)`` takes the frame bytes and a float timestamp (seconds since the epoch).
    Frames longer than ``snaplen`` are truncated to it, keeping the original length in ``orig_len``.
    """

    def __init__(self, fileobj_or_path, linktype: int = LINKTYPE_ETHERNET, snaplen: int = DEFAULT_SNAPLEN,
                 nanoseconds: bool = False):
        self._open(fileobj_or_path, "wb")
        self.snaplen = snaplen
        self.linktype = linktype
        self.nanoseconds = nanoseconds
        self._file.write(
            pcap_file_header.build(
                dict(
                    magic_number=MAGIC_NANOSECONDS if nanoseconds else MAGIC_MICROSECONDS,
                    version_minor=4,
                    thiszone=0,
                    sigfigs=0,
                    snaplen=snaplen,
                    linktype=linktype,
                )
            )
        )

    def write(self, frame: bytes | bytearray | memoryview, timestamp: float | int) -> None:
        """Append one record: ``frame`` captured at ``timestamp`` (float seconds since the epoch; int
        nanoseconds in a ``nanoseconds=True`` file)."""
        if self.nanoseconds:
            seconds, fraction = divmod(int(timestamp), 1_000_000_000)
        else:
            seconds = int(timestamp)
            fraction = int(round((timestamp - seconds) * 1_000_000))
            if fraction >= 1_000_000:
                seconds += 1
                fraction -= 1_000_000
        saved = bytes(frame[: self.snaplen])
        self._file.write(_RECORD_LE.pack(seconds, fraction, len(saved), len(frame)) + saved)



class PcapReader(CaptureFile):
    """Iterate a capture file record by record as ``(timestamp_float, frame_bytes)`` pairs.

    A libpcap file is streamed; a pcapng file (told by its first block) is read whole and walked by
    ``netstack.formats.pcapng``, its ``linktype`` the first interface's. Attributes after opening:
    ``linktype``, ``snaplen``, ``nanoseconds`` (timestamp resolution), ``format`` ("pcap"/"pcapng").
    A truncated record or a wrong magic number raises ``FormatError`` (layer "pcap" or "pcapng").
    """

    def __init__(self, fileobj_or_path):
        self._open(fileobj_or_path, "rb")
        self._offset = 0
        self._pcapng = None
        first = self._file.read(4)
        if pcapng.is_pcapng(first):
            self._open_pcapng(first + self._file.read())
            return
        self.format = "pcap"
        self._offset = len(first)
        raw = first + self._read_exactly(24 - len(first), "magic_number")
        little = int.from_bytes(raw[:4], "little")
        big = int.from_bytes(raw[:4], "big")
        if little in (MAGIC_MICROSECONDS, MAGIC_NANOSECONDS):
            header, self._record = pcap_file_header.parse(raw), _RECORD_LE
        elif big in (MAGIC_MICROSECONDS, MAGIC_NANOSECONDS):
            header, self._record = pcap_file_header_big.parse(raw), _RECORD_BE
        else:
            raise FormatError("pcap", "magic_number", 0, f"not a pcap or pcapng file (magic {raw[:4].hex()})")
        self.nanoseconds = header.magic_number == MAGIC_NANOSECONDS
        self.linktype = header.linktype
        self.snaplen = header.snaplen

    def _open_pcapng(self, data: bytes) -> None:
        self.format = "pcapng"
        self._pcapng = pcapng.records(data)
        self._first = next(self._pcapng, None)
        interface = self._first[2] if self._first else None
        self.linktype = interface.linktype if interface else LINKTYPE_ETHERNET
        self.snaplen = interface.snaplen if interface else DEFAULT_SNAPLEN
        self.nanoseconds = bool(interface and interface.units >= 1_000_000_000)

    def _read_exactly(self, count: int, field: str) -> bytes:
        data = self._file.read(count)
        if len(data) != count:
            raise FormatError("pcap", field, self._offset, f"file truncated: needs {count} bytes, has {len(data)}")
        self._offset += count
        return data

    def __iter__(self):
        if self._pcapng is not None:
            if self._first is not None:
                yield self._first[:2]
            for timestamp, frame, _interface in self._pcapng:
                yield timestamp, frame
            return
        divisor = 1e9 if self.nanoseconds else 1e6
        read = self._file.read
        unpack = self._record.unpack
        while True:
            header = read(16)
            if not header:
                return
            if len(header) != 16:
                raise FormatError("pcap", "record_header", self._offset, "file truncated inside a record header")
            self._offset += 16
            seconds, fraction, captured, _original = unpack(header)
            data = self._read_exactly(captured, "packet_data")
            yield seconds + fraction / divisor, data



def _whole(source) -> bytes:
    """The bytes of a capture given as a path, bytes or a binary file object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as file:
            return file.read()
    return source.read()


def _pcap_records(data: bytes, nanoseconds: bool):
    """(timestamp, frame) of every record of libpcap bytes ``data`` (file header included)."""
    if len(data) < 24:
        raise FormatError("pcap", "magic_number", 0, f"file truncated: needs 24 bytes, has {len(data)}")
    magic = int.from_bytes(data[:4], "little")
    if magic in (MAGIC_MICROSECONDS, MAGIC_NANOSECONDS):
        record = _RECORD_LE
    else:
        magic = int.from_bytes(data[:4], "big")
        if magic not in (MAGIC_MICROSECONDS, MAGIC_NANOSECONDS):
            raise FormatError("pcap", "magic_number", 0, f"not a pcap or pcapng file (magic {data[:4].hex()})")
        record = _RECORD_BE
    units = 1_000_000_000 if magic == MAGIC_NANOSECONDS else 1_000_000
    unpack = record.unpack_from
    size = len(data)
    position = 24
    while position < size:
        start = position + 16
        if start > size:
            raise FormatError("pcap", "record_header", position, "file truncated inside a record header")
        seconds, fraction, captured, _original = unpack(data, position)
        position = start + captured
        if position > size:
            raise FormatError("pcap", "packet_data", start, f"file truncated: needs {captured} bytes, has {size - start}")
        if nanoseconds:
            yield seconds * 1_000_000_000 + fraction * (1_000_000_000 // units), data[start:position]
        else:
            yield seconds + fraction / units, data[start:position]


def read(source, nanoseconds: bool = False):
    """Yield ``(timestamp, frame)`` for every packet of a pcap or pcapng capture.

    ``source``: a path, bytes or a binary file object (read whole). ``timestamp`` is float seconds
    since the epoch, or int nanoseconds with ``nanoseconds=True``. FormatError on a damaged file.
    """
    data = _whole(source)
    if pcapng.is_pcapng(data):
        for timestamp, frame, _interface in pcapng.records(data, nanoseconds):
            yield timestamp, frame
    else:
        yield from _pcap_records(data, nanoseconds)


def records(source, nanoseconds: bool = False):
    """Like ``read``, yielding ``(timestamp, frame, linktype)``: pcapng interfaces may differ."""
    data = _whole(source)
    if pcapng.is_pcapng(data):
        for timestamp, frame, interface in pcapng.records(data, nanoseconds):
            yield timestamp, frame, interface.linktype
        return
    linktype = None
    for timestamp, frame in _pcap_records(data, nanoseconds):
        if linktype is None:
            linktype = int.from_bytes(data[20:24], "little" if data[:2] in (b"\xd4\xc3", b"\x4d\x3c") else "big")
        yield timestamp, frame, linktype


def write(destination, frames, format: str = "pcap", linktype: int = LINKTYPE_ETHERNET,
          nanoseconds: bool = False) -> int:
    """Write ``(timestamp, frame)`` pairs to ``destination`` (path or binary file object) as ``format``
    "pcap" or "pcapng"; returns the number of frames written."""
    if format == "pcap":
        writer = PcapWriter(destination, linktype=linktype, nanoseconds=nanoseconds)
    elif format == "pcapng":
        writer = pcapng.PcapngWriter(destination, linktype=linktype, nanoseconds=nanoseconds)
    else:
        raise ValueError(f"format must be 'pcap' or 'pcapng', not {format!r}")
    count = 0
    with writer:
        for timestamp, frame in frames:
            writer.write(frame, timestamp)
            count += 1
    return count


def write_pcap(path_or_fileobj, frames, linktype: int = LINKTYPE_ETHERNET) -> None:
    """Write ``frames`` (an iterable of ``(timestamp, bytes)``) to a pcap file in one call."""
    with PcapWriter(path_or_fileobj, linktype=linktype) as writer:
        for timestamp, frame in frames:
            writer.write(frame, timestamp)


def read_pcap(path_or_fileobj) -> list[tuple[float, bytes]]:
    """All ``(timestamp, bytes)`` records of a pcap file."""
    with PcapReader(path_or_fileobj) as reader:
        return list(reader)


__all__ = [
    "read",
    "records",
    "write",
    "PcapReader",
    "PcapWriter",
    "read_pcap",
    "write_pcap",
    "pcap_file_header",
    "pcap_record_header",
    "LINKTYPE_ETHERNET",
]
