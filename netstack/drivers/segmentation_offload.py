"""TCP segmentation offload for the TAP driver: runs of segments written as one ``virtio_net_hdr`` frame.

With IFF_VNET_HDR every frame read from or written to the TAP starts with a ``virtio_net_hdr``
(include/uapi/linux/virtio_net.h). ``coalesce_tcp_segments`` merges the runs of segments that Linux's
GRO would merge (net/ipv4/tcp_offload.c ``tcp_gro_receive``) into one write with ``gso_type`` TCPV4,
which the kernel takes in one pass, as it takes a virtio guest's TSO frames; ``split_coalesced`` is
its inverse (the fallback when the kernel refuses such a write, and the tests' oracle).

The byte offsets below are not written by hand: they are read at import from the header layouts that
``netstack.formats.fast`` generates from the construct declarations (Ethernet II untagged, IPv4 without
options, TCP), like every other fast path.
"""

from __future__ import annotations

import struct

from netstack.formats import fast
from netstack.formats.checksum import internet_checksum, transport_checksum

# virtio_net_hdr, little-endian on the TAP: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
VNET_HEADER = struct.Struct("<BBHHHH")
VNET_HEADER_LENGTH = VNET_HEADER.size
PLAIN_VNET_HEADER = bytes(VNET_HEADER_LENGTH)  # no offload: the kernel checks every checksum itself
VIRTIO_NET_HDR_GSO_TCPV4 = 1
GSO_MAX_LENGTH = 65535  # an IPv4 datagram's total_length field bounds the merged frame


_ETH, ETHERNET_LENGTH = fast.ETHERNET_LAYOUT.offsets, fast.ETHERNET_LAYOUT.size
_IP, IPV4_MIN_LENGTH = fast.IPV4_LAYOUT.offsets, fast.IPV4_LAYOUT.size
_TCP, TCP_MIN_LENGTH = fast.TCP_LAYOUT.offsets, fast.TCP_LAYOUT.size
IP = ETHERNET_LENGTH
TCP = IP + IPV4_MIN_LENGTH
ETHERTYPE = _ETH["ethertype"]
VERSION_IHL = IP + _IP["version"]
TOTAL_LENGTH = IP + _IP["total_length"]
IDENTIFICATION = IP + _IP["identification"]
FRAGMENT = IP + _IP["flags"]  # flags and fragment offset share these two bytes
TTL = IP + _IP["ttl"]
PROTOCOL = IP + _IP["protocol"]
IP_CHECKSUM = IP + _IP["checksum"]
ADDRESSES = IP + _IP["src"]  # src and dst, then the TCP ports
SEQ = TCP + _TCP["seq"]
ACK_NUMBER = TCP + _TCP["ack"]
DATA_OFFSET = TCP + _TCP["data_offset"]
FLAGS = TCP + _TCP["flags"]
WINDOW = TCP + _TCP["window"]
TCP_CHECKSUM = TCP + _TCP["checksum"]
TCP_OPTIONS = TCP + TCP_MIN_LENGTH
# the relative offsets inside the IP and TCP headers, for headers sliced out of a frame
IP_TOTAL_LENGTH, IP_IDENTIFICATION, IP_HEADER_CHECKSUM = (_IP[n] for n in ("total_length", "identification", "checksum"))
TCP_SEQ, TCP_FLAGS, TCP_HEADER_CHECKSUM = (_TCP[n] for n in ("seq", "flags", "checksum"))
_IPV4_NO_OPTIONS = 0x40 | IPV4_MIN_LENGTH // 4
_ETHERTYPE_IPV4 = fast.ETHERTYPE_IPV4.to_bytes(2, "big")
_MORE_FRAGMENTS_AND_OFFSET = (fast.IP_MF << 13 | 0x1FFF) >> 8  # the high byte's bits that forbid a merge
_MERGEABLE_FLAGS_MASK = 0xFF ^ fast.PSH  # every flag but PSH must be exactly ACK


def coalesce_tcp_segments(frames: list[bytes]) -> list[bytes]:
    """``frames`` as TAP writes with a ``virtio_net_hdr``: runs of TCP segments merged, GRO's way.

    A run is consecutive frames of one flow whose headers are equal but for the IPv4 length, ID and
    checksum and the TCP sequence number and checksum: IPv4 without options or fragmentation, TCP flags
    ACK (PSH allowed on the last), contiguous sequence numbers, equal payload sizes (the last may be
    shorter), at most 65,535 bytes in all. Written as one frame with ``gso_type`` TCPV4 and
    ``gso_size`` the segment size, the kernel takes the run in one pass instead of one per frame. The
    merged frame carries complete, valid IPv4 and TCP checksums (no ``NEEDS_CSUM``), so the kernel
    still verifies every byte and a capture on the host side shows a correct segment. Every other
    frame is written as it is behind a plain header.
    """
    out = []
    run: list[bytes] = []
    key = b""
    header_length = size = total = next_seq = 0
    run_open = False
    for frame in frames:
        length = len(frame)
        if (length > TCP_OPTIONS and frame[ETHERTYPE:ETHERTYPE + 2] == _ETHERTYPE_IPV4
                and frame[VERSION_IHL] == _IPV4_NO_OPTIONS and frame[PROTOCOL] == fast.IP_PROTOCOL_TCP
                and frame[FRAGMENT] & _MORE_FRAGMENTS_AND_OFFSET == 0 and frame[FRAGMENT + 1] == 0
                and frame[FLAGS] & _MERGEABLE_FLAGS_MASK == fast.ACK
                and (frame[TOTAL_LENGTH] << 8 | frame[TOTAL_LENGTH + 1]) == length - IP):
            tcp_end = TCP + (frame[DATA_OFFSET] >> 4) * 4
            payload = length - tcp_end
            if payload > 0:
                seq = int.from_bytes(frame[SEQ:SEQ + 4], "big")
                this_key = (frame[:TOTAL_LENGTH] + frame[TTL:IP_CHECKSUM] + frame[ADDRESSES:SEQ]
                            + frame[ACK_NUMBER:FLAGS] + frame[WINDOW:TCP_CHECKSUM] + frame[TCP_OPTIONS:tcp_end])
                # (an odd segment size would shift the later payloads' 16-bit words: no merge)
                if (run_open and seq == next_seq and this_key == key and payload <= size and not size & 1
                        and total + payload <= GSO_MAX_LENGTH - IPV4_MIN_LENGTH - (header_length - TCP)):
                    run.append(frame)
                    total += payload
                    run_open = payload == size and not frame[FLAGS] & fast.PSH
                else:
                    if run:
                        out.append(_coalesced(run, header_length, size, total))
                    run = [frame]
                    key = this_key
                    header_length = tcp_end
                    size = total = payload
                    run_open = not frame[FLAGS] & fast.PSH
                next_seq = (seq + payload) & 0xFFFFFFFF
                continue
        if run:
            out.append(_coalesced(run, header_length, size, total))
            run = []
            run_open = False
        out.append(PLAIN_VNET_HEADER + frame)
    if run:
        out.append(_coalesced(run, header_length, size, total))
    return out


def _coalesced(run: list[bytes], header_length: int, size: int, total: int) -> bytes:
    first = run[0]
    if len(run) == 1:
        return PLAIN_VNET_HEADER + first
    ip = bytearray(first[IP:TCP])
    ip[IP_TOTAL_LENGTH:IP_TOTAL_LENGTH + 2] = (IPV4_MIN_LENGTH + header_length - TCP + total).to_bytes(2, "big")
    ip[IP_HEADER_CHECKSUM:IP_HEADER_CHECKSUM + 2] = b"\x00\x00"
    ip[IP_HEADER_CHECKSUM:IP_HEADER_CHECKSUM + 2] = internet_checksum(ip).to_bytes(2, "big")
    body = bytearray(b"".join([first[TCP:header_length], *[frame[header_length:] for frame in run]]))
    body[TCP_FLAGS] = run[-1][FLAGS]  # the last segment's PSH
    body[TCP_HEADER_CHECKSUM:TCP_HEADER_CHECKSUM + 2] = b"\x00\x00"
    # The checksum from the segments' own, without summing the payload again: a segment with a valid
    # checksum sums (pseudo-header + header + payload) to 0 mod 0xFFFF, so its payload sums to minus
    # (pseudo-header + header as sent). RFC 1071 sums may be added and subtracted mod 0xFFFF.
    addresses = int.from_bytes(first[ADDRESSES:TCP], "big") + fast.IP_PROTOCOL_TCP
    total_sum = addresses + len(body) + int.from_bytes(body[:header_length - TCP], "big")
    for frame in run:
        total_sum -= addresses + len(frame) - TCP + int.from_bytes(frame[TCP:header_length], "big")
    body[TCP_HEADER_CHECKSUM:TCP_HEADER_CHECKSUM + 2] = (0xFFFF ^ total_sum % 0xFFFF).to_bytes(2, "big")
    vnet = VNET_HEADER.pack(0, VIRTIO_NET_HDR_GSO_TCPV4, header_length, size, 0, 0)
    return b"".join([vnet, first[:IP], ip, body])


def split_coalesced(data: bytes) -> list[bytes]:
    """The frames ``coalesce_tcp_segments`` merged into ``data`` (a write with a TCPV4 vnet header),
    rebuilt with their own lengths, IDs, sequence numbers and checksums."""
    _, _, header_length, size, _, _ = VNET_HEADER.unpack_from(data)
    frame = data[VNET_HEADER_LENGTH:]
    headers, payload = frame[:header_length], frame[header_length:]
    src, dst = headers[ADDRESSES:ADDRESSES + 4], headers[ADDRESSES + 4:TCP]
    identification = int.from_bytes(headers[IDENTIFICATION:IDENTIFICATION + 2], "big")
    seq = int.from_bytes(headers[SEQ:SEQ + 4], "big")
    frames = []
    for start in range(0, len(payload), size):
        chunk = payload[start:start + size]
        last = start + size >= len(payload)
        ip = bytearray(headers[IP:TCP])
        ip[IP_TOTAL_LENGTH:IP_TOTAL_LENGTH + 2] = (IPV4_MIN_LENGTH + header_length - TCP + len(chunk)).to_bytes(2, "big")
        ip[IP_IDENTIFICATION:IP_IDENTIFICATION + 2] = ((identification + start // size) & 0xFFFF).to_bytes(2, "big")
        ip[IP_HEADER_CHECKSUM:IP_HEADER_CHECKSUM + 2] = b"\x00\x00"
        ip[IP_HEADER_CHECKSUM:IP_HEADER_CHECKSUM + 2] = internet_checksum(ip).to_bytes(2, "big")
        tcp = bytearray(headers[TCP:header_length])
        tcp[TCP_SEQ:TCP_SEQ + 4] = ((seq + start) & 0xFFFFFFFF).to_bytes(4, "big")
        tcp[TCP_FLAGS] = headers[FLAGS] if last else headers[FLAGS] & ~fast.PSH
        tcp[TCP_HEADER_CHECKSUM:TCP_HEADER_CHECKSUM + 2] = b"\x00\x00"
        tcp[TCP_HEADER_CHECKSUM:TCP_HEADER_CHECKSUM + 2] = transport_checksum(
            src, dst, fast.IP_PROTOCOL_TCP, bytes(tcp) + chunk).to_bytes(2, "big")
        frames.append(headers[:IP] + bytes(ip) + bytes(tcp) + chunk)
    return frames
