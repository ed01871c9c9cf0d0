"""pcap and pcapng reading and writing (netstack/formats/pcap.py, netstack/formats/pcapng.py).

Both formats in both byte orders, microsecond and nanosecond timestamps, several interfaces, unknown
blocks skipped, damaged files refused with FormatError; and a pcapng written by dumpcap in a test
namespace read back frame for frame against tshark's own reading of it.
"""

import io
import struct
import subprocess
import time

import pytest

from netstack.errors import FormatError
from netstack.formats import pcap, pcapng
from netstack.formats.craft import ICMP, IP, UDP, Ether
from tests.support.external_tools import require_tool
from tests.support.veth_peers import KERNEL_IP, OUR_IP, veth_peers

FRAMES = [
    bytes(Ether(src="02:00:5e:00:53:01") / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(dst_port=7) / b"one"),
    bytes(Ether(src="02:00:5e:00:53:02") / IP(src="192.0.2.2", dst="192.0.2.1") / ICMP(type="echo_request") / b"two!"),
    bytes(range(7)),  # not an Ethernet frame: the container carries bytes, whatever they are
]
STAMPS_NS = [1_700_000_000_123_456_789, 1_700_000_001_000_000_001, 1_700_000_002_999_999_999]


@pytest.mark.parametrize("format", ["pcap", "pcapng"])
@pytest.mark.parametrize("nanoseconds", [False, True])
def test_write_then_read_both_formats(format, nanoseconds):
    stamps = STAMPS_NS if nanoseconds else [stamp / 1e9 for stamp in STAMPS_NS]
    buffer = io.BytesIO()
    assert pcap.write(buffer, zip(stamps, FRAMES), format=format, nanoseconds=nanoseconds) == 3
    data = buffer.getvalue()
    assert pcapng.is_pcapng(data) == (format == "pcapng")
    read = list(pcap.read(data, nanoseconds=nanoseconds))
    assert [frame for _, frame in read] == FRAMES
    if nanoseconds:
        assert [stamp for stamp, _ in read] == STAMPS_NS
    else:
        assert [stamp for stamp, _ in read] == pytest.approx([round(s, 6) for s in stamps], abs=1e-6)
    # the streaming reader agrees with the whole-file one
    assert [frame for _, frame in pcap.PcapReader(io.BytesIO(data))] == FRAMES


def _big_endian_pcap(frames):
    header = struct.pack(">IHHiIII", pcap.MAGIC_NANOSECONDS, 2, 4, 0, 0, 65535, 1)
    return header + b"".join(struct.pack(">IIII", 5, 250, len(f), len(f)) + f for f in frames)


def test_big_endian_files():
    records = list(pcap.records(_big_endian_pcap(FRAMES)))
    assert [(stamp, frame, linktype) for stamp, frame, linktype in records] == [
        (pytest.approx(5.00000025), frame, 1) for frame in FRAMES]
    buffer = io.BytesIO()
    with pcapng.PcapngWriter(buffer, byteorder="big", nanoseconds=True) as writer:
        for stamp, frame in zip(STAMPS_NS, FRAMES):
            writer.write(frame, stamp)
    data = buffer.getvalue()
    assert data[8:12] == b"\x1a\x2b\x3c\x4d"  # the byte-order magic as a big-endian writer writes it
    assert list(pcap.read(data, nanoseconds=True)) == list(zip(STAMPS_NS, FRAMES))


def _block(block_type, body, order="<"):
    body += bytes(-len(body) % 4)
    return struct.pack(order + "II", block_type, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def _option(code, value):
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


def test_interfaces_resolutions_and_unknown_blocks():
    shb = _block(pcapng.BLOCK_SECTION_HEADER, struct.pack("<IHHq", pcapng.BYTE_ORDER_MAGIC, 1, 0, -1))
    # interface 0: 2^-10 s ticks, offset 100 s, named; interface 1: Linux cooked (113), default µs
    idb0 = _block(1, struct.pack("<HHI", 1, 0, 65535) + _option(2, b"eth0") + _option(9, bytes([0x8A]))
                  + _option(14, struct.pack("<q", 100)) + _option(0, b""))
    idb1 = _block(1, struct.pack("<HHI", 113, 0, 4) + _option(0, b""))
    unknown = _block(0x0BAD, b"anything at all")
    name_resolution = _block(4, b"\x00\x00\x00\x00")
    epb0 = _block(6, struct.pack("<IIIII", 0, 0, 3 * 1024 + 512, len(FRAMES[0]), len(FRAMES[0])) + FRAMES[0])
    epb1 = _block(6, struct.pack("<IIIII", 1, 0, 2_000_000, len(FRAMES[1]), 999) + FRAMES[1])
    spb = _block(3, struct.pack("<I", len(FRAMES[1])) + FRAMES[1])  # interface 0, no timestamp
    obsolete = _block(2, struct.pack("<HHIIII", 1, 0, 0, 5_000_000, 3, 3) + b"abc")
    data = shb + idb0 + unknown + idb1 + name_resolution + epb0 + epb1 + spb + obsolete
    records = list(pcapng.records(data))
    assert [(stamp, frame, interface.linktype) for stamp, frame, interface in records] == [
        (103.5, FRAMES[0], 1), (2.0, FRAMES[1], 113), (0.0, FRAMES[1], 1), (5.0, b"abc", 113)]
    assert records[0][2].name == "eth0" and records[0][2].units == 1024
    assert [linktype for _, _, linktype in pcap.records(data)] == [1, 113, 1, 113]


def test_damaged_files_raise_format_error():
    good = io.BytesIO()
    pcap.write(good, [(1.0, FRAMES[0])], format="pcapng")
    data = good.getvalue()
    with pytest.raises(FormatError, match="truncated") as error:
        list(pcap.read(data[:-4]))
    assert error.value.layer == "pcapng"
    with pytest.raises(FormatError, match="trailing block length"):
        list(pcap.read(data[:-4] + b"\xff\xff\xff\xff"))
    with pytest.raises(FormatError, match="byte-order magic"):
        list(pcap.read(data[:8] + b"abcd" + data[12:]))
    no_interface = data[:28] + _block(6, struct.pack("<IIIII", 5, 0, 0, 1, 1) + b"x")
    with pytest.raises(FormatError) as error:
        list(pcap.read(no_interface))
    assert error.value.field == "interface_id"
    with pytest.raises(FormatError, match="not a pcap or pcapng"):
        list(pcap.read(bytes(24)))
    pcap_data = io.BytesIO()
    pcap.write(pcap_data, [(1.0, FRAMES[0])])
    with pytest.raises(FormatError, match="truncated") as error:
        list(pcap.read(pcap_data.getvalue()[:-1]))
    assert (error.value.layer, error.value.field, error.value.offset) == ("pcap", "packet_data", 40)


@pytest.mark.netns
def test_dumpcap_pcapng_reads_back_frame_for_frame(tmp_path):
    dumpcap = require_tool("dumpcap", "tshark")
    require_tool("tshark")
    path = tmp_path / "two-interfaces.pcapng"
    with veth_peers() as peers:
        namespace = peers.namespace
        capture = namespace.popen([dumpcap, "-q", "-i", peers.kernel, "-i", peers.ours, "-w", str(path),
                                   "-a", "duration:20"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        namespace.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", OUR_IP])
        time.sleep(1.0)
        capture.terminate()
        capture.wait(timeout=10)
    assert pcapng.is_pcapng(path.read_bytes())
    records = list(pcapng.records(path.read_bytes()))
    assert {interface.name for _, _, interface in records} == {peers.kernel, peers.ours}
    fields = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.interface_id", "-e", "frame.time_epoch",
         "-e", "frame.len", "-e", "eth.src", "-e", "ip.src", "-e", "icmp.seq"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    expected = [line.split("\t") for line in fields.splitlines()]
    assert len(expected) == len(records) and len(records) >= 6  # 3 requests, seen on both interfaces
    interface_of_id: dict[str, str] = {}
    for (stamp, frame, interface), (interface_id, epoch, length, source_mac, source_ip, sequence) in zip(records, expected):
        assert interface_of_id.setdefault(interface_id, interface.name) == interface.name
        assert len(frame) == int(length)
        assert stamp == pytest.approx(float(epoch), abs=1e-6)
        assert frame[6:12].hex(":") == source_mac
        if source_ip:  # the kernel's echo requests (ARP would have no ip.src)
            assert source_ip == KERNEL_IP and frame[26:30] == bytes([192, 0, 2, 1])
            assert int(sequence) == int.from_bytes(frame[40:42], "big")
    assert len(interface_of_id) == 2
    # frame for frame: tshark rewrites the same capture as libpcap; our two readers must agree
    converted = tmp_path / "converted.pcap"
    subprocess.run(["tshark", "-r", str(path), "-F", "pcap", "-w", str(converted)], check=True, timeout=60,
                   capture_output=True)
    assert [frame for _, frame in pcap.read(converted)] == [frame for _, frame, _ in records]
    assert [frame for _, frame in pcap.PcapReader(path)] == [frame for _, frame, _ in records]
