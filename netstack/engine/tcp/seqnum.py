"""Modular 32-bit sequence-number arithmetic (RFC 9293 §3.4, RFC 1982 serial-number arithmetic).

Sequence numbers live in a space of 2**32 that wraps; "a < b" means b lies less than 2**31 ahead of a
(two numbers exactly 2**31 apart are left undefined by RFC 1982: every comparison here says no, as the
engine's written-out forms do).
The comparisons are plain functions over ints rather than a wrapper class because they run several
times per segment, and an object per comparison costs more than the whole per-segment budget allows.
Every TCB field that holds a sequence number is an int in [0, 2**32).
"""

from __future__ import annotations

SEQ_MODULUS = 1 << 32
SEQ_MASK = SEQ_MODULUS - 1
HALF_SPACE = 1 << 31


def seq_add(seq: int, n: int) -> int:
    """``seq + n`` in sequence space (n may be negative)."""
    return (seq + n) & SEQ_MASK


def seq_offset(seq: int, start: int) -> int:
    """How far ``seq`` lies ahead of ``start``, in [0, 2**32): huge when ``seq`` is before ``start``."""
    return (seq - start) & SEQ_MASK


def seq_diff(a: int, b: int) -> int:
    """Signed distance ``a - b``, in [-2**31, 2**31): positive when ``a`` is after ``b``."""
    d = (a - b) & SEQ_MASK
    return d - SEQ_MODULUS if d >= HALF_SPACE else d


def seq_lt(a: int, b: int) -> bool:
    """``a`` comes strictly before ``b``."""
    return 0 < ((b - a) & SEQ_MASK) < HALF_SPACE


def seq_le(a: int, b: int) -> bool:
    """``a`` comes before or equals ``b``."""
    return ((b - a) & SEQ_MASK) < HALF_SPACE


def seq_gt(a: int, b: int) -> bool:
    """``a`` comes strictly after ``b``."""
    return 0 < ((a - b) & SEQ_MASK) < HALF_SPACE


def seq_ge(a: int, b: int) -> bool:
    """``a`` comes after or equals ``b``."""
    return ((a - b) & SEQ_MASK) < HALF_SPACE


def seq_in_window(seq: int, start: int, size: int) -> bool:
    """``start <= seq < start + size`` in sequence space (RFC 9293 §3.4); False when size is 0."""
    return ((seq - start) & SEQ_MASK) < size


def seq_max(a: int, b: int) -> int:
    """The later of two sequence numbers."""
    return b if seq_lt(a, b) else a


def seq_min(a: int, b: int) -> int:
    """The earlier of two sequence numbers."""
    return a if seq_lt(a, b) else b
