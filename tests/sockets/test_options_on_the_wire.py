"""Socket options take effect on the wire: checked in a tshark capture of the TAP.

One capture records several connections from netstack (192.0.2.2) to kernel listeners (192.0.2.1), each
on its own local port; tshark then reads the file back and each test looks at its connection:

- SO_RCVBUF 4096: the SYN and every segment advertise at most 4096 bytes (the default 256 KiB
  advertises 65535 in the SYN);
- TCP_NODELAY: 20 writes of 10 bytes in a row leave as 20 segments, while with Nagle (RFC 896) they
  leave as one segment plus one coalesced segment (the kernel receiver delays its ACK: TCP_QUICKACK 0);
- SO_LINGER (1, 0): ``close`` sends an RST and no FIN;
- SO_KEEPALIVE + TCP_KEEPIDLE 1 + TCP_KEEPINTVL 1: keepalive probes (SEQ = SND.NXT - 1, no data)
  appear about one second after the connection fell idle;
- TCP_MAXSEG 1000: our SYN announces MSS 1000 and the kernel's segments stay within it.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time

import pytest

from netstack.formats.tcp import FIN, RST, SYN
from tests.support.external_tools import require_tool
from tests.support.kernel_peers import HOST_IP, STACK_IP, stack_in_namespace

pytestmark = pytest.mark.netns


def _accepting_listener(ns):
    listener = ns.socket()
    listener.bind((HOST_IP, 0))
    listener.listen(8)
    listener.settimeout(5)
    return listener, listener.getsockname()[1]


def _rcvbuf_connection(ns, stack, size):
    listener, port = _accepting_listener(ns)
    with listener, stack.socket() as sock:
        if size is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        sock.settimeout(5)
        sock.connect((HOST_IP, port))
        peer, _ = listener.accept()
        with peer:
            peer.settimeout(10)
            sender = threading.Thread(target=peer.sendall, args=(b"z" * 100_000,))
            sender.start()  # the window, not the kernel, limits how fast it comes
            received = 0
            while received < 100_000:
                received += len(sock.recv(65536))
            sender.join(10)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == (size or sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF))
        return sock.getsockname()[1]


def _small_writes(ns, stack, nodelay):
    listener, port = _accepting_listener(ns)
    with listener, stack.socket() as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if nodelay else 0)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == (1 if nodelay else 0)
        sock.settimeout(5)
        sock.connect((HOST_IP, port))
        peer, _ = listener.accept()
        with peer:
            peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)  # delayed ACKs (pingpong mode)
            time.sleep(0.1)
            for _ in range(20):
                sock.send(b"0123456789")
            received = b""
            peer.settimeout(5)
            while len(received) < 200:
                received += peer.recv(1000)
            assert received == b"0123456789" * 20
        return sock.getsockname()[1]


def _maxseg(ns, stack):
    listener, port = _accepting_listener(ns)
    with listener, stack.socket() as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000)
        sock.settimeout(5)
        sock.connect((HOST_IP, port))
        peer, _ = listener.accept()
        with peer:
            peer.settimeout(5)
            peer.sendall(b"m" * 20_000)  # the kernel segments to the MSS we announced
            received = 0
            while received < 20_000:
                received += len(sock.recv(65536))
        return sock.getsockname()[1]


def _linger_abort(ns, stack):
    listener, port = _accepting_listener(ns)
    with listener:
        sock = stack.socket()
        sock.settimeout(5)
        sock.connect((HOST_IP, port))
        peer, _ = listener.accept()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        local_port = sock.getsockname()[1]
        sock.close()
        with peer:
            peer.settimeout(5)
            with pytest.raises(ConnectionResetError):
                peer.recv(10)
        return local_port


def _keepalive(ns, stack):
    listener, port = _accepting_listener(ns)
    with listener, stack.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 1
        sock.settimeout(5)
        sock.connect((HOST_IP, port))
        peer, _ = listener.accept()
        with peer:
            time.sleep(2.6)  # idle: probes at ~1 s and ~2 s, each answered by the kernel
            assert sock.tcp_info()["state"] == "ESTABLISHED"
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def wire(tmp_path_factory):
    require_tool("tshark")
    capture = tmp_path_factory.mktemp("sockets") / "options.pcap"
    ports = {}
    with stack_in_namespace(capture=capture) as (ns, running, _):
        ports["rcvbuf_small"] = _rcvbuf_connection(ns, running, 4096)
        ports["rcvbuf_default"] = _rcvbuf_connection(ns, running, None)
        ports["nagle"] = _small_writes(ns, running, nodelay=False)
        ports["nodelay"] = _small_writes(ns, running, nodelay=True)
        ports["linger"] = _linger_abort(ns, running)
        ports["maxseg"] = _maxseg(ns, running)
        ports["keepalive"] = _keepalive(ns, running)
    return capture, ports


def _segments(capture, port, extra_filter=""):
    """(time, flags, window, payload length, seq) of every segment netstack sent from ``port``."""
    display = f"ip.src=={STACK_IP} && tcp.srcport=={port}" + (f" && {extra_filter}" if extra_filter else "")
    result = subprocess.run(
        ["tshark", "-r", str(capture), "-o", "tcp.relative_sequence_numbers:FALSE", "-Y", display, "-T", "fields",
         "-e", "frame.time_relative", "-e", "tcp.flags", "-e", "tcp.window_size", "-e", "tcp.len", "-e", "tcp.seq"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    rows = []
    for line in result.stdout.splitlines():
        when, flags, window, length, seq = line.split("\t")
        rows.append((float(when), int(flags, 16), int(window), int(length), int(seq)))
    return rows


def test_so_rcvbuf_sets_the_advertised_window(wire):
    capture, ports = wire
    small = _segments(capture, ports["rcvbuf_small"])
    default = _segments(capture, ports["rcvbuf_default"])
    assert small and default
    assert [window for _, flags, window, _, _ in small if flags & SYN] == [4096]
    assert max(r[2] for r in small) <= 4096
    assert [window for _, flags, window, _, _ in default if flags & SYN] == [65535]
    assert max(r[2] for r in default) > 60000


def test_tcp_nodelay_changes_the_segment_pattern_of_small_writes(wire):
    capture, ports = wire
    nagle = [r for r in _segments(capture, ports["nagle"]) if r[3] > 0]
    nodelay = [r for r in _segments(capture, ports["nodelay"]) if r[3] > 0]
    assert sum(r[3] for r in nagle) == sum(r[3] for r in nodelay) == 200
    assert [r[3] for r in nodelay] == [10] * 20
    assert len(nagle) <= 3 and nagle[0][3] == 10, [r[3] for r in nagle]


def test_so_linger_zero_sends_rst_instead_of_fin(wire):
    capture, ports = wire
    rows = _segments(capture, ports["linger"])
    assert any(flags & RST for _, flags, *_ in rows)
    assert not any(flags & FIN for _, flags, *_ in rows)


def test_keepalive_probes_appear_after_tcp_keepidle(wire):
    capture, ports = wire
    rows = _segments(capture, ports["keepalive"])
    assert rows[0][1] & SYN and not rows[1][1] & SYN
    handshake_done = rows[1][0]  # our ACK of the SYN-ACK: the connection is idle from here
    probes = [r for r in rows[2:] if r[3] == 0 and not r[1] & (SYN | FIN | RST)]
    probes = [r for r in probes if r[4] == (rows[1][4] - 1) & 0xFFFFFFFF]  # SEQ = SND.NXT - 1
    assert len(probes) >= 2, rows
    first_gap = probes[0][0] - handshake_done
    assert 0.9 <= first_gap <= 1.6, first_gap
    assert 0.8 <= probes[1][0] - probes[0][0] <= 1.4


def test_tcp_maxseg_is_the_mss_announced_in_our_syn(wire):
    capture, ports = wire
    port = ports["maxseg"]
    result = subprocess.run(
        ["tshark", "-r", str(capture), "-Y", f"ip.src=={STACK_IP} && tcp.srcport=={port} && tcp.flags.syn==1",
         "-T", "fields", "-e", "tcp.options.mss_val"], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["1000"]
    sizes = subprocess.run(
        ["tshark", "-r", str(capture), "-Y", f"ip.dst=={STACK_IP} && tcp.dstport=={port} && tcp.len>0",
         "-T", "fields", "-e", "tcp.len"], capture_output=True, text=True, timeout=60, check=True)
    lengths = [int(n) for n in sizes.stdout.split()]
    assert sum(lengths) == 20_000 and max(lengths) <= 1000  # the kernel's segments obey it
