"""Audit additions for the HTTP client of ``netstack get``: a hostile or broken server cannot make it
save bytes beyond Content-Length, accept a negative length, take malformed chunk sizes, or buffer an
endless chunk-size line."""

from __future__ import annotations

import io

import netstack.sim as sim
from netstack.apps.http_client import MAX_CHUNK_LINE, HttpDownload
from netstack.apps.tcp_services import tcp_layer_of
from test_tcp_services import _http_server as _serve  # answers one request with a canned response

B = bytes([192, 0, 2, 2])


def _network():
    net = sim.Network(seed=9)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.0005)
    return net, a, tcp_layer_of(a.stack), tcp_layer_of(b.stack)


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
