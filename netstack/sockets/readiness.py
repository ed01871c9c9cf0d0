"""A real file descriptor that is readable and writable exactly when a netstack socket is.

Each netstack socket owns one ``socketpair(AF_UNIX, SOCK_DGRAM)``: the application sees the *user*
end's fd (``sock.fileno()``), the stack's thread drives it through the *signal* end:

- readable: one datagram waits in the user end's receive queue (sent from the signal end);
  not readable: the user end's queue is drained again.
- writable: the Linux ``unix_dgram_poll`` reports a datagram socket writable while the bytes it sent
  and that are not yet read (``sk_wmem_alloc``) stay within a quarter of its ``SO_SNDBUF``. Not
  writable: the user end sends tiny datagrams to the signal end until the kernel says EAGAIN;
  writable again: the signal end reads them all.

So ``select``, ``poll``, ``epoll``, ``selectors`` and asyncio's loop see the netstack socket's
readiness unchanged, with no thread per socket. Only the stack's thread calls ``set`` (a lock makes
it safe anyway); a change costs a few system calls, no change costs nothing.
"""

from __future__ import annotations

import socket as stdlib_socket
import threading


class ReadinessFd:
    """The fd pair of one socket; ``fileno()`` is the fd the application polls."""

    __slots__ = ("_user", "_signal", "_lock", "readable", "writable")

    def __init__(self):
        self._user, self._signal = stdlib_socket.socketpair(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_DGRAM)
        for end in (self._user, self._signal):
            end.setblocking(False)
            # The smallest send buffer: filling it takes a handful of datagrams.
            end.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_SNDBUF, 1)
        self._lock = threading.Lock()
        self.readable = False
        self.writable = True

    def fileno(self) -> int:
        return self._user.fileno()

    def set(self, readable: bool, writable: bool) -> None:
        """Make the user fd's readiness equal to (``readable``, ``writable``)."""
        if readable == self.readable and writable == self.writable:
            return
        with self._lock:
            if self._user.fileno() < 0:
                return
            if readable != self.readable:
                if readable:
                    self._signal.send(b"r")
                else:
                    _drain(self._user)
                self.readable = readable
            if writable != self.writable:
                if writable:
                    _drain(self._signal)
                else:
                    try:
                        while True:
                            self._user.send(b"w")
                    except BlockingIOError:
                        pass
                self.writable = writable

    def close(self) -> None:
        with self._lock:
            self._user.close()
            self._signal.close()


def _drain(end) -> None:
    try:
        while True:
            end.recv(16)
    except BlockingIOError:
        pass
