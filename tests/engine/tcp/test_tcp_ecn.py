"""ECN (RFC 3168) and Eifel (RFC 3522), scripted: the negotiation matrix of ``TcpConfig.ecn`` (Linux's
tcp_ecn 0/1/2) on the wire of a simulated link, also through a SYN cookie; ECT(0) on new data only (not
on SYNs, pure ACKs or retransmissions); a CE mark echoed as ECE on every ACK until CWR; one window
reduction (and one CWR) for a burst of echoes, another a window later; a bulk transfer on a link that
marks 2 % of ECT frames finishing with no retransmission and cwnd held down; and a delayed, retransmitted
segment whose ACK echoes the original's timestamp undoing the reduction."""

from __future__ import annotations

import pytest

import netstack.sim as sim
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer
from netstack.engine.tcp.segment import ACK, CWR, ECE, SYN
from netstack.engine.tcp.sender import TcpSender
from netstack.formats.fast import decode_ethernet, decode_ipv4, decode_tcp
from netstack.formats.ipv4 import ECN_CE, ECN_ECT0, ECN_NOT_ECT
from netstack.machines.congestion import CongestionPhase, congestion_control
from netstack.machines.cubic import BETA_CUBIC
from netstack.sockets.options import TCPI_OPT_ECN, TCP_INFO_LAYOUT, tcp_info_bytes
from tests.support.tcp_pair import Pair, established

A_IP, B_IP = "192.0.2.1/24", "192.0.2.2/24"
B_ADDR = bytes([192, 0, 2, 2])
PORT = 5001
ONE_WAY = 0.01


class Wire:
    """Two simulated hosts with TCP, every frame on the link decoded as (sender, tos ECN, TCP header)."""

    def __init__(self, config_a: TcpConfig, config_b: TcpConfig, *, seed: int = 1, **link):
        self.net = sim.Network(seed=seed)
        self.a = self.net.host(A_IP)
        self.b = self.net.host(B_IP)
        self.link = self.net.link(self.a, self.b, delay=link.pop("delay", ONE_WAY), **link)
        self.tcp_a = TcpLayer.attach(self.a.stack, config_a)
        self.tcp_b = TcpLayer.attach(self.b.stack, config_b)
        self.segments = []  # (sender name, ECN codepoint, TcpHeader) as sent, before the link's marks
        transmit = self.link.transmit

        def record(sender, frame):
            ethernet = decode_ethernet(frame)
            if ethernet.ethertype == 0x0800:
                ip = decode_ipv4(frame, ethernet.payload_offset)
                if ip.protocol == 6:
                    tcp = decode_tcp(frame, ip.payload_offset, ip.payload_end)
                    self.segments.append(("a" if sender is self.a else "b", ip.tos & 3, tcp))
            transmit(sender, frame)

        self.link.transmit = record
        self.server = TcpServer(self.tcp_b, PORT)
        self.accepted = []
        self.server.on_accept = lambda server, now: self.accepted.append(server.accept())

    def connect(self) -> TcpStream:
        stream = self.a.call(TcpStream.connect, self.tcp_a, B_ADDR, PORT)
        assert self.net.run_until(lambda: stream.connected and self.accepted, 10)
        return stream

    def bulk(self, stream: TcpStream, size: int, limit: float = 120.0) -> bytes:
        """``size`` bytes a -> b; returns what b read."""
        data = bytes(range(256)) * (size // 256)
        got = bytearray()
        sent = [0]
        server = self.accepted[0]

        def pump():
            while sent[0] < len(data):
                n = stream.send(data[sent[0]:sent[0] + 65536])
                if not n:
                    break
                sent[0] += n
            try:
                while True:
                    got.extend(server.recv(1 << 20))
            except BlockingIOError:
                pass
            return len(got) == len(data)

        done = False
        deadline = self.net.clock + limit
        while not done and self.net.clock < deadline:
            done = self.a.call(pump)
            self.net.run_until(lambda: False, 0.005)
        assert bytes(got) == data
        return bytes(got)


def ecn_config(mode: int, **changes) -> TcpConfig:
    return TcpConfig(ecn=mode, **changes)


def tcpi_options(conn) -> int:
    return TCP_INFO_LAYOUT.unpack(tcp_info_bytes(conn.info()))[5]


@pytest.mark.parametrize("client", [0, 1, 2])
@pytest.mark.parametrize("server", [0, 1, 2])
def test_negotiation_matrix_tcp_ecn_modes_rfc3168_6_1_1(client, server):
    wire = Wire(ecn_config(client), ecn_config(server))
    stream = wire.connect()
    expected = client == 1 and server != 0  # 1 requests; 1 and 2 accept a request; 0 neither
    syn = [tcp for name, _, tcp in wire.segments if name == "a" and tcp.flags & (SYN | ACK) == SYN][0]
    syn_ack = [tcp for name, _, tcp in wire.segments if name == "b" and tcp.flags & (SYN | ACK) == SYN | ACK][0]
    assert (syn.flags & (ECE | CWR) == ECE | CWR) == (client == 1)
    assert syn_ack.flags & (ECE | CWR) == (ECE if expected else 0)
    assert stream.conn.ecn == wire.accepted[0].conn.ecn == expected
    assert bool(tcpi_options(stream.conn) & TCPI_OPT_ECN) == expected
    assert stream.conn.info()["ecn"] == expected
    assert wire.a.stack.counters.get("tcp.ecn.negotiated", 0) == int(expected)


@pytest.mark.parametrize("server,timestamps,expected", [(2, True, True), (1, True, True), (0, True, False),
                                                         (2, False, False)])
def test_negotiation_through_a_syn_cookie_rfc3168_rfc4987(server, timestamps, expected):
    wire = Wire(ecn_config(1, timestamps=timestamps), ecn_config(server, syn_cookies="always", timestamps=timestamps))
    stream = wire.connect()
    assert wire.b.stack.counters.get("tcp.syncookies.recv_ok", 0) == 1
    syn_ack = [tcp for name, _, tcp in wire.segments if name == "b" and tcp.flags & SYN][0]
    assert bool(syn_ack.flags & ECE) == expected
    assert stream.conn.ecn == wire.accepted[0].conn.ecn == expected
    if expected:  # the rebuilt connection marks its data and echoes CE like any other
        wire.b.call(wire.accepted[0].send, b"x" * 3000)
        wire.net.run_until(lambda: False, 0.1)
        data = [ecn for name, ecn, tcp in wire.segments if name == "b" and payload_length(tcp)]
        assert data and set(data) == {ECN_ECT0}


def payload_length(tcp) -> int:
    return tcp.payload_end - tcp.payload_offset


def test_ect0_on_new_data_only_not_syn_pure_ack_or_retransmission_rfc3168_6_1_2_to_6_1_6():
    wire = Wire(ecn_config(1), ecn_config(2), seed=3, loss=0.03)
    stream = wire.connect()
    wire.bulk(stream, 300_000)
    seen = set()
    new, resent = [], []
    for name, ecn, tcp in wire.segments:
        if tcp.flags & SYN:
            assert ecn == ECN_NOT_ECT, "a SYN is never ECT (RFC 3168 §6.1.1)"
        elif not payload_length(tcp):
            assert ecn == ECN_NOT_ECT, "a pure ACK is never ECT (RFC 3168 §6.1.4)"
        elif name == "a":
            (resent if tcp.seq in seen else new).append(ecn)
            seen.add(tcp.seq)
    assert resent, "3 % loss and no retransmission?"
    assert set(new) == {ECN_ECT0}
    assert set(resent) == {ECN_NOT_ECT}, "retransmissions are not ECT (RFC 3168 §6.1.5)"


def test_bulk_transfer_with_ce_marks_and_no_loss_never_retransmits_and_holds_cwnd_down():
    results = {}
    for ce in (0.0, 0.02):
        wire = Wire(ecn_config(1), ecn_config(2), seed=5, ce=ce, bandwidth=50e6)
        stream = wire.connect()
        wire.bulk(stream, 2_000_000)
        conn = stream.conn
        results[ce] = (conn.stats["retransmissions"], conn.snd.cc.cwnd, conn.stats["ecn_reductions"],
                       wire.link.counters.get("ce_marked", 0))
    assert results[0.0][2:] == (0, 0)
    retransmissions, cwnd, reductions, marked = results[0.02]
    assert marked > 10 and reductions > 3
    assert retransmissions == 0, "a mark is not a loss: nothing to resend"
    assert cwnd < results[0.0][1] / 4, results


# ---------------------------------------------------------------------- connection level (tcp_pair)

def ecn_pair(**changes) -> Pair:
    pair = established(Pair(config_a=TcpConfig(ecn=1, **changes), config_b=TcpConfig(ecn=2, **changes),
                            delay=ONE_WAY))
    assert pair.a.ecn and pair.b.ecn
    return pair


def mark_data_segments(pair: Pair, *indexes: int) -> None:
    """The a->b data segments with these indexes (0 = the next one sent) arrive CE-marked."""
    count = [0]

    def rule(name, seg):
        if name == "a" and seg.payload:
            if count[0] in indexes:
                assert seg.ecn == ECN_ECT0
                seg.ecn = ECN_CE  # what a router does to an ECT packet instead of dropping it
            count[0] += 1
        return False

    pair.drop = rule


def warm(pair: Pair, amount: int = 200_000) -> None:
    pair.a.send(bytes(amount), pair.now)
    assert pair.run(lambda: pair.b.recv(1 << 20, pair.now) is not None and pair.a.snd.una == pair.a.snd.max)


def log_arrivals_at_b(pair: Pair) -> None:
    """Note ("arrived", segment) in ``pair.log`` as b receives it, between b's outputs (logged at flush)."""
    receive = pair.b.segment_arrived

    def arrived(seg, now):
        pair.log.append(("arrived", seg))
        receive(seg, now)

    pair.b.segment_arrived = arrived


def test_ce_is_echoed_on_every_ack_until_cwr_rfc3168_6_1_3():
    pair = ecn_pair()
    warm(pair)
    log_arrivals_at_b(pair)
    start = len(pair.log)
    mark_data_segments(pair, pair.a.snd.cc.cwnd // pair.a.snd.mss + 3)  # in the second round trip
    pair.a.send(bytes(4 * pair.a.snd.cc.cwnd), pair.now)
    assert pair.run(lambda: pair.b.recv(1 << 20, pair.now) is not None and pair.a.snd.una == pair.a.snd.max)
    log = pair.log[start:]
    ce_at = next(i for i, (name, seg) in enumerate(log) if name == "arrived" and seg.ecn == ECN_CE)
    cwr_at = next(i for i, (name, seg) in enumerate(log) if name == "arrived" and seg.flags & CWR)
    before = [seg for name, seg in log[:ce_at] if name == "b"]
    echoing = [seg for name, seg in log[ce_at:cwr_at] if name == "b"]
    after = [seg for name, seg in log[cwr_at:] if name == "b"]
    assert before and not any(seg.flags & ECE for seg in before)
    assert len(echoing) > 1 and all(seg.flags & ECE for seg in echoing), "ECE on every ACK until CWR"
    assert after and not any(seg.flags & ECE for seg in after), "the CWR ended the echo"
    assert pair.b.stats["ce_received"] == 1 and not pair.b.rcv.ecn_echo
    cwr = [seg for name, seg in log if name == "a" and seg.flags & CWR]
    assert len(cwr) == 1 and cwr[0].payload, "CWR once, on new data"


def test_a_burst_of_echoes_reduces_once_per_window_and_sets_cwr_once_rfc3168_6_1_2():
    pair = ecn_pair()
    warm(pair)
    a = pair.a
    before = a.snd.cc.cwnd
    assert before > 20 * a.snd.mss
    events = []
    a.trace = lambda name, **fields: events.append((name, fields))
    start = len(pair.log)
    mark_data_segments(pair, 2, 3, 4, 6, 9)  # several marks in one window: many ECE ACKs
    a.send(bytes(3 * before), pair.now)
    assert pair.run(lambda: pair.b.recv(1 << 20, pair.now) is not None and a.snd.una == a.snd.max)
    reductions = [fields for name, fields in events if name == "tcp.ecn_reduction"]
    assert len(reductions) == 1 and a.stats["ecn_reductions"] == 1
    assert reductions[0]["cwnd"] == reductions[0]["ssthresh"] == max(int(before * BETA_CUBIC), 2 * a.snd.mss)
    ece_acks = [seg for name, seg in pair.log[start:] if name == "b" and seg.flags & ECE]
    assert len(ece_acks) > 1
    assert sum(1 for name, seg in pair.log[start:] if name == "a" and seg.flags & CWR) == 1
    assert a.stats["retransmissions"] == 0
    # no growth while the reduced window drains, then congestion avoidance
    assert a.snd.cc.phase is CongestionPhase.CONGESTION_AVOIDANCE
    # a mark a window later is new congestion: reduced again
    reduced = a.snd.cc.cwnd
    mark_data_segments(pair, 1)
    a.send(bytes(3 * reduced), pair.now)
    assert pair.run(lambda: pair.b.recv(1 << 20, pair.now) is not None and a.snd.una == a.snd.max)
    assert a.stats["ecn_reductions"] == 2
    assert a.snd.cc.ssthresh < reduced


def test_an_echo_during_loss_recovery_keeps_the_reduction_from_being_undone():
    algorithm = congestion_control("cubic")(mss=1000)
    algorithm.cwnd = 40_000
    assert algorithm.on_loss_detected(40_000, 1000, 41_000)
    assert algorithm.prior is not None
    assert not algorithm.on_ecn_echo(40_000, 1000, 41_000)
    assert algorithm.prior is None and not algorithm.on_spurious_loss()


def delay_data_segment(pair: Pair, index: int, extra: float) -> list:
    """The a->b data segment ``index`` arrives ``extra`` seconds late (reordered, not lost)."""
    count = [0]
    delayed = []

    def rule(name, seg):
        if name == "a" and seg.payload:
            count[0] += 1
            if count[0] - 1 == index:
                delayed.append(seg.seq)
                pair.queue.append((pair.now + pair.delay + extra, next(pair.order), name, seg))
                pair.queue.sort()
                return True
        return False

    pair.drop = rule
    return delayed


def test_eifel_a_delayed_segment_retransmitted_anyway_undoes_the_reduction_rfc3522():
    pair = established(Pair(config_a=TcpConfig(), config_b=TcpConfig(), delay=ONE_WAY))
    assert pair.a.use_timestamps
    warm(pair)
    a = pair.a
    events = []
    a.trace = lambda name, **fields: events.append((name, fields))
    before = (a.snd.cc.cwnd, a.snd.cc.ssthresh)
    delayed = delay_data_segment(pair, 2, 0.02)  # arrives after RACK resent it, before the resend does
    a.send(bytes(30 * a.snd.mss), pair.now)
    assert pair.run(lambda: pair.b.recv(1 << 20, pair.now) is not None and a.snd.una == a.snd.max)
    resent = [seg for name, seg in pair.log if name == "a" and seg.seq == delayed[0] and seg.payload]
    assert len(resent) == 2, "the delayed segment was retransmitted"
    assert a.snd.cc.reductions >= 1
    undo = [fields for name, fields in events if name == "tcp.undo"]
    assert undo and undo[0]["detection"] == "eifel"
    assert a.counters["tcp.eifel_detections"] == 1
    assert (a.snd.cc.cwnd, a.snd.cc.ssthresh) >= before
    assert a.snd.cc.phase in (CongestionPhase.CONGESTION_AVOIDANCE, CongestionPhase.SLOW_START)


def test_eifel_needs_an_older_echo_a_real_loss_is_not_undone():
    pair = established(Pair(config_a=TcpConfig(), config_b=TcpConfig(), delay=ONE_WAY))
    warm(pair)
    a = pair.a
    count = [0]

    def drop_third(name, seg):
        if name == "a" and seg.payload:
            count[0] += 1
            return count[0] == 3
        return False

    pair.drop = drop_third
    a.send(bytes(30 * a.snd.mss), pair.now)
    assert pair.run(lambda: pair.b.recv(1 << 20, pair.now) is not None and a.snd.una == a.snd.max)
    assert a.stats["fast_retransmits"] == 1
    assert a.counters["tcp.eifel_detections"] == 0
    assert a.snd.cc.prior is not None, "the reduction stands"


def test_eifel_judges_only_an_ack_that_covers_the_retransmitted_segment_rfc3522():
    # With SACK and RACK the first retransmission of a reduction need not be at SND.UNA: an ACK for
    # an original below it echoes an older TSval and proved nothing (before, it undid every reduction
    # of a 5 % loss transfer in the simulator, seeds 4 and 6: cwnd grew to 3 MB, 1,576 retransmissions).
    snd = TcpSender(1000, TcpConfig(), 1000)
    snd.cc = congestion_control("cubic")(mss=1000)
    snd.cc.cwnd = 40_000
    assert snd.cc.on_loss_detected(40_000, 1000, 41_000)
    snd.arm_eifel(5000, 11_000)  # the first retransmission: [10_000, 11_000) at TSval 5000
    assert not snd.retransmission_was_spurious(3000, 4000), "an ACK below the segment says nothing"
    assert snd.eifel_retransmit_ts == 5000, "and leaves the detection armed"
    assert snd.retransmission_was_spurious(11_000, 4999), "the ACK covering it echoes the original's TSval"
    assert snd.eifel_retransmit_ts is None


def test_eifel_an_ack_covering_the_retransmission_with_its_own_echo_is_a_real_loss():
    snd = TcpSender(1000, TcpConfig(), 1000)
    snd.cc = congestion_control("cubic")(mss=1000)
    snd.cc.cwnd = 40_000
    assert snd.cc.on_loss_detected(40_000, 1000, 41_000)
    snd.arm_eifel(5000, 11_000)
    assert not snd.retransmission_was_spurious(12_000, 5000)
    assert snd.eifel_retransmit_ts is None
