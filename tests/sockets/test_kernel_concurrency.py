"""netstack sockets against kernel peers: non-blocking connect, SO_ERROR, and hundreds of clients.

Kernel clients run their own asyncio loop on a thread inside the test's namespace
(``call_in_namespace``), so all 200 connect at once; netstack's servers run on the test's side.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import importlib.util
import pathlib
import random
import select
import selectors
import socket
import threading

import pytest

import netstack.aio
from netstack.drivers.netns import call_in_namespace

from tests.support.kernel_peers import HOST_IP, STACK_IP

pytestmark = pytest.mark.netns
CLIENTS = 200
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _payload(number: int) -> bytes:
    rng = random.Random(number)
    return rng.randbytes(rng.randrange(1, 48 * 1024))


async def _kernel_echo_client(number: int, port: int) -> bool:
    """Send a payload in pieces, half-close, read everything back; True when identical."""
    payload = _payload(number)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(STACK_IP, port), 20)
    for start in range(0, len(payload), 7000):
        writer.write(payload[start:start + 7000])
        await writer.drain()
    writer.write_eof()
    echoed = await asyncio.wait_for(reader.read(), 60)
    writer.close()
    return hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()


def _kernel_clients(ns, port: int) -> list[bool]:
    async def all_clients():
        return await asyncio.gather(*(_kernel_echo_client(n, port) for n in range(CLIENTS)))

    return call_in_namespace(ns.name, asyncio.run, all_clients())


def test_nonblocking_connect_completes_through_select_writability(kernel_session):
    ns, running = kernel_session
    with ns.socket() as listener:
        listener.bind((HOST_IP, 0))
        listener.listen()
        listener.settimeout(5)
        with running.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError) as raised:
                sock.connect((HOST_IP, listener.getsockname()[1]))
            assert raised.value.errno == errno.EINPROGRESS
            _, writable, _ = select.select([], [sock], [], 5)
            assert writable == [sock]
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            peer, address = listener.accept()
            with peer:
                assert address == sock.getsockname()
                assert sock.getpeername() == (HOST_IP, listener.getsockname()[1])
                assert sock.send(b"ping") == 4
                peer.settimeout(5)
                assert peer.recv(10) == b"ping"


def test_so_error_reports_refusal_after_poll(kernel_session):
    _, running = kernel_session
    with running.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        assert sock.connect_ex((HOST_IP, 4445)) == errno.EINPROGRESS
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        assert poller.poll(5000), "refusal must make the socket writable"
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


def test_200_concurrent_kernel_asyncio_clients_against_netstack_asyncio_server(kernel_session):
    ns, running = kernel_session
    spec = importlib.util.spec_from_file_location("asyncio_server_example", EXAMPLES / "asyncio_server.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    async def scenario():
        server = await example.serve(running, 7100)
        try:
            return await asyncio.to_thread(_kernel_clients, ns, 7100)
        finally:
            server.close()
            await server.wait_closed()

    results = asyncio.run(scenario())
    assert len(results) == CLIENTS and all(results)


def test_200_concurrent_netstack_asyncio_clients_against_a_kernel_server(kernel_session):
    ns, running = kernel_session

    async def echo(reader, writer):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server_ready = threading.Event()
    stop = {}

    def kernel_server():
        async def main():
            server = await asyncio.start_server(echo, HOST_IP, 7200, backlog=512)
            loop = asyncio.get_running_loop()
            stop["event"] = asyncio.Event()
            stop["loop"] = loop
            server_ready.set()
            await stop["event"].wait()
            server.close()
            await server.wait_closed()

        call_in_namespace(ns.name, asyncio.run, main())

    thread = threading.Thread(target=kernel_server)
    thread.start()
    try:
        assert server_ready.wait(10)

        async def client(number):
            payload = _payload(number + 1000)
            reader, writer = await netstack.aio.open_connection(running, HOST_IP, 7200)
            writer.write(payload)
            await writer.drain()
            writer.write_eof()
            echoed = await asyncio.wait_for(reader.read(), 60)
            writer.close()
            await writer.wait_closed()
            return echoed == payload

        async def all_clients():
            return await asyncio.gather(*(client(n) for n in range(CLIENTS)))

        results = asyncio.run(all_clients())
    finally:
        if "loop" in stop:
            stop["loop"].call_soon_threadsafe(stop["event"].set)
        thread.join(30)
    assert len(results) == CLIENTS and all(results)


class SelectorsEchoServer:
    """A single-threaded selectors echo server on netstack sockets (the standard pattern)."""

    def __init__(self, stack, port):
        self.selector = selectors.DefaultSelector()
        self.listener = stack.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("", port))
        self.listener.listen(256)
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.pending = {}
        self.served = 0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            for key, events in self.selector.select(0.1):
                sock = key.fileobj
                if sock is self.listener:
                    try:
                        conn, _ = sock.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    self.pending[conn] = bytearray()
                    self.selector.register(conn, selectors.EVENT_READ)
                    continue
                if events & selectors.EVENT_READ:
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        data = None
                    if data == b"":
                        if self.pending[sock]:
                            # peer half-closed: finish echoing, then close
                            self.selector.modify(sock, selectors.EVENT_WRITE, data="closing")
                        else:
                            self._close(sock)
                        continue
                    if data:
                        self.pending[sock] += data
                if sock in self.pending and self.pending[sock]:
                    try:
                        sent = sock.send(self.pending[sock])
                        del self.pending[sock][:sent]
                    except BlockingIOError:
                        pass
                    mask = selectors.EVENT_WRITE if self.pending[sock] else selectors.EVENT_READ
                    if key.data == "closing" and not self.pending[sock]:
                        self._close(sock)
                        continue
                    if key.data != "closing":
                        mask |= selectors.EVENT_READ
                    self.selector.modify(sock, mask, data=key.data)
        for sock in list(self.pending):
            self._close(sock)
        self.selector.unregister(self.listener)
        self.listener.close()

    def _close(self, sock):
        self.selector.unregister(sock)
        del self.pending[sock]
        sock.close()
        self.served += 1


def test_netstack_selectors_server_against_200_kernel_clients(kernel_session):
    ns, running = kernel_session
    server = SelectorsEchoServer(running, 7300)
    stop = threading.Event()
    thread = threading.Thread(target=server.run, args=(stop,))
    thread.start()
    try:
        results = _kernel_clients(ns, 7300)
    finally:
        stop.set()
        thread.join(10)
    assert len(results) == CLIENTS and all(results)
    assert server.served == CLIENTS


def test_udp_datagrams_with_a_kernel_peer(kernel_session):
    ns, running = kernel_session
    with ns.socket(socket.AF_INET, socket.SOCK_DGRAM) as kernel, \
            running.socket(socket.AF_INET, socket.SOCK_DGRAM) as ours:
        kernel.bind((HOST_IP, 0))
        kernel.settimeout(5)
        ours.settimeout(5)
        ours.bind(("", 0))
        for size in (1, 1472, 8000):  # 8000: fragmented both ways
            payload = bytes(random.Random(size).randbytes(size))
            assert ours.sendto(payload, kernel.getsockname()) == size
            data, address = kernel.recvfrom(65536)
            assert data == payload and address == (STACK_IP, ours.getsockname()[1])
            kernel.sendto(data[::-1], address)
            assert ours.recvfrom(65536) == (payload[::-1], kernel.getsockname())


def test_asyncio_low_level_socket_calls_work_on_netstack_sockets(kernel_session):
    """loop.sock_accept / sock_recv / sock_sendall poll our fd like a kernel socket's."""
    ns, running = kernel_session

    async def scenario():
        loop = asyncio.get_running_loop()
        listener = running.socket()
        listener.bind(("", 7400))
        listener.listen()
        listener.setblocking(False)
        kernel = ns.socket()
        kernel.setblocking(False)
        connecting = loop.sock_connect(kernel, (STACK_IP, 7400))
        (conn, address), _ = await asyncio.gather(loop.sock_accept(listener), connecting)
        conn.setblocking(False)
        await loop.sock_sendall(kernel, b"x" * 300_000)
        received = bytearray()
        while len(received) < 300_000:
            received += await loop.sock_recv(conn, 65536)
        await loop.sock_sendall(conn, bytes(received))
        echoed = bytearray()
        while len(echoed) < 300_000:
            echoed += await loop.sock_recv(kernel, 65536)
        for sock in (conn, listener, kernel):
            sock.close()
        return address, bytes(echoed)

    address, echoed = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert address[0] == HOST_IP and echoed == b"x" * 300_000
