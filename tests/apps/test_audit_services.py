"""Audit additions for the services of ``netstack up`` (issue 5 item 4): a client that pipelines requests
without reading must not make the HTTP service queue responses without bound (the stack's memory is
bounded by configuration everywhere, and a 27-byte request buys a multi-kilobyte page); flow control
must push back instead, and every response still arrives, in order, once the client reads."""

from __future__ import annotations

import netstack.sim as sim
from netstack.apps.services import start_services
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpStream
from netstack.engine.tcp.layer import TcpLayer
from netstack.apps.tcp_services import HTTP_PORT, RESPONSE_BACKLOG

B = bytes([192, 0, 2, 2])
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
COUNT = 5_000


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
