"""RFC 6528 initial sequence numbers."""

import pytest

from netstack.engine.tcp.isn import ISN_CLOCK_TICK, IsnGenerator

A = bytes([192, 0, 2, 2])
B = bytes([192, 0, 2, 1])


def test_same_tuple_advances_with_the_4_microsecond_clock():
    gen = IsnGenerator(b"k" * 16)
    first = gen.isn(A, 80, B, 40000, 10.0)
    later = gen.isn(A, 80, B, 40000, 10.0 + 1000 * ISN_CLOCK_TICK)
    assert (later - first) % 2**32 == 1000


def test_different_tuples_and_secrets_give_unrelated_offsets():
    gen = IsnGenerator(b"k" * 16)
    offsets = {gen.offset(A, 80, B, port) for port in range(40000, 40100)}
    assert len(offsets) == 100  # a collision among 100 32-bit hashes is ~1e-6 likely
    other = IsnGenerator(b"j" * 16)
    assert other.offset(A, 80, B, 40000) != gen.offset(A, 80, B, 40000)


def test_random_secret_by_default_and_bad_secret_rejected():
    assert IsnGenerator().offset(A, 1, B, 2) != IsnGenerator().offset(A, 1, B, 2)
    with pytest.raises(ValueError):
        IsnGenerator(b"")
