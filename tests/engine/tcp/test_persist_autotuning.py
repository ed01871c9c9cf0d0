"""The persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17: backoff, only unanswered probes count
towards giving up, stop on a window update) and receive-buffer autotuning (Linux
tcp_rcv_space_adjust: grows with the bytes read per RTT, up to the maximum, never shrinks)."""

from __future__ import annotations

import pytest

from netstack.engine.tcp.persist import PersistTimer
from netstack.engine.tcp.receive_autotuning import ReceiveAutotuning


def test_probes_back_off_exponentially_up_to_the_maximum():
    timer = PersistTimer(max_interval=10.0)
    timer.arm(0.0, rto=1.0)
    assert timer.deadline == 1.0
    timer.arm(0.5, rto=1.0)
    assert timer.deadline == 1.0, "arming a running timer changes nothing"
    deadlines = []
    now = 1.0
    for _ in range(6):
        timer.probe_sent(now, rto=1.0)
        deadlines.append(timer.deadline - now)
        now = timer.deadline
    assert deadlines == [2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


def test_answered_probes_never_exhaust_rfc1122_4_2_2_17():
    timer = PersistTimer(max_interval=60.0)
    timer.arm(0.0, rto=0.2)
    for k in range(100):
        timer.probe_sent(float(k), rto=0.2)
        timer.answered()
        assert not timer.exhausted(15)
    assert timer.probes == 100


def test_unanswered_probes_exhaust():
    timer = PersistTimer(max_interval=60.0)
    for k in range(16):
        timer.probe_sent(float(k), rto=0.2)
    assert timer.exhausted(15)
    timer.stop()
    assert not timer.exhausted(15) and not timer.armed and timer.backoff == 0


def test_bad_interval_is_rejected():
    with pytest.raises(ValueError):
        PersistTimer(0)


def test_autotuning_grows_to_twice_what_is_read_per_rtt():
    tuning = ReceiveAutotuning(initial=256 * 1024, maximum=8 << 20, mss=1000)
    assert tuning.on_read(0, 0.0, rtt=0.02) is None
    assert tuning.on_read(100_000, 0.01, rtt=0.02) is None, "less than one RTT measured"
    grown = tuning.on_read(400_000, 0.02, rtt=0.02)
    assert grown is not None and grown >= 2 * 400_000
    assert tuning.capacity == grown


def test_autotuning_stops_at_the_maximum_and_never_shrinks():
    tuning = ReceiveAutotuning(initial=64 * 1024, maximum=1 << 20, mss=1000)
    tuning.on_read(0, 0.0, rtt=0.01)
    total, now, sizes = 0, 0.0, []
    for rate in (200_000, 800_000, 3_000_000, 50_000):
        total += rate
        now += 0.01
        result = tuning.on_read(total, now, rtt=0.01)
        sizes.append(tuning.capacity)
        assert result is None or result <= 1 << 20
    assert sizes == sorted(sizes), "never shrinks"
    assert sizes[-1] == 1 << 20


def test_autotuning_without_an_rtt_does_nothing():
    tuning = ReceiveAutotuning(initial=64 * 1024, maximum=1 << 20, mss=1000)
    tuning.on_read(0, 0.0, rtt=None)
    assert tuning.on_read(10 << 20, 5.0, rtt=None) is None
