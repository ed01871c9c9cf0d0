"""The HTTP client of ``netstack get`` on the simulated network: Content-Length and chunked bodies,
refusal and truncation reported, and a hostile or broken server cannot make it save bytes beyond
Content-Length, accept a negative length, take malformed chunk sizes, or buffer an endless chunk-size
line."""

from __future__ import annotations

import io

import netstack.sim as sim
from netstack.apps.http_client import MAX_CHUNK_LINE, HttpDownload, parse_url
from netstack.apps.tcp_services import tcp_layer_of
from netstack.engine.tcp.endpoint import TcpServer

B = bytes([192, 0, 2, 2])


def _network():
    net = sim.Network(seed=9)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.0005)
    return net, a, tcp_layer_of(a.stack), tcp_layer_of(b.stack)


def _serve(layer, port, response: bytes):
    """A server on ``port`` answering every request with the canned ``response``, then closing."""
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


def _get(net, a, layer, port):
    sink = io.BytesIO()
    download = a.call(HttpDownload, layer, B, port, "/", "x", sink, net.clock)
    net.run_until(lambda: download.done, 30)
    assert download.done
    return download, sink.getvalue()


def test_bytes_after_content_length_are_not_saved():
    net, a, client, server = _network()
    _serve(server, 8000, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA BYTES")
    download, body = _get(net, a, client, 8000)
    assert download.error is None and download.status == 200
    assert body == b"hello" and download.received == 5


def test_malformed_lengths_and_chunk_sizes_are_errors():
    net, a, client, server = _network()
    bad = {
        8001: b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc",
        8002: b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
        8003: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n",
        8004: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
        8005: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"0" * (MAX_CHUNK_LINE + 100),
    }
    for port, response in bad.items():
        _serve(server, port, response)
        download, body = _get(net, a, client, port)
        assert isinstance(download.error, ValueError), (port, download.error, body)
    _serve(server, 8006, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n")
    download, body = _get(net, a, client, 8006)
    assert download.error is None and body == b"abc0123456789"


def test_http_client_content_length_and_chunked():
    net, a, layer, server_layer = _network()
    body = bytes(range(256)) * 400
    _serve(server_layer, 8000, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in (body[:1000], body[1000:50000], body[50000:]))
    _serve(server_layer, 8001, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
    _serve(server_layer, 8002, b"HTTP/1.0 404 Not Found\r\n\r\nmissing")
    for port, status, expected in ((8000, 200, body), (8001, 200, body), (8002, 404, b"missing")):
        sink = io.BytesIO()
        download = a.call(HttpDownload, layer, B, port, "/f", "192.0.2.2", sink, net.clock)
        net.run_until(lambda: download.done, 30)
        assert download.done and download.error is None, download.error
        assert download.status == status and sink.getvalue() == expected


def test_http_client_reports_refusal_and_truncation():
    net, a, layer, server_layer = _network()
    _serve(server_layer, 8003, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
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
