"""TCP Fast Open against the Linux kernel as the client (``net.ipv4.tcp_fastopen=3`` in the namespace):
a netstack listener with ``TCP_FASTOPEN``; the kernel's first connection asks for a cookie, its second
sends the data in the SYN (``MSG_FASTOPEN``); the data arrives once; tshark sees the cookie."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.support.external_tools import require_tool
from tests.support.kernel_peers import STACK_IP, tshark_fields
from tests.support.kernel_peers import stack_in_namespace as namespace_stack

pytestmark = pytest.mark.netns

MSG_FASTOPEN = getattr(socket, "MSG_FASTOPEN", 0x20000000)


def _serve(listener, count: int, received: list) -> None:
    """Accept ``count`` connections; each: read once, answer ``ok:`` + what was read."""
    for _ in range(count):
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            data = conn.recv(100)
            received.append(data)
            conn.sendall(b"ok:" + data)


def _kernel_fast_open(ns, payload: bytes) -> bytes:
    with ns.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # blocking: with a timeout, Python's non-blocking socket makes a Fast Open sendto EINPROGRESS
        sock.sendto(payload, MSG_FASTOPEN, (STACK_IP, 8080))
        sock.settimeout(5)
        return sock.recv(100)


def test_kernel_client_data_in_syn_is_delivered_once_and_the_cookie_is_on_the_wire(tmp_path):
    require_tool("tshark")
    capture = tmp_path / "tfo.pcap"
    with namespace_stack(capture=capture) as (ns, running, tshark):
        ns.run(["sysctl", "-qw", "net.ipv4.tcp_fastopen=3"], check=True)
        listener = running.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN) == 16
        listener.bind(("0.0.0.0", 8080))
        listener.listen()
        listener.settimeout(10)
        received = []
        server = threading.Thread(target=_serve, args=(listener, 2, received))
        server.start()
        try:
            first = _kernel_fast_open(ns, b"first")  # no cookie yet: a cookie request, data after
            second = _kernel_fast_open(ns, b"second")  # the cached cookie: the data rides in the SYN
        finally:
            server.join(15)
        counters = running.call(lambda: dict(running.stack.counters))
        listener.close()
    assert (first, second) == (b"ok:first", b"ok:second")
    assert received == [b"first", b"second"]  # each exactly once
    assert counters["tcp.fastopen.cookie_sent"] == 1 and counters["tcp.fastopen.accepted"] == 1
    rows = tshark_fields(capture, "tcp.flags.syn == 1 && tcp.options.tfo.cookie",
                         ["tcp.flags.ack", "tcp.len", "tcp.options.tfo.cookie"])
    cookies = {row[2] for row in rows}
    assert len(cookies) == 1, rows  # one cookie: sent by us, echoed by the kernel
    assert any(row[0] in ("0", "False") and row[1] == "6" for row in rows), rows  # the SYN with "second"
    assert any(row[0] in ("1", "True") for row in rows), rows  # our SYN-ACK carrying the cookie


def test_netstack_client_sends_data_in_its_syn_to_a_kernel_server(tmp_path):
    require_tool("tshark")
    capture = tmp_path / "tfo-client.pcap"
    with namespace_stack(capture=capture) as (ns, running, tshark):
        ns.run(["sysctl", "-qw", "net.ipv4.tcp_fastopen=3"], check=True)
        kernel = ns.socket(socket.AF_INET, socket.SOCK_STREAM)
        kernel.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        kernel.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
        kernel.bind(("192.0.2.1", 9090))
        kernel.listen()
        kernel.settimeout(10)
        received = []
        server = threading.Thread(target=_serve, args=(kernel, 2, received))
        server.start()
        replies = []
        try:
            for payload in (b"uno", b"dos"):
                with running.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.settimeout(5)
                    assert sock.sendto(payload, MSG_FASTOPEN, ("192.0.2.1", 9090)) == len(payload)
                    replies.append(sock.recv(100))
        finally:
            server.join(15)
            kernel.close()
        counters = running.call(lambda: dict(running.stack.counters))
    assert replies == [b"ok:uno", b"ok:dos"] and received == [b"uno", b"dos"]
    assert counters["tcp.fastopen.client_data_acked"] == 1 and counters.get("tcp.fastopen.client_fallback", 0) == 0
    rows = tshark_fields(capture, "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 9090",
                         ["tcp.len", "tcp.options.tfo.request", "tcp.options.tfo.cookie"])
    assert len(rows) == 2, rows
    assert rows[0][0] == "0" and rows[0][1] != ""  # a cookie request, no data
    assert rows[1][0] == "3" and rows[1][2] != ""  # the kernel's cookie and "dos" in the SYN
