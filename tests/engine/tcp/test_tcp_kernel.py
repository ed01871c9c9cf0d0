"""netstack's TCP against the Linux kernel, in a network namespace each test module creates and deletes.

The TAP's host side (192.0.2.1) and every kernel peer (curl, python sockets, http.server, tshark) live
in the namespace; the stack is 192.0.2.2 with the echo, discard, chargen and HTTP services. One
namespace serves the "session" tests, recorded by tshark and checked at the end (0 malformed, 0 bad
checksums); the bulk transfers run in a second namespace without a capture (hundreds of MB).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from netstack.apps.tcp_services import tcp_layer_of
from netstack.drivers.netns import NetworkNamespace
from netstack.engine.tcp.endpoint import TcpServer, TcpStream

from tests.support.external_tools import require_tool
from tests.support.kernel_peers import HOST, HOST_IP, STACK_IP, stack_in_namespace, through_echo

pytestmark = pytest.mark.netns

SERVICES = ["echo", "discard", "chargen", "http"]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    capture = tmp_path_factory.mktemp("tcp") / "session.pcap"
    with stack_in_namespace("nsttcp0", services=SERVICES, capture=capture) as (ns, running, tshark):
        layer = running.call(tcp_layer_of, running.stack)
        yield {"ns": ns, "running": running, "layer": layer, "capture": capture, "tshark": tshark}


@pytest.fixture(scope="module")
def bulk():
    with stack_in_namespace("nsttcp1", services=SERVICES) as (ns, running, _):
        yield {"ns": ns, "running": running}


def _connect(ns, port, timeout=10.0):
    sock = ns.socket()
    sock.settimeout(timeout)
    sock.connect((STACK_IP, port))
    return sock


def _recv_all(sock, limit=1 << 31) -> bytes:
    out = bytearray()
    while len(out) < limit:
        data = sock.recv(1 << 20)
        if not data:
            break
        out += data
    return bytes(out)


# ------------------------------------------------------------------------------------------ session
def test_100_sequential_curl_requests_to_the_status_page(session):
    require_tool("curl")
    urls = [f"http://{STACK_IP}/" for _ in range(99)] + [f"http://{STACK_IP}/stats.json"]
    outputs = [arg for url in urls for arg in ("-o", "/dev/null", url)]
    result = session["ns"].run(
        ["curl", "-s", "-S", "-m", "10", "-H", "Connection: close", "-w", "%{http_code}\n", *outputs],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200"] * 100
    counters = session["running"].call(lambda: dict(session["running"].stack.counters))
    assert counters["services.http_connections"] >= 100


def test_status_json_has_tcp_counters(session):
    require_tool("curl")
    import json

    result = session["ns"].run(["curl", "-s", "-m", "10", f"http://{STACK_IP}/stats.json"], timeout=30)
    stats = json.loads(result.stdout)
    assert stats["counters"]["tcp.segments_in"] > 0 and stats["counters"]["tcp.passive_opens"] > 0


def test_kernel_connect_to_closed_port_is_refused(session):
    with pytest.raises(ConnectionRefusedError):
        _connect(session["ns"], 4444)


def test_echo_small_and_kernel_initiated_close(session):
    with _connect(session["ns"], 7) as sock:
        sock.sendall(b"hello netstack")
        assert sock.recv(100) == b"hello netstack"
        sock.shutdown(socket.SHUT_WR)  # kernel closes first: echo service closes after the echo
        assert _recv_all(sock) == b""


def test_half_close_kernel_side_data_still_flows_back(session):
    """Kernel shuts down writing first; our echo keeps sending what it has not echoed yet."""
    payload = os.urandom(300_000)
    with _connect(session["ns"], 7) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        assert hashlib.sha256(_recv_all(sock)).digest() == hashlib.sha256(payload).digest()


def test_half_close_netstack_side_kernel_keeps_sending(session):
    """We shut down writing (FIN) right after accept; the kernel's data still reaches us."""
    running, ns, layer = session["running"], session["ns"], session["layer"]
    got = bytearray()
    state = {}

    def serve(server, now):
        stream = server.accept()
        state["stream"] = stream
        stream.shutdown(now)

        def on_event(s, now):
            while True:
                try:
                    data = s.recv(1 << 20, now)
                except BlockingIOError:
                    return
                if not data:
                    s.close(now)
                    state["eof"] = True
                    return
                got.extend(data)

        stream.on_event = on_event

    server = running.call(TcpServer, layer, 5002)
    server.on_accept = serve
    payload = os.urandom(200_000)
    try:
        with _connect(ns, 5002) as sock:
            assert sock.recv(10) == b""  # our FIN arrives first
            sock.sendall(payload)  # the kernel may still send after our FIN
            sock.shutdown(socket.SHUT_WR)
            assert running.wait(lambda: state.get("eof"), timeout=10)
        assert bytes(got) == payload
    finally:
        running.call(server.close)


def test_netstack_initiated_close_and_simultaneous_close(session):
    running, ns, layer = session["running"], session["ns"], session["layer"]
    accepted = []
    server = running.call(TcpServer, layer, 5003)
    server.on_accept = lambda srv, now: accepted.append(srv.accept())
    try:
        # netstack closes first: the kernel reads EOF, closes; we end in TIME-WAIT
        with _connect(ns, 5003) as sock:
            assert running.wait(lambda: len(accepted) == 1, timeout=5)
            running.call(accepted[0].send, b"bye")
            running.call(accepted[0].close)
            assert _recv_all(sock) == b"bye"
        assert running.wait(lambda: accepted[0].state.value == "TIME-WAIT", timeout=5)
        # simultaneous close (RFC 9293 §3.6 Figure 13), made deterministic: on the stack's thread the
        # kernel closes, its FIN waits unread in the TAP queue while we close too, so each FIN meets a
        # peer in FIN-WAIT-1 and both sides pass through CLOSING to TIME-WAIT
        sock = _connect(ns, 5003)
        assert running.wait(lambda: len(accepted) == 2, timeout=5)
        closing_before = running.stack.counters.get("tcp.state.closing", 0)

        def close_both():
            sock.close()
            time.sleep(0.05)
            accepted[1].close()

        running.call(close_both)
        assert running.wait(lambda: accepted[1].state.value == "TIME-WAIT", timeout=10), accepted[1].state
        assert running.stack.counters.get("tcp.state.closing", 0) == closing_before + 1
    finally:
        running.call(server.close)


def test_netstack_connects_to_a_kernel_server(session):
    """Active open from netstack; the kernel accepts, echoes, and closes."""
    running, ns, layer = session["running"], session["ns"], session["layer"]
    listener = ns.socket()
    listener.bind((HOST_IP, 6000))
    listener.listen(1)
    listener.settimeout(10)
    result = {}

    def kernel_side():
        conn, _ = listener.accept()
        with conn:
            data = _recv_all(conn)
            conn.sendall(data[::-1])
        result["done"] = True

    thread = threading.Thread(target=kernel_side)
    thread.start()
    try:
        stream = running.call(TcpStream.connect, layer, HOST, 6000)
        assert running.wait(lambda: stream.connected, timeout=5)
        running.call(stream.send, b"0123456789" * 1000)
        running.call(stream.shutdown)
        got = bytearray()
        deadline = time.monotonic() + 10
        while not running.call(_drain_into, stream, got) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bytes(got) == (b"0123456789" * 1000)[::-1]
        running.call(stream.close)
    finally:
        thread.join(10)
        listener.close()


def test_flow_control_kernel_sender_stops_at_our_window_and_resumes(session):
    """Our receiver stops reading: the kernel's sender fills our window and stops, probing the zero
    window; when we read again it resumes and every byte arrives."""
    running, ns, layer = session["running"], session["ns"], session["layer"]
    accepted = []
    server = running.call(TcpServer, layer, 5004)
    server.on_accept = lambda srv, now: accepted.append(srv.accept())
    payload = os.urandom(4 << 20)
    sent = {"n": 0}

    def sender(sock):
        view = memoryview(payload)
        while sent["n"] < len(payload):
            try:
                sent["n"] += sock.send(view[sent["n"]: sent["n"] + 65536])
            except socket.timeout:
                continue
        sock.shutdown(socket.SHUT_WR)

    try:
        with _connect(ns, 5004, timeout=0.5) as sock:
            thread = threading.Thread(target=sender, args=(sock,))
            thread.start()
            assert running.wait(lambda: len(accepted) == 1, timeout=5)
            stream = accepted[0]
            time.sleep(3.0)  # nobody reads: the window closes, the kernel probes
            stalled_at = sent["n"]
            time.sleep(1.0)
            assert sent["n"] == stalled_at < len(payload)  # the kernel sender is stopped
            buffered = running.call(lambda: len(stream.conn.rcv.buffer))
            assert buffered >= stream.conn.rcv.buffer.capacity - 65536  # it stopped at our window
            assert running.call(lambda: stream.conn.rcv.adv == stream.conn.rcv.nxt)  # window zero
            got = bytearray()
            deadline = time.monotonic() + 60
            while not running.call(_drain_into, stream, got) and time.monotonic() < deadline:
                time.sleep(0.005)
            thread.join(10)
            assert bytes(got) == payload
            running.call(stream.close)
        session["zero_window_port"] = 5004
    finally:
        running.call(server.close)


def test_tshark_session_capture_clean(session):
    require_tool("tshark")
    session["ns"].stop_capture(session["tshark"])
    capture = str(session["capture"])
    prefs = ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"]
    total = subprocess.run(["tshark", "-r", capture, *prefs, "-Y", "tcp"], capture_output=True, text=True, timeout=300)
    assert total.returncode == 0, total.stderr
    assert len(total.stdout.splitlines()) > 1000
    bad = subprocess.run(
        ["tshark", "-r", capture, *prefs, "-Y", "_ws.malformed || ip.checksum.status == 0 || tcp.checksum.status == 0"],
        capture_output=True, text=True, timeout=300)
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.strip() == "", bad.stdout[:2000]
    if "zero_window_port" in session:
        def count(display_filter):
            result = subprocess.run(["tshark", "-r", capture, "-Y", f"tcp.port == 5004 && ({display_filter})"],
                                    capture_output=True, text=True, timeout=300)
            return len(result.stdout.splitlines())

        # we advertised a zero window; the kernel probed it (Linux probes with SEG.SEQ = SND.UNA - 1,
        # which tshark calls a keep-alive); our window update reopened it
        assert count("tcp.analysis.zero_window && ip.src == 192.0.2.2") >= 1
        assert count("(tcp.analysis.zero_window_probe || tcp.analysis.keep_alive) && ip.src == 192.0.2.1") >= 1
        assert count("tcp.analysis.window_update && ip.src == 192.0.2.2") >= 1


# ------------------------------------------------------------------------------------------ bulk
MB100 = 100 * 1024 * 1024


def test_kernel_sends_100_mb_to_discard(bulk):
    block = os.urandom(1 << 20)
    counters = bulk["running"].stack.counters
    discarded_before = bulk["running"].call(lambda: counters.get("services.tcp_discard_bytes", 0))
    with _connect(bulk["ns"], 9, timeout=30) as sock:
        started = time.monotonic()
        for _ in range(MB100 // len(block)):
            sock.sendall(block)
        sock.shutdown(socket.SHUT_WR)
        assert _recv_all(sock) == b""  # discard closes after our FIN: all bytes were taken
        elapsed = time.monotonic() - started
    print(f"\nkernel -> netstack discard: {MB100 / elapsed / 1e6:.1f} MB/s")
    discarded = bulk["running"].call(lambda: counters.get("services.tcp_discard_bytes", 0)) - discarded_before
    assert discarded == MB100  # every byte reached the service, none twice


def test_kernel_sends_100_mb_through_echo_sha256_equal(bulk):
    with _connect(bulk["ns"], 7, timeout=30) as sock:
        received, equal, elapsed = through_echo(sock, MB100)
    print(f"\nkernel -> netstack echo -> kernel: {MB100 / elapsed / 1e6:.1f} MB/s each way")
    assert received == MB100
    assert equal


def test_netstack_get_downloads_50_mb_from_kernel_http_server(tmp_path):
    """``netstack get`` as a subprocess: its own TAP in a namespace this test creates."""
    source = tmp_path / "www"
    source.mkdir()
    blob = source / "blob.bin"
    with open(blob, "wb") as f:
        for _ in range(50):
            f.write(os.urandom(1 << 20))
    out = tmp_path / "out.bin"
    with NetworkNamespace() as ns:
        ns.run(["ip", "link", "set", "lo", "up"])
        server = ns.popen([sys.executable, "-m", "http.server", "--bind", "0.0.0.0", "8000", "--directory", str(source)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        result = subprocess.run(
            [sys.executable, "-m", "netstack", "get", "http://198.51.100.1:8000/blob.bin", "-o", str(out),
             "--netns", ns.name, "--tap", "nstget1", "--no-progress", "--timeout", "120"],
            capture_output=True, text=True, timeout=180,
        )
        server.terminate()
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(blob.read_bytes()).digest()


def _drain_into(stream, got: bytearray) -> bool:
    """On the stack's thread: move what ``stream`` holds into ``got``; True at end of stream."""
    try:
        while True:
            data = stream.recv(1 << 20)
            if not data:
                return True
            got.extend(data)
    except BlockingIOError:
        return False
