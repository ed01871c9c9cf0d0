"""Sender loss recovery, ACK by ACK: SACK-based entry on IsLost and pipe-limited NextSeg (RFC 6675
§5), three holes repaired in one window, RACK marking by time (RFC 8985), undo on D-SACK (RFC 2883
§5), holes only after an RTO (RFC 6675 §5.1), NewReno and limited transmit without SACK (RFC 6582,
RFC 3042)."""

from __future__ import annotations

import pytest

from netstack.engine.tcp.loss_recovery import LossRecovery
from netstack.machines.congestion import CongestionPhase
from netstack.machines.reno import NewReno

MSS = 100
ISS = 0xFFFF_FFA0  # the wrap falls inside the first window


def seq(k: int) -> int:
    """Sequence number of segment k."""
    return (ISS + k * MSS) & 0xFFFFFFFF


def sender(segments: int = 10, sack: bool = True, cwnd: int = 10) -> LossRecovery:
    cc = NewReno(MSS, initial_window=cwnd * MSS)
    rec = LossRecovery(seq(0), MSS, cc, sack)
    for k in range(segments):
        rec.sent(seq(k), MSS, now=k * 0.001)
    return rec


def ack_with(rec, una_k, blocks, now, nxt_k=10, duplicate=True):
    return rec.on_ack(seq(una_k), [(seq(a), seq(b)) for a, b in blocks], now, seq(nxt_k), duplicate=duplicate)


def drain(rec, new_data_allowed=False):
    """Everything NextSeg hands out while the window allows, recorded as sent."""
    out = []
    while (segment := rec.next_segment(new_data_allowed)) is not None and segment.rule != 2:
        out.append(((segment.seq - ISS) & 0xFFFFFFFF) // MSS)
        rec.sent(segment.seq, segment.length, now=1.0, retransmission=True, rescue=segment.rule == 4)
    return out


def test_one_loss_enters_recovery_on_the_third_sack_and_retransmits_it_rfc6675_5():
    rec = sender()
    outcomes = [ack_with(rec, 0, [(1, 1 + n)], now=0.05 + n * 0.001) for n in (1, 2)]
    assert not any(o.recovery_started for o in outcomes)
    outcome = ack_with(rec, 0, [(1, 4)], now=0.053)
    assert outcome.recovery_started
    assert rec.cc.phase is CongestionPhase.FAST_RECOVERY
    assert rec.cc.cwnd == rec.cc.ssthresh == 5 * MSS
    assert drain(rec) == [0]
    assert rec.stats["retransmitted_segments"] == 1


def test_three_holes_in_one_window_go_out_together_rfc6675_nextseg():
    rec = sender()
    blocks = []
    for k in (1, 2, 4, 5, 7, 8, 9):
        blocks = [(k, k + 1)]
        ack_with(rec, 0, [(1, 3), (4, 6), (7, k + 1)] if k >= 7 else blocks, now=0.05 + k * 0.001)
    assert rec.in_recovery
    assert drain(rec) == [0, 3, 6], "every hole in the window, not one per round trip"
    outcome = ack_with(rec, 10, [], now=0.2, duplicate=False)
    assert outcome.acked == 10 * MSS
    assert rec.cc.phase is CongestionPhase.CONGESTION_AVOIDANCE
    assert not rec.scoreboard.in_recovery


def test_rack_marks_a_segment_lost_by_time_with_one_sack_above_it_rfc8985():
    rec = sender(segments=3)
    outcome = ack_with(rec, 0, [(2, 3)], now=0.1, nxt_k=3)
    # one segment SACKed: not enough for DupThresh; RACK waits RACK.rtt + reo_wnd from segment 1's send
    assert not outcome.recovery_started
    assert outcome.reorder_timeout is not None and outcome.reorder_timeout > 0
    timeout = rec.on_reorder_timeout(now=0.1 + outcome.reorder_timeout)
    assert timeout is None
    assert rec.in_recovery
    assert rec.scoreboard.is_lost(seq(0)) and rec.scoreboard.is_lost(seq(1))
    # PRR (RFC 6937) with nothing delivered yet: the slow-start reduction bound allows one segment
    assert drain(rec) == [0]
    ack_with(rec, 1, [(2, 3)], now=0.2, nxt_k=3, duplicate=False)
    assert drain(rec) == [1]


def test_dsack_of_every_retransmission_undoes_the_reduction_rfc2883_5():
    rec = sender()
    ack_with(rec, 0, [(1, 4)], now=0.05)
    assert rec.in_recovery and rec.cc.cwnd == 5 * MSS
    first = rec.next_segment(False)  # the fast retransmission (RFC 6675 §5 (4.3)), and nothing else sent
    assert first.seq == seq(0)
    rec.sent(first.seq, first.length, now=0.06, retransmission=True)
    # the original arrived after all: the ACK covers everything, the D-SACK reports segment 0 twice
    outcome = rec.on_ack(seq(10), [(seq(0), seq(1))], 0.1, seq(10))
    assert outcome.undone
    assert rec.cc.phase is CongestionPhase.SLOW_START
    assert rec.cc.cwnd == 10 * MSS + 10 * MSS, "restored, then this ACK's slow-start growth"
    assert rec.stats["spurious_undone"] == 1


def test_after_an_rto_only_the_holes_are_resent_rfc6675_5_1():
    rec = sender()
    ack_with(rec, 0, [(2, 3), (5, 7)], now=0.05)
    rec.on_retransmit_timeout(seq(10))
    assert rec.cc.phase is CongestionPhase.LOSS and rec.cc.cwnd == MSS
    assert drain(rec) == [0], "loss window: one segment"
    ack_with(rec, 1, [(2, 3), (5, 7)], now=0.3, duplicate=False)
    assert drain(rec) == [1, 3]
    ack_with(rec, 2, [(2, 3), (5, 7)], now=0.31, duplicate=False)
    ack_with(rec, 5, [(5, 7)], now=0.32, duplicate=False)
    assert drain(rec) == [7, 8, 9]
    assert rec.stats["retransmitted_segments"] == 6, "segments 2, 5, 6 were SACKed: never resent"


def test_without_sack_three_duplicate_acks_fast_retransmit_and_limited_transmit_rfc3042():
    rec = sender(sack=False)
    first = ack_with(rec, 0, [], now=0.05)
    assert not first.retransmit_first and rec.window_allowance() == MSS
    ack_with(rec, 0, [], now=0.051)
    assert rec.window_allowance() == 2 * MSS
    third = ack_with(rec, 0, [], now=0.052)
    assert third.retransmit_first and third.recovery_started
    assert rec.window_allowance() == 0
    partial = ack_with(rec, 3, [], now=0.1, duplicate=False)
    assert partial.retransmit_first, "RFC 6582 partial ACK"


def test_sack_blocks_outside_the_window_are_ignored():
    rec = sender()
    outcome = ack_with(rec, 0, [(12, 14)], now=0.05)
    assert outcome.newly_sacked == 0 and not rec.scoreboard


def test_flight_is_pipe_once_something_is_sacked():
    rec = sender()
    assert rec.flight(seq(10)) == 10 * MSS
    ack_with(rec, 0, [(1, 3)], now=0.05)
    assert rec.flight(seq(10)) == 8 * MSS


def test_figures_name_what_tcp_info_shows():
    rec = sender()
    ack_with(rec, 0, [(1, 4)], now=0.05)
    figures = rec.figures()
    for name in ("pipe", "sacked", "lost", "reordering_window", "delivery_rate", "retransmitted_segments"):
        assert name in figures
    assert figures["sacked"] == 3 * MSS and figures["lost"] == MSS
    assert figures["pipe"] == 6 * MSS


@pytest.mark.parametrize("sack", [True, False])
def test_delivery_rate_is_bytes_per_round_trip(sack):
    rec = sender(sack=sack)
    rec.on_ack(seq(5), [], 0.1, seq(10), srtt=0.05)
    rec.on_ack(seq(10), [], 0.2, seq(10), srtt=0.05)
    assert rec.delivery_rate == pytest.approx(5 * MSS / 0.1)


def test_a_late_dsack_of_an_earlier_episode_does_not_undo_a_real_loss():
    """Linux tcp_check_dsack's undo_marker: only a D-SACK above where the episode began counts toward
    undoing it. (Counting the D-SACKs of an earlier burst of spurious retransmissions undid the
    reductions of real losses again and again on the relay: a retransmission storm.)"""
    rec = sender()
    ack_with(rec, 0, [(1, 4)], now=0.05)
    first = rec.next_segment(False)
    rec.sent(first.seq, first.length, now=0.06, retransmission=True)
    rec.on_ack(seq(10), [], 0.1, seq(10))  # repaired; the episode ends
    assert not rec.in_recovery
    for k in range(10, 20):
        rec.sent(seq(k), MSS, now=0.2 + k * 0.001)
    ack_with(rec, 11, [(12, 15)], now=0.3, nxt_k=20)  # past the old recovery point
    assert rec.in_recovery
    again = rec.next_segment(False)
    assert again.seq == seq(11)
    rec.sent(again.seq, again.length, now=0.31, retransmission=True)
    outcome = ack_with(rec, 11, [(0, 1), (12, 16)], now=0.32, nxt_k=20)  # segment 0 arrived twice, long ago
    assert not outcome.undone
    assert rec.in_recovery and rec.cc.phase is CongestionPhase.FAST_RECOVERY
    outcome = ack_with(rec, 20, [(11, 12)], now=0.33, nxt_k=20, duplicate=False)  # this episode's own
    assert outcome.undone
