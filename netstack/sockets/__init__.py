"""BSD-like sockets on netstack: ``socket.socket``'s methods, the kernel's errno, real file descriptors.

::

    import socket
    with netstack.run_tap(ip="192.0.2.2/24", host_ip="192.0.2.1/24") as stack:   # or a netstack.drivers.sim host
        with stack.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
            server.bind(("", 8080))
            server.listen()
            conn, peer = server.accept()

Modules, one concern each:

- ``readiness``  the fd pair that makes every socket pollable (select/poll/selectors/asyncio)
- ``host``       the per-driver state: TCP layer, bound ports, blocking waits in real or virtual time
- ``netsocket``  ``NetstackSocket``: timeouts, close, makefile, the call-on-the-stack-thread pattern
- ``stream``     ``StreamSocket``: SOCK_STREAM over ``netstack.engine.tcp``
- ``datagram``   ``DatagramSocket``: SOCK_DGRAM over ``netstack.engine.udp``
- ``options``    setsockopt/getsockopt constants, TCP_INFO packing; ``stream_options`` the TCP option calls

``netstack.sockets.aio`` builds asyncio's ``open_connection``/``start_server`` on these sockets; docs/sockets.md
has the option and errno tables and what differs from the kernel.
"""

from __future__ import annotations

import errno as errnos
import socket as stdlib_socket

from netstack.sockets.datagram import DatagramSocket
from netstack.sockets.host import SocketHost
from netstack.sockets.netsocket import SOCK_FLAGS, NetstackSocket, os_error
from netstack.sockets.stream import StreamSocket


def socket_for(driver, family: int = stdlib_socket.AF_INET, type: int = stdlib_socket.SOCK_STREAM,
               proto: int = 0) -> NetstackSocket:
    """A new socket on the stack ``driver`` runs (a ``RunningStack`` or a ``netstack.drivers.sim`` host)."""
    if family != stdlib_socket.AF_INET:
        raise os_error(errnos.EAFNOSUPPORT, "netstack speaks IPv4 only (AF_INET)")
    kind = type & ~SOCK_FLAGS
    host = SocketHost.for_driver(driver)
    if kind == stdlib_socket.SOCK_STREAM and proto in (0, stdlib_socket.IPPROTO_TCP):
        return StreamSocket(host, family, type, proto)
    if kind == stdlib_socket.SOCK_DGRAM and proto in (0, stdlib_socket.IPPROTO_UDP):
        return DatagramSocket(host, family, type, proto)
    if kind in (stdlib_socket.SOCK_STREAM, stdlib_socket.SOCK_DGRAM):
        raise os_error(errnos.EPROTONOSUPPORT)
    raise os_error(errnos.ESOCKTNOSUPPORT, "netstack offers SOCK_STREAM and SOCK_DGRAM")


__all__ = ["DatagramSocket", "NetstackSocket", "SocketHost", "StreamSocket", "socket_for"]
