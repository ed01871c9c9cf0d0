"""``NetstackSocket``: what every netstack socket shares with ``socket.socket``.

Timeouts follow the standard library exactly: ``settimeout(None)`` blocks, ``settimeout(0)`` (or
``setblocking(False)``) raises ``BlockingIOError`` (EAGAIN, EINPROGRESS for ``connect``) where the
kernel would, ``settimeout(t)`` raises ``TimeoutError("timed out")`` after ``t`` seconds — real
seconds on a TAP, virtual seconds in the simulator (see ``netstack.sockets.host``). The default is
``socket.getdefaulttimeout()``, and ``SOCK_NONBLOCK`` in the type makes a socket non-blocking.

A closed socket has ``fileno() == -1`` and every call raises ``OSError(EBADF)``. ``makefile`` returns
the standard library's buffered/text wrappers over ``socket.SocketIO``, and ``close`` waits for them
to be closed as ``socket.socket.close`` does.

Each operation is one function run on the stack's thread (``_call``): it raises ``BlockingIOError``
when it would block, and the caller's thread waits on the socket's readiness fd and retries.
"""

from __future__ import annotations

import errno as errnos
import io
import operator
import os
import socket as stdlib_socket

from netstack.sockets.readiness import ReadinessFd

SOCK_FLAGS = getattr(stdlib_socket, "SOCK_NONBLOCK", 0) | getattr(stdlib_socket, "SOCK_CLOEXEC", 0)


def os_error(code: int, detail: str = "") -> OSError:
    """``OSError`` with the kernel's message; ``OSError`` picks the subclass (ConnectionResetError...)."""
    return OSError(code, os.strerror(code) + (f" ({detail})" if detail else ""))


def would_block(code: int = errnos.EAGAIN) -> BlockingIOError:
    return BlockingIOError(code, os.strerror(code))


def receive_view(buffer, nbytes: int, name: str) -> memoryview:
    """The writable byte view ``recv_into``/``recvfrom_into`` fill, checked before anything is read
    (a read-only buffer found after the stack handed over the bytes would lose them)."""
    view = memoryview(buffer)
    if view.readonly:
        raise TypeError(f"{name}() argument 1 must be read-write bytes-like object, not {type(buffer).__name__}")
    view = view.cast("B")
    nbytes = operator.index(nbytes)
    if nbytes < 0:
        raise ValueError(f"negative buffersize in {name}")
    if nbytes > len(view):
        raise ValueError("buffer too small for requested bytes" if name == "recv_into"
                         else "nbytes is greater than the length of the buffer")
    return view[:nbytes] if nbytes else view


def shutdown_how(how) -> int:
    """``shutdown``'s argument: an int (TypeError otherwise, as the stdlib), one of SHUT_* (else EINVAL)."""
    how = operator.index(how)
    if how not in (stdlib_socket.SHUT_RD, stdlib_socket.SHUT_WR, stdlib_socket.SHUT_RDWR):
        raise os_error(errnos.EINVAL)
    return how


class NetstackSocket:
    """Base of ``StreamSocket`` (TCP) and ``DatagramSocket`` (UDP)."""

    def __init__(self, host, family: int, type: int, proto: int = 0):
        self._host = host
        self.family = stdlib_socket.AddressFamily(family)
        self.type = stdlib_socket.SocketKind(type & ~SOCK_FLAGS)
        self.proto = proto
        self._timeout = stdlib_socket.getdefaulttimeout()
        if type & getattr(stdlib_socket, "SOCK_NONBLOCK", 0):
            self._timeout = 0.0
        self._ready = ReadinessFd()
        self._closed = False
        self._real_closed = False
        self._io_refs = 0

    # ------------------------------------------------------------------ blocking and timeouts
    def settimeout(self, value: float | None) -> None:
        if value is not None:
            if isinstance(value, (str, bytes, bytearray)):
                raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
            value = float(value)
            if value < 0.0:
                raise ValueError("Timeout value out of range")
        self._timeout = value

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    @property
    def timeout(self) -> float | None:
        return self._timeout

    def fileno(self) -> int:
        return -1 if self._real_closed else self._ready.fileno()

    def connect_ex(self, address) -> int:
        """``connect`` returning the errno instead of raising it (0 on success), as ``socket.connect_ex``."""
        try:
            self.connect(address)
        except TimeoutError as error:
            if error.errno is None:
                return errnos.EWOULDBLOCK  # what CPython's connect_ex returns on a timeout
            return error.errno
        except OSError as error:
            if error.errno is None:
                raise
            return error.errno
        return 0

    def _check_open(self) -> None:
        if self._closed:
            raise os_error(errnos.EBADF)

    def _call(self, operation, *args):
        """Run ``operation`` on the stack's thread, then bring the readiness fd up to date."""
        return self._host.call(self._run_and_refresh, operation, args)

    def _run_and_refresh(self, operation, args):
        try:
            return operation(*args)
        finally:
            self._refresh()

    def _blocking(self, operation, *args, want_write: bool = False, nonblocking: bool = False,
                  deadline: float | None = None):
        """``operation`` until it stops raising ``BlockingIOError``, within the socket's timeout
        (or until ``deadline``, on the host's clock, when a caller spreads one timeout over calls)."""
        self._check_open()
        timeout = 0.0 if nonblocking else self._timeout
        if deadline is None:
            deadline = None if timeout is None else self._host.clock() + timeout
        while True:
            try:
                return self._call(operation, *args)
            except BlockingIOError:
                if timeout == 0.0:
                    raise
            if not self._wait(want_write, deadline):
                raise TimeoutError("timed out")
            self._check_open()

    def _wait(self, want_write: bool, deadline: float | None) -> bool:
        return self._host.wait(lambda: self._ready_for(want_write), self.fileno(), want_write, deadline)

    def _ready_for(self, want_write: bool) -> bool:
        readable, writable = self._readiness()
        return writable if want_write else readable

    def _refresh(self) -> None:
        """Recompute readiness (on the stack's thread) and mirror it on the fd."""
        if self._real_closed:
            return
        readable, writable = self._readiness()
        self._ready.set(readable, writable)

    def _readiness(self) -> tuple[bool, bool]:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._io_refs <= 0:
            self._real_close()

    def _real_close(self) -> None:
        if self._real_closed:
            return
        try:
            self._host.call(self._release)
        except RuntimeError:
            pass  # the stack already stopped (``run_tap`` exited): nothing is left to release
        finally:
            self._real_closed = True
            self._ready.close()

    def _release(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def detach(self) -> int:
        raise os_error(errnos.EOPNOTSUPP, "a netstack socket has no kernel socket to detach")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            if not self._real_closed:
                self._closed = True
                self._io_refs = 0
                self._real_close()
        except Exception:
            pass

    # ------------------------------------------------------------------ files (as socket.socket)
    def makefile(self, mode="r", buffering=None, *, encoding=None, errors=None, newline=None):
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        writing = "w" in mode
        reading = "r" in mode or not writing
        rawmode = ("r" if reading else "") + ("w" if writing else "")
        raw = stdlib_socket.SocketIO(self, rawmode)
        self._io_refs += 1
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if "b" not in mode:
                raise ValueError("unbuffered streams must be binary")
            return raw
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if "b" in mode:
            return buffer
        text = io.TextIOWrapper(buffer, encoding, errors, newline)
        text.mode = mode
        return text

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._real_close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self.fileno()}"
        return (f"<netstack socket {state}, family={self.family!s}, type={self.type!s}, "
                f"laddr={self._describe_local()}>")

    def _describe_local(self):
        try:
            return self.getsockname()
        except OSError:
            return None
