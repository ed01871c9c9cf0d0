"""``DatagramSocket``: SOCK_DGRAM over netstack's UDP (``netstack.engine.udp``), with the kernel's errno.

Datagrams are queued by the socket (``UdpEndpoint.on_datagram``), bounded by ``SO_RCVBUF`` bytes
(default 212992, Linux's ``rmem_default``); beyond that they are dropped and counted
``udp.drop.queue_full``. An unbound socket is bound to an ephemeral port by its first ``sendto`` or
``connect``. ICMP errors (port unreachable -> ECONNREFUSED, ...) are reported, once, only on a
*connected* socket, by its next ``send``/``recv`` or ``SO_ERROR`` — as Linux does (``inet->recverr``
off). A datagram larger than 65507 bytes raises EMSGSIZE; a ``recv`` smaller than the datagram
returns its beginning and drops the rest. Sending to (or connecting to) a broadcast address needs
``SO_BROADCAST``, else ``EACCES`` (as Linux).
"""

from __future__ import annotations

import collections
import errno as errnos
import socket as stdlib_socket

from netstack.engine.config import ip_to_text
from netstack.sockets import options as opt
from netstack.sockets.netsocket import NetstackSocket, os_error, receive_view, shutdown_how, would_block
from netstack.sockets.stream import ANY, parse_address

DEFAULT_RECEIVE_BUFFER = 212992  # Linux net.core.rmem_default
MAX_PAYLOAD = 65507  # 65535 - 20 (IPv4 header) - 8 (UDP header)


class DatagramSocket(NetstackSocket):
    """A UDP socket on a netstack stack; methods as ``socket.socket``."""

    def __init__(self, host, family=stdlib_socket.AF_INET, type=stdlib_socket.SOCK_DGRAM, proto=0):
        super().__init__(host, family, type, proto)
        self._endpoint = None
        self._queue: collections.deque = collections.deque()
        self._queued_bytes = 0
        self._receive_buffer = DEFAULT_RECEIVE_BUFFER
        self._reuse_address = False
        self._broadcast = False  # SO_BROADCAST
        self._error: int | None = None

    # ------------------------------------------------------------------ stack thread
    def _readiness(self) -> tuple[bool, bool]:
        return bool(self._queue) or self._error is not None, True

    def _ensure_bound(self) -> None:
        if self._endpoint is None:
            self._bind(ANY, 0)

    def _bind(self, ip: bytes, port: int) -> None:
        if self._endpoint is not None:
            raise os_error(errnos.EINVAL, "the socket is already bound")
        stack = self._host.stack
        if ip not in (ANY, stack.address):
            raise os_error(errnos.EADDRNOTAVAIL)
        endpoint = stack.udp_bind(port, None if ip == ANY else ip)
        endpoint.on_datagram = self._datagram_arrived
        endpoint.on_error = self._error_arrived
        endpoint.broadcast = self._broadcast
        self._endpoint = endpoint

    def _datagram_arrived(self, data: bytes, remote, now: float) -> None:
        if self._queued_bytes + len(data) > self._receive_buffer:
            self._host.stack.counters.incr("udp.drop.queue_full")
            return
        self._queue.append((data, remote))
        self._queued_bytes += len(data)
        self._host.mark_dirty(self)

    def _error_arrived(self, code: int, now: float) -> None:
        endpoint = self._endpoint
        endpoint.error = None
        if endpoint.remote is not None:  # Linux reports ICMP errors on connected sockets only
            self._error = code
            self._host.mark_dirty(self)

    def _take_error(self) -> int | None:
        code, self._error = self._error, None
        return code

    # ------------------------------------------------------------------ addresses
    def bind(self, address) -> None:
        self._check_open()
        ip, port = parse_address(address, "bind")
        self._call(self._bind, ip, port)

    def connect(self, address) -> None:
        self._check_open()
        ip, port = parse_address(address)
        self._call(self._connect, ip, port)

    def _connect(self, ip: bytes, port: int) -> None:
        if port == 0:
            raise os_error(errnos.EINVAL)
        self._host.stack.ipv4.next_hop(ip)  # ENETUNREACH, as the kernel's route lookup
        self._ensure_bound()
        self._endpoint.connect((ip, port))
        self._error = None

    def getsockname(self):
        self._check_open()
        endpoint = self._endpoint
        if endpoint is None:
            return "0.0.0.0", 0
        return ip_to_text(endpoint.address), endpoint.port

    def getpeername(self):
        self._check_open()
        endpoint = self._endpoint
        if endpoint is None or endpoint.remote is None:
            raise os_error(errnos.ENOTCONN)
        return ip_to_text(endpoint.remote[0]), endpoint.remote[1]

    # ------------------------------------------------------------------ data
    def send(self, data, flags: int = 0) -> int:
        self._check_open()
        return self._call(self._sendto, data, None)

    def sendall(self, data, flags: int = 0) -> None:
        self.send(data, flags)

    def sendto(self, data, flags_or_address, address=None) -> int:
        self._check_open()
        if address is None:
            address = flags_or_address
        ip, port = parse_address(address, "sendto")
        return self._call(self._sendto, data, (ip, port))

    def _sendto(self, data, remote) -> int:
        code = self._take_error()
        if code is not None:
            raise os_error(code)
        data = bytes(data)
        if len(data) > MAX_PAYLOAD:
            raise os_error(errnos.EMSGSIZE)
        if remote is None:
            if self._endpoint is None or self._endpoint.remote is None:
                raise os_error(errnos.EDESTADDRREQ)
        else:
            self._host.stack.ipv4.next_hop(remote[0])
        self._ensure_bound()
        return self._endpoint.sendto(data, remote, self._host.clock())

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self.recvfrom(bufsize, flags)[0]

    def recvfrom(self, bufsize: int, flags: int = 0):
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        peek = bool(flags & stdlib_socket.MSG_PEEK)
        nonblocking = bool(flags & stdlib_socket.MSG_DONTWAIT)
        if flags & ~(stdlib_socket.MSG_PEEK | stdlib_socket.MSG_DONTWAIT):
            raise os_error(errnos.EOPNOTSUPP, "netstack supports only MSG_PEEK and MSG_DONTWAIT")
        data, remote = self._blocking(self._recvfrom, peek, nonblocking=nonblocking)
        return data[:bufsize], remote

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        return self.recvfrom_into(buffer, nbytes, flags)[0]

    def recvfrom_into(self, buffer, nbytes: int = 0, flags: int = 0):
        view = receive_view(buffer, nbytes, "recvfrom_into")
        data, remote = self.recvfrom(len(view), flags)
        view[:len(data)] = data
        return len(data), remote

    def _recvfrom(self, peek: bool):
        code = self._take_error()
        if code is not None:
            raise os_error(code)
        if not self._queue:
            raise would_block()
        if peek:
            return self._queue[0]
        data, remote = self._queue.popleft()
        self._queued_bytes -= len(data)
        return data, remote

    def shutdown(self, how: int) -> None:
        self._check_open()
        shutdown_how(how)
        if self._endpoint is None or self._endpoint.remote is None:
            raise os_error(errnos.ENOTCONN)

    def _release(self) -> None:
        if self._endpoint is not None:
            self._endpoint.on_datagram = None
            self._endpoint.close()

    # ------------------------------------------------------------------ options
    def setsockopt(self, level: int, name: int, value, optlen: int | None = None) -> None:
        self._check_open()
        number = opt.option_int(value)
        if level == opt.SOL_SOCKET and name == opt.SO_RCVBUF:
            self._receive_buffer = opt.buffer_size(number)
        elif level == opt.SOL_SOCKET and name == opt.SO_REUSEADDR:
            self._reuse_address = bool(number)
        elif level == opt.SOL_SOCKET and name == opt.SO_BROADCAST:
            self._broadcast = bool(number)
            if self._endpoint is not None:
                self._endpoint.broadcast = self._broadcast
        else:
            raise opt.unsupported(level, name)

    def getsockopt(self, level: int, name: int, buflen: int | None = None):
        self._check_open()
        if level == opt.SOL_SOCKET:
            if name == opt.SO_ERROR:
                return opt.encode_reply(self._call(self._take_error) or 0, buflen)
            if name == opt.SO_RCVBUF:
                return opt.encode_reply(self._receive_buffer, buflen)
            if name == opt.SO_REUSEADDR:
                return opt.encode_reply(int(self._reuse_address), buflen)
            if name == opt.SO_BROADCAST:
                return opt.encode_reply(int(self._broadcast), buflen)
            if name == opt.SO_TYPE:
                return opt.encode_reply(int(self.type), buflen)
        raise opt.unsupported(level, name)
