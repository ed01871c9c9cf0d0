"""The transport layer on simulated stacks: demultiplexing, resets for closed ports, listener bounds,
TIME-WAIT reuse (RFC 6191), ICMP errors, counters and the connection table."""

from __future__ import annotations

import errno

import pytest

from netstack.machines.tcp_connection import TcpState
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.segment import TcpSegment
from netstack.engine.tcp.seqnum import SEQ_MASK

from tests.support.sim_hosts import B, connected, two_tcp_hosts


def test_rfc9293_3_10_7_1_closed_port_answers_reset_and_connect_is_refused():
    net, a, b, ta, tb = two_tcp_hosts()
    stream = a.call(TcpStream.connect, ta, B, 4444)
    net.run_until(lambda: stream.closed, 5)
    assert stream.error == errno.ECONNREFUSED
    assert b.stack.counters["tcp.resets_sent"] == 1 and b.stack.counters["tcp.drop.no_listener"] == 1
    with pytest.raises(ConnectionRefusedError):
        stream.recv()


def test_protocol_unreachable_in_syn_sent_is_a_hard_error():
    net, a, b, ta, tb = two_tcp_hosts(tcp_on_b=False)
    stream = a.call(TcpStream.connect, ta, B, 80)
    net.run_until(lambda: stream.closed, 5)
    assert stream.error == errno.ENOPROTOOPT
    assert a.stack.counters["tcp.icmp_errors"] == 1


def test_accept_queue_is_bounded_and_extra_syns_are_dropped():
    # SYN cookies off: with them the extra SYNs get cookie SYN-ACKs (tests/engine/tcp/test_syn_cookies.py)
    net, a, b, ta, tb = two_tcp_hosts(config_b=TcpConfig(accept_backlog=2, syn_cookies="off"))
    server = TcpServer(tb, 80)
    streams = [a.call(TcpStream.connect, ta, B, 80) for _ in range(4)]
    net.run(0.5)
    assert server.pending == 2
    assert sum(s.connected for s in streams) == 2
    assert b.stack.counters["tcp.drop.accept_queue_full"] >= 2
    # accepting frees room: the waiting clients' retransmitted SYNs get in
    assert server.accept() is not None and server.accept() is not None
    net.run(5)
    assert sum(s.connected for s in streams) == 4


def test_syn_backlog_is_bounded():
    net, a, b, ta, tb = two_tcp_hosts(config_b=TcpConfig(syn_backlog=1, syn_cookies="off"))
    TcpServer(tb, 80)
    # the server's SYN-ACKs are lost, so its children stay in SYN-RECEIVED
    b._transmit = lambda frames: None
    for _ in range(3):
        a.call(TcpStream.connect, ta, B, 80)
    net.run(0.1)
    assert b.stack.counters["tcp.drop.syn_backlog_full"] == 2
    assert len(tb.listeners[(None, 80)].half_open) == 1


def test_rfc6191_new_syn_reuses_a_time_wait_four_tuple():
    net, a, b, ta, tb = two_tcp_hosts()
    first, accepted = connected(net, a, ta, tb)
    b.call(accepted[0].close)  # the server closes first: the server side ends in TIME-WAIT
    net.run_until(lambda: first.at_eof, 5)
    a.call(first.close)
    net.run_until(lambda: accepted[0].state is TcpState.TIME_WAIT and first.closed, 5)
    port = first.conn.local_port
    net.run(1.0)
    second = a.call(TcpStream.connect, ta, B, 80, local_port=port)
    net.run_until(lambda: len(accepted) == 2, 5)
    assert second.connected and len(accepted) == 2 and accepted[1].connected
    assert b.stack.counters["tcp.time_wait_reused"] == 1


def test_counters_and_connection_table():
    net, a, b, ta, tb = two_tcp_hosts()
    stream, accepted = connected(net, a, ta, tb)
    a.call(stream.send, b"x" * 100_000)
    net.run(1)
    table = ta.connection_table()
    assert len(table) == 1 and table[0]["state"] == "ESTABLISHED"
    assert 0.002 <= table[0]["srtt"] <= 0.002 + 0.04  # two 1 ms hops, plus at most a delayed ACK
    counters = a.stack.counters
    assert counters["tcp.segments_out"] > 60 and counters["tcp.segments_in"] > 5  # ACKs: one per burst
    assert counters["tcp.active_opens"] == 1 and b.stack.counters["tcp.passive_opens"] == 1


def test_listen_twice_and_bad_port():
    net, a, b, ta, tb = two_tcp_hosts()
    TcpServer(tb, 80)
    with pytest.raises(OSError) as error:
        TcpServer(tb, 80)
    assert error.value.errno == errno.EADDRINUSE
    with pytest.raises(OSError):
        TcpServer(tb, 0)


def test_malformed_and_bad_checksum_segments_are_counted_not_raised():
    net, a, b, ta, tb = two_tcp_hosts()
    tb.receive(bytes([192, 0, 2, 1]), B, b"\x00" * 10, 0.0)
    tb.receive(bytes([192, 0, 2, 1]), B, b"\x00\x50\x00\x50" + b"\x00" * 8 + b"\x50\x02\xff\xff\x12\x34\x00\x00", 0.0)
    assert b.stack.counters["tcp.drop.malformed"] == 1
    assert b.stack.counters["tcp.drop.bad_checksum"] == 1


def test_closing_a_listener_resets_queued_connections():
    net, a, b, ta, tb = two_tcp_hosts()
    server = TcpServer(tb, 80)
    client = a.call(TcpStream.connect, ta, B, 80)
    net.run_until(lambda: server.pending == 1, 5)
    b.call(server.close)
    net.run_until(lambda: client.closed, 5)
    assert client.error == errno.ECONNRESET
    later = a.call(TcpStream.connect, ta, B, 80)
    net.run_until(lambda: later.closed, 5)
    assert later.error == errno.ECONNREFUSED  # nobody listens any more


class _Records(__import__("logging").Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_trace_events_for_state_changes_rto_and_resets():
    import logging

    # our own handler on the trace logger: other tests may have turned its propagation off
    logger = logging.getLogger("netstack.trace")
    handler = _Records()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        _trace_scenario(handler)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _trace_scenario(caplog):
    net, a, b, ta, tb = two_tcp_hosts()
    TcpServer(tb, 80)
    stream = a.call(TcpStream.connect, ta, B, 80)
    net.run_until(lambda: stream.connected, 5)
    refused = a.call(TcpStream.connect, ta, B, 81)
    net.run_until(lambda: refused.closed, 5)
    b._transmit = lambda frames: None  # b goes silent: a's data must be retransmitted
    a.call(stream.send, b"data")
    net.run(1.0)
    events = [(r.event, r.fields) for r in caplog.records if hasattr(r, "event")]
    names = {name for name, _ in events}
    assert {"tcp.state", "tcp.reset_sent", "tcp.rto"} <= names
    transitions = [(f["old"], f["new"]) for name, f in events if name == "tcp.state"]
    assert ("SYN-SENT", "ESTABLISHED") in transitions and ("SYN-RECEIVED", "ESTABLISHED") in transitions


def _time_wait_server(timestamps=True):
    net, a, b, ta, tb = two_tcp_hosts(TcpConfig(timestamps=timestamps), TcpConfig(timestamps=timestamps), seed=2)
    first, accepted = connected(net, a, ta, tb)
    b.call(accepted[0].close)
    net.run_until(lambda: first.at_eof, 5)
    a.call(first.close)
    net.run_until(lambda: accepted[0].state is TcpState.TIME_WAIT and first.closed, 5)
    return net, b, tb, accepted[0].conn, first.conn


def test_rfc6191_refuses_a_syn_that_is_not_newer():
    """RFC 6191 §2: only a SYN whose timestamp is newer than TS.Recent may reopen the 4-tuple."""
    net, b, tb, tw, client = _time_wait_server()
    assert tw.state is TcpState.TIME_WAIT and tw.use_timestamps
    recent = tw.timestamp_state.ts_recent
    syn = TcpSegment(client.local_port, 80, (tw.rcv.nxt + 100_000) & SEQ_MASK, 0, 0x02, 65535, mss=1460)
    syn.tsval, syn.tsecr = (recent - 1) & SEQ_MASK, 0
    assert not tb._may_reuse(tw, syn)  # an old timestamp: a duplicate, however large its ISN
    syn.tsval = (recent + 1) & SEQ_MASK
    assert tb._may_reuse(tw, syn)
    net, b, tb, tw, client = _time_wait_server(timestamps=False)
    older = TcpSegment(client.local_port, 80, (tw.rcv.nxt - 10) & SEQ_MASK, 0, 0x02, 65535, mss=1460)
    assert not tb._may_reuse(tw, older)  # without timestamps the ISN must lie beyond RCV.NXT


def test_tcp_stream_options_change_the_live_connection():
    """What the socket layer uses instead of reaching into the connection: buffer sizes, keepalive
    timing (re-arming a running keepalive), nodelay, the send MSS and TCP_INFO's extra fields."""
    net, a, b, ta, tb = two_tcp_hosts()
    stream, _accepted = connected(net, a, ta, tb)
    a.call(stream.set_buffer_sizes, receive=4096, send=8192)
    assert (stream.receive_buffer_size, stream.send_buffer_size) == (4096, 8192)
    assert (stream.config.receive_buffer, stream.config.send_buffer) == (4096, 8192)
    assert not stream.keepalive
    a.call(stream.set_keepalive, True)
    a.call(stream.set_keepalive_timing, keepalive_idle=3)
    assert stream.keepalive and stream.config.keepalive_idle == 3
    assert stream.conn.keepalive_deadline == pytest.approx(ta.clock() + 3, abs=0.01)
    a.call(stream.set_nodelay, True)
    assert stream.nodelay
    assert stream.send_mss == 1460 - 12  # timestamps negotiated on the 1500-byte link
    info = stream.info()
    assert info["state"] == "ESTABLISHED" and info["pmtu"] == 1500 and info["retransmits_in_a_row"] == 0
