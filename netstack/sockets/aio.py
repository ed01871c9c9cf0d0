"""asyncio over netstack: ``open_connection`` and ``start_server`` returning the standard streams.

::

    reader, writer = await netstack.sockets.aio.open_connection(stack, "192.0.2.1", 80)
    server = await netstack.sockets.aio.start_server(handle, stack, "", 8080)   # handle(reader, writer)

They are ``asyncio.open_connection``/``asyncio.start_server`` with the stack as first argument: the
socket is a netstack socket (``stack.socket(...)``), non-blocking, handed to the running loop with
``sock=``. Its ``fileno()`` is a real fd that is readable and writable exactly when the netstack
socket is (``netstack.sockets.readiness``), so asyncio's selector loop drives it unchanged: the
returned ``asyncio.StreamReader``/``StreamWriter`` and ``asyncio.Server`` are the standard ones.
``stack`` is a ``RunningStack`` from ``netstack.run_tap`` (the loop runs in another thread than the
stack). A simulated host only advances when someone runs its network, which an asyncio loop does
not: use blocking sockets in the simulator.
"""

from __future__ import annotations

import asyncio
import socket as stdlib_socket

DEFAULT_LIMIT = 2 ** 16  # asyncio.streams._DEFAULT_LIMIT


async def open_connection(stack, host: str, port: int, *, limit: int = DEFAULT_LIMIT, local_port: int = 0,
                          **kwargs):
    """Connect to ``host:port`` from ``stack``; returns ``(asyncio.StreamReader, asyncio.StreamWriter)``."""
    loop = asyncio.get_running_loop()
    sock = stack.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if local_port:
            sock.bind(("", local_port))
        await loop.sock_connect(sock, (host, port))  # EINPROGRESS, writability, then SO_ERROR
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, limit=limit, **kwargs)


async def start_server(client_connected_cb, stack, host: str | None = None, port: int = 0, *,
                       limit: int = DEFAULT_LIMIT, backlog: int = 100, reuse_address: bool = True, **kwargs):
    """Listen on ``host:port`` of ``stack``; ``client_connected_cb(reader, writer)`` per connection.

    Returns the standard ``asyncio.Server`` (``serve_forever``, ``close``, ``wait_closed``, ``sockets``).
    """
    sock = stack.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM)
    try:
        if reuse_address:
            sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 1)
        sock.bind((host or "", port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return await asyncio.start_server(client_connected_cb, sock=sock, limit=limit, backlog=backlog, **kwargs)


__all__ = ["open_connection", "start_server"]
