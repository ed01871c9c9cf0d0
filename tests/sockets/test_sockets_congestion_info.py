"""Per-socket congestion control (TCP_CONGESTION, as Linux: b"cubic" / b"reno", ENOENT for others),
the loss-recovery figures in ``tcp_info()`` and TCP_INFO's Linux layout after a lossy transfer, and
receive-buffer autotuning (on by default, off after SO_RCVBUF)."""

from __future__ import annotations

import errno
import socket

import pytest

from netstack.sockets.options import CONGESTION_NAME_MAX, TCP_CONGESTION, TCP_INFO_LAYOUT

from tests.support.sim_hosts import socket_hosts

A_IP, B_IP = "192.0.2.2", "192.0.2.3"


def connected(net, port, options=()):
    server = net.b.socket()
    server.bind(("", port))
    server.listen()
    client = net.a.socket()
    for level, name, value in options:
        client.setsockopt(level, name, value)
    client.settimeout(30)
    client.connect((B_IP, port))
    server.settimeout(30)
    conn, _ = server.accept()
    return server, client, conn


def move(net, client, conn, size):
    """``size`` bytes client -> server through the socket API, both non-blocking."""
    client.setblocking(False)
    conn.setblocking(False)
    data = memoryview(bytes(size))
    sent = got = 0
    for _ in range(100_000):
        while sent < size:
            try:
                sent += client.send(data[sent:sent + 65536])
            except BlockingIOError:
                break
        net.run(0.01)
        try:
            while True:
                piece = conn.recv(1 << 20)
                if not piece:
                    break
                got += len(piece)
        except BlockingIOError:
            pass
        if got >= size:
            return got
    raise AssertionError(f"only {got} of {size} bytes arrived")


def test_tcp_congestion_defaults_to_cubic_and_reads_back_as_linux_names():
    net = socket_hosts(seed=4)
    _server, client, conn = connected(net, 7001)
    raw = client.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, CONGESTION_NAME_MAX)
    assert raw == b"cubic".ljust(CONGESTION_NAME_MAX, b"\0")
    client.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"reno")
    assert client.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, CONGESTION_NAME_MAX).rstrip(b"\0") == b"reno"
    assert client.tcp_info()["congestion_control"] == "reno"
    with pytest.raises(OSError) as raised:
        client.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"vegas")
    assert raised.value.errno == errno.ENOENT


def test_tcp_congestion_before_connect_picks_the_algorithm_and_a_live_switch_keeps_the_window():
    net = socket_hosts(seed=5)
    net.ab.loss = 0.0
    _server, client, conn = connected(net, 7002, [(socket.IPPROTO_TCP, TCP_CONGESTION, b"reno\0")])
    assert client.tcp_info()["congestion_control"] == "reno"
    move(net, client, conn, 500_000)
    before = client.tcp_info()
    client.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"cubic")
    after = client.tcp_info()
    assert after["congestion_control"] == "cubic"
    assert (after["cwnd"], after["ssthresh"]) == (before["cwnd"], before["ssthresh"])
    move(net, client, conn, 200_000)


def test_tcp_info_reports_loss_recovery_figures_after_a_lossy_transfer():
    net = socket_hosts(seed=6)
    net.ab.delay = 0.005
    net.ab.loss = 0.03
    _server, client, conn = connected(net, 7003)
    move(net, client, conn, 2_000_000)
    info = client.tcp_info()
    for key in ("cwnd", "ssthresh", "srtt", "rttvar", "rto", "pipe", "sacked", "lost", "retransmitted_bytes",
                "reordering_window", "delivery_rate", "min_rtt", "ca_phase"):
        assert key in info, key
    assert info["sack"] and info["retransmissions"] > 0 and info["retransmitted_bytes"] > 0
    assert info["recoveries"] > 0 and info["delivery_rate"] > 0 and info["min_rtt"] >= 0.0099
    raw = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LAYOUT.size)
    fields = TCP_INFO_LAYOUT.unpack(raw)
    mss = info["send_mss"]
    assert fields[0] == 1  # TCP_ESTABLISHED
    assert fields[5] & 2, "tcpi_options has TCPI_OPT_SACK"
    assert fields[8 + 18] == -(-info["cwnd"] // mss), "tcpi_snd_cwnd in segments"
    assert fields[8 + 15] == int(info["srtt"] * 1e6), "tcpi_rtt in microseconds"
    assert fields[-1] == int(info["delivery_rate"]), "tcpi_delivery_rate in bytes per second"
    assert len(raw) == 168


def test_receive_buffer_autotuning_grows_the_window_and_so_rcvbuf_fixes_it():
    net = socket_hosts(seed=7)
    net.ab.delay = 0.01
    _server, client, conn = connected(net, 7004)
    start = conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    move(net, client, conn, 8_000_000)
    grown = conn.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    assert grown > start, (start, grown)
    assert net.b.counters.get("tcp.receive_buffer_grown", 0) > 0
    # a size the application chose stays
    server2, client2, conn2 = connected(net, 7005)
    conn2.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 * 1024)
    move(net, client2, conn2, 4_000_000)
    assert conn2.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 128 * 1024
