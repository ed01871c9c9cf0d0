"""The clean-path ACK of ``LossRecovery.on_ack`` (nothing SACKed, no recovery, no probe out, no SACK
blocks: ``SackScoreboard.cumulative_ack``) leaves exactly the state the full path leaves.

Two senders get the same transmissions and ACKs; one's ACKs carry no SACK block (the fast path when
the state is clean), the other's carry one block beyond SND.NXT, which RFC 2018 §3 lets a sender
ignore and which sends it down the full path every time. After every event the outcomes and every
figure RACK, the scoreboard, the delivery rate and CUBIC keep must agree."""

from __future__ import annotations

from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.engine.tcp.loss_recovery import LossRecovery
from netstack.engine.tcp.sack_scoreboard import SackScoreboard
from netstack.machines.cubic import Cubic

MSS = 100
ISS = 0xFFFF_F000  # the 2**32 wrap falls inside the run


def _state(rec: LossRecovery) -> tuple:
    sb, rack, cc = rec.scoreboard, rec.rack, rec.cc
    return (sb.snd_una, sb.snd_nxt, sb.high_rxt, sb.sacked_bytes, sb.in_recovery, sb.lost_bytes(),
            len(rack), rack.xmit_ts, rack.end_seq, rack.rtt, rack.min_rtt, rack.fack, rack.tlp_end_seq,
            rack.dsack_round, cc.cwnd, cc.ssthresh, cc.phase, rec.delivered, rec.delivery_rate,
            rec.duplicate_acks, rec.stats)


_events = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(1, 4 * MSS)),
        st.tuples(st.just("ack"), st.integers(0, 100)),  # percent of what is in flight
        st.tuples(st.just("duplicate"), st.just(0)),
        st.tuples(st.just("rto"), st.just(0)),
        st.tuples(st.just("retransmit"), st.integers(1, MSS)),
    ),
    min_size=1, max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(_events, st.booleans())
def test_clean_path_ack_leaves_the_full_paths_state(events, sack):
    fast = LossRecovery(ISS, MSS, Cubic(MSS), sack)
    full = LossRecovery(ISS, MSS, Cubic(MSS), sack)
    una = nxt = ISS
    now = 0.0
    update = SackScoreboard.update
    for kind, amount in events:
        now += 0.003
        if kind == "send":
            for rec in (fast, full):
                rec.sent(nxt, amount, now)
            nxt = (nxt + amount) & 0xFFFFFFFF
        elif kind == "retransmit" and una != nxt:
            length = min(amount, (nxt - una) & 0xFFFFFFFF)
            for rec in (fast, full):
                rec.sent(una, length, now, retransmission=True)
        elif kind == "rto" and una != nxt:
            for rec in (fast, full):
                rec.on_retransmit_timeout(nxt)
        elif kind in ("ack", "duplicate"):
            flight = (nxt - una) & 0xFFFFFFFF
            ack = (una + flight * amount // 100) & 0xFFFFFFFF
            far = ((nxt + 10 * MSS) & 0xFFFFFFFF, (nxt + 11 * MSS) & 0xFFFFFFFF)  # beyond SND.NXT: ignored
            duplicate = kind == "duplicate" and flight > 0
            calls = []
            with mock.patch.object(SackScoreboard, "update", autospec=True,
                                   side_effect=lambda sb, *a: calls.append(sb) or update(sb, *a)):
                a = fast.on_ack(ack, [], now, nxt, rtt=0.01, duplicate=duplicate, srtt=0.01)
                b = full.on_ack(ack, [far], now, nxt, rtt=0.01, duplicate=duplicate, srtt=0.01)
            assert full.scoreboard in calls  # the full path ran for the one with a block
            assert a == b
            una = ack
        assert _state(fast) == _state(full)


def test_a_clean_ack_takes_the_fast_path_and_a_sacked_state_does_not():
    rec = LossRecovery(ISS, MSS, Cubic(MSS), True)
    for k in range(6):
        rec.sent((ISS + k * MSS) & 0xFFFFFFFF, MSS, now=0.0)
    nxt = (ISS + 6 * MSS) & 0xFFFFFFFF
    with mock.patch.object(SackScoreboard, "update", autospec=True, side_effect=SackScoreboard.update) as spy:
        outcome = rec.on_ack((ISS + MSS) & 0xFFFFFFFF, [], 0.01, nxt, rtt=0.01, srtt=0.01)
        assert outcome.acked == MSS and spy.call_count == 0
        # a SACK block: the full path, and the ranges it leaves keep later plain ACKs there too
        block = ((ISS + 3 * MSS) & 0xFFFFFFFF, (ISS + 4 * MSS) & 0xFFFFFFFF)
        rec.on_ack((ISS + MSS) & 0xFFFFFFFF, [block], 0.02, nxt, duplicate=True, srtt=0.01)
        rec.on_ack((ISS + 2 * MSS) & 0xFFFFFFFF, [], 0.03, nxt, rtt=0.01, srtt=0.01)
        assert spy.call_count == 2 and rec.scoreboard.sacked_bytes == MSS
    assert rec.scoreboard.snd_una == (ISS + 2 * MSS) & 0xFFFFFFFF
