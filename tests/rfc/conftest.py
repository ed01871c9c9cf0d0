"""Shared steps of the RFC cases: a connection to echo, and the two ways to tell whether it survived."""

from __future__ import annotations

import pytest

from netstack.testing.matchers import any_of, between, has, tcp


@pytest.fixture
def echo(dut, tcp_peer):
    """A connection to the DUT's echo service (port 7), handshake done."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect()
    return peer


def assert_alive(peer, data: bytes = b"ping") -> None:
    """The connection still echoes new data (so nothing reset it)."""
    peer.send(data)
    assert peer.receive(len(data)) == data


def assert_reset(peer) -> None:
    """New data is refused with an RST: the DUT has no connection any more (RFC 9293 §3.10.7.1)."""
    peer.send(b"x")
    peer.expect(tcp(flags=has("R")))


def backoff_ratio(gaps):
    """Each gap over the one before (RFC 6298 (5.5): the timer doubles, give or take scheduling)."""
    return [later / earlier for earlier, later in zip(gaps, gaps[1:])]


DOUBLING = between(1.5, 2.6)
RST_OR_CHALLENGE_ACK = any_of(tcp(flags=has("R")), tcp(flags="A"))
