"""The sans-I/O engine: one IPv4 host on one Ethernet interface.

``Stack`` takes frames and the current time and returns frames to send; it never reads a clock, opens a
socket, starts a thread or sleeps. Drivers (``netstack.drivers.tap`` in real time, ``netstack.drivers.sim`` in virtual
time) own the I/O and the clock. Layers, one module each: ``arp`` (RFC 826 on the neighbour machine),
``ipv4`` (RFC 791, RFC 1122 §3.2), ``reassembly`` (RFC 791/815), ``icmp`` (RFC 792, RFC 1122 §3.2.2,
RFC 1191), ``udp`` (RFC 768); TCP (``netstack.engine.tcp``) plugs in through the transport interface below.

Driving a stack
---------------
::

    stack = Stack(StackConfig(ip="192.0.2.2/24"))      # or Stack(ip="192.0.2.2/24", mtu=9000)
    frames = stack.start(now)                          # interface up: gratuitous ARP
    frames = stack.receive(frame, now)                 # a frame arrived
    frames = stack.tick(now)                           # the deadline passed: run due timers
    when   = stack.next_deadline()                     # float | None: sleep at most until then
    frames = stack.poll_output()                       # frames originated by API calls (see below)

Output design: every layer appends frames to one outbox. ``receive``, ``tick`` and ``poll_output``
all return (and empty) the outbox, so frames originated by an API call made between two driver calls —
``stack.ping(...)``, ``endpoint.sendto(...)``, a transport's ``send_ip(...)`` — leave with the next
``receive``/``tick``/``poll_output``, whichever comes first. Drivers call ``poll_output()`` right after
running user code on the stack (``RunningStack.call``); nothing is ever lost or sent twice. Every
originating call takes ``now`` because it may start timers (ARP retries).

Errors: nothing that arrives on the wire raises out of ``receive``; a malformed frame is dropped and
counted (``stack.counters``, names ``<layer>.drop.<reason>``). API misuse raises ``OSError`` with the
kernel's errno (EMSGSIZE, ENETUNREACH, EADDRINUSE, ...) or ``ConfigError``.

Transport interface (TCP codes against this; UDP in ``netstack.engine.udp`` is implemented on it too)
----------------------------------------------------------------------------------------------
Register: ``stack.register_transport(protocol_number: int, transport)``; one transport per IP protocol
number (6 for TCP); registering a number twice raises ``ValueError``. Protocols 1 (ICMP) and 17 (UDP)
are taken by the stack itself. A datagram for an unregistered protocol gets ICMP protocol unreachable.

The stack calls these methods of the transport (all times are the ``now`` of the driver call):

``transport.receive(src: bytes, dst: bytes, payload: memoryview | bytes, now: float) -> None``
    One reassembled, validated IPv4 datagram for this protocol addressed to us. ``src``/``dst`` are the
    4-byte IPv4 addresses (``dst`` is ours, or a broadcast address), ``payload`` is the transport
    segment (header included; the IP header, Ethernet padding and options are stripped; it may be a
    memoryview: copy what you keep). The transport verifies its own checksum (with
    ``netstack.formats.checksum.transport_checksum``) and counts its own drops.
``transport.next_deadline() -> float | None``
    The earliest time the transport needs ``tick``; ``Stack.next_deadline()`` is the minimum of its own
    timer heap and every transport's answer, so it is called after every driver call: keep it O(1).
``transport.tick(now: float) -> None``
    Called from ``Stack.tick`` whenever ``now`` >= the transport's last ``next_deadline()``.
``transport.icmp_error(errno: int, src: bytes, dst: bytes, quoted_transport_header: bytes, now: float)``
    A received ICMP error (or a local one: ARP resolution FAILED gives EHOSTUNREACH) about a datagram
    this transport sent. ``src`` is our address, ``dst`` the remote address of the *original*
    datagram, ``quoted_transport_header`` its first bytes (at least 8: ports, and for TCP the sequence
    number), so the transport finds the endpoint by its ports. ``errno`` follows Linux
    (``icmp_err_convert``): port unreachable -> ECONNREFUSED, host unreachable -> EHOSTUNREACH, net
    unreachable -> ENETUNREACH, protocol unreachable -> ENOPROTOOPT, fragmentation needed -> EMSGSIZE
    (after the stack lowered ``path_mtu(dst)``), time exceeded -> EHOSTUNREACH, parameter problem ->
    EPROTO. Which of these abort a connection is the transport's policy (RFC 1122 §4.2.3.9: for TCP,
    only protocol/port unreachable and fragmentation needed are "hard"; the rest are soft errors).

The transport uses these methods of the stack:

``stack.send_ip(dst: bytes, protocol: int, payload: bytes, now: float, *, df: bool = True,
ttl: int | None = None, ecn: int = 0) -> None``
    Send one datagram from our address. The stack routes (connected subnet, else the gateway; no route
    -> ``OSError(ENETUNREACH)``), resolves the next hop with ARP (queueing while INCOMPLETE; the frame
    leaves with a later output), and fragments to ``path_mtu(dst)`` when ``df`` is False. With
    ``df=True`` (the default: TCP does path-MTU discovery, RFC 1191) a datagram larger than
    ``path_mtu(dst)`` raises ``OSError(EMSGSIZE)``. The transport computes its own checksum
    (``pseudo_header_sum(stack.address, dst, protocol, length)``). ``ecn`` is the IPv4 ECN codepoint
    (RFC 3168 §5); the codepoint a received datagram carried is ``stack.ipv4.ecn_codepoint`` while
    ``transport.receive`` runs.
``stack.path_mtu(dst: bytes) -> int``
    The IPv4 MTU towards ``dst``: the link MTU lowered by ICMP fragmentation-needed (RFC 1191), aging
    back after ``config.pmtu_timeout``. A TCP MSS is ``path_mtu(dst) - 40``.
``stack.address`` (4 bytes), ``stack.mac`` (6 bytes), ``stack.config`` (``StackConfig``),
``stack.counters`` (``observability.Counters``: ``counters.incr("tcp.drop.bad_checksum")``),
``stack.trace`` (``observability.Trace``: ``trace.event("tcp.state", ...)``), ``stack.timers``
(``timers.TimerHeap``: ``schedule(deadline, callback, *args) -> Timer`` with ``cancel()``; a
transport may use it instead of its own ``next_deadline``/``tick``).

A transport may call ``send_ip`` from inside ``receive``, ``tick`` and ``icmp_error`` and from API
calls; the frames join the outbox described above.

Applications
------------
``stack.udp_bind(port=0, address=None) -> UdpEndpoint`` (``netstack.engine.udp``: ``sendto``, ``recvfrom``,
``on_datagram``, ``error``); ``stack.ping(dst, now, identifier=, sequence=, payload=b"")`` and the
``netstack.engine.icmp.Pinger`` that records replies; ``netstack.apps.services.start_services(stack, names)``.
With a driver, call them on the stack's thread: ``running.call(stack.udp_bind, 7)``.
"""

from __future__ import annotations

from netstack.engine.arp import ArpLayer
from netstack.engine.config import StackConfig, ip_to_bytes, ip_to_text, mac_to_text
from netstack.errors import FormatError
from netstack.formats.fast import (
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    IP_PROTOCOL_ICMP,
    IP_PROTOCOL_UDP,
    decode_ethernet,
    decode_ipv4,
)
from netstack.engine.icmp import IcmpLayer
from netstack.engine.ipv4 import Ipv4Layer
from netstack.engine.observability import Counters, Trace
from netstack.engine.secrets import StackSecrets
from netstack.engine.timers import TimerHeap
from netstack.engine.udp import UdpLayer

BROADCAST_MAC = b"\xff" * 6


class Stack:
    """One IPv4 host: see the module docstring for the driving contract and the transport interface."""

    def __init__(self, config: StackConfig | None = None, **options):
        if config is None:
            config = StackConfig.from_options(**options)
        elif options:
            raise TypeError("pass either a StackConfig or keyword options, not both")
        self.config = config
        self.mac: bytes = config.mac_address
        self.address: bytes = config.address
        self.secrets = StackSecrets(config.seed)
        self.counters = Counters()
        self.trace = Trace(host=ip_to_text(config.address))
        self.timers = TimerHeap()
        self.now = 0.0
        self.started = False
        self._outbox: list[bytes] = []
        self._transports: dict[int, object] = {}
        self.arp = ArpLayer(self)
        self.ipv4 = Ipv4Layer(self)
        self.icmp = IcmpLayer(self)
        self.udp = UdpLayer(self)
        self._transports[IP_PROTOCOL_UDP] = self.udp

    # ----------------------------------------------------------------- driver side
    def start(self, now: float) -> list[bytes]:
        """The interface came up: announce ourselves (gratuitous ARP, RFC 5227 §2.3)."""
        self._set_now(now)
        if not self.started:
            self.started = True
            self.trace.event("stack.up", ip=ip_to_text(self.address), mac=mac_to_text(self.mac),
                             mtu=self.config.mtu)
            self.arp.conflicts.start(now)  # RFC 5227: probe first (arp_probe) or announce
        return self.poll_output()

    def receive(self, frame: bytes, now: float) -> list[bytes]:
        """Handle one Ethernet frame; returns every frame to send (see "Output design")."""
        self.now = now
        self.trace.now = now
        counters = self.counters
        try:
            ethernet = decode_ethernet(frame)
        except FormatError:
            counters.incr("ethernet.drop.truncated")
            return self.poll_output()
        destination = ethernet.dst
        if destination != self.mac and destination != BROADCAST_MAC:
            # Another host's unicast or a multicast group we never joined.
            counters.incr("ethernet.drop.not_for_us")
            return self.poll_output()
        if ethernet.vlan is not None:
            counters.incr("ethernet.drop.vlan_tagged")  # we are an untagged access port
            return self.poll_output()
        ethertype = ethernet.ethertype
        if ethertype == ETHERTYPE_IPV4:
            counters.incr("ethernet.received")
            self.ipv4.receive(frame, ethernet.payload_offset, destination == BROADCAST_MAC, now)
        elif ethertype == ETHERTYPE_ARP:
            counters.incr("ethernet.received")
            self.arp.receive(frame, ethernet.payload_offset, now)
        else:
            counters.incr("ethernet.drop.unknown_ethertype")
        outbox = self._outbox
        if not outbox:
            return []
        self._outbox = []
        return outbox

    def tick(self, now: float) -> list[bytes]:
        """Run every timer (ours and the transports') due at ``now``; returns frames to send."""
        self._set_now(now)
        self.timers.run_due(now)
        for transport in tuple(self._transports.values()):
            deadline = transport.next_deadline()
            if deadline is not None and deadline <= now:
                transport.tick(now)
        return self.poll_output()

    def next_deadline(self) -> float | None:
        deadline = self.timers.next_deadline()
        for transport in self._transports.values():
            candidate = transport.next_deadline()
            if candidate is not None and (deadline is None or candidate < deadline):
                deadline = candidate
        return deadline

    def poll_output(self) -> list[bytes]:
        outbox = self._outbox
        if not outbox:
            return []
        self._outbox = []
        return outbox

    def _set_now(self, now: float) -> None:
        self.now = now
        self.trace.now = now

    def emit(self, frame: bytes) -> None:
        """Queue one finished Ethernet frame (layers call this)."""
        self._outbox.append(frame)

    # ----------------------------------------------------------------- transports
    def register_transport(self, protocol: int, transport) -> None:
        if not isinstance(protocol, int) or not 0 <= protocol <= 255:
            raise ValueError(f"IP protocol number must be 0..255, got {protocol!r}")
        if protocol == IP_PROTOCOL_ICMP or protocol in self._transports:
            raise ValueError(f"IP protocol {protocol} already has a transport")
        for method in ("receive", "next_deadline", "tick", "icmp_error"):
            if not callable(getattr(transport, method, None)):
                raise TypeError(f"a transport needs a {method}() method; {transport!r} has none")
        self._transports[protocol] = transport

    def transport(self, protocol: int):
        """The transport registered for an IP protocol number, or None (IPv4 and ICMP demultiplex by it)."""
        return self._transports.get(protocol)

    def send_ip(self, dst: bytes, protocol: int, payload: bytes, now: float, *, df: bool = True,
                ttl: int | None = None, ecn: int = 0) -> None:
        self._set_now(now)
        self.ipv4.send(dst, protocol, payload, df=df, ttl=ttl, ecn=ecn)

    def path_mtu(self, dst: bytes) -> int:
        return self.icmp.path_mtu(dst, self.now)

    def deliver_error(self, errno: int, original_datagram: bytes, now: float) -> None:
        """Tell the transport that sent ``original_datagram`` (a whole datagram of ours) about ``errno``."""
        try:
            header = decode_ipv4(original_datagram)
        except FormatError:
            return
        quoted = bytes(original_datagram[header.payload_offset:header.payload_offset + 64])
        if header.protocol == IP_PROTOCOL_ICMP:
            self.icmp.local_error(errno, header.dst, quoted, now)
            return
        transport = self._transports.get(header.protocol)
        if transport is not None and len(quoted) >= 8:
            transport.icmp_error(errno, header.src, header.dst, quoted, now)

    # ----------------------------------------------------------------- applications
    def ping(self, dst: str | bytes, now: float, *, identifier: int, sequence: int,
             payload: bytes = b"", df: bool = False) -> None:
        """Send one ICMP echo request (replies reach ``stack.icmp.echo_listeners[identifier]``)."""
        self._set_now(now)
        self.icmp.send_echo_request(ip_to_bytes(dst, "dst"), identifier, sequence, payload, df=df)

    def udp_bind(self, port: int = 0, address: str | bytes | None = None):
        """A UDP endpoint on ``port`` (0 picks an ephemeral port); see ``netstack.engine.udp.UdpEndpoint``."""
        return self.udp.bind(port, address)

    def __repr__(self) -> str:
        return f"<Stack {ip_to_text(self.address)}/{self.config.prefix_length} {mac_to_text(self.mac)}>"


__all__ = ["Stack", "StackConfig"]
