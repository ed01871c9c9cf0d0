"""Live frames on a real interface: send, sniff, send-and-receive (scapy's ``sendp``/``sniff``/``sr1``).

``netstack.link`` is this module's public name::

    from netstack import link
    from netstack.formats.craft import Ether, IP, ICMP, TCP

    with link.open("veth0", netns="lab", ip="192.0.2.2") as wire:            # AF_PACKET on veth0 in "lab"
        reply = wire.sr1(Ether() / IP(dst="192.0.2.1") / ICMP(type="echo_request"), timeout=2)
        print(reply.summary() if reply else "no answer")
        for frame in wire.sniff(filter="tcp.dst_port == 80", count=5, timeout=10):
            print(frame.summary())

``open(interface, netns=None, ip=None, record=None)`` binds an ``AF_PACKET`` socket (packet(7)) to
``interface``, created inside network namespace ``netns`` when given (the socket belongs to the
namespace it was created in; ``netstack.drivers.netns.call_in_namespace``). Needs CAP_NET_RAW.
``tap(name, netns=..., host_ip="192.0.2.1/24", ip="192.0.2.2")`` creates a TAP device instead (the kernel
holds ``host_ip`` on its side; our frames come from ``ip`` and a MAC of our own), removed on close.

Defaults (scapy's, taken from the interface): a crafted frame sent without an Ethernet ``src`` gets
the interface's MAC; without an IPv4 ``src`` or ARP ``sha``/``spa``, the link's MAC and ``ip``; an IPv4
frame without an Ethernet ``dst`` gets the MAC its destination resolves to by ARP (RFC 826, cached;
broadcast when nobody answers).

Every receive is bounded: ``sniff`` needs a ``count`` or a ``timeout`` (default 10 s); ``sr``/``sr1``
wait at most ``timeout`` (default 2 s). ``filter`` is a display filter (``"icmp and ipv4.src ==
192.0.2.1"``, see ``netstack.formats.display_filter``) or a function of a ``Received``. Replies are
matched to requests with ``netstack.formats.answers``. ``record="file.pcap"`` writes every frame sent
and received to a pcap file.
"""

from __future__ import annotations

import dataclasses
import os
import select
import socket
import time

from netstack.drivers.netns import call_in_namespace
from netstack.drivers.tap import create_tap
from netstack.errors import FormatError
from netstack.formats.answers import answers
from netstack.formats.craft import ARP, Crafted, Ether, dissect
from netstack.formats.display_filter import compile_filter
from netstack.formats.pcap import PcapWriter
from netstack.formats.text import summary_line

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # packet(7) sll_pkttype: a frame this host sent
BROADCAST = "ff:ff:ff:ff:ff:ff"
MAX_FRAME = 65536
#: how long an ARP resolution for the default Ethernet destination waits (seconds)
RESOLVE_TIMEOUT = 1.0


@dataclasses.dataclass(frozen=True)
class Received:
    """One frame off the wire: ``timestamp`` (float seconds since the epoch), ``data`` (bytes),
    ``outgoing`` (sent by this host, seen on an AF_PACKET socket). ``frame`` is it dissected."""

    timestamp: float
    data: bytes
    outgoing: bool = False

    @property
    def frame(self) -> Crafted:
        return dissect(self.data)

    def summary(self) -> str:
        return summary_line(self.data)

    def answers(self, request) -> bool:
        return answers(self.data, bytes(request))

    def __getitem__(self, layer):
        return self.frame[layer]

    def __contains__(self, layer) -> bool:
        try:
            return layer in self.frame
        except FormatError:
            return False

    def __bytes__(self) -> bytes:
        return self.data

    def __len__(self) -> int:
        return len(self.data)


def _matcher(filter):
    if filter is None:
        return None
    if callable(filter):
        return filter
    test = compile_filter(filter)
    return lambda received: test(received.data)


def _packet_socket(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        sock.bind((interface, ETH_P_ALL))
    except OSError as error:
        sock.close()
        raise OSError(error.errno, f"cannot bind to interface {interface!r}: {error.strerror}") from None
    return sock


class Link:
    """An open interface: ``send``, ``sniff``, ``sr``, ``sr1``, ``resolve`` (see the module docstring)."""

    def __init__(self, *, sock: socket.socket | None = None, fd: int | None = None, interface: str,
                 mac: str, ip: str | None = None, netns: str | None = None, record=None):
        self._sock = sock
        self._fd = fd if fd is not None else sock.fileno()
        self.interface = interface
        self.mac = mac
        self.ip = ip
        self.netns = netns
        self._neighbours: dict[str, str] = {}
        self._recorder = PcapWriter(record) if record is not None else None

    # ----------------------------------------------------------------- lifetime
    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        elif self._fd is not None:
            os.close(self._fd)  # a non-persistent TAP: the kernel removes the device
        self._fd = None
        if self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def fileno(self) -> int:
        return self._fd

    # ----------------------------------------------------------------- sending
    def complete(self, frame: Crafted) -> Crafted:
        """A copy of ``frame`` with the link's defaults filled in (what ``send`` sends)."""
        frame = frame.copy()
        fields = frame.fields
        if frame.layer.layer != "ethernet":
            return frame
        fields.setdefault("src", self.mac)
        upper = fields.get("payload")
        if isinstance(upper, Crafted) and upper.layer.layer == "ipv4":
            if self.ip and upper.fields.get("src") is None:
                upper.fields["src"] = self.ip
            if fields.get("dst") is None and upper.fields.get("dst") is not None:
                fields["dst"] = self.resolve(str(upper.fields["dst"])) or BROADCAST
        elif isinstance(upper, Crafted) and upper.layer is ARP:
            upper.fields.setdefault("sha", self.mac)
            if self.ip:
                upper.fields.setdefault("spa", self.ip)
        return frame

    def send(self, frame) -> bytes:
        """Send one frame (Crafted, filled in with the link's defaults, or bytes); returns its bytes."""
        data = bytes(self.complete(frame)) if isinstance(frame, Crafted) else bytes(frame)
        if self._sock is not None:
            self._sock.send(data)
        else:
            os.write(self._fd, data)
        if self._recorder is not None:
            self._recorder.write(data, time.time())
        return data

    # ----------------------------------------------------------------- receiving
    def _receive(self, deadline: float) -> Received | None:
        """The next frame before ``deadline`` (time.monotonic), or None."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        readable, _, _ = select.select([self._fd], [], [], remaining)
        if not readable:
            return None
        if self._sock is not None:
            data, address = self._sock.recvfrom(MAX_FRAME)
            received = Received(time.time(), data, address[2] == PACKET_OUTGOING)
        else:
            try:
                received = Received(time.time(), os.read(self._fd, MAX_FRAME))
            except BlockingIOError:
                return self._receive(deadline)
        if self._recorder is not None and not received.outgoing:
            self._recorder.write(received.data, received.timestamp)
        return received

    def watch(self, filter=None, count: int | None = None, timeout: float | None = 10.0, outgoing: bool = True):
        """Yield frames as they arrive until ``count`` matched or ``timeout`` seconds passed (one of
        them is needed). ``filter``: a display filter string or a function of a ``Received``;
        ``outgoing=False`` leaves out the frames this host sent."""
        if count is None and timeout is None:
            raise ValueError("sniff needs a count or a timeout: every capture is bounded")
        if count is not None and count < 1:
            raise ValueError(f"count must be positive, got {count}")
        matches = _matcher(filter)
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        found = 0
        while count is None or found < count:
            received = self._receive(deadline)
            if received is None:
                return
            if received.outgoing and not outgoing:
                continue
            if matches is None or matches(received):
                found += 1
                yield received

    def sniff(self, filter=None, count: int | None = None, timeout: float | None = 10.0,
              outgoing: bool = True) -> list[Received]:
        """The frames ``watch`` yields, as a list (scapy's ``sniff``)."""
        return list(self.watch(filter, count, timeout, outgoing))

    def sr(self, frames, timeout: float = 2.0, filter=None) -> tuple[list[tuple[bytes, Received]], list[bytes]]:
        """Send ``frames`` (one or a list), collect replies for ``timeout`` seconds at most.

        Returns ``(answered, unanswered)``: ``(request_bytes, reply)`` pairs, each request answered once
        (by the first frame that ``answers`` it), and the requests nobody answered."""
        if isinstance(frames, (Crafted, bytes, bytearray)):
            frames = [frames]
        requests = [self.send(frame) for frame in frames]
        matches = _matcher(filter)
        pending = list(requests)
        answered: list[tuple[bytes, Received]] = []
        deadline = time.monotonic() + timeout
        while pending:
            received = self._receive(deadline)
            if received is None:
                break
            if received.outgoing or (matches is not None and not matches(received)):
                continue
            for request in pending:
                if answers(received.data, request):
                    answered.append((request, received))
                    pending.remove(request)
                    break
        return answered, pending

    def sr1(self, frame, timeout: float = 2.0, filter=None) -> Received | None:
        """Send one frame; its first answer within ``timeout`` seconds, or None."""
        answered, _ = self.sr([frame], timeout, filter)
        return answered[0][1] if answered else None

    def resolve(self, ip: str, timeout: float = RESOLVE_TIMEOUT) -> str | None:
        """The MAC address ``ip`` answers ARP with (RFC 826), cached; None when nobody answers."""
        if ip not in self._neighbours:
            request = ARP(op="request", sha=self.mac, spa=self.ip or "0.0.0.0", tpa=ip)
            reply = self.sr1(Ether(dst=BROADCAST, src=self.mac) / request, timeout)
            if reply is None:
                return None
            self._neighbours[ip] = reply[ARP].sha
        return self._neighbours[ip]


def open(interface: str, netns: str | None = None, ip: str | None = None, record=None) -> Link:
    """Bind an AF_PACKET socket to ``interface`` (inside namespace ``netns`` when given)."""
    if netns is None:
        sock = _packet_socket(interface)
    else:
        sock = call_in_namespace(netns, _packet_socket, interface)
    mac = sock.getsockname()[4].hex(":")  # sockaddr_ll: the interface's hardware address
    return Link(sock=sock, interface=interface, mac=mac, ip=ip, netns=netns, record=record)


def tap(name: str, netns: str | None = None, host_ip: str | None = "192.0.2.1/24", ip: str | None = "192.0.2.2",
        mac: str = "02:00:5e:00:53:02", mtu: int = 1500, record=None) -> Link:
    """Create TAP device ``name`` (inside ``netns`` when given) with ``host_ip`` on the kernel's side;
    the link sends as ``ip``/``mac``. The device disappears when the link closes."""
    if netns is None:
        fd = create_tap(name, host_ip, mtu)
    else:
        fd = call_in_namespace(netns, create_tap, name, host_ip, mtu)
    return Link(fd=fd, interface=name, mac=mac, ip=ip, netns=netns, record=record)


__all__ = ["Link", "Received", "open", "tap"]
