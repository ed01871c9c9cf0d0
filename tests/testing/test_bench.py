"""netstack.testing.bench on the sim target: ARP, expectations, reports, pcaps, integrity, schedules."""

from __future__ import annotations

import os

import pytest

from netstack.formats.pcap import PcapReader
from netstack.testing.bench import Bench, ExpectationFailed, IntegrityError
from netstack.testing.matchers import between, has, tcp
from netstack.testing.targets import SimTarget, target_for
from netstack.testing.tcp_peer import TcpPeer


@pytest.fixture
def sim():
    target = SimTarget()
    return target


def test_bench_resolves_the_dut_and_answers_its_arp(sim, tmp_path):
    bench = sim.bench(tmp_path / "arp.pcap")
    assert bench.resolve() == "02:00:c0:00:02:02"
    peer = TcpPeer(bench, 7)
    peer.connect()  # the DUT must ARP for the bench to answer: the bench answered it
    assert any("arp" in f and f["arp"].tpa == bench.ip for f in bench.received)


def test_failure_report_is_side_by_side_and_keeps_the_pcap(sim, tmp_path):
    pcap = tmp_path / "failure.pcap"
    bench = sim.bench(pcap)
    peer = TcpPeer(bench, 7)
    with pytest.raises(ExpectationFailed) as failure:
        bench.send(peer.segment("S", seq=1, ack=0, absolute=True))
        peer.snd_nxt = 2
        peer.expect(tcp(flags="SA", ack=5, window=between(1, 10)), within=1.0)
    report = str(failure.value)
    assert "field" in report and "expected" in report and "received" in report
    assert "MISMATCH: flags" not in report  # flags agree: SA
    assert "tcp.window" in report and "65535" in report and "outside [1, 10]" in report
    assert str(pcap) in report
    bench.close(keep=True)
    frames = list(PcapReader(str(pcap)))
    assert len(frames) >= 3  # our ARP request, its reply, the SYN, the SYN-ACK


def test_a_passing_test_leaves_no_pcap(sim, tmp_path):
    pcap = tmp_path / "pass.pcap"
    bench = sim.bench(pcap)
    TcpPeer(bench, 7).connect()
    bench.close(keep=False)
    assert not os.path.exists(pcap)


def test_a_damaged_frame_from_the_dut_fails_the_test(sim, tmp_path):
    bench = sim.bench(tmp_path / "damaged.pcap")
    bench.resolve()
    host = sim.dut_host(bench)
    original = host._transmit

    def corrupt(frames):
        # one bit of the TTL: the IPv4 header checksum no longer holds (RFC 791 §3.1)
        original([frame[:22] + bytes([frame[22] ^ 1]) + frame[23:] if frame[12:14] == b"\x08\x00" else frame
                  for frame in frames])

    host._transmit = corrupt
    peer = TcpPeer(bench, 7)
    with pytest.raises(IntegrityError, match="checksum"):
        peer.connect()
        peer.send(b"flip a bit of the echo")
        peer.receive(22)


def test_expect_none_fails_when_the_frame_comes(sim, tmp_path):
    bench = sim.bench(tmp_path / "none.pcap")
    peer = TcpPeer(bench, 1)
    peer.send_segment("S", seq=1, ack=0, absolute=True)
    with pytest.raises(ExpectationFailed, match="expected no"):
        peer.expect_none(tcp(flags=has("R")), within=1.0)


def test_expect_schedule_measures_virtual_time_exactly(tmp_path):
    def schedule(name):
        bench = SimTarget().bench(tmp_path / name)
        peer = TcpPeer(bench, 9, src_port=40000)
        peer.connect(ack=False)
        # SYN-ACK retransmissions: the timer doubles (RFC 6298 (5.5)), netstack adds a little jitter
        gaps = bench.expect_schedule(peer.mine(tcp(flags="SA")), [2.0, 4.0], tolerance=0.25, within=2.0)
        with pytest.raises(ExpectationFailed, match="retransmission 1|gap 1"):
            bench.expect_schedule(peer.mine(tcp(flags="SA")), [1.0], tolerance=0.01, within=20.0)
        return gaps

    first = schedule("a.pcap")
    assert first == schedule("b.pcap")  # virtual time: the same to the last bit, run after run
    assert 1.5 <= first[1] / first[0] <= 2.5


def test_sim_runs_repeat_exactly(tmp_path):
    def run(name):
        bench = SimTarget().bench(tmp_path / name)
        peer = TcpPeer(bench, 7, src_port=40000)
        peer.connect()
        peer.send(b"same every time")
        peer.receive(15)
        bench.close()
        return (tmp_path / name).read_bytes()

    assert run("a.pcap") == run("b.pcap")


def test_target_names(tmp_path):
    assert target_for("sim:7").seed == 7
    with pytest.raises(ValueError, match="sim, sim:SEED, tap, linux or cmd:COMMAND"):
        target_for("bsd")
    with pytest.raises(ValueError, match="needs a command"):
        target_for("cmd:")
    assert isinstance(SimTarget().bench(tmp_path / "x.pcap"), Bench)
