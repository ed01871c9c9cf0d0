"""The recovery probe (``TimeoutPath._arm_probe``/``_recovery_probe``), scripted segment by segment:
while SACK-based loss recovery runs and nothing arrives for 2*SRTT, one segment goes beyond the
window; a second in the same silence only with new data to carry (FreeBSD's RACK stack,
``rack_tlp_in_recovery``; RFC 8985 §7.2 arms no probe during recovery). Without it each case below waits for the RTO (200 ms on a 20 ms path) and
restarts from cwnd = 1."""

from __future__ import annotations

from netstack.engine.tcp.config import TcpConfig
from netstack.machines.congestion import CongestionPhase
from tests.engine.tcp.test_tcp_loss_scenarios import warmed_up
from tests.support.tcp_pair import NO_TS, record_times


def _copies(sent: list, seq: int) -> list[float]:
    return [t for t, name, seg in sent if name == "a" and seg.payload and seg.seq == seq]


def _next_segment_lost(lost) -> tuple:
    """A warmed-up pair whose sender's next segment (``first``) is lost while ``lost(copies sent so
    far, sender)`` says so; returns (pair, sender, first, the times of everything sent)."""
    pair = warmed_up(TcpConfig(**NO_TS))
    a = pair.a
    first = a.snd.max
    sent = record_times(pair)
    note = pair.drop
    pair.drop = lambda name, seg: note(name, seg) or (
        name == "a" and seg.payload and seg.seq == first and lost(len(_copies(sent, first)), a))
    return pair, a, first, sent


def test_a_lost_retransmission_with_nothing_sent_after_it_is_resent_by_the_probe_not_the_rto():
    # A, the first of three segments, is lost, and so is its fast retransmission; B and C are SACKed.
    # Nothing is sent after A's retransmission (no new data), so RACK has no later delivery to go by.
    pair, a, first, sent = _next_segment_lost(lambda copies, a: copies <= 2)
    a.send(bytes(3 * a.snd.mss), pair.now)
    assert pair.run(lambda: a.snd.una == a.snd.max)
    copies = _copies(sent, first)
    assert len(copies) == 3
    assert a.stats["rto_firings"] == 0
    assert a.snd.recovery.stats["recovery_probes"] == 1
    # the third copy is the probe, 2*SRTT (+2 ms) after the lost retransmission, not an RTO later
    srtt = a.snd.rtt.srtt
    assert copies[2] - copies[1] <= 2 * srtt + 0.005 < a.snd.rtt.min_rto
    assert a.snd.cc.phase is not CongestionPhase.LOSS


def test_the_last_acks_of_a_recovery_lost_the_probes_ack_ends_it():
    pair = warmed_up(TcpConfig(**NO_TS))
    a = pair.a
    mss = a.snd.mss
    first = a.snd.max
    end = (first + 4 * mss) & 0xFFFFFFFF
    sent = record_times(pair)
    note = pair.drop
    full_acks_dropped = []

    def rule(name, seg):
        if note(name, seg):
            return True
        if name == "a" and seg.payload and seg.seq == first and len(_copies(sent, first)) == 1:
            return True  # A, the first of four, is lost once; the others are SACKed
        if name == "b" and seg.ack == end and not full_acks_dropped:
            full_acks_dropped.append(pair.now)  # the ACK for A's retransmission lost
            return True
        return False

    pair.drop = rule
    a.send(bytes(4 * mss), pair.now)
    assert pair.run(lambda: a.snd.una == a.snd.max)
    assert len(full_acks_dropped) == 1
    assert a.stats["rto_firings"] == 0
    assert a.snd.recovery.stats["recovery_probes"] == 1
    assert a.snd.cc.phase is CongestionPhase.CONGESTION_AVOIDANCE


def test_no_probe_while_acks_keep_arriving():
    # A single loss repaired by the ACK clock: no silence of 2*SRTT, so no probe.
    pair, a, first, sent = _next_segment_lost(lambda copies, a: copies == 1)
    a.send(bytes(10 * a.snd.mss), pair.now)
    assert pair.run(lambda: a.snd.una == a.snd.max)
    assert len(_copies(sent, first)) == 2
    assert a.stats["fast_retransmits"] == 1
    assert a.snd.recovery.stats["recovery_probes"] == 0


def test_without_new_data_one_probe_per_silence_then_the_rto():
    # A is lost with every copy until the RTO has fired: the fast retransmission and the probe (a
    # second probe would be A once more, an RTO without its backoff: none)
    pair, a, first, sent = _next_segment_lost(lambda copies, a: not a.stats["rto_firings"])
    a.send(bytes(3 * a.snd.mss), pair.now)
    assert pair.run(lambda: a.snd.una == a.snd.max)
    assert a.stats["rto_firings"] == 1
    assert a.snd.recovery.stats["recovery_probes"] == 1
    assert len(_copies(sent, first)) == 4  # the original, the fast retransmission, the probe, the RTO's


def test_a_lost_tail_loss_probe_is_followed_by_a_second_probe_of_new_data_not_the_rto():
    config = TcpConfig(timestamps=False)  # window scaling on: the peer's window is not what limits
    pair = warmed_up(config, config)
    a, b = pair.a, pair.b
    sent = record_times(pair)
    note = pair.drop
    end_before = a.snd.max

    def rule(name, seg):
        if note(name, seg):
            return True
        if not a.stats["tail_loss_probes"]:
            return name == "b"  # every ACK is lost: the window goes out and the sender falls silent
        if not a.snd.recovery.stats["recovery_probes"]:
            return name == "a" and seg.payload  # the tail loss probe is lost too
        return False

    pair.drop = rule
    a.send(bytes(400 * a.snd.mss), pair.now)  # more than the window: new data is waiting
    assert pair.run(lambda: a.snd.recovery.stats["recovery_probes"] > 0 or a.stats["rto_firings"] > 0)
    data = [(t, seg) for t, name, seg in sent if name == "a" and seg.payload]
    probe_time, probe = data[-1]
    tlp_time, tlp = data[-2]
    assert a.stats["tail_loss_probes"] == 1 and a.stats["rto_firings"] == 0
    # the second probe carries new data (beyond the segments sent before the silence), 2 SRTT + 2 ms later
    assert (probe.seq - end_before) & 0xFFFFFFFF > (tlp.seq - end_before) & 0xFFFFFFFF
    assert probe_time - tlp_time <= 2 * a.snd.rtt.srtt + 0.005
    pair.drop = note
    for _ in range(100_000):
        b.recv(1 << 20, pair.now)
        if a.snd.una == a.snd.max or not pair.step():
            break
    assert a.snd.una == a.snd.max
    assert a.stats["rto_firings"] == 0
