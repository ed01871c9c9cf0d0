"""Audit additions for issue 5: behaviour the issue names that the other test files did not pin down.

Each test replays one rule on two TCBs in memory (``Pair`` of test_tcp_connection) or on two simulated
stacks, and asserts what the rule demands, so that breaking the rule fails the test: zero-window probe
backoff, SWS avoidance on both sides, Karn's algorithm and the RTO's doubling on data, congestion
control driven through the machine, the §3.10.7.4 acceptability table, PAWS, data after close, the
configurable TIME-WAIT, RFC 6191 refusal of an older incarnation, unknown options, and the counters for
duplicate ACKs and out-of-order bytes.
"""

from __future__ import annotations

import errno
import random

import pytest
from test_tcp_connection import Pair

import netstack.sim as sim
from netstack.machines.congestion import CongestionPhase
from netstack.machines.tcp_connection import TcpState
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer
from netstack.engine.tcp.segment import ACK, FIN, RST, TcpSegment
from netstack.engine.tcp.seqnum import SEQ_MASK

NO_TS = dict(timestamps=False, window_scaling=False)


def established(pair: Pair) -> Pair:
    pair.a.connect(pair.now)
    assert pair.run(pair.established)
    return pair


def record_times(pair: Pair) -> list:
    """Make ``pair`` note (time, sender, segment) of everything it sends."""
    sent = []
    previous = pair.drop

    def note(name, seg):
        sent.append((pair.now, name, seg))
        return previous(name, seg) if previous is not None else False

    pair.drop = note
    return sent


# ------------------------------------------------------------------------------ persist / probes
def test_zero_window_probes_back_off_exponentially():
    """RFC 1122 §4.2.2.17 / RFC 9293 §3.8.6.1: probes of a zero window come ever further apart."""
    pair = established(Pair(config_b=TcpConfig(receive_buffer=4096, **NO_TS), config_a=TcpConfig(**NO_TS)))
    sent = record_times(pair)
    pair.a.send(bytes(20_000), pair.now)
    pair.run(max_time=pair.now + 200)
    assert pair.b.rcv.adv == pair.b.rcv.nxt  # the window is closed and stays closed
    full = pair.b.rcv.nxt
    probes = [t for t, name, seg in sent if name == "a" and len(seg.payload) == 1 and seg.seq == full]
    assert len(probes) >= 4, probes
    gaps = [b - a for a, b in zip(probes, probes[1:])]
    for earlier, later in zip(gaps, gaps[1:]):
        assert later >= 1.9 * earlier or later >= 59.0, gaps  # doubling up to the 60 s cap
    assert pair.a.state is TcpState.ESTABLISHED and not pair.a.dead  # answered probes are no failure
    assert pair.a.stats["zero_window_probes"] == len(probes)


# -------------------------------------------------------------------------------------- SWS
def test_receiver_sws_avoidance_keeps_the_window_shut_for_small_reads():
    """RFC 1122 §4.2.3.3: after a zero window, reading less than min(MSS, buffer/2) opens nothing."""
    pair = established(Pair(config_b=TcpConfig(receive_buffer=8192, **NO_TS), config_a=TcpConfig(**NO_TS)))
    pair.a.send(bytes(30_000), pair.now)
    pair.run(max_time=pair.now + 5)
    assert pair.b.rcv.adv == pair.b.rcv.nxt
    sent = record_times(pair)
    assert len(pair.b.recv(500, pair.now)) == 500  # 500 < min(1460, 4096)
    pair.run(max_time=pair.now + 3)
    windows = [seg.window for _, name, seg in sent if name == "b"]
    assert windows and set(windows) == {0}, windows  # probes answered, window still zero
    assert pair.b.recv(4000, pair.now)  # now 4500 free: at least min(MSS, buffer/2)
    pair.run(max_time=pair.now + 0.5)
    opened = [seg.window for _, name, seg in sent if name == "b" and seg.window]
    assert opened and opened[0] >= 4096


def test_sender_sws_avoidance_waits_for_a_useful_window():
    """RFC 1122 §4.2.3.4: with more data queued, a window smaller than MSS and than half the largest
    window offered sends nothing (until the override timeout); a full MSS goes out at once."""
    cfg = TcpConfig(**NO_TS)
    pair = established(Pair(config_a=cfg, config_b=cfg))
    a = pair.a
    assert a.snd.max_wnd >= 60_000
    # the peer's ACK shrinks the usable window to 100 bytes while nothing is in flight
    small = TcpSegment(80, 40000, a.rcv.nxt, a.snd.max, ACK, 100)
    a.segment_arrived(small, pair.now)
    a.outbox.clear()
    a.send(bytes(10_000), pair.now)
    assert [s for s in a.outbox if s.payload] == []  # no 100-byte silly segment
    assert a.persist_deadline is not None  # the override timer runs instead
    wide = TcpSegment(80, 40000, a.rcv.nxt, a.snd.max, ACK, 3000)
    a.segment_arrived(wide, pair.now)
    sizes = [len(s.payload) for s in a.outbox if s.payload]
    assert sizes == [a.snd.mss] * (3000 // a.snd.mss)  # full segments only; the 80-byte rest waits


# ----------------------------------------------------------------------------- RFC 6298 / Karn
def test_karn_no_rtt_sample_from_a_retransmitted_segment():
    """RFC 6298 §3 (Karn): without timestamps, the ACK of a retransmitted segment is no sample."""
    cfg = TcpConfig(**NO_TS)
    pair = established(Pair(config_a=cfg, config_b=cfg))
    dropped = []

    def drop_first_data(name, seg):
        if name == "a" and seg.payload and not dropped:
            dropped.append(seg)
            return True
        return False

    pair.drop = drop_first_data
    samples = pair.a.snd.rtt.samples
    pair.a.send(b"x" * 100, pair.now)
    pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    assert dropped and pair.a.stats["retransmissions"] == 1
    assert pair.a.snd.rtt.samples == samples  # the ambiguous ACK gave nothing
    pair.a.send(b"y" * 100, pair.now)
    pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    assert pair.a.snd.rtt.samples == samples + 1  # a clean one does


def test_data_rto_doubles_and_respects_the_configured_minimum():
    """RFC 6298 (2.4) minimum RTO (configurable) and (5.5) doubling on each expiry."""
    cfg = TcpConfig(min_rto=0.5, max_retransmits=5, **NO_TS)
    pair = established(Pair(config_a=cfg, config_b=TcpConfig(**NO_TS)))
    assert pair.a.snd.rtt.rto == pytest.approx(0.5)  # 2 ms RTT, floored at min_rto
    sent = record_times(pair)
    pair.drop = lambda name, seg, note=pair.drop: note(name, seg) or True  # the network dies
    pair.a.send(b"lost", pair.now)
    pair.run(lambda: pair.a.dead)
    times = [t for t, name, seg in sent if name == "a" and seg.payload]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps == pytest.approx([0.5 * 2**k for k in range(5)])  # 0.5, 1, 2, 4, 8 s
    assert pair.a.error == errno.ETIMEDOUT


# ------------------------------------------------------------------------------- congestion
def test_slow_start_grows_cwnd_and_an_rto_collapses_it_through_the_machine():
    """RFC 5681 §3.1: cwnd grows per ACK in slow start; after an RTO, cwnd = 1 MSS (loss window),
    ssthresh = max(FlightSize/2, 2 MSS), and the machine's phase says LOSS until the next new ACK."""
    pair = established(Pair())
    a = pair.a
    initial = a.snd.cc.cwnd
    assert a.snd.cc.phase is CongestionPhase.SLOW_START
    a.send(bytes(200_000), pair.now)
    pair.run(lambda: a.snd.una == a.snd.max)
    assert a.snd.cc.cwnd > 4 * initial
    pair.drop = lambda name, seg: name == "b"  # ACKs are lost
    a.send(bytes(50_000), pair.now)
    flight = (a.snd.max - a.snd.una) & SEQ_MASK
    pair.run(lambda: a.stats["rto_firings"] >= 1)
    assert a.snd.cc.phase is CongestionPhase.LOSS
    assert a.snd.cc.cwnd == a.snd.mss
    assert a.snd.cc.ssthresh == max(flight // 2, 2 * a.snd.mss)
    pair.drop = None
    pair.run(lambda: a.snd.una == a.snd.max)
    assert a.snd.cc.phase in (CongestionPhase.SLOW_START, CongestionPhase.CONGESTION_AVOIDANCE)


# ------------------------------------------------------------------ RFC 9293 §3.10.7.4, PAWS
def test_acceptability_table_rfc9293_3_10_7_4():
    cfg = TcpConfig(receive_buffer=10_000, **NO_TS)
    pair = established(Pair(config_a=cfg, config_b=TcpConfig(**NO_TS)))
    a = pair.a
    nxt, una = a.rcv.nxt, a.snd.una
    wnd = (a.rcv.adv - nxt) & SEQ_MASK
    assert wnd == 10_000
    # beyond the window: dropped, answered with an ACK of RCV.NXT
    a.outbox.clear()
    a.segment_arrived(TcpSegment(80, 40000, (nxt + wnd + 10) & SEQ_MASK, una, ACK, 1000, b"late"), pair.now)
    assert [(s.flags, s.ack) for s in a.outbox] == [(ACK, nxt)] and len(a.rcv.buffer) == 0
    # an old duplicate wholly before RCV.NXT: the same
    a.outbox.clear()
    a.segment_arrived(TcpSegment(80, 40000, (nxt - 50) & SEQ_MASK, una, ACK, 1000, b"old" * 10), pair.now)
    assert [(s.flags, s.ack) for s in a.outbox] == [(ACK, nxt)] and len(a.rcv.buffer) == 0
    # straddling the left edge: only the new part is taken
    a.segment_arrived(TcpSegment(80, 40000, (nxt - 3) & SEQ_MASK, una, ACK, 1000, b"oldNEW"), pair.now)
    assert a.recv(100, pair.now) == b"NEW"
    # straddling the right edge: trimmed to the window
    nxt = a.rcv.nxt
    wnd = (a.rcv.adv - nxt) & SEQ_MASK
    a.segment_arrived(TcpSegment(80, 40000, nxt, una, ACK, 1000, bytes(wnd + 500)), pair.now)
    assert len(a.rcv.buffer) == wnd and a.rcv.nxt == (nxt + wnd) & SEQ_MASK
    # zero window: a segment with SEG.LEN > 0 at RCV.NXT is not acceptable (data or FIN); an ACK is
    assert a.rcv.adv == a.rcv.nxt
    for flags, payload in ((ACK, b"z"), (ACK | FIN, b"")):
        a.outbox.clear()
        a.segment_arrived(TcpSegment(80, 40000, a.rcv.nxt, una, flags, 1000, payload), pair.now)
        assert len(a.rcv.buffer) == wnd and [(s.flags, s.ack) for s in a.outbox] == [(ACK, a.rcv.nxt)]
        assert a.state is TcpState.ESTABLISHED
    a.send(b"q", pair.now)
    a.outbox.clear()
    a.segment_arrived(TcpSegment(80, 40000, a.rcv.nxt, a.snd.max, ACK, 1000), pair.now)
    assert a.snd.una == a.snd.max  # the empty ACK was taken


def test_paws_drops_a_segment_with_an_old_timestamp():
    """RFC 7323 §5: data carrying a TSval older than TS.Recent is dropped (and ACKed), not delivered."""
    pair = established(Pair())
    a = pair.a
    assert a.use_timestamps and a.timestamp_state.ts_recent is not None
    recent = a.timestamp_state.ts_recent
    old = TcpSegment(80, 40000, a.rcv.nxt, a.snd.una, ACK, 1000, b"replayed")
    old.tsval, old.tsecr = (recent - 1000) & SEQ_MASK, 0
    a.outbox.clear()
    a.segment_arrived(old, pair.now)
    assert len(a.rcv.buffer) == 0 and a.counters is not None
    assert a.outbox and a.outbox[-1].flags == ACK  # answered with an ACK, RFC 7323 §5.3 R1
    fresh = TcpSegment(80, 40000, a.rcv.nxt, a.snd.una, ACK, 1000, b"fresh")
    fresh.tsval, fresh.tsecr = (recent + 1) & SEQ_MASK, 0
    a.segment_arrived(fresh, pair.now)
    assert a.recv(100, pair.now) == b"fresh"


# ----------------------------------------------------------------------- close and TIME-WAIT
def test_data_arriving_after_close_is_answered_with_rst():
    """RFC 9293 §3.10.4 / RFC 1122 §4.2.2.13: the application closed; new data gets a reset."""
    pair = established(Pair())
    pair.b.close(pair.now)
    pair.run(lambda: pair.b.state is TcpState.FIN_WAIT_2)
    pair.a.send(b"nobody reads this", pair.now)
    pair.run(lambda: pair.a.dead)
    assert pair.a.error == errno.ECONNRESET
    assert any(seg.flags & RST for name, seg in pair.log if name == "b")
    assert pair.b.dead


def test_time_wait_lasts_two_configured_msl():
    pair = established(Pair(config_a=TcpConfig(msl=2.5)))
    pair.a.close(pair.now)
    pair.run(lambda: pair.a.state is TcpState.FIN_WAIT_2)
    pair.b.close(pair.now)
    pair.run(lambda: pair.a.state is TcpState.TIME_WAIT)
    entered = pair.now
    pair.run(lambda: pair.a.dead)
    assert pair.now - entered == pytest.approx(5.0, abs=0.01)


def _time_wait_server(timestamps=True):
    net = sim.Network(seed=2)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.001)
    ta = TcpLayer.attach(a.stack, TcpConfig(timestamps=timestamps), isn_secret=b"a")
    tb = TcpLayer.attach(b.stack, TcpConfig(timestamps=timestamps), isn_secret=b"b")
    server = TcpServer(tb, 80)
    accepted = []
    server.on_accept = lambda srv, now: accepted.append(srv.accept())
    first = a.call(TcpStream.connect, ta, bytes([192, 0, 2, 2]), 80)
    net.run_until(lambda: accepted, 5)
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


# ------------------------------------------------------------------------ options and counters
def test_unknown_options_are_ignored_and_known_ones_still_read():
    """RFC 9293 §3.2: a TCP must ignore an option kind it does not implement (given its length)."""
    from scapy.layers.inet import IP, TCP

    net = sim.Network(seed=4)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=0.001)
    tb = TcpLayer.attach(b.stack, TcpConfig(), isn_secret=b"b")
    TcpServer(tb, 80)
    syn = IP(src="192.0.2.1", dst="192.0.2.2") / TCP(
        sport=40000, dport=80, flags="S", seq=1000, window=65535,
        options=[(253, b"\x12\x34\x56"), ("MSS", 1000), (99, b""), ("NOP", None), ("WScale", 2)],
    )
    raw = bytes(syn)[20:]
    b.call(tb.receive, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]), raw, net.clock)
    assert b.stack.counters.get("tcp.drop.malformed", 0) == 0
    child = next(iter(tb.listeners.values())).half_open
    conn = next(iter(child.values())) if isinstance(child, dict) else next(iter(child))
    assert conn.state is TcpState.SYN_RECEIVED
    assert conn.snd.mss == 1000 and conn.snd.wscale == 2  # the known options around them were read


def test_duplicate_acks_and_out_of_order_bytes_are_counted():
    """Issue 5 item 6: the counters for dup ACKs seen and out-of-order bytes queued move."""
    cfg = TcpConfig(**NO_TS)
    dropped = []
    armed = []

    def drop_one_data_segment(name, seg):
        if armed and name == "a" and seg.payload and not dropped:
            dropped.append(seg)
            return True
        return False

    pair = established(Pair(config_a=cfg, config_b=cfg, drop=drop_one_data_segment))
    warmup = bytes(100_000)  # opens cwnd so that enough segments follow the lost one
    pair.a.send(warmup, pair.now)
    pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    assert pair.b.recv(200_000, pair.now) == warmup
    armed.append(True)
    data = random.Random(8).randbytes(60_000)
    pair.a.send(data, pair.now)
    pair.run(lambda: pair.a.snd.una == pair.a.snd.max)
    assert dropped
    assert pair.b.stats["out_of_order_bytes"] >= pair.a.snd.mss
    assert pair.a.stats["dup_acks"] >= 3 and pair.a.stats["fast_retransmits"] == 1
    assert pair.b.recv(100_000, pair.now) == data
