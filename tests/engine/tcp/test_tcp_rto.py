"""RFC 6298 retransmission timeout: the estimator's arithmetic, and on a connection Karn's algorithm,
the configured minimum and the doubling on each expiry."""

import errno

import pytest

from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.rto import RttEstimator

from tests.support.tcp_pair import NO_TS, Pair, established, record_times


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


# ------------------------------------------------------------ on a connection (tests.support.tcp_pair)
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
    # first a tail loss probe (RFC 8985 §7.2: 2 SRTT + 200 ms with one segment in flight), which
    # restarts the retransmission timer; then the RTO: 0.5, 1, 2, 4, 8 s
    srtt = pair.a.snd.rtt.srtt
    assert gaps[0] == pytest.approx(2 * srtt + 0.2, abs=0.002)
    assert gaps[1:] == pytest.approx([0.5 * 2**k for k in range(5)])
    assert pair.a.stats["tail_loss_probes"] == 1
    assert pair.a.error == errno.ETIMEDOUT
