"""What the sockets need from a driver, for the TAP driver (real time) and the simulator (virtual time).

``SocketHost.for_driver(driver)`` returns the one ``SocketHost`` of a ``RunningStack`` or a ``SimHost``
(kept in a weak dictionary, so the driver's classes need no new attribute). It holds the per-stack
state of the socket layer: the TCP transport (attached on first use), the table of bound TCP ports
(``bind`` needs it: the transport only knows listeners and connections) and the sockets whose
readiness must be recomputed.

Threads: every call into the stack runs on the stack's thread through ``driver.call``. Readiness
changes the transport reports (``TcpConnection.wakeup``, ``TcpListener.on_accept``, a UDP datagram)
mark the socket *dirty*; one timer due at once (``stack.timers``) recomputes every dirty socket's fd
right after the event that changed it, on the stack's thread, when the transport's state is final.

Waiting: ``wait(predicate, ready_fd, want, deadline)`` blocks the caller. On a TAP the caller's thread
sleeps in ``poll(2)`` on the socket's fd (woken by the stack's thread) until the deadline of
``settimeout``. In the simulator nothing runs unless someone runs it, so a blocking call *runs the
simulated network* (``Network.step``) until the socket is ready or the virtual deadline passes: a
``recv`` with a 5 s timeout on an idle simulated link returns after 5 virtual seconds, in microseconds.
A blocking call with no timeout on a simulated network with no event left would wait forever: it
raises ``RuntimeError`` instead.
"""

from __future__ import annotations

import select
import time
import weakref

from netstack.engine.tcp.layer import TcpLayer
from netstack.formats.fast import IP_PROTOCOL_TCP

_HOSTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class SocketHost:
    """The socket layer's state for one driver (see the module docstring)."""

    def __init__(self, driver):
        # Weak references: the table of hosts is keyed weakly by the driver, so nothing here may keep
        # the driver (or the simulated network holding it) alive.
        self._driver = weakref.ref(driver)
        self.stack = driver.stack
        network = getattr(driver, "network", None)  # set for a simulated host
        self._network = None if network is None else weakref.ref(network)
        self.simulated = network is not None
        self.tcp: TcpLayer = driver.call(self._tcp_layer)
        self.bound_tcp: dict[int, set] = {}  # port -> sockets bound to it (not closed)
        self._dirty: set = set()
        self._flush_timer = None
        self._next_port = 0

    @property
    def driver(self):
        driver = self._driver()
        if driver is None:
            raise RuntimeError("the stack this socket belonged to is gone")
        return driver

    @property
    def network(self):
        return None if self._network is None else self._network()

    @classmethod
    def for_driver(cls, driver) -> "SocketHost":
        host = _HOSTS.get(driver)
        if host is None:
            host = _HOSTS[driver] = cls(driver)
        return host

    def _tcp_layer(self) -> TcpLayer:
        layer = self.stack.transport(IP_PROTOCOL_TCP)
        if layer is None:
            layer = TcpLayer.attach(self.stack, clock=self.clock)
        return layer

    # ------------------------------------------------------------------ clock and calls
    def clock(self) -> float:
        return self.driver.clock()

    def call(self, function, *args):
        return self.driver.call(function, *args)

    # ------------------------------------------------------------------ readiness
    def mark_dirty(self, sock) -> None:
        """Called on the stack's thread when the transport reports a change for ``sock``."""
        self._dirty.add(sock)
        if self._flush_timer is None or not self._flush_timer.active:
            self._flush_timer = self.stack.timers.schedule(self.stack.now, self._flush)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for sock in dirty:
            sock._refresh()

    def wait(self, predicate, fd: int | None, want_write: bool, deadline: float | None) -> bool:
        """Block until the socket may be ready; False when ``deadline`` passed first.

        On a TAP, with ``fd``: sleep in ``poll(2)`` on it; the operation that just raised
        ``BlockingIOError`` refreshed the fd on the stack's thread, so the fd is exact and the caller
        simply retries when it fires. Without ``fd``: poll ``predicate()`` (on the stack's thread)
        every 5 ms. In the simulator: run the network until ``predicate()`` holds. ``deadline`` is on
        this host's clock (virtual in the simulator)."""
        if self.simulated:
            return self._run_simulation(predicate, deadline)
        if fd is None:
            while not self.driver.call(predicate):
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                time.sleep(0.005)
            return True
        poller = select.poll()
        poller.register(fd, select.POLLOUT if want_write else select.POLLIN)
        while True:
            if deadline is None:
                timeout_ms = None
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                timeout_ms = max(1, remaining * 1000.0)
            if poller.poll(timeout_ms):
                return True

    def _run_simulation(self, predicate, deadline: float | None) -> bool:
        network = self.network
        while True:
            if predicate():
                return True
            events = network._events
            if not events or (deadline is not None and events[0][0] > deadline):
                if deadline is None:
                    raise RuntimeError("a blocking socket call would wait forever: the simulated network "
                                       "has nothing left to do (set a timeout, or make the peer act)")
                if network.clock < deadline:
                    network.clock = deadline
                return bool(predicate())
            network.step()

    # ------------------------------------------------------------------ ports
    def port_in_use(self, port: int, address: bytes | None, reuse: bool, exclude=None) -> bool:
        """Would binding ``port`` clash (Linux inet_csk_bind_conflict, simplified)?"""
        for other in self.bound_tcp.get(port, ()):
            if other is exclude:
                continue
            if not (reuse and other._reuse_address and not other._listening):
                return True
        layer = self.tcp
        if (None, port) in layer.listeners or any(key[1] == port for key in layer.listeners):
            return True
        if reuse:
            return False  # SO_REUSEADDR: connections (TIME-WAIT, or a closed server's) do not block it
        return any(conn.local_port == port and not conn.dead for conn in layer.connections.values())

    def ephemeral_port(self, reuse: bool) -> int:
        """bind() to port 0: the next free port of the TCP layer's range (``TcpConfig.ephemeral_ports``;
        connect() without bind() lets the layer choose per RFC 6056 instead)."""
        first, last = self.tcp.config.ephemeral_ports
        span = last - first + 1
        for i in range(span):
            port = first + (self._next_port + i) % span
            if not self.port_in_use(port, None, False):
                self._next_port = (self._next_port + i + 1) % span
                return port
        raise OSError(98, "no free ephemeral port")

    def register_port(self, port: int, sock) -> None:
        self.bound_tcp.setdefault(port, set()).add(sock)

    def release_port(self, port: int, sock) -> None:
        holders = self.bound_tcp.get(port)
        if holders is not None:
            holders.discard(sock)
            if not holders:
                del self.bound_tcp[port]
