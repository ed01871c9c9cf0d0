"""RACK-TLP (RFC 8985): time-based loss marking, the reordering window and its D-SACK adaptation,
ambiguous RTT samples of retransmissions, the probe timeout and the TLP loss-repair rule; plus a random
transmit/ACK sequence keeping the transmit log sound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.engine.tcp.rack import INITIAL_PTO, PTO_SLACK, WORST_CASE_DELAYED_ACK, RackTlp, sent_after

MSS = 100
RTT = 0.1


def flight(segments: int, start_time: float = 0.0, gap: float = 0.001) -> RackTlp:
    rack = RackTlp()
    for k in range(segments):
        rack.on_transmit(k * MSS, (k + 1) * MSS, start_time + k * gap)
    return rack


def test_sent_after_breaks_ties_by_end_sequence():
    assert sent_after(2.0, 0, 1.0, 100)
    assert sent_after(1.0, 200, 1.0, 100)
    assert not sent_after(1.0, 100, 1.0, 100)


def test_a_segment_sent_before_a_delivered_one_is_lost_after_rack_rtt_rfc8985_6_2():
    rack = flight(5)
    # segment 0 lost; 1..4 SACKed one RTT after they left
    rack.on_ack(0, [(100, 500)], now=0.004 + RTT)
    assert rack.rtt == pytest.approx(RTT)
    assert rack.xmit_ts == pytest.approx(0.004) and rack.end_seq == 500
    lost, timeout = rack.detect_loss(now=0.004 + RTT, reo_wnd=0.0)
    assert lost == [(0, 100)]
    assert timeout is None
    assert rack.lost_ranges() == [(0, 100)]


def test_within_the_reordering_window_a_timer_is_returned_instead():
    rack = flight(5)
    rack.on_ack(0, [(100, 500)], now=0.004 + RTT)
    lost, timeout = rack.detect_loss(now=0.004 + RTT, reo_wnd=0.025)
    assert lost == []
    assert timeout == pytest.approx(0.025 - 0.004)
    lost, _ = rack.detect_loss(now=0.004 + RTT + timeout, reo_wnd=0.025)
    assert lost == [(0, 100)]


def test_a_retransmission_is_not_lost_again_until_a_later_send_is_delivered():
    rack = flight(5)
    rack.on_ack(0, [(100, 500)], now=0.2)
    rack.detect_loss(now=0.2, reo_wnd=0.0)
    rack.on_transmit(0, 100, now=0.2, retransmission=True)
    assert rack.lost_ranges() == []
    lost, timeout = rack.detect_loss(now=0.25, reo_wnd=0.0)
    assert lost == [] and timeout is None


def test_reordering_window_is_zero_until_reordering_is_seen_rfc8985_6_2_step_4():
    rack = flight(6)
    rack.on_ack(200, [], now=0.05)  # min_RTT sample 0.05 - 0.001
    assert rack.reordering_window(in_recovery=True, sacked_segments=0, srtt=0.06) == 0.0
    assert rack.reordering_window(in_recovery=False, sacked_segments=3, srtt=0.06) == 0.0
    assert rack.reordering_window(in_recovery=False, sacked_segments=1, srtt=0.06) == pytest.approx(0.049 / 4)
    rack.on_ack(200, [(400, 500)], now=0.06)
    rack.on_ack(200, [(300, 400)], now=0.061)  # delivered below RACK.fack: reordering
    assert rack.reordering_seen
    assert rack.reordering_window(in_recovery=True, sacked_segments=3, srtt=0.06) == pytest.approx(0.049 / 4)


def test_dsack_raises_the_multiplier_once_per_round_and_recoveries_reset_it():
    rack = flight(4)
    rack.on_ack(100, [], now=0.05)
    rack.on_ack(100, [], now=0.06, dsack=True, snd_nxt=400)
    rack.on_ack(100, [], now=0.07, dsack=True, snd_nxt=400)
    assert rack.reo_wnd_mult == 2, "one step per round trip"
    rack.on_ack(400, [], now=0.1, dsack=True, snd_nxt=400)
    assert rack.reo_wnd_mult == 3
    assert rack.reordering_window(False, 0, srtt=0.01) == 0.01, "capped by SRTT"
    for _ in range(16):
        rack.recovery_exited()
    assert rack.reo_wnd_mult == 1


def test_an_ack_for_a_retransmission_faster_than_min_rtt_is_ignored_rfc8985_6_2_step_1():
    rack = flight(3)
    rack.on_ack(100, [], now=0.1)
    assert rack.min_rtt == pytest.approx(0.1)
    rack.on_transmit(100, 200, now=0.5, retransmission=True)
    rack.on_ack(200, [], now=0.52)  # 20 ms: the original's ACK, not the retransmission's
    assert rack.rtt == pytest.approx(0.1)


def test_an_ack_echoing_a_timestamp_older_than_the_retransmission_is_the_originals_rfc8985_6_2_step_2():
    """A queue built up behind the original: its ACK comes long after min_RTT, but it echoes the
    original's TSval, so the retransmission's short RTT and recent send time must not be taken (they
    made every segment sent before the retransmission look overdue: a retransmission storm)."""
    rack = flight(3)
    rack.on_ack(100, [], now=0.001, echoed=0)  # min_RTT 1 ms
    rack.on_transmit(100, 200, now=0.5, retransmission=True)
    rack.on_transmit(300, 400, now=0.501)
    rack.on_ack(200, [], now=0.52, echoed=1)  # 20 ms > min_RTT, but it echoes the tick of 0.001 s
    assert rack.rtt == pytest.approx(0.001) and rack.xmit_ts == 0.0  # still segment 0's
    assert rack.detect_loss(now=0.52, reo_wnd=0.0)[0] == []  # segment 2 (sent at 0.002) is not overdue
    rack.on_transmit(200, 300, now=0.6, retransmission=True)
    rack.on_ack(300, [], now=0.63, echoed=600)  # echoes the retransmission itself: a sample
    assert rack.rtt == pytest.approx(0.03) and rack.xmit_ts == pytest.approx(0.6)


def test_a_partial_retransmission_splits_the_record():
    rack = flight(2)
    rack.on_transmit(50, 150, now=1.0, retransmission=True)
    rack.on_ack(0, [(150, 200)], now=1.1)
    lost, _ = rack.detect_loss(now=1.2, reo_wnd=0.0)
    assert lost == [(0, 50)], "only the part sent before the delivered segment"


def test_probe_timeout_rfc8985_7_2():
    rack = RackTlp()
    assert rack.probe_timeout(None, 3, rto_remaining=5.0) == INITIAL_PTO
    assert rack.probe_timeout(0.05, 3, rto_remaining=5.0) == pytest.approx(0.1 + PTO_SLACK)
    assert rack.probe_timeout(0.0001, 3, rto_remaining=5.0) == pytest.approx(0.0022)  # a TAP's RTT: Linux's floor
    assert rack.probe_timeout(0.05, 1, rto_remaining=5.0) == pytest.approx(0.1 + WORST_CASE_DELAYED_ACK)
    assert rack.probe_timeout(0.05, 1, rto_remaining=0.2) == pytest.approx(0.2)


def test_a_retransmitted_probe_acknowledged_beyond_it_repaired_a_loss_rfc8985_7_4():
    rack = RackTlp()
    assert rack.may_probe(in_recovery=False)
    assert not rack.may_probe(in_recovery=True)
    rack.probe_sent(1000, retransmission=True)
    assert not rack.may_probe(in_recovery=False), "one probe at a time"
    assert not rack.probe_acknowledged(900)
    assert not rack.probe_acknowledged(1000), "SEG.ACK == TLP.end_seq waits for a D-SACK"
    assert rack.probe_acknowledged(1100)
    assert rack.tlp_end_seq is None


def test_a_dsack_for_the_probe_means_nothing_was_lost():
    rack = RackTlp()
    rack.probe_sent(1000, retransmission=True)
    assert not rack.probe_acknowledged(1000, dsack=(900, 1000))
    assert rack.tlp_end_seq is None
    rack.probe_sent(2000, retransmission=False)
    assert not rack.probe_acknowledged(2100), "a probe of new data repairs nothing"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("send"), st.integers(1, 3)),
    st.tuples(st.just("retransmit"), st.integers(0, 2000), st.integers(1, 250)),
    st.tuples(st.just("ack"), st.integers(0, 400), st.integers(0, 2000), st.integers(0, 300)),
    st.tuples(st.just("detect"), st.floats(0, 0.05)),
), max_size=40))
def test_transmit_log_stays_sorted_disjoint_and_never_holds_delivered_bytes(ops):
    rack = RackTlp()
    now, sent, una, delivered = 0.0, 0, 0, set()
    for op in ops:
        now += 0.01
        if op[0] == "send":
            for _ in range(op[1]):
                rack.on_transmit(sent, sent + MSS, now)
                sent += MSS
        elif op[0] == "retransmit":
            start = una + op[1]
            end = min(start + op[2], sent)
            if start < end:
                rack.on_transmit(start, end, now, retransmission=True)
        elif op[0] == "ack":
            una = min(una + op[1], sent)
            left = min(una + op[2], sent)
            right = min(left + op[3], sent)
            rack.on_ack(una, [(left, right)] if left < right else [], now)
            delivered.update(range(left, right))
        else:
            rack.detect_loss(now, op[1])
        starts, ends = rack._starts, rack._ends
        assert all(s < e for s, e in zip(starts, ends))
        assert all(e <= s for e, s in zip(ends, starts[1:]))
        assert not starts or starts[0] >= una
        for s, e in zip(starts, ends):
            assert not delivered.intersection(range(s, e)), (s, e)
        assert all(not delivered.intersection(range(s, e)) for s, e in rack.lost_ranges())
