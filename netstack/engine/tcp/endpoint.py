"""A small non-blocking endpoint API over netstack's TCP, for services, tools and tests.

::

    tcp = TcpLayer.attach(stack)                   # once per stack
    server = TcpServer(tcp, 80)                     # listen
    stream = server.accept()                        # TcpStream or None
    client = TcpStream.connect(tcp, ip, 80)         # active open (non-blocking: check .connected)
    n = client.send(b"GET / ...")                   # bytes taken (0: buffer full)
    data = client.recv(65536)                       # bytes; b"" at end of stream; BlockingIOError if none yet
    client.shutdown()                               # half-close (FIN after queued data)
    client.close()                                  # full close; client.abort() sends RST

Every call runs on the stack's thread (``running.call(...)`` on a TAP, directly in the simulator) and
takes an optional ``now`` (default: the layer's clock). Errors are ``OSError`` subclasses with the
kernel's errno (``ConnectionRefusedError``, ``ConnectionResetError``, ``TimeoutError``,
``BrokenPipeError``, ``BlockingIOError``). Readiness: ``readable``, ``writable``, ``connected``,
``closed``; ``on_event(stream, now)`` / ``on_accept(server, now)`` callbacks fire on the stack's
thread after anything changed (an exception they raise is logged and counted,
``tcp.drop.app_callback_error``, never propagated into the stack). The socket API (issue 6) wraps this class.
"""

from __future__ import annotations

import errno as errnos
import logging
import os

from netstack.errors import TransitionError
from netstack.machines.congestion import congestion_control
from netstack.machines.tcp_connection import TcpState

_log = logging.getLogger("netstack.engine.tcp")

_SYNCHRONIZED = frozenset(
    {TcpState.ESTABLISHED, TcpState.FIN_WAIT_1, TcpState.FIN_WAIT_2, TcpState.CLOSE_WAIT,
     TcpState.CLOSING, TcpState.LAST_ACK, TcpState.TIME_WAIT}
)


def _os_error(code: int, detail: str = "") -> OSError:
    message = os.strerror(code) + (f" ({detail})" if detail else "")
    return OSError(code, message)  # OSError picks the subclass from the errno


class TcpStream:
    """One connection, as the application sees it."""

    def __init__(self, layer, conn):
        self.layer = layer
        self.conn = conn
        self.on_event = None
        conn.wakeup = self._wakeup

    @classmethod
    def connect(cls, layer, remote_ip: bytes, remote_port: int, now: float | None = None, **kwargs) -> "TcpStream":
        now = layer.clock() if now is None else now
        conn = layer.connect(bytes(remote_ip), remote_port, now, **kwargs)
        return cls(layer, conn)

    def _wakeup(self) -> None:
        if self.on_event is not None:
            try:
                self.on_event(self, self.layer.clock())
            except Exception:  # an application bug must not unwind the TCB in mid-segment
                self.layer.counters.incr("tcp.drop.app_callback_error")
                _log.exception("on_event callback of %r raised", self)

    def _now(self, now):
        return self.layer.clock() if now is None else now

    def _done(self, now) -> None:
        conn = self.conn
        # most calls change nothing the layer must act on: skip it then (per-segment cost)
        if conn.outbox or conn.dead or conn.listener is not None or (
            conn.deadline is not None and conn.deadline != conn._heap_deadline
        ):
            self.layer.connection_changed(conn, now)

    # -- state and readiness -----------------------------------------------------------------------
    @property
    def state(self) -> TcpState:
        return self.conn.state

    @property
    def connected(self) -> bool:
        return self.conn.state in _SYNCHRONIZED

    @property
    def connecting(self) -> bool:
        return self.conn.state in (TcpState.SYN_SENT, TcpState.SYN_RECEIVED) and not self.conn.dead

    @property
    def closed(self) -> bool:
        return self.conn.dead

    @property
    def error(self) -> int | None:
        return self.conn.error

    @property
    def readable(self) -> bool:
        return self.conn.readable

    @property
    def writable(self) -> bool:
        return self.conn.writable and not self.connecting

    @property
    def at_eof(self) -> bool:
        return self.conn.at_eof

    @property
    def local_address(self) -> tuple[bytes, int]:
        return self.conn.local_ip, self.conn.local_port

    @property
    def remote_address(self) -> tuple[bytes, int]:
        return self.conn.remote_ip, self.conn.remote_port

    def info(self) -> dict:
        """TCP_INFO-like snapshot (see ``TcpConnection.info``), plus the retransmission count in a
        row and the path MTU."""
        conn = self.conn
        return {**conn.info(), "retransmits_in_a_row": conn.snd.retransmits, "pmtu": conn.path_mtu}

    # -- options -----------------------------------------------------------------------------------
    @property
    def config(self):
        """The ``TcpConfig`` this connection runs with."""
        return self.conn.config

    @property
    def nodelay(self) -> bool:
        return self.conn.nodelay

    @property
    def keepalive(self) -> bool:
        return self.conn.keepalive

    @property
    def send_mss(self) -> int:
        """The effective send MSS (TCP_MAXSEG of a connected socket)."""
        return self.conn.snd.mss

    @property
    def receive_buffer_size(self) -> int:
        return self.conn.rcv.buffer.capacity

    @property
    def send_buffer_size(self) -> int:
        return self.conn.snd.buffer.capacity

    def set_buffer_sizes(self, *, receive: int | None = None, send: int | None = None) -> None:
        """SO_RCVBUF / SO_SNDBUF on a live connection: the buffers take the new capacity at once."""
        conn = self.conn
        # the application chose the size: autotuning leaves that buffer alone (Linux's *_LOCK flags)
        if receive is not None:
            conn.rcv.buffer.capacity = receive
            conn.rcv.autotuning = None
            conn.config = conn.config.replace(receive_buffer=receive, receive_buffer_max=receive)
        if send is not None:
            conn.snd.buffer.capacity = send
            conn.snd.buffer_max = 0
            conn.config = conn.config.replace(send_buffer=send, send_buffer_max=send)

    @property
    def congestion_control(self) -> str:
        """The algorithm's registered name ("cubic", "newreno", ...)."""
        return self.conn.config.congestion_control

    def set_congestion_control(self, name: str) -> None:
        """TCP_CONGESTION on a live connection: the new algorithm takes over cwnd and ssthresh."""
        algorithm = congestion_control(name)  # ValueError for an unknown name
        conn = self.conn
        conn.config = conn.config.replace(congestion_control=name.lower())
        conn.snd.set_congestion_control(algorithm)

    def set_keepalive_timing(self, now: float | None = None, **fields) -> None:
        """TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT (``TcpConfig`` field names); re-arms a running
        keepalive timer with the new idle time."""
        now = self._now(now)
        conn = self.conn
        conn.config = conn.config.replace(**fields)
        if conn.keepalive:
            self.set_keepalive(True, now)

    # -- data --------------------------------------------------------------------------------------
    def send(self, data, now: float | None = None) -> int:
        """Queue bytes; returns the count taken (0 when the send buffer is full)."""
        now = self._now(now)
        conn = self.conn
        if conn.error is not None:
            raise _os_error(conn.error)
        if conn.dead:
            raise _os_error(errnos.EPIPE)
        try:
            n = conn.send(data, now)
        except TransitionError as error:
            raise _os_error(error.errno or errnos.EPIPE, str(error)) from None
        self._done(now)
        return n

    def recv(self, max_bytes: int = 65536, now: float | None = None) -> bytes:
        """Up to ``max_bytes``; b"" at end of stream; ``BlockingIOError`` when nothing is ready yet."""
        if now is None:
            now = self.layer.clock()
        conn = self.conn
        data = conn.recv(max_bytes, now)
        if data:
            self._done(now)
            return data
        if conn.error is not None:
            raise _os_error(conn.error)
        if conn.at_eof:
            return b""
        raise BlockingIOError(errnos.EAGAIN, "no data ready")

    def recv_into(self, buffer, now: float | None = None) -> int:
        now = self._now(now)
        n = self.conn.recv_into(buffer, now)
        if n:
            self._done(now)
            return n
        if self.conn.error is not None:
            raise _os_error(self.conn.error)
        if self.conn.at_eof:
            return 0
        raise BlockingIOError(errnos.EAGAIN, "no data ready")

    def shutdown(self, now: float | None = None) -> None:
        """Half-close: our FIN follows the queued data; receiving continues."""
        now = self._now(now)
        try:
            self.conn.shutdown(now)
        except TransitionError as error:
            raise _os_error(error.errno or errnos.ENOTCONN, str(error)) from None
        self._done(now)

    def close(self, now: float | None = None) -> None:
        now = self._now(now)
        try:
            self.conn.close(now)
        except TransitionError:
            pass  # closing twice is harmless here
        self._done(now)

    def abort(self, now: float | None = None) -> None:
        now = self._now(now)
        self.conn.abort(now)
        self._done(now)

    def set_nodelay(self, on: bool = True, now: float | None = None) -> None:
        now = self._now(now)
        self.conn.set_nodelay(on, now)
        self._done(now)

    def set_keepalive(self, on: bool = True, now: float | None = None) -> None:
        now = self._now(now)
        self.conn.set_keepalive(on, now)
        self._done(now)

    def __repr__(self) -> str:
        return f"<TcpStream {self.conn.name} {self.conn.state.value}>"


class TcpServer:
    """A listening port; ``accept()`` returns a ``TcpStream`` or None."""

    def __init__(self, layer, port: int, *, address: bytes | None = None, backlog: int | None = None, config=None):
        self.layer = layer
        self.listener = layer.listen(port, address=address, backlog=backlog, config=config)
        self.on_accept = None
        self.listener.on_accept = self._accepted

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def pending(self) -> int:
        return len(self.listener.accept_queue)

    def _accepted(self, listener, now) -> None:
        if self.on_accept is not None:
            try:
                self.on_accept(self, now)
            except Exception:
                self.layer.counters.incr("tcp.drop.app_callback_error")
                _log.exception("on_accept callback of %r raised", self)

    def accept(self) -> TcpStream | None:
        conn = self.listener.accept()
        return None if conn is None else TcpStream(self.layer, conn)

    def close(self, now: float | None = None) -> None:
        self.listener.close(self.layer.clock() if now is None else now)

    def __repr__(self) -> str:
        return f"<TcpServer port {self.port} pending={self.pending}>"
