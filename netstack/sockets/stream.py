"""``StreamSocket``: SOCK_STREAM over netstack's TCP (``netstack.engine.tcp.endpoint``), with the kernel's errno.

Life of a socket, as Linux ``inet_stream_connect``/``tcp_sendmsg``/``tcp_recvmsg`` see it:

- *fresh* (maybe bound): ``recv``/``getpeername``/``shutdown`` raise ENOTCONN, ``send`` EPIPE,
  ``accept`` EINVAL; readable and writable (the kernel reports POLLHUP|POLLOUT).
- *listening*: ``accept`` returns ``(socket, (ip, port))``, EAGAIN when non-blocking and none waits;
  readable while a connection waits, never writable; ``connect`` raises EISCONN.
- *connecting* (SYN-SENT): neither readable nor writable; a non-blocking ``connect`` raised
  EINPROGRESS, a second one EALREADY; ``recv``/``send`` EAGAIN (or wait). On completion the socket
  turns writable; ``SO_ERROR`` (or the next ``connect``) reports ECONNREFUSED, ETIMEDOUT,
  EHOSTUNREACH; after a failure the socket is fresh again.
- *connected*: ``send``/``recv``; the connection's error (ECONNRESET after an RST, ETIMEDOUT after
  the retransmission limit) is reported *once*, by whichever call comes first (``SO_ERROR`` too);
  after that ``recv`` returns b"" and ``send`` raises EPIPE, as in Linux.
"""

from __future__ import annotations

import errno as errnos
import ipaddress
import operator
import socket as stdlib_socket

from netstack.engine.config import ip_to_text
from netstack.sockets.netsocket import NetstackSocket, os_error, receive_view, shutdown_how, would_block
from netstack.sockets.stream_options import StreamOptions
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.machines.tcp_connection import TcpState

ANY = b"\x00\x00\x00\x00"
DEFAULT_BACKLOG = min(stdlib_socket.SOMAXCONN, 128)
MSG_DONTWAIT = getattr(stdlib_socket, "MSG_DONTWAIT", 0x40)
MSG_WAITALL = getattr(stdlib_socket, "MSG_WAITALL", 0x100)
MSG_FASTOPEN = getattr(stdlib_socket, "MSG_FASTOPEN", 0x20000000)


def parse_address(address, what: str = "connect") -> tuple[bytes, int]:
    """``(host, port)`` -> (4 bytes, port), raising what the stdlib raises for a bad tuple."""
    if not isinstance(address, tuple) or len(address) != 2:
        raise TypeError(f"AF_INET address must be tuple, not {type(address).__name__}")
    host, port = address
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
    if not 0 <= port <= 65535:
        raise OverflowError(f"{what}(): port must be 0-65535.")
    if host in ("", None):
        return ANY, port
    if host == "<broadcast>":
        return b"\xff\xff\xff\xff", port
    if host == "localhost":
        host = "127.0.0.1"
    try:
        return ipaddress.IPv4Address(host).packed, port
    except (ipaddress.AddressValueError, ValueError):
        raise stdlib_socket.gaierror(stdlib_socket.EAI_NONAME, "Name or service not known") from None


class StreamSocket(StreamOptions, NetstackSocket):
    """A TCP socket on a netstack stack; methods as ``socket.socket``."""

    def __init__(self, host, family=stdlib_socket.AF_INET, type=stdlib_socket.SOCK_STREAM, proto=0, *,
                 _stream: TcpStream | None = None, _parent: "StreamSocket | None" = None):
        super().__init__(host, family, type, proto)
        self._local: tuple[bytes, int] | None = None  # bound address (ANY or ours), port
        self._stream: TcpStream | None = None
        self._server: TcpServer | None = None
        self._listening = False
        self._config_changes: dict = {}
        self._reuse_address = False
        self._linger: tuple[int, int] = (0, 0)
        self._error_taken = False  # the connection's error was reported (once, as Linux sock_error)
        self._connect_reported = False
        self._shut_rd = False
        self._shut_wr = False
        self._seen_state = None  # the connection's last state before it ended (for tcp_reset's errno)
        self._fastopen_connect = False  # TCP_FASTOPEN_CONNECT: connect() waits for the first send
        self._deferred_peer: tuple[bytes, int] | None = None
        if _parent is not None:
            self._config_changes = dict(_parent._config_changes)
            self._reuse_address = _parent._reuse_address
            self._linger = _parent._linger
        if _stream is not None:
            self._attach(_stream)
            self._connect_reported = True
            self._local = _stream.local_address
            host.register_port(self._local[1], self)

    # ------------------------------------------------------------------ helpers (stack thread)
    def _attach(self, stream: TcpStream) -> None:
        self._stream = stream
        host = self._host
        stream.on_event = lambda _stream, _now: host.mark_dirty(self)

    def _config(self):
        layer_config = self._host.tcp.config
        return layer_config.replace(**self._config_changes) if self._config_changes else layer_config

    def _now(self) -> float:
        return self._host.clock()

    def _take_error(self) -> int | None:
        stream = self._stream
        if stream is not None and stream.error is not None and not self._error_taken:
            self._error_taken = True
            if stream.error == errnos.ECONNRESET and self._seen_state is TcpState.CLOSE_WAIT:
                return errnos.EPIPE  # Linux tcp_reset: an RST in CLOSE-WAIT is reported as EPIPE
            return stream.error
        return None

    def _readiness(self) -> tuple[bool, bool]:
        if self._listening:
            return self._server is not None and self._server.pending > 0, False
        stream = self._stream
        if stream is None:
            return True, True
        if not stream.closed:
            self._seen_state = stream.state
        if stream.error is not None and not self._error_taken:
            return True, True
        if stream.connecting:
            return False, False
        readable = self._shut_rd or stream.readable or stream.closed
        writable = self._shut_wr or stream.closed or stream.writable
        return readable, writable

    # ------------------------------------------------------------------ addresses
    def bind(self, address) -> None:
        self._check_open()
        ip, port = parse_address(address, "bind")
        self._call(self._bind, ip, port)

    def _bind(self, ip: bytes, port: int) -> None:
        if self._local is not None or self._stream is not None or self._listening:
            raise os_error(errnos.EINVAL, "the socket is already bound")
        host = self._host
        if ip not in (ANY, host.stack.address):
            raise os_error(errnos.EADDRNOTAVAIL)
        if port == 0:
            port = host.ephemeral_port(self._reuse_address)
        elif host.port_in_use(port, ip, self._reuse_address):
            raise os_error(errnos.EADDRINUSE)
        self._local = (ip, port)
        host.register_port(port, self)

    def getsockname(self):
        self._check_open()
        return self._host.call(self._getsockname)

    def _getsockname(self):
        if self._stream is not None:
            ip, port = self._stream.local_address
            return ip_to_text(ip), port
        if self._local is not None:
            return ip_to_text(self._local[0]), self._local[1]
        return "0.0.0.0", 0

    def getpeername(self):
        self._check_open()
        return self._host.call(self._getpeername)

    def _getpeername(self):
        stream = self._stream
        if stream is None or stream.connecting or stream.closed:
            raise os_error(errnos.ENOTCONN)
        ip, port = stream.remote_address
        return ip_to_text(ip), port

    # ------------------------------------------------------------------ passive open
    def listen(self, backlog: int = DEFAULT_BACKLOG) -> None:
        self._check_open()
        self._call(self._listen, max(1, operator.index(backlog)))

    def _listen(self, backlog: int) -> None:
        if self._stream is not None:
            raise os_error(errnos.EINVAL)
        if self._listening:
            self._server.listener.raise_backlog(backlog)  # like a second listen(2): new backlog
            return
        host = self._host
        if self._local is None:
            self._bind(ANY, 0)
        ip, port = self._local
        self._server = TcpServer(host.tcp, port, address=None if ip == ANY else ip, backlog=backlog,
                                 config=self._config())
        self._server.on_accept = lambda _server, _now: host.mark_dirty(self)
        self._listening = True

    def accept(self):
        stream = self._blocking(self._accept)
        sock = StreamSocket(self._host, self.family, self.type, self.proto, _stream=stream, _parent=self)
        self._host.call(sock._refresh)
        ip, port = stream.remote_address
        return sock, (ip_to_text(ip), port)

    def _accept(self) -> TcpStream:
        if not self._listening:
            raise os_error(errnos.EINVAL)
        stream = self._server.accept()
        if stream is None:
            raise would_block()
        return stream

    # ------------------------------------------------------------------ active open
    def connect(self, address) -> None:
        self._check_open()
        ip, port = parse_address(address)
        if self._fastopen_connect and self._stream is None and not self._listening:
            # Linux TCP_FASTOPEN_CONNECT: connect() returns at once; the SYN leaves with the first
            # send, carrying its data when a cookie for the server is known (RFC 7413)
            self._deferred_peer = (ip, port)
            return
        self._connect(ip, port)

    def _connect(self, ip: bytes, port: int, fastopen_data=None) -> None:
        started = self._call(self._start_connect, ip, port, fastopen_data)
        if started == "done":
            return
        if self._timeout == 0.0:
            raise would_block(errnos.EINPROGRESS)
        deadline = None if self._timeout is None else self._host.clock() + self._timeout
        if not self._wait(True, deadline):
            raise TimeoutError("timed out")
        # CPython emulates a connect with a timeout by a non-blocking one and SO_ERROR: the kernel
        # socket stays "connecting", so the next connect reports ECONNABORTED. A blocking connect
        # (no timeout) leaves the socket free to connect again.
        self._call(self._finish_connect, self._timeout is None)

    def _start_connect(self, ip: bytes, port: int, fastopen_data=None) -> str:
        if self._listening:
            raise os_error(errnos.EISCONN)
        stream = self._stream
        if stream is not None:
            if stream.connecting:
                if self._timeout == 0.0:
                    raise os_error(errnos.EALREADY)
                return "wait"
            return self._finish_connect()
        host = self._host
        if ip == ANY:
            ip = host.stack.address  # as Linux: connecting to 0.0.0.0 means this host
        if port == 0:
            raise os_error(errnos.ECONNREFUSED)  # nothing listens on port 0
        host.stack.ipv4.next_hop(ip)  # ENETUNREACH before any SYN, as the kernel's route lookup
        local_port = self._local[1] if self._local is not None else 0
        stream = TcpStream.connect(host.tcp, ip, port, self._now(), local_port=local_port, config=self._config(),
                                   fastopen_data=fastopen_data)
        if self._local is None:
            local_port = stream.local_address[1]
            self._local = (ANY, local_port)
            host.register_port(local_port, self)
        self._attach(stream)
        self._error_taken = False
        self._connect_reported = False
        if stream.closed and stream.error is not None:
            return self._finish_connect()
        return "wait"

    def _finish_connect(self, reset: bool = True) -> str:
        """The outcome of a connect that is no longer in progress (Linux inet_stream_connect)."""
        stream = self._stream
        if stream is None:
            raise os_error(errnos.ENOTCONN)
        if stream.connecting:
            raise os_error(errnos.EALREADY)
        if self._connect_reported:
            raise os_error(errnos.EISCONN)
        if stream.error is not None:
            code = self._take_error() or errnos.ECONNABORTED
            if reset or code == errnos.ECONNABORTED:
                self._reset_after_failure()
            raise os_error(code)
        self._connect_reported = True
        return "done"

    def _reset_after_failure(self) -> None:
        """Linux disconnects a socket whose connect failed: it may connect again."""
        if self._stream is not None:
            self._stream.on_event = None
        self._stream = None
        self._error_taken = False

    # ------------------------------------------------------------------ data
    def _fastopen_send(self, data, peer: tuple[bytes, int]) -> int:
        """Connect with ``data`` in the SYN (RFC 7413, MSG_FASTOPEN / TCP_FASTOPEN_CONNECT); as Linux,
        a blocking socket returns once connected."""
        data = bytes(memoryview(data).cast("B"))
        if len(data) > self._config().send_buffer:
            raise os_error(errnos.EMSGSIZE)
        self._connect(peer[0], peer[1], data)
        return len(data)

    def send(self, data, flags: int = 0) -> int:
        if self._deferred_peer is not None and self._stream is None:
            peer, self._deferred_peer = self._deferred_peer, None
            return self._fastopen_send(data, peer)
        nonblocking = self._dontwait(flags)
        if self._timeout is None and not nonblocking:
            # A blocking kernel socket's send returns once *all* the bytes are queued (tcp_sendmsg
            # waits for space); with a timeout, CPython's send may return a partial count.
            self.sendall(data, flags)
            return len(memoryview(data).cast("B"))
        return self._blocking(self._send, data, want_write=True, nonblocking=nonblocking)

    def sendall(self, data, flags: int = 0) -> None:
        """Send everything; a timeout covers the whole call (as CPython's sendall since 3.5)."""
        if self._deferred_peer is not None and self._stream is None:
            self.send(data, flags)
            return
        view = memoryview(data).cast("B")
        nonblocking = self._dontwait(flags)
        deadline = None if self._timeout is None else self._host.clock() + self._timeout
        total = 0
        while total < len(view) or not len(view):
            total += self._blocking(self._send, view[total:total + (1 << 20)], want_write=True,
                                    nonblocking=nonblocking, deadline=deadline)
            if not len(view):
                break

    def sendto(self, data, flags_or_address, address=None) -> int:
        flags = 0 if address is None else flags_or_address
        if address is not None and flags & MSG_FASTOPEN:
            self._check_open()
            if self._stream is not None or self._listening:
                raise os_error(errnos.EISCONN)
            return self._fastopen_send(data, parse_address(address))
        return self.send(data, flags)

    def _send(self, data) -> int:
        stream = self._stream
        if stream is None or self._listening:
            raise os_error(errnos.EPIPE)
        code = self._take_error()
        if code is not None:
            raise os_error(code)
        if stream.error is not None or self._shut_wr or stream.closed:
            raise os_error(errnos.EPIPE)
        if stream.connecting:
            raise would_block()
        if not len(data):
            return 0
        n = stream.send(bytes(data) if not isinstance(data, (bytes, bytearray)) else data, self._now())
        if n == 0:
            raise would_block()
        return n

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        self._check_flags(flags)
        nonblocking = self._dontwait(flags)
        data = self._blocking(self._recv, bufsize, nonblocking=nonblocking)
        if not flags & MSG_WAITALL or not data or nonblocking or self._timeout == 0.0:
            return data
        # MSG_WAITALL: keep reading until bufsize bytes, the end of the stream or an error
        chunks, total = [data], len(data)
        while total < bufsize:
            try:
                more = self._blocking(self._recv, bufsize - total)
            except OSError:
                break  # Linux returns what it has; the error waits for the next call
            if not more:
                break
            chunks.append(more)
            total += len(more)
        return b"".join(chunks)

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        view = receive_view(buffer, nbytes, "recv_into")
        data = self.recv(len(view), flags)
        view[:len(data)] = data
        return len(data)

    def recvfrom(self, bufsize: int, flags: int = 0):
        return self.recv(bufsize, flags), None

    def recvfrom_into(self, buffer, nbytes: int = 0, flags: int = 0):
        receive_view(buffer, nbytes, "recvfrom_into")  # its own messages, before anything is read
        return self.recv_into(buffer, nbytes, flags), None

    def _recv(self, bufsize: int) -> bytes:
        stream = self._stream
        if stream is None or self._listening:
            raise os_error(errnos.ENOTCONN)
        if stream.connecting:
            raise would_block()
        if bufsize == 0:
            return b""
        try:
            return stream.recv(bufsize, self._now())  # data first, even after an RST (as Linux)
        except BlockingIOError:
            if self._shut_rd or stream.closed:
                return b""
            raise
        except OSError:
            code = self._take_error()  # the connection's errno, reported once
            if code is not None:
                raise os_error(code) from None
            return b""  # reported already: end of stream from now on

    @staticmethod
    def _dontwait(flags: int) -> bool:
        return bool(flags & MSG_DONTWAIT)

    @staticmethod
    def _check_flags(flags: int) -> None:
        if flags & ~(MSG_DONTWAIT | MSG_WAITALL):
            raise os_error(errnos.EOPNOTSUPP, "netstack's TCP recv supports MSG_DONTWAIT and MSG_WAITALL")

    # ------------------------------------------------------------------ closing
    def shutdown(self, how: int) -> None:
        self._check_open()
        self._call(self._shutdown, shutdown_how(how))

    def _shutdown(self, how: int) -> None:
        if self._listening:
            if how != stdlib_socket.SHUT_WR:
                self._server.close(self._now())
                self._listening = False
            return
        stream = self._stream
        if stream is None or (stream.closed and self._error_taken) or (
                stream.closed and stream.error is None and stream.state is TcpState.CLOSED):
            raise os_error(errnos.ENOTCONN)
        if stream.connecting:
            stream.abort(self._now())
            self._reset_after_failure()
            return
        if how in (stdlib_socket.SHUT_RD, stdlib_socket.SHUT_RDWR):
            self._shut_rd = True
        if how in (stdlib_socket.SHUT_WR, stdlib_socket.SHUT_RDWR) and not self._shut_wr:
            self._shut_wr = True
            if not stream.closed:
                stream.shutdown(self._now())

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        onoff, seconds = self._linger
        if self._real_closed and onoff and seconds > 0 and self._stream is not None and self._timeout != 0.0:
            stream = self._stream
            # SO_LINGER with a timeout: close waits until our FIN is acknowledged (or the time is up)
            deadline = self._host.clock() + seconds
            self._host.wait(lambda: stream.closed or stream.state in (TcpState.FIN_WAIT_2, TcpState.TIME_WAIT),
                            None, False, deadline)

    def _release(self) -> None:
        host = self._host
        now = self._now()
        if self._server is not None and self._listening:
            self._server.close(now)
            self._listening = False
        stream = self._stream
        if stream is not None:
            stream.on_event = None
            if not stream.closed:
                if self._linger[0] and self._linger[1] == 0:
                    stream.abort(now)  # SO_LINGER {1, 0}: RFC 9293 §3.10.5 ABORT, an RST
                else:
                    stream.close(now)
        if self._local is not None:
            host.release_port(self._local[1], self)
