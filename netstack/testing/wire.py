"""The bench's end of a link: send a frame, wait for one, read the clock, on a simulated or a real link.

* ``SimWire``: a port on a ``netstack.drivers.sim`` network. Waiting runs the network, so a 3-second
  timeout costs microseconds and every run repeats exactly (the virtual clock, seeded links).
* ``PacketWire``: ``netstack.link.open`` (an ``AF_PACKET`` socket bound to one interface, a veth end or
  a TAP's host side, created inside the namespace that holds it); each frame carries the time the
  kernel received it (``SO_TIMESTAMPNS``), so a schedule is measured right even when the bench is
  slow. The socket asks for a ``virtio_net_hdr`` on every frame (``PACKET_VNET_HDR``): a segment the sender left for offload arrives as one super-frame with a partial checksum, and is
  turned back into the frames a wire would carry (``netstack.drivers.segmentation_offload``), so
  matchers always see wire-sized frames with complete checksums.

``disable_offloads(namespace, interface)`` turns checksum and segmentation offload off on a kernel
interface (the ``ethtool -K`` ioctls), so the Linux kernel under test segments and checksums itself.
"""

from __future__ import annotations

import collections
import ctypes
import fcntl
import os
import select
import socket
import struct
import time

from netstack.drivers import link
from netstack.drivers.netns import call_in_namespace
from netstack.drivers.segmentation_offload import (
    PLAIN_VNET_HEADER,
    VIRTIO_NET_HDR_GSO_TCPV4,
    VNET_HEADER,
    VNET_HEADER_LENGTH,
    split_coalesced,
)
from netstack.formats.checksum import internet_checksum

SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_OUTGOING = link.PACKET_OUTGOING  # a frame this host sent: not something the DUT sent us
MAX_READ = link.MAX_FRAME + VNET_HEADER_LENGTH
SO_TIMESTAMPNS = 35  # asm-generic/socket.h (Python's socket module lacks the name); also SCM_TIMESTAMPNS
TIMESPEC = struct.Struct("qq")  # struct timespec of SCM_TIMESTAMPNS
VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
SIOCETHTOOL = 0x8946
# ethtool_value commands (linux/ethtool.h): checksum, scatter-gather, TSO, GSO, GRO
ETHTOOL_OFFLOADS = {"tx-checksum": 0x17, "scatter-gather": 0x19, "tso": 0x1F, "gso": 0x24, "gro": 0x2C}


class SimWire:
    """The bench's port on a simulated network: a host of ``netstack.drivers.sim`` with no stack."""

    def __init__(self, network, name: str = "bench"):
        self.network = network
        self.name = name
        self.link = None
        self.stack = self  # the network hands arriving frames to host.stack.receive
        self.started = True
        self.arrived: collections.deque = collections.deque()

    # --- what netstack.drivers.sim asks of a host ----------------------------------------------------
    def receive(self, frame: bytes, now: float) -> list:
        self.arrived.append((bytes(frame), now))
        return []

    def tick(self, now: float) -> list:
        return []

    @staticmethod
    def next_deadline():
        return None

    def _transmit(self, frames) -> None:
        pass

    def _schedule_tick(self) -> None:
        pass

    # --- the wire ------------------------------------------------------------------------------------
    real_time = False

    def now(self) -> float:
        return self.network.clock

    def send(self, frame: bytes) -> None:
        self.link.transmit(self, bytes(frame))

    def receive_frame(self, timeout: float):
        """(frame, arrival time) or None once ``timeout`` seconds (virtual) passed."""
        if not self.arrived:
            self.network.run_until(lambda: bool(self.arrived), max(timeout, 0.0))
        return self.arrived.popleft() if self.arrived else None

    def sleep(self, seconds: float) -> None:
        self.network.run(seconds)

    def close(self) -> None:
        pass


class PacketWire:
    """``netstack.link``'s AF_PACKET ``Link`` on ``interface`` inside ``namespace``, with virtio headers
    and kernel receive timestamps."""

    real_time = True

    def __init__(self, namespace: str, interface: str):
        self.namespace, self.interface = namespace, interface
        self.link = link.open(interface, netns=namespace)
        # The Link's socket, seen through a second descriptor to read it with recvmsg: a virtio_net_hdr on
        # every frame (both ways), and the time the kernel received each frame. A retransmission schedule
        # must not depend on when this process got round to reading (``Link`` stamps frames when read).
        self.socket = socket.socket(fileno=os.dup(self.link.fileno()))
        self.socket.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        self.socket.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.pending: collections.deque = collections.deque()

    @staticmethod
    def now() -> float:
        return time.time()  # the clock of the kernel's SO_TIMESTAMPNS (CLOCK_REALTIME)

    def send(self, frame: bytes) -> None:
        self.link.send(PLAIN_VNET_HEADER + bytes(frame))

    def receive_frame(self, timeout: float):
        deadline = time.time() + max(timeout, 0.0)
        while not self.pending:
            remaining = max(deadline - time.time(), 0.0)  # 0: still take a frame already queued
            if not select.select([self.socket], [], [], remaining)[0]:
                return None
            data, ancillary, _, address = self.socket.recvmsg(MAX_READ, socket.CMSG_SPACE(TIMESPEC.size))
            if address[2] == PACKET_OUTGOING:
                continue
            stamp = time.time()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= TIMESPEC.size:
                    seconds, nanoseconds = TIMESPEC.unpack_from(value)
                    stamp = seconds + nanoseconds / 1e9
            self.pending.extend((frame, stamp) for frame in wire_frames(data))
        return self.pending.popleft()

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(max(seconds, 0.0))

    def close(self) -> None:
        self.socket.close()
        self.link.close()


def wire_frames(data: bytes) -> list[bytes]:
    """The frames a wire would carry for one read with a virtio_net_hdr: a TCPv4 super-frame split,
    a partial checksum completed (what the NIC would have done)."""
    flags, gso_type, _, gso_size, csum_start, csum_offset = VNET_HEADER.unpack_from(data)
    frame = bytearray(data[VNET_HEADER_LENGTH:])
    if flags & VIRTIO_NET_HDR_F_NEEDS_CSUM and csum_start + csum_offset + 2 <= len(frame):
        # The field holds the pseudo-header sum; the sum from csum_start on completes it (virtio spec 5.1.6.2).
        checksum = internet_checksum(bytes(frame[csum_start:]))
        frame[csum_start + csum_offset:csum_start + csum_offset + 2] = (checksum or 0xFFFF).to_bytes(2, "big")
    if gso_type == VIRTIO_NET_HDR_GSO_TCPV4 and gso_size and len(frame) >= 54:
        ip_header = (frame[14] & 0x0F) * 4
        header_length = 14 + ip_header + (frame[14 + ip_header + 12] >> 4) * 4
        if len(frame) - header_length > gso_size:
            header = VNET_HEADER.pack(0, gso_type, header_length, gso_size, 0, 0)
            return split_coalesced(header + bytes(frame))
    return [bytes(frame)]


def disable_offloads(namespace: str, interface: str) -> None:
    """``ethtool -K interface tx off sg off tso off gso off gro off`` inside ``namespace``."""

    def apply():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for command in ETHTOOL_OFFLOADS.values():
                value = ctypes.create_string_buffer(struct.pack("II", command, 0))
                request = struct.pack("16sP", interface.encode(), ctypes.addressof(value)).ljust(40, b"\0")
                try:
                    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, request)
                except OSError:
                    pass  # a feature the driver cannot change is already off or fixed; the vnet header covers it

    call_in_namespace(namespace, apply)
