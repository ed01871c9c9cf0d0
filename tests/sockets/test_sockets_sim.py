"""netstack sockets on the simulated network: API semantics, errno, options, readiness, virtual time.

No root needed: two stacks on a ``netstack.sim`` link; blocking calls run the simulated network. Option
values are clamped as Linux clamps them, connect_ex is shared by TCP and UDP, and the less-used calls
(recv_into, recvfrom/sendto on TCP, getsockname/getpeername pairs, poll) behave as the kernel's do.
"""

from __future__ import annotations

import errno
import select
import socket
import struct

import pytest

from netstack.sockets.options import MAX_BUFFER, MIN_BUFFER, TCP_INFO_LAYOUT

from tests.support.sim_hosts import socket_hosts

A_IP, B_IP = "192.0.2.2", "192.0.2.3"


@pytest.fixture
def net():
    return socket_hosts(seed=3, a_ip=A_IP, b_ip=B_IP)


def _pair(net, port=8080, client_options=()):
    server = net.b.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("", port))
    server.listen()
    client = net.a.socket(socket.AF_INET, socket.SOCK_STREAM)
    for level, name, value in client_options:
        client.setsockopt(level, name, value)
    client.settimeout(10)
    client.connect((B_IP, port))
    server.settimeout(10)
    conn, address = server.accept()
    assert address == client.getsockname()
    return server, client, conn


def test_stream_round_trip_and_orderly_close(net):
    server, client, conn = _pair(net)
    payload = bytes(range(256)) * 2000
    client.sendall(payload)
    client.shutdown(socket.SHUT_WR)
    received = bytearray()
    while chunk := conn.recv(65536):
        received += chunk
    assert received == payload
    conn.sendall(b"bye")
    conn.close()
    assert client.recv(10) == b"bye"
    assert client.recv(10) == b""
    client.close()
    server.close()
    assert client.fileno() == -1


def test_blocking_recv_timeout_advances_virtual_time_only(net):
    _, client, _ = _pair(net)
    client.settimeout(5.0)
    start = net.clock
    with pytest.raises(TimeoutError) as raised:
        client.recv(10)
    assert raised.value.errno is None  # socket.timeout, as the stdlib
    assert net.clock == pytest.approx(start + 5.0)


def test_blocking_call_that_can_never_complete_says_so(net):
    _, client, _ = _pair(net)
    client.settimeout(None)
    net.run(1000)  # let every timer (delayed ACKs) finish
    with pytest.raises(RuntimeError, match="wait forever"):
        client.recv(10)


def test_connect_to_a_host_that_never_answers_is_unreachable(net):
    net.ab.loss = 1.0
    client = net.a.socket()
    client.settimeout(None)
    start = net.clock
    with pytest.raises(OSError) as raised:
        client.connect((B_IP, 80))
    assert raised.value.errno == errno.EHOSTUNREACH  # ARP gave up, as Linux's neighbour does
    # b's gratuitous ARP made the entry STALE: DELAY 5 s, 3 unicast probes (FAILED at 9 s), resolved
    # again for the SYN at once, 3 requests: EHOSTUNREACH at ~12 s (tests/engine/tcp/test_tcp_unreachable.py)
    assert 2.0 < net.clock - start < 13.0


def test_data_that_is_never_acknowledged_ends_in_etimedout(net):
    _, client, _ = _pair(net)
    net.ab.loss = 1.0
    client.sendall(b"lost")
    client.settimeout(None)
    start = net.clock
    with pytest.raises(TimeoutError) as raised:
        client.recv(10)
    assert raised.value.errno == errno.ETIMEDOUT  # the retransmission limit, not a socket timeout
    assert net.clock - start > 60.0  # virtual seconds of backed-off retransmissions


def test_connect_refused_and_connect_ex(net):
    client = net.a.socket()
    client.settimeout(5)
    with pytest.raises(ConnectionRefusedError):
        client.connect((B_IP, 9))
    other = net.a.socket()
    assert other.connect_ex((B_IP, 9)) == errno.ECONNREFUSED


def test_linger_zero_resets_the_peer(net):
    _, client, conn = _pair(net)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert struct.unpack("ii", client.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)) == (1, 0)
    resets = net.b.stack.counters.get("tcp.resets_received", 0)
    client.close()
    with pytest.raises(ConnectionResetError):
        conn.recv(10)
    assert net.b.stack.counters.get("tcp.resets_received", 0) == resets + 1
    assert conn.recv(10) == b""  # the error is reported once


def test_readiness_fd_follows_the_socket(net):
    _, client, conn = _pair(net)
    assert select.select([conn], [], [], 0)[0] == []
    assert select.select([], [conn], [], 0)[1] == [conn]
    client.send(b"x")
    assert select.select([conn], [], [], 0)[0] == []  # still on the (virtual) wire
    net.run(0.01)
    assert select.select([conn], [], [], 0)[0] == [conn]
    assert conn.recv(10) == b"x"
    assert select.select([conn], [], [], 0)[0] == []
    # a full send buffer (the peer does not read) makes the fd unwritable
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        while True:
            client.send(b"y" * 4096)
            net.run(0.01)
    assert select.select([], [client], [], 0)[1] == []
    poller = select.poll()
    poller.register(client, select.POLLOUT)
    assert poller.poll(0) == []
    conn.setblocking(False)
    for _ in range(100):  # the peer reads: acknowledged bytes leave the send buffer
        if select.select([], [client], [], 0)[1]:
            break
        try:
            conn.recv(65536)
        except BlockingIOError:
            pass
        net.run(0.01)
    assert select.select([], [client], [], 0)[1] == [client]


def test_listener_readable_when_a_connection_waits(net):
    server = net.b.socket()
    server.bind(("", 81))
    server.listen()
    assert select.select([server], [], [], 0)[0] == []
    client = net.a.socket()
    client.setblocking(False)
    assert client.connect_ex((B_IP, 81)) == errno.EINPROGRESS
    net.run(0.05)
    assert select.select([server], [], [], 0)[0] == [server]
    assert select.select([], [client], [], 0)[1] == [client]
    server.accept()[0].close()


def test_options_round_trip_and_unsupported_ones(net):
    sock = net.a.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 8192
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 16384
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) == 1000
    for level, name in ((socket.IPPROTO_IP, socket.IP_TTL), (socket.SOL_SOCKET, socket.SO_BROADCAST)):
        with pytest.raises(OSError) as raised:
            sock.setsockopt(level, name, 1)
        assert raised.value.errno == errno.ENOPROTOOPT
    with pytest.raises(OSError) as raised:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 10)
    assert raised.value.errno == errno.EINVAL


def test_tcp_maxseg_is_announced_and_tcp_info_reads_like_linux(net):
    _, client, conn = _pair(net, client_options=[(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000)])
    assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) <= 1000
    info = client.tcp_info()
    assert info["state"] == "ESTABLISHED" and info["srtt"] > 0 and info["cwnd"] > 0
    for key in ("rto", "ssthresh", "retransmissions"):
        assert key in info
    raw = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LAYOUT.size)
    fields = TCP_INFO_LAYOUT.unpack(raw)
    assert fields[0] == 1  # TCP_ESTABLISHED in Linux numbering
    assert fields[8] == int(info["rto"] * 1e6)  # tcpi_rto in microseconds


def test_so_reuseaddr_lets_a_server_rebind_while_time_wait_holds_the_port(net):
    server, client, conn = _pair(net, port=9090)
    conn.close()  # the server side closes first: its connection goes to TIME-WAIT
    assert client.recv(10) == b""
    client.close()
    server.close()
    net.run(1.0)
    again = net.b.socket()
    with pytest.raises(OSError) as raised:
        again.bind(("", 9090))
    assert raised.value.errno == errno.EADDRINUSE
    again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    again.bind(("", 9090))
    again.listen()


def test_makefile_reads_lines_and_writes(net):
    _, client, conn = _pair(net)
    writer = client.makefile("w")
    writer.write("first line\nsecond line\n")
    writer.flush()
    reader = conn.makefile("r")
    assert reader.readline() == "first line\n"
    assert reader.readline() == "second line\n"
    reader.close()
    writer.close()
    client.close()
    assert reader.closed


def test_closed_socket_raises_ebadf(net):
    sock = net.a.socket()
    sock.close()
    for call in (lambda: sock.recv(1), lambda: sock.send(b"x"), lambda: sock.bind(("", 0)), sock.listen):
        with pytest.raises(OSError) as raised:
            call()
        assert raised.value.errno == errno.EBADF
    assert sock.fileno() == -1


def test_families_and_types(net):
    with pytest.raises(OSError) as raised:
        net.a.socket(socket.AF_INET6, socket.SOCK_STREAM)
    assert raised.value.errno == errno.EAFNOSUPPORT
    with pytest.raises(OSError) as raised:
        net.a.socket(socket.AF_INET, socket.SOCK_RAW)
    assert raised.value.errno == errno.ESOCKTNOSUPPORT
    with net.a.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK) as sock:
        assert sock.type == socket.SOCK_STREAM and sock.family == socket.AF_INET
        assert sock.gettimeout() == 0.0


def test_udp_datagrams_and_connected_refusal(net):
    receiver = net.b.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("", 5000))
    sender = net.a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.sendto(b"one", (B_IP, 5000))
    sender.sendto(b"x" * 3000, (B_IP, 5000))  # fragmented
    receiver.settimeout(1)
    assert receiver.recvfrom(100) == (b"one", (A_IP, sender.getsockname()[1]))
    assert receiver.recv(65536, socket.MSG_PEEK) == b"x" * 3000
    assert receiver.recv(10) == b"x" * 10  # a short read truncates the datagram
    with pytest.raises(TimeoutError):
        receiver.recv(10)
    with pytest.raises(OSError) as raised:
        sender.sendto(b"x" * 70000, (B_IP, 5000))
    assert raised.value.errno == errno.EMSGSIZE
    sender.connect((B_IP, 5001))
    sender.send(b"nobody")
    sender.settimeout(1)
    with pytest.raises(ConnectionRefusedError):
        sender.recv(10)


def test_linger_with_a_timeout_waits_for_the_fin_to_be_acknowledged(net):
    _, client, conn = _pair(net)
    net.ab.delay = 0.5  # a slow link: our FIN needs a whole second to be acknowledged
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 5))
    start = net.clock
    client.close()
    assert 0.9 <= net.clock - start <= 5.0
    assert conn.recv(10) == b""


def test_linger_off_close_returns_at_once(net):
    _, client, _ = _pair(net)
    net.ab.delay = 0.5
    start = net.clock
    client.close()
    assert net.clock == start


def test_msg_waitall_waits_for_the_whole_count_or_the_end(net):
    _, client, conn = _pair(net)
    client.sendall(b"abc")
    net.run(0.01)
    client.sendall(b"defgh")
    assert conn.recv(8, socket.MSG_WAITALL) == b"abcdefgh"
    client.sendall(b"xy")
    client.shutdown(socket.SHUT_WR)
    assert conn.recv(100, socket.MSG_WAITALL) == b"xy"  # the end of the stream ends the wait
    with pytest.raises(OSError) as raised:
        conn.recv(1, socket.MSG_OOB)
    assert raised.value.errno == errno.EOPNOTSUPP


# ---------------------------------------- option ranges, connect_ex, the less-used calls
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
