"""CUBIC (RFC 9438), HyStart++ (RFC 9406), SACK-based recovery (RFC 6675 §5), byte counting (RFC 3465)
and undo of spurious reductions (RFC 3522, RFC 2883 §5), rule by rule; and random event sequences on
every registered algorithm keeping cwnd >= 1 MSS and ssthresh >= 2 MSS after loss."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from netstack.machines.congestion import CongestionPhase, congestion_control
from netstack.machines.cubic import BETA_CUBIC, CUBIC_C, Cubic
from netstack.machines.hystart import CSS_ROUNDS, N_RTT_SAMPLE, HystartPlusPlus
from netstack.machines.reno import NewReno
from tests.machines import test_machine_congestion

P = CongestionPhase
MSS = 1000


def test_registry_names_cubic_and_reno():
    assert congestion_control("cubic") is Cubic
    assert congestion_control("reno") is NewReno


@pytest.mark.parametrize("segments_per_ack", [1, 2, 5, None])
def test_slow_start_doubles_per_round_whatever_the_ack_pattern_rfc3465(segments_per_ack):
    for algorithm in (NewReno, Cubic):
        cc = algorithm(MSS, initial_window=10 * MSS)
        for _round in range(4):
            window = cc.cwnd
            per_ack = window if segments_per_ack is None else segments_per_ack * MSS  # None: one ACK per burst
            for _ack in range(window // per_ack):
                cc.on_ack(per_ack, window)
            assert cc.cwnd == 2 * window, (algorithm, segments_per_ack)


def test_sack_recovery_sets_cwnd_to_ssthresh_without_inflation_rfc6675_5():
    cc = NewReno(MSS, initial_window=20 * MSS)
    assert cc.on_loss_detected(20 * MSS, snd_una=0, snd_nxt=20 * MSS)
    assert (cc.phase, cc.cwnd, cc.ssthresh, cc.recover) == (P.FAST_RECOVERY, 10 * MSS, 10 * MSS, 20 * MSS)
    assert not cc.on_loss_detected(20 * MSS, snd_una=0, snd_nxt=20 * MSS), "once per window"
    cc.on_duplicate_ack(20 * MSS, snd_una=0, snd_nxt=20 * MSS)
    assert cc.cwnd == 10 * MSS, "pipe, not inflation, accounts for departures"
    assert not cc.on_ack(5 * MSS, 15 * MSS, snd_una=5 * MSS), "a partial ACK sends nothing by itself"
    assert cc.cwnd == 10 * MSS
    cc.on_ack(15 * MSS, 2 * MSS, snd_una=20 * MSS)
    # RFC 6937 §3 / Linux tcp_end_cwnd_reduction: cwnd = ssthresh on exit, however little is in flight
    # (NewReno's FlightSize + SMSS bound would give 3 MSS and a slow start back to 10)
    assert cc.phase is P.CONGESTION_AVOIDANCE and cc.cwnd == 10 * MSS
    assert not cc.on_loss_detected(8 * MSS, snd_una=20 * MSS, snd_nxt=28 * MSS), "not beyond recover yet"
    assert cc.on_loss_detected(8 * MSS, snd_una=21 * MSS, snd_nxt=28 * MSS)


def test_newreno_recovery_without_sack_exits_to_flight_size_plus_one_rfc6582():
    cc = NewReno(MSS, initial_window=20 * MSS)
    for _ in range(3):
        cc.on_duplicate_ack(20 * MSS, snd_una=0, snd_nxt=20 * MSS)
    assert cc.phase is P.FAST_RECOVERY and cc.ssthresh == 10 * MSS
    cc.on_ack(20 * MSS, 2 * MSS, snd_una=20 * MSS)
    assert cc.phase is P.CONGESTION_AVOIDANCE and cc.cwnd == 3 * MSS, "RFC 6582 §3.2 option (1) without SACK"


def test_cubic_reduces_by_beta_and_remembers_w_max_rfc9438_4_6():
    cc = Cubic(MSS, initial_window=100 * MSS)
    cc.on_loss_detected(100 * MSS, snd_una=0, snd_nxt=100 * MSS)
    assert cc.ssthresh == cc.cwnd == int(100 * MSS * BETA_CUBIC)
    assert cc.w_max == 100 * MSS


def test_cubic_fast_convergence_lowers_w_max_rfc9438_4_7():
    cc = Cubic(MSS, initial_window=100 * MSS)
    cc.on_loss_detected(100 * MSS, snd_una=0, snd_nxt=100 * MSS)
    cc.on_ack(100 * MSS, 70 * MSS, snd_una=100 * MSS, now=1.0, rtt=0.1)
    cc.on_loss_detected(70 * MSS, snd_una=101 * MSS, snd_nxt=200 * MSS)
    assert cc.w_max == pytest.approx(70 * MSS * (1 + BETA_CUBIC) / 2, rel=0.01)


def test_cubic_window_follows_the_cubic_function_and_regains_w_max_near_k_rfc9438_4_2():
    cc = Cubic(MSS, initial_window=100 * MSS)
    cc.on_loss_detected(100 * MSS, snd_una=0, snd_nxt=100 * MSS)
    rtt, now, una = 0.1, 0.0, 100 * MSS  # a long RTT: the cubic region, not the Reno-friendly one
    cc.on_ack(MSS, 70 * MSS, snd_una=una, now=now, rtt=rtt)  # full ACK: congestion avoidance
    assert cc.phase is P.CONGESTION_AVOIDANCE
    k = ((100 - 70) / CUBIC_C) ** (1 / 3)  # about 4.2 s
    while now < k:
        for _ in range(cc.cwnd // MSS):
            una += MSS
            cc.on_ack(MSS, cc.cwnd, snd_una=una, now=now, rtt=rtt)
        now += rtt
    assert 95 * MSS <= cc.cwnd <= 102 * MSS, cc.cwnd
    assert cc.k == pytest.approx(k, rel=0.05)


def test_cubic_at_a_short_rtt_is_reno_friendly_rfc9438_4_3():
    cc = Cubic(MSS, initial_window=100 * MSS)
    cc.on_loss_detected(100 * MSS, snd_una=0, snd_nxt=100 * MSS)
    rtt, now, una = 0.001, 0.0, 100 * MSS
    cc.on_ack(MSS, 70 * MSS, snd_una=una, now=now, rtt=rtt)
    for _ in range(100):
        for _ in range(cc.cwnd // MSS):
            una += MSS
            cc.on_ack(MSS, cc.cwnd, snd_una=una, now=now, rtt=rtt)
        now += rtt
    # W_cubic(0.1 s) is still about 70 segments; W_est grew about alpha_cubic (< 1) segments per RTT to
    # W_max, one per RTT after.
    assert cc.cwnd == pytest.approx(cc.w_est, abs=MSS)
    assert 110 * MSS < cc.cwnd < 160 * MSS


def test_cubic_without_a_clock_falls_back_to_reno_growth():
    cc = Cubic(MSS, initial_window=10 * MSS, initial_ssthresh=10 * MSS)
    cc.on_ack(MSS, 10 * MSS)
    assert cc.cwnd == 10 * MSS + MSS * MSS // (10 * MSS)


def test_undo_restores_window_and_cubic_state_rfc3522():
    cc = Cubic(MSS, initial_window=40 * MSS, initial_ssthresh=30 * MSS)
    cc.on_ack(MSS, 40 * MSS, snd_una=MSS, now=0.0, rtt=0.05)
    w_max_before = cc.w_max
    cwnd_before = cc.cwnd
    cc.on_retransmit_timeout(40 * MSS, snd_nxt=50 * MSS)
    assert cc.phase is P.LOSS and cc.cwnd == MSS
    assert cc.on_spurious_loss()
    assert cc.cwnd == cwnd_before and cc.ssthresh == 30 * MSS and cc.w_max == w_max_before
    assert cc.phase is P.CONGESTION_AVOIDANCE
    assert not cc.on_spurious_loss(), "nothing left to undo"
    assert (cc.reductions, cc.undone) == (1, 1)


def test_undo_returns_to_slow_start_when_the_old_window_was_below_ssthresh():
    cc = NewReno(MSS, initial_window=10 * MSS)
    cc.on_duplicate_ack(10 * MSS, 0, 10 * MSS)
    cc.on_duplicate_ack(10 * MSS, 0, 10 * MSS)
    cc.on_duplicate_ack(10 * MSS, 0, 10 * MSS)
    assert cc.phase is P.FAST_RECOVERY
    cc.on_spurious_loss()
    assert (cc.phase, cc.cwnd) == (P.SLOW_START, 10 * MSS)


def drive_round(cc, una, rtt, now):
    """One round of ACKs, one per segment, each with the same RTT sample."""
    window = cc.cwnd // MSS
    nxt = una + window * MSS
    for _ in range(window):
        una += MSS
        cc.on_ack(MSS, nxt - una, snd_una=una, snd_nxt=nxt, now=now, rtt=rtt)
    return una


def test_hystart_plus_plus_enters_css_on_an_rtt_rise_and_ca_after_css_rounds_rfc9406_4_2():
    cc = Cubic(MSS, initial_window=10 * MSS)
    una, now = 0, 0.0
    una = drive_round(cc, una, 0.040, now)
    una = drive_round(cc, una, 0.040, now := now + 0.04)
    assert cc.phase is P.SLOW_START
    una = drive_round(cc, una, 0.050, now := now + 0.05)  # +10 ms >= max(4 ms, 40/8 ms)
    assert cc.phase is P.CONSERVATIVE_SLOW_START
    start = cc.cwnd
    una = drive_round(cc, una, 0.050, now := now + 0.05)
    assert cc.cwnd - start < (start // 2), "CSS grows a quarter as fast as slow start"
    for _ in range(CSS_ROUNDS):
        una = drive_round(cc, una, 0.050, now := now + 0.05)
    assert cc.phase is P.CONGESTION_AVOIDANCE
    assert cc.ssthresh <= cc.cwnd
    assert cc.hystart is None


def test_hystart_css_returns_to_slow_start_when_the_rtt_falls_back_rfc9406_4_2():
    cc = Cubic(MSS, initial_window=10 * MSS)
    una = drive_round(cc, 0, 0.040, 0.0)
    una = drive_round(cc, una, 0.040, 0.1)
    una = drive_round(cc, una, 0.050, 0.2)
    assert cc.phase is P.CONSERVATIVE_SLOW_START
    drive_round(cc, una, 0.030, 0.3)
    assert cc.phase is P.SLOW_START


def test_hystart_needs_n_rtt_samples():
    h = HystartPlusPlus()
    h.observe(0, 10, 0.04, False)
    h.observe(11, 20, 0.08, False)  # a new round: its first sample
    for _ in range(N_RTT_SAMPLE - 2):
        h.observe(12, 20, 0.08, False)
    assert not h.delay_increased()
    h.observe(12, 20, 0.08, False)
    assert h.delay_increased()


def test_newreno_leaves_slow_start_only_by_loss_or_ssthresh():
    cc = NewReno(MSS, initial_window=10 * MSS)
    una = drive_round(cc, 0, 0.04, 0.0)
    una = drive_round(cc, una, 0.04, 0.1)
    drive_round(cc, una, 0.09, 0.2)
    assert cc.phase is P.SLOW_START


class AnyAlgorithmRandomTraffic(test_machine_congestion.NewRenoRandomTraffic):
    """NewReno's random traffic (send, ACKs, duplicate ACKs, timeouts, its invariants) on every registered
    algorithm, with time and RTT samples on the ACKs, losses found by SACK/RACK, and undo."""

    def __init__(self):
        super().__init__()
        self.now = 0.0

    @initialize(name=st.sampled_from(["newreno", "cubic"]))
    def choose(self, name):
        self.cc = congestion_control(name)(MSS)

    @precondition(lambda self: self.flight() > 0)
    @rule(data=st.data(), rtt=st.floats(0.001, 0.5), gap=st.floats(0, 0.2))
    def timed_ack(self, data, rtt, gap):
        acked = data.draw(st.integers(1, self.flight()))
        self.now += gap
        self.snd_una = (self.snd_una + acked) & 0xFFFFFFFF
        self.cc.on_ack(acked, self.flight(), snd_una=self.snd_una, now=self.now, rtt=rtt, snd_nxt=self.snd_nxt)

    @precondition(lambda self: self.flight() > 0)
    @rule()
    def loss_detected(self):
        if self.cc.on_loss_detected(self.flight(), snd_una=self.snd_una, snd_nxt=self.snd_nxt):
            assert self.cc.phase is CongestionPhase.FAST_RECOVERY
            assert self.cc.cwnd == self.cc.ssthresh
            self.lost = True

    @rule()
    def spurious(self):
        self.cc.on_spurious_loss()


TestAnyAlgorithmRandomTraffic = AnyAlgorithmRandomTraffic.TestCase
