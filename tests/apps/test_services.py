"""The TCP services of ``netstack up`` (echo, discard, chargen, HTTP status page) on the simulated
network. A client that pipelines requests without reading must not make the HTTP service queue
responses without bound (a 27-byte request buys a multi-kilobyte page): flow control pushes back
instead, and every response still arrives, in order, once the client reads."""

from __future__ import annotations

import json

import netstack.sim as sim
from netstack.apps.services import start_services
from netstack.apps.tcp_services import CHARGEN_PATTERN, HTTP_PORT, RESPONSE_BACKLOG, tcp_layer_of
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpStream
from netstack.engine.tcp.layer import TcpLayer

B = bytes([192, 0, 2, 2])
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
COUNT = 5_000


def network(**link):
    net = sim.Network(seed=3)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.0005, **link)
    start_services(b.stack, ["echo", "discard", "chargen", "http"])
    return net, a, b, tcp_layer_of(a.stack)


def exchange(net, a, layer, port, request: bytes, *, shutdown=True, limit=None, timeout=30):
    stream = a.call(TcpStream.connect, layer, B, port)
    got = bytearray()
    state = {"sent": False}

    def on_event(s, now):
        if s.connecting:
            return
        if not state["sent"]:
            s.send(request, now)
            state["sent"] = True
            if shutdown:
                s.shutdown(now)
        while s.readable:
            data = s.recv(1 << 20, now)
            if not data:
                s.close(now)
                return
            got.extend(data)
        if limit is not None and len(got) >= limit and not s.closed:
            s.close(now)

    stream.on_event = on_event
    net.run_until(lambda: stream.closed or stream.at_eof or (limit is not None and len(got) >= limit), timeout)
    return bytes(got), stream


def test_echo_returns_every_byte_under_loss():
    net, a, b, layer = network(loss=0.05, reorder=0.05)
    payload = bytes(range(256)) * 2000
    got, _ = exchange(net, a, layer, 7, payload)
    assert got == payload


def test_discard_takes_everything_and_closes():
    net, a, b, layer = network()
    got, stream = exchange(net, a, layer, 9, b"x" * 300_000)
    assert got == b"" and stream.at_eof
    assert b.stack.counters["services.tcp_discard_connections"] == 1


def test_chargen_sends_rfc864_lines():
    net, a, b, layer = network()
    got, _ = exchange(net, a, layer, 19, b"", shutdown=False, limit=20_000)
    assert got[:74] == CHARGEN_PATTERN[:74]
    assert got[74:148] == bytes(range(33, 105)) + b"\r\n"  # the next line starts one character later
    assert len(got) >= 20_000


def test_http_status_page_json_404_405_and_keep_alive():
    net, a, b, layer = network()
    requests = (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /stats.json HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got, _ = exchange(net, a, layer, 80, requests, shutdown=False)
    responses = got.split(b"HTTP/1.1 ")[1:]
    assert [r[:3] for r in responses] == [b"200", b"200", b"404", b"405"]
    assert b"<h1>netstack status</h1>" in responses[0]
    body = responses[1].split(b"\r\n\r\n", 1)[1]
    stats = json.loads(body)
    assert stats["counters"]["tcp.passive_opens"] >= 1 and stats["tcp_connections"]


def test_an_application_callback_that_raises_is_counted_not_propagated():
    net, a, b, layer = network()
    stream = a.call(TcpStream.connect, layer, B, 7)

    def broken(s, now):
        raise RuntimeError("application bug")

    stream.on_event = broken
    net.run_until(lambda: stream.connected, 5)
    a.call(stream.send, b"ping")
    net.run(0.1)
    assert a.stack.counters["tcp.drop.app_callback_error"] >= 1
    assert stream.connected and stream.recv(10) == b"ping"  # the connection itself carried on


def test_pipelined_requests_from_a_client_that_does_not_read_stay_bounded():
    net = sim.Network(seed=5)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.0005)
    (http,) = start_services(b.stack, ["http"])
    layer = TcpLayer.attach(a.stack, TcpConfig(receive_buffer=8192, send_buffer=1 << 20), isn_secret=b"a")
    stream = a.call(TcpStream.connect, layer, B, HTTP_PORT)
    net.run_until(lambda: stream.connected, 5)
    requests = REQUEST * COUNT
    sent = {"n": 0}
    got = bytearray()
    reading = {"on": False}

    def on_event(s, now):
        while sent["n"] < len(requests) and s.writable:
            n = s.send(requests[sent["n"]: sent["n"] + 65536], now)
            if not n:
                break
            sent["n"] += n
        while reading["on"] and s.readable:
            data = s.recv(1 << 20, now)
            if not data:
                return
            got.extend(data)

    stream.on_event = on_event
    a.call(on_event, stream, net.clock)
    net.run(10.0)  # the client never reads
    (served,) = http.streams
    assert len(served.pending) <= RESPONSE_BACKLOG + 65536, len(served.pending)
    assert b.stack.counters["services.http_requests"] < COUNT  # it stopped answering: flow control
    reading["on"] = True
    a.call(on_event, stream, net.clock)
    net.run_until(lambda: got.count(b"HTTP/1.1 200 OK") >= COUNT, 300)
    assert got.count(b"HTTP/1.1 200 OK") == COUNT
    assert b.stack.counters["services.http_requests"] == COUNT
    assert not served.closed  # a persistent connection: still open for more
