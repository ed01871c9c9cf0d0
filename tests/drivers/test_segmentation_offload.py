"""The TAP driver's TCP segmentation offload (``netstack.drivers.segmentation_offload``): which frames
merge (GRO's rules), that a merged write is a valid frame, and that splitting it gives the originals."""

from __future__ import annotations

from netstack.formats import fast
from netstack.formats.checksum import internet_checksum, transport_checksum
from netstack.drivers.segmentation_offload import (
    PLAIN_VNET_HEADER,
    VIRTIO_NET_HDR_GSO_TCPV4,
    VNET_HEADER,
    VNET_HEADER_LENGTH,
    coalesce_tcp_segments,
    split_coalesced,
)

SRC = bytes([192, 0, 2, 2])
DST = bytes([192, 0, 2, 1])
SRC_MAC = bytes.fromhex("020000000002")
DST_MAC = bytes.fromhex("020000000001")
TIMESTAMPS = [(1, None), (1, None), (8, (1000, 2000))]
ACK, PSH, FIN = fast.ACK, fast.PSH, fast.FIN


def segment(seq, payload, *, flags=ACK, ident=1, ack=5000, window=500, options=TIMESTAMPS, dst_port=6001):
    tcp = fast.encode_tcp(SRC, DST, 40000, dst_port, seq=seq, ack=ack, flags=flags, window=window,
                          options=options, payload=payload)
    ip = fast.encode_ipv4(SRC, DST, 6, tcp, ttl=64, identification=ident, flags=2)
    return fast.encode_ethernet(DST_MAC, SRC_MAC, 0x0800, ip)


def burst(count, size=1448, seq=1, last_flags=ACK | PSH, last_size=None):
    frames = []
    for index in range(count):
        final = index == count - 1
        length = last_size if final and last_size is not None else size
        frames.append(segment(seq, bytes([index]) * length, flags=last_flags if final else ACK, ident=10 + index))
        seq += length
    return frames


def test_a_burst_becomes_one_valid_offloaded_frame_that_splits_back_exactly():
    frames = burst(5, last_size=300)
    (write,) = coalesce_tcp_segments(frames)
    flags, gso_type, header_length, gso_size, _, _ = VNET_HEADER.unpack_from(write)
    assert (flags, gso_type, header_length, gso_size) == (0, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448)
    frame = write[VNET_HEADER_LENGTH:]
    assert len(frame) == 66 + 4 * 1448 + 300
    assert internet_checksum(frame[14:34]) == 0  # IPv4 header checksum valid
    assert int.from_bytes(frame[16:18], "big") == len(frame) - 14
    assert transport_checksum(SRC, DST, 6, frame[34:]) == 0  # TCP checksum over the whole run valid
    assert frame[47] == ACK | PSH  # the last segment's PSH
    assert split_coalesced(write) == frames


def test_frames_that_gro_would_not_merge_stay_apart():
    arp = fast.encode_ethernet(b"\xff" * 6, SRC_MAC, 0x0806, fast.encode_arp(
        op=1, sha=SRC_MAC, spa=SRC, tha=bytes(6), tpa=DST))
    pure_ack = segment(1, b"")
    a, b = burst(2)
    other_flow = segment(1 + 2 * 1448, b"x" * 1448, dst_port=6002)
    gap = segment(1 + 10 * 1448, b"y" * 1448)
    writes = coalesce_tcp_segments([arp, pure_ack, a, b, other_flow, gap])
    assert writes[0] == PLAIN_VNET_HEADER + arp
    assert writes[1] == PLAIN_VNET_HEADER + pure_ack
    assert split_coalesced(writes[2]) == [a, b]
    assert writes[3:] == [PLAIN_VNET_HEADER + other_flow, PLAIN_VNET_HEADER + gap]


def test_runs_end_at_psh_fin_a_short_segment_a_header_change_and_64_kib():
    first = burst(2)  # ends with PSH: the next segment starts a new run
    following = burst(2, seq=1 + 2 * 1448, last_flags=ACK)
    assert [len(split_coalesced(w)) for w in coalesce_tcp_segments(first + following)] == [2, 2]
    fin = burst(3, last_flags=ACK | FIN)
    writes = coalesce_tcp_segments(fin)
    assert len(split_coalesced(writes[0])) == 2 and writes[1] == PLAIN_VNET_HEADER + fin[2]
    short_then_full = [segment(1, b"a" * 100, ident=1), segment(101, b"b" * 1448, ident=2)]
    assert coalesce_tcp_segments(short_then_full) == [PLAIN_VNET_HEADER + f for f in short_then_full]
    odd_size = burst(3, size=1447, last_flags=ACK)  # later payloads would start at odd offsets
    assert coalesce_tcp_segments(odd_size) == [PLAIN_VNET_HEADER + f for f in odd_size]
    odd_last = burst(3, last_size=777)
    assert split_coalesced(coalesce_tcp_segments(odd_last)[0]) == odd_last
    assert transport_checksum(SRC, DST, 6, coalesce_tcp_segments(odd_last)[0][VNET_HEADER_LENGTH + 34:]) == 0
    window_change = [segment(1, b"a" * 1448), segment(1449, b"b" * 1448, window=501)]
    assert coalesce_tcp_segments(window_change) == [PLAIN_VNET_HEADER + f for f in window_change]
    many = burst(60, last_flags=ACK)
    writes = coalesce_tcp_segments(many)
    assert all(len(w) - VNET_HEADER_LENGTH - 14 <= 65535 for w in writes)
    assert [f for w in writes for f in (split_coalesced(w) if w[1] else [w[VNET_HEADER_LENGTH:]])] == many
    assert len(writes) == 2


def test_a_refused_offload_write_falls_back_to_single_frames_and_stops_merging(monkeypatch):
    import errno
    import types

    from netstack import Stack
    from netstack.drivers import tap

    running = tap.RunningStack(Stack(ip="192.0.2.2/24"), -1, tap="nstoffload0", vnet_header=True)
    written = []

    def write(fd, data):
        if data[1] == VIRTIO_NET_HDR_GSO_TCPV4:
            raise OSError(errno.EINVAL, "Invalid argument")  # as a kernel without GSO on TAP would
        written.append(bytes(data))
        return len(data)

    monkeypatch.setattr(tap, "os", types.SimpleNamespace(write=write))
    try:
        frames = burst(4)
        running._send(frames)
        assert written == [PLAIN_VNET_HEADER + frame for frame in frames]  # nothing lost, in order
        assert running.gso is False and running.stack.counters["tap.gso_refused"] == 1
        written.clear()
        running._send(frames)
        assert written == [PLAIN_VNET_HEADER + frame for frame in frames]
        assert running.stack.counters["tap.gso_refused"] == 1 and running.frames_out == 8
    finally:
        monkeypatch.undo()
        running.stop()
