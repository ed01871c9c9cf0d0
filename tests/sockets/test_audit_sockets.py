"""Audit additions for the socket API on the simulated network (no root): option value ranges bound the
buffers as Linux does, connect_ex is shared by TCP and UDP, and the methods the issue lists that no other
test calls (recv_into, recvfrom/sendto on TCP, getsockname/getpeername pairs, poll)."""

from __future__ import annotations

import errno
import select
import socket

import pytest

from netstack.sockets.options import MAX_BUFFER, MIN_BUFFER
from test_sockets_sim import net  # noqa: F401  (the fixture: stacks a and b on one simulated link)

A_IP, B_IP = "192.0.2.2", "192.0.2.3"


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM])
def test_buffer_sizes_are_clamped_like_linux(net, kind):
    sock = net.a.socket(socket.AF_INET, kind)
    cases = [(1, MIN_BUFFER), (8192, 8192), (2**31 - 1, MAX_BUFFER), (-1, MAX_BUFFER)]
    for value, expected in cases:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, value)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == expected, value
    before = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    with pytest.raises(TypeError):  # the stdlib's answer for an int that is no C int
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2**40)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == before
    sock.close()


def test_send_buffer_is_clamped_and_stream_window_stays_bounded(net):
    sock = net.a.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2**31 - 1)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == MAX_BUFFER
    sock.close()


def test_connect_ex_returns_errno_for_tcp_and_udp(net):
    tcp = net.a.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.settimeout(5)
    assert tcp.connect_ex((B_IP, 4444)) == errno.ECONNREFUSED
    tcp.close()
    udp = net.a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    assert udp.connect_ex((B_IP, 5000)) == 0
    assert udp.getpeername() == (B_IP, 5000)
    udp.close()
    assert udp.connect_ex((B_IP, 5000)) == errno.EBADF  # CPython's connect_ex returns it, too


def test_recv_into_recvfrom_sendto_and_poll_on_a_stream(net):
    server = net.b.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("", 8080))
    server.listen()
    server.settimeout(5)
    client = net.a.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(5)
    assert client.connect_ex((B_IP, 8080)) == 0
    conn, address = server.accept()
    conn.settimeout(5)
    assert address == client.getsockname() == conn.getpeername()
    assert client.getpeername() == conn.getsockname() == (B_IP, 8080)
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    assert poller.poll(0) == []  # nothing to read yet
    client.sendto(b"hello", (B_IP, 8080))  # TCP ignores the address, as the kernel does
    buffer = bytearray(16)
    assert conn.recv_into(buffer, 3) == 3 and bytes(buffer[:3]) == b"hel"
    assert [fd for fd, _ in poller.poll(0)] == [conn.fileno()]  # two bytes still wait
    assert conn.recvfrom(10) == (b"lo", None)  # the kernel gives no address for TCP either
    assert poller.poll(0) == []
    for sock in (client, conn, server):
        sock.close()


def _connected(net, port):
    server = net.b.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("", port))
    server.listen()
    server.settimeout(5)
    client = net.a.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(5)
    client.connect((B_IP, port))
    conn, _ = server.accept()
    conn.settimeout(5)
    return server, client, conn


def test_bad_arguments_raise_what_the_stdlib_raises_before_reading(net):
    """A read-only or too small buffer is refused before any byte is taken from the stream (the bytes
    would be lost otherwise), with the stdlib's exception types for every malformed argument."""
    server, client, conn = _connected(net, 8081)
    kernel = socket.socket()
    try:
        client.sendall(b"precious")
        for sock in (conn, kernel):
            with pytest.raises(TypeError):
                sock.recv_into(b"read-only")
            with pytest.raises(ValueError):
                sock.recv_into(bytearray(2), 10)
            with pytest.raises(ValueError):
                sock.recvfrom_into(bytearray(2), 10)
            with pytest.raises(TypeError):
                sock.settimeout("1")
            with pytest.raises(TypeError):
                sock.shutdown("x")
            with pytest.raises(TypeError):
                sock.listen("a")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE, 0) == socket.SOCK_STREAM
            with pytest.raises(OSError):
                sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE, -1)
        buffer = bytearray(8)
        assert conn.recv_into(buffer) == 8 and bytes(buffer) == b"precious"  # nothing was lost
    finally:
        kernel.close()
        for sock in (client, conn, server):
            sock.close()


def test_udp_recvfrom_into_checks_its_buffer_first(net):
    receiver = net.b.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("", 5001))
    receiver.settimeout(5)
    sender = net.a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.sendto(b"datagram", (B_IP, 5001))
    with pytest.raises(TypeError):
        receiver.recvfrom_into(b"read-only")
    with pytest.raises(ValueError):
        receiver.recvfrom_into(bytearray(2), 10)
    buffer = bytearray(16)
    assert receiver.recvfrom_into(buffer) == (8, (A_IP, sender.getsockname()[1]))
    assert bytes(buffer[:8]) == b"datagram"
    sender.close()
    receiver.close()
