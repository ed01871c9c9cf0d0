"""pcap reader/writer (netstack/formats/pcap.py)."""

import io
import subprocess

import pytest

from netstack.formats import Frame, FormatError
from netstack.formats.pcap import PcapReader, PcapWriter, pcap_file_header

from tests.support.external_tools import require_tool


def _frames():
    return [
        Frame.build({"src": "02:00:5e:00:53:01", "payload": {"src": "192.0.2.1", "dst": "192.0.2.2", "protocol": "tcp",
                     "payload": {"src_port": 40000, "dst_port": 80, "flags": "S", "options": [("mss", 1460)]}}}),
        Frame.build({"payload": {"src": "192.0.2.2", "dst": "192.0.2.1", "protocol": "udp", "payload": {"src_port": 40001, "dst_port": 40002, "payload": b"x" * 30}}}),
    ]


def test_write_then_read_back():
    buffer = io.BytesIO()
    with PcapWriter(buffer) as writer:
        for index, frame in enumerate(_frames()):
            writer.write(frame, 1_700_000_000 + index + 0.25)
    header = pcap_file_header.parse(buffer.getvalue()[:24])
    assert header.magic_number == 0xA1B2C3D4 and header.linktype == 1
    buffer.seek(0)
    records = list(PcapReader(buffer))
    assert [frame for _, frame in records] == _frames()
    assert records[1][0] == pytest.approx(1_700_000_001.25)


def test_snaplen_truncates_but_keeps_orig_len():
    buffer = io.BytesIO()
    writer = PcapWriter(buffer, snaplen=20)
    writer.write(bytes(100), 1.0)
    data = buffer.getvalue()
    assert int.from_bytes(data[24 + 8 : 24 + 12], "little") == 20 and int.from_bytes(data[24 + 12 : 24 + 16], "little") == 100


def test_bad_files_raise_format_error():
    with pytest.raises(FormatError, match="not a pcap"):
        PcapReader(io.BytesIO(bytes(24)))
    buffer = io.BytesIO()
    PcapWriter(buffer).write(bytes(50), 1.0)
    with pytest.raises(FormatError, match="truncated"):
        list(PcapReader(io.BytesIO(buffer.getvalue()[:-1])))


def test_tshark_reads_our_file(tmp_path):
    tshark = require_tool("tshark")
    path = tmp_path / "frames.pcap"
    with PcapWriter(path) as writer:
        for frame in _frames():
            writer.write(frame, 1_700_000_000.5)
    result = subprocess.run(
        [tshark, "-r", str(path), "-T", "fields", "-e", "ip.src", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "_ws.malformed"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    lines = [line.split("\t") for line in result.stdout.splitlines() if line]
    assert lines == [["192.0.2.1", "80", "", ""], ["192.0.2.2", "", "40001", ""]]
