"""Every TCP event named in netstack/engine/tcp/layer.py's docstring appears as a trace event under loss.

A lossy, reordering simulated link with a small receive buffer makes a transfer go through segments
in and out, state changes, duplicate ACKs, fast retransmits, RTO firings, go-back-N retransmissions,
out-of-order queueing and zero-window probes; an abort adds resets. The trace goes through ``logging``
(logger ``netstack.trace``), so the test installs its own handler.
"""

from __future__ import annotations

import logging

import netstack.sim as sim
from netstack.engine.observability import TRACE_LOGGER
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.events: list[tuple[str, dict]] = []

    def emit(self, record):
        event = getattr(record, "event", None)
        if event is not None:
            self.events.append((event, dict(getattr(record, "fields", {}) or {})))


def test_tcp_events_are_traced():
    logger = logging.getLogger(TRACE_LOGGER)
    handler = _Collect()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        net = sim.Network(seed=7)
        a = net.host("192.0.2.1/24")
        b = net.host("192.0.2.2/24")
        link = net.link(a, b, loss=0.08, reorder=0.1, delay=0.002, jitter=0.001)
        config = TcpConfig(receive_buffer=8192)
        layer_a = TcpLayer.attach(a.stack, config)
        layer_b = TcpLayer.attach(b.stack, config)
        server = TcpServer(layer_b, 5001)
        client = TcpStream.connect(layer_a, bytes([192, 0, 2, 2]), 5001, net.clock)
        net.run_until(lambda: server.pending, timeout=30)
        accepted = server.accept()
        payload = bytes(range(256)) * 1024  # 256 KiB through an 8 KiB window
        sent = 0
        received = bytearray()
        for _ in range(4000):
            if sent < len(payload):
                sent += client.send(payload[sent:sent + 16384])
            net.run(0.05)
            if len(received) < sent and _ % 7 == 0:  # a slow reader: the window closes now and then
                try:
                    received += accepted.recv(4096)
                except BlockingIOError:
                    pass
            if len(received) == len(payload):
                break
        assert bytes(received) == payload
        link.loss = link.reorder = 0.0  # the reset must arrive
        a.call(client.abort)
        net.run(1.0)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    names = {name for name, _ in handler.events}
    for expected in ("tcp.segment_in", "tcp.segment_out", "tcp.state", "tcp.dup_ack", "tcp.retransmit",
                     "tcp.out_of_order", "tcp.zero_window_probe", "tcp.reset_received"):
        assert expected in names, f"no {expected} event (saw {sorted(names)})"
    segment = next(fields for name, fields in handler.events if name == "tcp.segment_out")
    assert {"conn", "seq", "ack", "flags", "len", "window"} <= segment.keys()
