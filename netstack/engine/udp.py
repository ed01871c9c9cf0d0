"""UDP (RFC 768, RFC 1122 §4.1), implemented on the stack's transport interface.

``UdpLayer`` is registered as the transport for IP protocol 17 exactly as TCP is for 6 (see
``netstack.engine.stack``): it receives datagrams through ``receive``, errors through ``icmp_error`` and sends
with ``stack.send_ip``. It proves the interface.

Receive: the length field must be at least 8 and at most the IP payload (extra bytes are ignored,
RFC 768); a non-zero checksum is verified over the pseudo-header (RFC 1122 §4.1.3.4: MUST verify when
present); the datagram is queued on the endpoint bound to the destination port (and address) or, with
none bound, answered with ICMP port unreachable (RFC 1122 §4.1.3.1) — never for a broadcast.
Drops are counted ``udp.drop.<reason>``.

The endpoint API (the socket layer wraps it)::

    endpoint = stack.udp_bind(port=7)                     # 0 picks an ephemeral port (49152..65535)
    endpoint.sendto(b"data", ("192.0.2.1", 5000), now)    # fragmented if larger than the MTU
    data, (host, port) = endpoint.recvfrom()              # None when the queue is empty
    endpoint.on_datagram = callback                       # or called for each (data, (host, port), now)
    endpoint.broadcast = True                             # SO_BROADCAST: else a broadcast raises EACCES
    endpoint.error                                        # pending errno (ECONNREFUSED, ...), SO_ERROR-like
    endpoint.close()

An ICMP error quoting a datagram an endpoint sent (matched by the source port, and by the remote
address and port when the endpoint is connected) sets ``endpoint.error`` and calls
``endpoint.on_error(errno, now)`` — the kernel reports ECONNREFUSED only on connected UDP sockets; we
record it for every endpoint and leave the choice of reporting it to the socket layer.
"""

from __future__ import annotations

import collections
import errno

from netstack.engine.config import ip_to_bytes, ip_to_text
from netstack.errors import FormatError
from netstack.formats.fast import IP_PROTOCOL_UDP, UDP_LAYOUT, decode_udp, encode_udp
from netstack.formats.icmp import DESTINATION_UNREACHABLE, PORT_UNREACHABLE
from netstack.formats.udp import HEADER_LENGTH

# The two ports an ICMP error quotes (the first 8 bytes of the datagram, RFC 792).
_PORTS = UDP_LAYOUT.reader("src_port", "dst_port")
EPHEMERAL_LOW = 49152  # RFC 6335 §6 dynamic ports
EPHEMERAL_HIGH = 65535
ANY = b"\x00\x00\x00\x00"
LIMITED_BROADCAST = b"\xff\xff\xff\xff"


class UdpEndpoint:
    """One bound UDP port (see the module docstring)."""

    def __init__(self, layer: "UdpLayer", address: bytes, port: int):
        self.layer = layer
        self.address = address
        self.port = port
        self.queue: collections.deque = collections.deque()
        self.on_datagram = None
        self.on_error = None
        self.error: int | None = None
        self.remote: tuple[bytes, int] | None = None
        self.closed = False
        self.broadcast = False  # SO_BROADCAST: may send to a broadcast address (Linux: EACCES otherwise)

    @property
    def local(self) -> tuple[str, int]:
        return ip_to_text(self.address), self.port

    def connect(self, remote: tuple[str | bytes, int]) -> None:
        host = ip_to_bytes(remote[0], "remote")
        self._check_broadcast(host)
        self.remote = (host, _port(remote[1]))

    def _check_broadcast(self, host: bytes) -> None:
        """A broadcast destination needs SO_BROADCAST, so a program cannot flood a link by mistake
        (RFC 1122 §3.3.6 leaves the rule to the host; Linux answers EACCES, as we do)."""
        if not self.broadcast and self.layer.is_broadcast(host):
            self.layer.stack.counters.incr("udp.drop.broadcast_not_allowed")
            raise OSError(errno.EACCES, f"sending to the broadcast address {ip_to_text(host)} needs SO_BROADCAST")

    def sendto(self, data: bytes, remote: tuple[str | bytes, int] | None, now: float) -> int:
        if self.closed:
            raise OSError(errno.EBADF, "endpoint is closed")
        if remote is None:
            if self.remote is None:
                raise OSError(errno.EDESTADDRREQ, "destination address required")
            host, port = self.remote
        else:
            host, port = ip_to_bytes(remote[0], "remote"), _port(remote[1])
        if port == 0:
            raise OSError(errno.EINVAL, "cannot send to port 0")
        if remote is not None:
            self._check_broadcast(host)
        self.layer.send(self.port, host, port, bytes(data), now)
        return len(data)

    def recvfrom(self):
        if not self.queue:
            return None
        return self.queue.popleft()

    def deliver(self, data: bytes, remote: tuple[str, int], now: float) -> None:
        if self.on_datagram is not None:
            self.on_datagram(data, remote, now)
            return
        if len(self.queue) >= self.layer.config.udp_queue_limit:
            self.layer.stack.counters.incr("udp.drop.queue_full")
            return
        self.queue.append((data, remote))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.layer.endpoints.pop(self.port, None)

    def __repr__(self) -> str:
        return f"<UdpEndpoint {ip_to_text(self.address)}:{self.port}>"


def _port(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise OSError(errno.EINVAL, f"port must be 0..65535, got {value!r}")
    return value


class UdpLayer:
    """UDP of one stack; the transport registered for protocol 17."""

    def __init__(self, stack):
        self.stack = stack
        self.config = stack.config
        self.endpoints: dict[int, UdpEndpoint] = {}
        self._next_ephemeral = EPHEMERAL_LOW

    # ----------------------------------------------------------------- endpoint API
    def bind(self, port: int = 0, address: str | bytes | None = None) -> UdpEndpoint:
        port = _port(port)
        local = ANY if address in (None, "", "0.0.0.0") else ip_to_bytes(address, "address")
        if local not in (ANY, self.stack.address):
            raise OSError(errno.EADDRNOTAVAIL, f"{ip_to_text(local)} is not an address of this stack")
        if port == 0:
            port = self._ephemeral()
        elif port in self.endpoints:
            raise OSError(errno.EADDRINUSE, f"UDP port {port} is already bound")
        endpoint = UdpEndpoint(self, local, port)
        self.endpoints[port] = endpoint
        return endpoint

    def is_broadcast(self, address: bytes) -> bool:
        """The limited broadcast 255.255.255.255 or our subnet's directed broadcast."""
        return address == LIMITED_BROADCAST or address == self.stack.ipv4.broadcast

    def _ephemeral(self) -> int:
        span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1
        for _ in range(span):
            port = self._next_ephemeral
            self._next_ephemeral = EPHEMERAL_LOW + (port + 1 - EPHEMERAL_LOW) % span
            if port not in self.endpoints:
                return port
        raise OSError(errno.EADDRINUSE, "no ephemeral UDP port left")

    def send(self, src_port: int, dst: bytes, dst_port: int, data: bytes, now: float) -> None:
        stack = self.stack
        length = HEADER_LENGTH + len(data)
        if length > 65535 - 20:
            raise OSError(errno.EMSGSIZE, f"UDP datagram of {length} bytes is too long")
        # RFC 1122 §4.1.3.4: checksums on by default; 0 on the wire means "none computed".
        checksum = None if self.config.udp_checksum else 0
        stack.ipv4.send(dst, IP_PROTOCOL_UDP, encode_udp(stack.address, dst, src_port, dst_port, data, None, checksum),
                        df=False)
        stack.counters.incr("udp.sent")

    # ----------------------------------------------------------------- transport interface
    def receive(self, src: bytes, dst: bytes, payload, now: float) -> None:
        stack = self.stack
        counters = stack.counters
        try:
            datagram = decode_udp(payload, 0, None, src, dst)
        except FormatError as error:
            counters.incr("udp.drop.truncated" if error.field != "length" else "udp.drop.bad_length")
            return
        if datagram.checksum_ok is False:  # None: no checksum sent (RFC 768), accepted
            counters.incr("udp.drop.bad_checksum")
            return
        src_port = datagram.src_port
        dst_port = datagram.dst_port
        endpoint = self.endpoints.get(dst_port)
        if endpoint is None or endpoint.address not in (ANY, dst) or (
                endpoint.remote is not None and endpoint.remote != (src, src_port)):
            counters.incr("udp.drop.port_closed")
            broadcast = dst != stack.address
            stack.trace.event("udp.drop", reason="port_closed", src=ip_to_text(src), dst=ip_to_text(dst),
                              port=dst_port)
            if not broadcast:
                # RFC 1122 §4.1.3.1: SHOULD send port unreachable, quoting the datagram as received.
                original = stack.ipv4.current_header + bytes(payload)
                stack.icmp.send_error(DESTINATION_UNREACHABLE, PORT_UNREACHABLE, original, now)
            return
        counters.incr("udp.received")
        endpoint.deliver(bytes(payload[datagram.payload_offset:datagram.payload_end]), (ip_to_text(src), src_port),
                         now)

    def icmp_error(self, error: int, src: bytes, dst: bytes, quoted_transport_header: bytes, now: float) -> None:
        src_port, dst_port = _PORTS.unpack_from(quoted_transport_header)
        endpoint = self.endpoints.get(src_port)
        if endpoint is None or (endpoint.remote is not None and endpoint.remote != (dst, dst_port)):
            self.stack.counters.incr("udp.drop.error_without_endpoint")
            return
        endpoint.error = error
        self.stack.counters.incr("udp.error_delivered")
        if endpoint.on_error is not None:
            endpoint.on_error(error, now)

    def next_deadline(self):
        return None

    def tick(self, now: float) -> None:
        return None


__all__ = ["UdpEndpoint", "UdpLayer"]
