"""The TCP services (echo, discard, chargen, HTTP status page) and the HTTP client of ``netstack get``,
on the simulated network."""

from __future__ import annotations

import io
import json

import netstack.sim as sim
from netstack.apps.services import start_services
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.apps.http_client import HttpDownload, parse_url
from netstack.apps.tcp_services import CHARGEN_PATTERN, tcp_layer_of

B = bytes([192, 0, 2, 2])


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


def _http_server(layer, port, response: bytes):
    server = TcpServer(layer, port)

    def on_accept(srv, now):
        stream = srv.accept()

        def on_event(s, now):
            try:
                while s.readable:
                    data = s.recv(1 << 20, now)
                    if not data:
                        return
                    if b"\r\n\r\n" in data:
                        s.send(response, now)
                        s.close(now)
            except ConnectionResetError:
                pass  # the client gave up (the truncation test)

        stream.on_event = on_event
        on_event(stream, now)  # the request may already be there

    server.on_accept = on_accept
    return server


def test_http_client_content_length_and_chunked():
    net, a, b, layer = network()
    server_layer = tcp_layer_of(b.stack)
    body = bytes(range(256)) * 400
    _http_server(server_layer, 8000, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in (body[:1000], body[1000:50000], body[50000:]))
    _http_server(server_layer, 8001, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    _http_server(server_layer, 8002, b"HTTP/1.0 404 Not Found\r\n\r\nmissing")
    for port, status, expected in ((8000, 200, body), (8001, 200, body), (8002, 404, b"missing")):
        sink = io.BytesIO()
        download = a.call(HttpDownload, layer, B, port, "/f", "192.0.2.2", sink, net.clock)
        net.run_until(lambda: download.done, 30)
        assert download.done and download.error is None, download.error
        assert download.status == status and sink.getvalue() == expected


def test_http_client_reports_refusal_and_truncation():
    net, a, b, layer = network()
    server_layer = tcp_layer_of(b.stack)
    _http_server(server_layer, 8003, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    for port, kind in ((8003, ValueError), (8999, ConnectionRefusedError)):
        download = a.call(HttpDownload, layer, B, port, "/", "x", io.BytesIO(), net.clock)
        net.run_until(lambda: download.done, 30)
        assert isinstance(download.error, kind), download.error


def test_parse_url():
    assert parse_url("http://198.51.100.1:8000/a/b?c=1") == ("198.51.100.1", 8000, "/a/b?c=1")
    assert parse_url("http://198.51.100.1") == ("198.51.100.1", 80, "/")
    for bad in ("https://x/", "ftp://x", "http:///nohost"):
        try:
            parse_url(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")


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
