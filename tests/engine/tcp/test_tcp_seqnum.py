"""Sequence-number arithmetic (RFC 9293 §3.4) against a reference on unbounded integers."""

from hypothesis import given
from hypothesis import strategies as st

from netstack.engine.tcp.seqnum import (
    SEQ_MASK,
    seq_add,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_in_window,
    seq_le,
    seq_lt,
    seq_max,
    seq_min,
    seq_offset,
)

seqs = st.integers(0, SEQ_MASK)
distances = st.integers(-(2**31) + 1, 2**31 - 1)


@given(seqs, distances)
def test_comparisons_match_unbounded_integers_within_half_the_space(base, distance):
    other = seq_add(base, distance)
    assert seq_diff(other, base) == distance
    assert seq_lt(base, other) == (distance > 0)
    assert seq_le(base, other) == (distance >= 0)
    assert seq_gt(base, other) == (distance < 0)
    assert seq_ge(base, other) == (distance <= 0)
    assert seq_max(base, other) == (other if distance > 0 else base)
    assert seq_min(base, other) == (base if distance > 0 else other)


def test_wraparound_examples():
    assert seq_lt(0xFFFFFFF0, 0x10)
    assert seq_gt(0x10, 0xFFFFFFF0)
    assert seq_add(0xFFFFFFFF, 1) == 0
    assert seq_diff(0, 0xFFFFFFFF) == 1


@given(seqs, st.integers(0, 2**20), st.integers(-(2**21), 2**21))
def test_in_window(start, size, delta):
    seq = seq_add(start, delta)
    assert seq_in_window(seq, start, size) == (0 <= delta < size)


def test_half_the_space_apart_is_undefined_so_every_comparison_is_false():
    # RFC 1982 §3.2 leaves it undefined; the engine's written-out comparisons say "no" to both orders
    for a in (0, 5, 0xFFFFFFF0):
        b = seq_add(a, 1 << 31)
        assert not (seq_lt(a, b) or seq_le(a, b) or seq_gt(a, b) or seq_ge(a, b))
        assert not (seq_lt(b, a) or seq_le(b, a) or seq_gt(b, a) or seq_ge(b, a))
        assert seq_diff(a, b) == seq_diff(b, a) == -(1 << 31)


@given(seqs, seqs)
def test_offset_is_the_forward_distance(start, seq):
    offset = seq_offset(seq, start)
    assert 0 <= offset <= SEQ_MASK
    assert seq_add(start, offset) == seq
