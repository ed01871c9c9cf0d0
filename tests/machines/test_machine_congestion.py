"""Congestion control: the phase machine and NewReno's arithmetic, rule by rule (RFC 5681, RFC 6582,
RFC 6298 §5), and random ACK / duplicate ACK / timeout sequences keeping cwnd >= 1 MSS and
ssthresh >= 2 MSS after loss."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from netstack.machines.congestion import (
    CONGESTION_ACTIONS,
    CONGESTION_GUARDS,
    TRANSITIONS,
    CongestionControl,
    CongestionPhase,
    available_congestion_controls,
    congestion_control,
    register_congestion_control,
)
from netstack.machines.reno import MAX_SSTHRESH, NewReno, rfc5681_initial_window

P = CongestionPhase
MSS = 1000


def in_fast_recovery(cc: NewReno, flight=10 * MSS, snd_una=1000, snd_nxt=11000) -> NewReno:
    for _ in range(3):
        cc.on_duplicate_ack(flight, snd_una=snd_una, snd_nxt=snd_nxt)
    assert cc.phase is P.FAST_RECOVERY
    return cc


def test_rows_cite_rfcs_and_use_published_names():
    for row in TRANSITIONS:
        assert row["rfc"].split()[0] in {"5681", "6582", "6298", "6675", "9406", "3522", "3168"}
        for name in (*row.get("conditions", ()), *row.get("unless", ())):
            assert name in CONGESTION_GUARDS
        for name in row.get("after", ()):
            assert name in CONGESTION_ACTIONS


@pytest.mark.parametrize("mss,window", [(536, 4 * 536), (1095, 4 * 1095), (1096, 3 * 1096), (1460, 3 * 1460),
                                        (2190, 3 * 2190), (2191, 2 * 2191), (8960, 2 * 8960)])
def test_initial_window_rfc5681_3_1_equation_1(mss, window):
    assert rfc5681_initial_window(mss) == window
    cc = NewReno(mss)
    assert (cc.cwnd, cc.ssthresh, cc.phase) == (window, MAX_SSTHRESH, P.SLOW_START)


def test_explicit_initial_window_below_one_mss_is_rejected():
    with pytest.raises(ValueError):
        NewReno(MSS, initial_window=MSS - 1)
    with pytest.raises(ValueError):
        NewReno(0)


def test_slow_start_counts_bytes_up_to_l_smss_rfc3465_2_1():
    cc = NewReno(MSS, byte_count_limit=2)
    cc.on_ack(400, 0)
    assert cc.cwnd == 4 * MSS + 400
    cc.on_ack(5000, 0)
    assert cc.cwnd == 4 * MSS + 400 + 2 * MSS, "L = 2 SMSS"
    assert cc.phase is P.SLOW_START


def test_slow_start_counts_every_byte_by_default_but_stops_at_ssthresh():
    cc = NewReno(MSS, initial_ssthresh=20 * MSS)
    cc.on_ack(10 * MSS, 0)
    assert cc.cwnd == 14 * MSS, "one stretch ACK for a burst of ten"
    cc.on_ack(10 * MSS, 0)
    assert cc.cwnd == 20 * MSS, "never past ssthresh in one step"


def test_congestion_avoidance_once_cwnd_reaches_ssthresh_rfc5681_3_1_equation_3():
    cc = NewReno(MSS, initial_ssthresh=4 * MSS)
    retransmit = cc.on_ack(MSS, 0)
    assert not retransmit
    assert cc.phase is P.CONGESTION_AVOIDANCE
    assert cc.cwnd == 4 * MSS + MSS * MSS // (4 * MSS)


def test_congestion_avoidance_grows_about_one_mss_per_window():
    cc = NewReno(MSS, initial_window=10 * MSS, initial_ssthresh=10 * MSS)
    for _ in range(10):
        cc.on_ack(MSS, 10 * MSS)
    assert 10 * MSS + 900 <= cc.cwnd <= 11 * MSS


def test_third_duplicate_ack_enters_fast_recovery_rfc5681_3_2():
    cc = NewReno(MSS)
    assert not cc.on_duplicate_ack(8 * MSS)
    assert not cc.on_duplicate_ack(8 * MSS)
    assert cc.phase is P.SLOW_START
    assert cc.on_duplicate_ack(8 * MSS, snd_una=0, snd_nxt=8 * MSS), "fast retransmit"
    assert cc.phase is P.FAST_RECOVERY
    assert cc.ssthresh == 4 * MSS  # max(FlightSize / 2, 2*SMSS)
    assert cc.cwnd == 4 * MSS + 3 * MSS  # ssthresh + 3*SMSS
    assert cc.recover == 8 * MSS


def test_fast_recovery_ssthresh_is_at_least_two_mss_rfc5681_equation_4():
    cc = in_fast_recovery(NewReno(MSS), flight=MSS)
    assert cc.ssthresh == 2 * MSS


def test_further_duplicate_acks_inflate_the_window_rfc5681_3_2_step_4():
    cc = in_fast_recovery(NewReno(MSS))
    before = cc.cwnd
    assert not cc.on_duplicate_ack(10 * MSS)
    assert cc.cwnd == before + MSS


def test_partial_acknowledgment_retransmits_and_deflates_rfc6582_3_2():
    cc = in_fast_recovery(NewReno(MSS))
    before = cc.cwnd
    assert cc.on_ack(2 * MSS, 8 * MSS, snd_una=3000), "partial ACK retransmits the next hole"
    assert cc.phase is P.FAST_RECOVERY
    assert cc.cwnd == before - 2 * MSS + MSS


def test_full_acknowledgment_exits_fast_recovery_rfc6582_3_2():
    cc = in_fast_recovery(NewReno(MSS))
    assert not cc.on_ack(10 * MSS, 0, snd_una=11000)
    assert cc.phase is P.CONGESTION_AVOIDANCE
    assert cc.cwnd == min(cc.ssthresh, max(0, MSS) + MSS)
    assert cc.duplicate_acks == 0


def test_duplicate_acks_not_beyond_recover_do_not_restart_fast_retransmit_rfc6582_3_2():
    cc = in_fast_recovery(NewReno(MSS), snd_una=1000, snd_nxt=11000)
    cc.on_ack(10 * MSS, 0, snd_una=11000)  # full ACK
    for _ in range(3):
        cc.on_duplicate_ack(5 * MSS, snd_una=11000, snd_nxt=16000)
    assert cc.phase is P.CONGESTION_AVOIDANCE, "ACK 11000 does not cover more than recover 11000"
    cc.on_ack(MSS, 4 * MSS, snd_una=12000)
    for _ in range(3):
        cc.on_duplicate_ack(4 * MSS, snd_una=12000, snd_nxt=16000)
    assert cc.phase is P.FAST_RECOVERY


def test_retransmit_timeout_collapses_to_loss_window_rfc5681_equation_4_rfc6298_5():
    cc = NewReno(MSS)
    assert cc.on_retransmit_timeout(9 * MSS, snd_nxt=9000)
    assert cc.phase is P.LOSS
    assert cc.cwnd == MSS
    assert cc.ssthresh == 4500
    assert cc.recover == 9000


def test_repeated_timeout_holds_ssthresh_rfc5681_3_1():
    cc = NewReno(MSS)
    cc.on_retransmit_timeout(9 * MSS)
    cc.on_retransmit_timeout(MSS)
    assert (cc.phase, cc.cwnd, cc.ssthresh) == (P.LOSS, MSS, 4500)


def test_timeout_in_fast_recovery_enters_loss():
    cc = in_fast_recovery(NewReno(MSS))
    cc.on_retransmit_timeout(10 * MSS)
    assert (cc.phase, cc.cwnd, cc.ssthresh) == (P.LOSS, MSS, 5 * MSS)


def test_new_ack_after_loss_slow_starts_rfc5681_3_1():
    cc = NewReno(MSS)
    cc.on_retransmit_timeout(9 * MSS)
    cc.on_ack(MSS, 8 * MSS)
    assert (cc.phase, cc.cwnd) == (P.SLOW_START, 2 * MSS)


def test_duplicate_acks_in_loss_change_nothing():
    cc = NewReno(MSS)
    cc.on_retransmit_timeout(9 * MSS)
    for _ in range(5):
        assert not cc.on_duplicate_ack(9 * MSS)
    assert (cc.phase, cc.cwnd) == (P.LOSS, MSS)


def test_registry_finds_newreno_and_rejects_unknown_names():
    assert congestion_control("newreno") is NewReno
    assert congestion_control("NewReno") is NewReno
    assert "newreno" in available_congestion_controls()
    with pytest.raises(ValueError, match="newreno"):
        congestion_control("bbr-from-the-future")


def test_a_user_algorithm_plugs_in_through_the_interface():
    class HalfGrowth(NewReno):
        __slots__ = ()

        def grow_slow_start(self):
            self.cwnd += min(self.acked_bytes, self.mss) // 2

    register_congestion_control("test-half-growth", HalfGrowth)
    cc = congestion_control("test-half-growth")(MSS)
    cc.on_ack(MSS, 0)
    assert cc.cwnd == 4 * MSS + MSS // 2
    with pytest.raises(TypeError):
        register_congestion_control("not-an-algorithm", dict)


def test_the_interface_is_abstract():
    with pytest.raises(TypeError):
        CongestionControl(MSS, MSS, MAX_SSTHRESH)


def test_no_per_instance_dict():
    assert not hasattr(NewReno(MSS), "__dict__")


class NewRenoRandomTraffic(RuleBasedStateMachine):
    """A sender with SND.UNA/SND.NXT; ACKs, duplicate ACKs and timeouts arrive in any order."""

    def __init__(self):
        super().__init__()
        self.cc = NewReno(MSS)
        self.snd_una = 0xFFFF_F000  # near the wrap, to exercise sequence arithmetic
        self.snd_nxt = self.snd_una
        self.lost = False

    def flight(self):
        return (self.snd_nxt - self.snd_una) & 0xFFFFFFFF

    @rule(segments=st.integers(1, 20))
    def send(self, segments):
        self.snd_nxt = (self.snd_nxt + segments * MSS) & 0xFFFFFFFF

    @precondition(lambda self: self.flight() > 0)
    @rule(data=st.data())
    def new_ack(self, data):
        acked = data.draw(st.integers(1, self.flight()))
        self.snd_una = (self.snd_una + acked) & 0xFFFFFFFF
        self.cc.on_ack(acked, self.flight(), snd_una=self.snd_una)

    @precondition(lambda self: self.flight() > 0)
    @rule()
    def duplicate_ack(self):
        before = self.cc.phase
        retransmit = self.cc.on_duplicate_ack(self.flight(), snd_una=self.snd_una, snd_nxt=self.snd_nxt)
        if retransmit:
            assert before in (CongestionPhase.SLOW_START, CongestionPhase.CONSERVATIVE_SLOW_START,
                              CongestionPhase.CONGESTION_AVOIDANCE)
            assert self.cc.phase is CongestionPhase.FAST_RECOVERY
            self.lost = True

    @rule()
    def retransmit_timeout(self):
        self.cc.on_retransmit_timeout(self.flight(), snd_nxt=self.snd_nxt)
        assert self.cc.phase is CongestionPhase.LOSS
        assert self.cc.cwnd == MSS
        self.lost = True

    @invariant()
    def cwnd_never_below_one_mss(self):
        assert self.cc.cwnd >= MSS

    @invariant()
    def ssthresh_at_least_two_mss_after_loss(self):
        if self.lost:
            assert self.cc.ssthresh >= 2 * MSS

    @invariant()
    def phase_is_a_congestion_phase(self):
        assert isinstance(self.cc.phase, CongestionPhase)


TestNewRenoRandomTraffic = NewRenoRandomTraffic.TestCase
