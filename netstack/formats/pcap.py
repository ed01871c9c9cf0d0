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

The writer writes little-endian microsecond files, which tshark, Wireshark and tcpdump all read. The
reader accepts both byte orders and the nanosecond magic (0xA1B23C4D). Bad files raise ``FormatError``
with layer "pcap".

    with PcapWriter("out.pcap") as pcap:
        pcap.write(frame_bytes, 1700000000.25)
    for timestamp, frame in PcapReader("out.pcap"):
        ...
"""

from __future__ import annotations

import os

from construct import Const, ConstructError, Int16ub, Int16ul, Int32sb, Int32sl, Int32ub, Int32ul, Struct

from netstack.errors import FormatError

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

# The compiled record codecs run per packet; construct compiles these plain integer Structs fully.
_record_le = pcap_record_header.compile()
_record_be = pcap_record_header_big.compile()


class PcapWriter:
    """Write Ethernet frames to a libpcap file (``fileobj_or_path``: a path or a binary file object).

    ``write(frame, timestamp)`` takes the frame bytes and a float timestamp (seconds since the epoch).
    Frames longer than ``snaplen`` are truncated to it, keeping the original length in ``orig_len``.
    """

    def __init__(self, fileobj_or_path, linktype: int = LINKTYPE_ETHERNET, snaplen: int = DEFAULT_SNAPLEN):
        if isinstance(fileobj_or_path, (str, bytes, os.PathLike)):
            self._file = open(fileobj_or_path, "wb")
            self._owns_file = True
        else:
            self._file = fileobj_or_path
            self._owns_file = False
        self.snaplen = snaplen
        self.linktype = linktype
        self._file.write(
            pcap_file_header.build(
                dict(
                    magic_number=MAGIC_MICROSECONDS,
                    version_minor=4,
                    thiszone=0,
                    sigfigs=0,
                    snaplen=snaplen,
                    linktype=linktype,
                )
            )
        )

    def write(self, frame: bytes | bytearray | memoryview, timestamp: float) -> None:
        """Append one record: ``frame`` captured at ``timestamp`` (float seconds since the epoch)."""
        seconds = int(timestamp)
        microseconds = int(round((timestamp - seconds) * 1_000_000))
        if microseconds >= 1_000_000:
            seconds += 1
            microseconds -= 1_000_000
        saved = bytes(frame[: self.snaplen])
        self._file.write(
            _record_le.build(dict(ts_sec=seconds, ts_usec=microseconds, incl_len=len(saved), orig_len=len(frame)))
        )
        self._file.write(saved)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if self._owns_file:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PcapReader:
    """Iterate a libpcap file as ``(timestamp_float, frame_bytes)`` pairs.

    Attributes after opening: ``linktype``, ``snaplen``, ``nanoseconds`` (timestamp resolution).
    A truncated record or a wrong magic number raises ``FormatError`` (layer "pcap").
    """

    def __init__(self, fileobj_or_path):
        if isinstance(fileobj_or_path, (str, bytes, os.PathLike)):
            self._file = open(fileobj_or_path, "rb")
            self._owns_file = True
        else:
            self._file = fileobj_or_path
            self._owns_file = False
        self._offset = 0
        raw = self._read_exactly(24, "magic_number")
        little = int.from_bytes(raw[:4], "little")
        big = int.from_bytes(raw[:4], "big")
        if little in (MAGIC_MICROSECONDS, MAGIC_NANOSECONDS):
            header, self._record = pcap_file_header.parse(raw), _record_le
        elif big in (MAGIC_MICROSECONDS, MAGIC_NANOSECONDS):
            header, self._record = pcap_file_header_big.parse(raw), _record_be
        else:
            raise FormatError("pcap", "magic_number", 0, f"not a pcap file (magic {raw[:4].hex()})")
        self.nanoseconds = header.magic_number == MAGIC_NANOSECONDS
        self.linktype = header.linktype
        self.snaplen = header.snaplen

    def _read_exactly(self, count: int, field: str) -> bytes:
        data = self._file.read(count)
        if len(data) != count:
            raise FormatError("pcap", field, self._offset, f"file truncated: needs {count} bytes, has {len(data)}")
        self._offset += count
        return data

    def __iter__(self):
        divisor = 1e9 if self.nanoseconds else 1e6
        while True:
            start = self._file.read(1)
            if not start:
                return
            rest = self._file.read(15)
            if len(rest) != 15:
                raise FormatError("pcap", "record_header", self._offset, "file truncated inside a record header")
            self._offset += 16
            try:
                record = self._record.parse(start + rest)
            except ConstructError as error:  # cannot happen for 16 bytes of integers; never leak it
                raise FormatError("pcap", "record_header", self._offset - 16, str(error)) from None
            data = self._read_exactly(record.incl_len, "packet_data")
            yield record.ts_sec + record.ts_usec / divisor, data

    def close(self) -> None:
        if self._owns_file:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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
    "PcapReader",
    "PcapWriter",
    "read_pcap",
    "write_pcap",
    "pcap_file_header",
    "pcap_record_header",
    "LINKTYPE_ETHERNET",
]
