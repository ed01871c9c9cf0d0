"""The RFC 6675 scoreboard: SACK block validation, D-SACK recognition (RFC 2883 §4), IsLost, SetPipe,
NextSeg rules 1-4 with HighRxt and RescueRxt, the state kept after an RTO (§5.1), the bound on ranges,
and random ACK sequences across the 2**32 wrap checked against a naive byte-set model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.engine.tcp.sack_scoreboard import DUPTHRESH, SackScoreboard

MSS = 100
ISS = 0xFFFF_FF00  # 256 bytes before the wrap


def seq(offset: int) -> int:
    return (ISS + offset) & 0xFFFFFFFF


def board(sent: int = 1000, una: int = 0) -> SackScoreboard:
    sb = SackScoreboard(seq(una), MSS)
    sb.sent(seq(sent))
    return sb


def sack(sb, ack, *blocks):
    return sb.update(seq(ack), [(seq(a), seq(b)) for a, b in blocks])


def test_blocks_merge_and_count_newly_sacked_bytes():
    sb = board()
    assert sack(sb, 0, (200, 300)).newly_sacked == 100
    assert sack(sb, 0, (400, 500), (200, 300)).newly_sacked == 100
    assert sack(sb, 0, (250, 450)).newly_sacked == 100
    assert sb.ranges() == [(seq(200), seq(500))]
    assert sb.sacked_bytes == 300


def test_blocks_outside_una_nxt_are_ignored_rfc2018_3():
    sb = board(sent=1000)
    update = sack(sb, 0, (900, 1100), (200, 300))
    assert update.ignored_blocks == 1
    assert sb.ranges() == [(seq(200), seq(300))]


def test_cumulative_ack_drops_ranges_below_it():
    sb = board()
    sack(sb, 0, (200, 300), (500, 600))
    sack(sb, 250)
    assert sb.ranges() == [(seq(250), seq(300)), (seq(500), seq(600))]
    assert sb.sacked_bytes == 150
    sack(sb, 600)
    assert not sb and sb.sacked_bytes == 0


def test_dsack_below_the_cumulative_ack_rfc2883_4():
    sb = board()
    update = sack(sb, 300, (100, 200), (500, 600))
    assert update.dsack == (seq(100), seq(200))
    assert update.ignored_blocks == 0
    assert sb.ranges() == [(seq(500), seq(600))]


def test_dsack_inside_the_second_block_rfc2883_4():
    sb = board()
    sack(sb, 0, (500, 700))
    update = sack(sb, 0, (500, 600), (500, 700))
    assert update.dsack == (seq(500), seq(600))
    assert update.newly_sacked == 0


def test_is_lost_needs_dupthresh_segments_sacked_above_rfc6675_4():
    sb = board()
    sack(sb, 0, (100, 300))  # two segments SACKed above [0, 100)
    assert not sb.is_lost(seq(0))
    sack(sb, 0, (100, 301))  # more than (DupThresh - 1) * SMSS bytes
    assert sb.is_lost(seq(0))
    assert not sb.is_lost(seq(100)), "SACKed bytes are never lost"
    assert not sb.is_lost(seq(400)), "the hole above the highest SACK is never lost by SACK"


def test_is_lost_with_dupthresh_discontiguous_ranges():
    sb = board()
    sack(sb, 0, (100, 110), (200, 210), (300, 310))
    assert sb.is_lost(seq(50))
    assert not sb.is_lost(seq(150)), "only two ranges above the second hole"


def test_pipe_counts_outstanding_not_lost_plus_retransmitted_rfc6675_setpipe():
    sb = board(sent=1000)
    sack(sb, 0, (100, 400))
    # [0,100) lost; [400,1000) in flight
    assert sb.pipe() == 600
    sb.enter_recovery()
    sb.retransmitted(seq(0), 100)
    assert sb.pipe() == 700


def test_next_seg_rule_1_then_rule_3_then_rescue_rfc6675_4():
    sb = board(sent=1000)
    sack(sb, 0, (100, 400), (600, 700))
    sb.enter_recovery()
    first = sb.next_seg()
    assert (first.seq, first.length, first.rule) == (seq(0), 100, 1)
    sb.retransmitted(first.seq, first.length)
    # [400, 600) has only one range above it: not lost, but below the highest SACK: rule 3.
    third = sb.next_seg()
    assert (third.seq, third.length, third.rule) == (seq(400), 100, 3)
    sb.retransmitted(third.seq, third.length)
    third = sb.next_seg()
    assert (third.seq, third.rule) == (seq(500), 3)
    sb.retransmitted(third.seq, third.length)
    rescue = sb.next_seg()
    assert rescue.rule == 4
    assert (rescue.seq, rescue.length) == (seq(900), 100), "includes the highest unSACKed byte"
    sb.rescue_retransmitted()
    assert sb.next_seg() is None, "one rescue retransmission per recovery"


def test_next_seg_prefers_new_data_over_rule_3_rule_2():
    sb = board(sent=1000)
    sack(sb, 0, (100, 200))
    sb.enter_recovery()
    assert sb.next_seg(new_data_allowed=True).rule == 2
    assert sb.next_seg(new_data_allowed=True).seq == seq(1000)


def test_after_rto_only_holes_are_retransmitted_rfc6675_5_1():
    sb = board(sent=1000)
    sack(sb, 0, (200, 300), (500, 1000))
    sb.mark_all_lost()
    sent = []
    while (segment := sb.next_seg()) is not None and segment.rule == 1:
        sent.append((segment.seq, segment.length))
        sb.retransmitted(segment.seq, segment.length)
    assert sent == [(seq(0), 100), (seq(100), 100), (seq(300), 100), (seq(400), 100)]


def test_ranges_are_bounded_and_the_highest_is_forgotten():
    sb = SackScoreboard(seq(0), MSS, max_ranges=4)
    sb.sent(seq(10_000))
    for k in range(6):
        sack(sb, 0, (1000 * k + 100, 1000 * k + 200))
    assert len(sb.ranges()) == 4
    assert sb.ranges()[-1] == (seq(3100), seq(3200))
    assert sb.dropped_ranges == 2
    assert sb.sacked_bytes == 400


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        SackScoreboard(0, 0)
    with pytest.raises(ValueError):
        SackScoreboard(0, MSS, dupthresh=0)


# -- a naive model: one Python set of SACKed byte offsets --------------------------------------------

class ByteModel:
    def __init__(self):
        self.una = 0
        self.nxt = 0
        self.sacked: set[int] = set()
        self.high_rxt = 0

    def runs_above(self, b):
        runs, previous = 0, None
        for x in sorted(x for x in self.sacked if x > b):
            if previous is None or x != previous + 1:
                runs += 1
            previous = x
        return runs

    def is_lost(self, b):
        if b in self.sacked or not self.una <= b < self.nxt:
            return False
        above = sum(1 for x in self.sacked if x > b)
        return above > (DUPTHRESH - 1) * MSS or self.runs_above(b) >= DUPTHRESH

    def pipe(self):
        return sum((not self.is_lost(b)) + (b < self.high_rxt)
                   for b in range(self.una, self.nxt) if b not in self.sacked)


operations = st.lists(st.one_of(
    st.tuples(st.just("send"), st.integers(1, 400)),
    st.tuples(st.just("ack"), st.integers(0, 300),
              st.lists(st.tuples(st.integers(-50, 1500), st.integers(1, 300)), max_size=4)),
    st.tuples(st.just("retransmit"), st.integers(0, 200)),
), max_size=25)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_scoreboard_agrees_with_a_byte_set_model_across_the_wrap(ops):
    sb = SackScoreboard(seq(0), MSS, max_ranges=10_000)
    model = ByteModel()
    sb.enter_recovery()
    for op in ops:
        if op[0] == "send":
            model.nxt += op[1]
            sb.sent(seq(model.nxt))
        elif op[0] == "ack":
            ack = min(model.una + op[1], model.nxt)
            blocks = [(model.una + a, model.una + a + n) for a, n in op[2]]
            sb.update(seq(ack), [(seq(a), seq(b)) for a, b in blocks])
            model.una = ack
            model.high_rxt = max(model.high_rxt, ack)
            first_is_dsack = bool(blocks) and blocks[0][1] <= ack
            for index, (a, b) in enumerate(blocks):
                if index == 0 and first_is_dsack:
                    continue
                if model.una <= a < b <= model.nxt:
                    model.sacked.update(range(a, b))
            model.sacked = {x for x in model.sacked if x >= model.una}
        else:
            segment = sb.next_seg()
            if segment is not None and segment.rule in (1, 3):
                start = sb.offset(segment.seq)
                assert start >= model.high_rxt and start not in model.sacked
                if segment.rule == 1:
                    lost = [b for b in range(model.high_rxt, model.nxt) if model.is_lost(b)]
                    assert lost and start == lost[0]
                sb.retransmitted(segment.seq, segment.length)
                model.high_rxt = max(model.high_rxt, start + segment.length)
        assert sb.sacked_bytes == len(model.sacked)
        assert {b for s, e in sb.ranges() for b in range(sb.offset(s), sb.offset(s) + ((e - s) & 0xFFFFFFFF))} \
            == model.sacked
        assert sb.pipe() == model.pipe()
        for b in range(model.una, model.nxt, 37):
            assert sb.is_lost(seq(b)) == model.is_lost(b), b
        assert sb.lost_bytes() == sum(model.is_lost(b) for b in range(model.una, model.nxt))


def test_a_retransmission_rack_found_lost_goes_again_and_leaves_pipe_rfc8985():
    sb = board(sent=1000)
    sack(sb, 0, (100, 400))
    sb.enter_recovery()
    first = sb.next_seg()
    sb.retransmitted(first.seq, first.length)
    assert sb.pipe() == 700 and sb.next_seg().rule != 1
    sb.mark_retransmission_lost(0, 100)
    assert sb.pipe() == 600, "the lost retransmission is in the network no more"
    again = sb.next_seg()
    assert (again.seq, again.length, again.rule) == (seq(0), 100, 1)
    sb.retransmitted(again.seq, again.length)
    assert sb.pipe() == 700
