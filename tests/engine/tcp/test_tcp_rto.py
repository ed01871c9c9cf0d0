"""RFC 6298 retransmission timeout computation."""

import pytest

from netstack.engine.tcp.rto import RttEstimator


def test_initial_rto_is_one_second():
    assert RttEstimator().rto == 1.0


def test_first_sample_rule_2_2():
    est = RttEstimator(min_rto=0.001)
    est.sample(0.1)
    assert est.srtt == pytest.approx(0.1)
    assert est.rttvar == pytest.approx(0.05)
    assert est.rto == pytest.approx(0.1 + 4 * 0.05)


def test_later_sample_rule_2_3_updates_rttvar_with_old_srtt():
    est = RttEstimator(min_rto=0.001)
    est.sample(0.1)
    est.sample(0.3)
    rttvar = 0.75 * 0.05 + 0.25 * abs(0.1 - 0.3)
    srtt = 0.875 * 0.1 + 0.125 * 0.3
    assert est.rttvar == pytest.approx(rttvar)
    assert est.srtt == pytest.approx(srtt)
    assert est.rto == pytest.approx(srtt + 4 * rttvar)


def test_min_rto_rule_2_4_and_max_rule_2_5():
    est = RttEstimator(min_rto=0.2, max_rto=60)
    est.sample(0.0001)
    assert est.rto == 0.2
    for _ in range(20):
        est.back_off()
    assert est.rto == 60


def test_backoff_doubles_rule_5_5_and_sample_resets_it():
    est = RttEstimator(min_rto=0.2)
    est.sample(0.05)
    base = est.rto
    est.back_off()
    est.back_off()
    assert est.rto == pytest.approx(base * 4)
    assert est.backoffs == 2
    est.reset_backoff()
    assert est.rto == pytest.approx(base)


def test_invalid_configuration_is_rejected():
    with pytest.raises(ValueError, match="min_rto"):
        RttEstimator(min_rto=0)
    with pytest.raises(ValueError, match="min_rto"):
        RttEstimator(min_rto=5, max_rto=1)
