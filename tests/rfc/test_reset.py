"""Resets and challenge ACKs in a synchronized connection (RFC 9293 §3.10.7.4, RFC 5961 §3-§5).

RFC 5961's mitigations are optional in RFC 9293 ("RFC 5961 ... describes a potential blind reset
attack and optional mitigation approach"), so where the classic rule and the challenge ACK differ the
cases accept both. When the cases were written, Linux (6.18) and netstack both answered an in-window RST
and a SYN in ESTABLISHED with a challenge ACK; a stack that resets instead, as RFC 793 did, passes too.
"""

from __future__ import annotations

from netstack.testing.matchers import any_of, has, tcp

from tests.rfc.conftest import assert_alive, assert_reset


def test_rst_at_rcv_nxt_resets(echo):
    """RFC 9293 §3.10.7.4 second check, RFC 5961 §3.2: an RST whose sequence number exactly matches
    RCV.NXT resets the connection (no reply); later data finds no connection."""
    echo.send_segment("R", ack=0, absolute=True)
    echo.expect_none(within=0.3)
    assert_reset(echo)


def test_rst_outside_the_window_is_ignored(echo):
    """RFC 9293 §3.10.7.4: "If the RST bit is set and the sequence number is outside the current
    receive window, silently drop the segment"."""
    echo.send_segment("R", seq=echo.rel_snd() + 200_000, ack=0)
    echo.expect_none(tcp(flags=has("R")), within=0.3)
    assert_alive(echo)


def test_rst_inside_the_window_draws_challenge_ack_or_resets(echo):
    """RFC 5961 §3.2 / RFC 9293 §3.10.7.4: an in-window RST not at RCV.NXT draws a challenge ACK
    (<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>) and the connection stays (Linux); without the optional
    mitigation (RFC 793) it resets. Either passes; a challenge ACK must carry RCV.NXT."""
    echo.send_segment("R", seq=echo.rel_snd() + 100, ack=0)
    frames = echo.expect_none(tcp(flags=has("R")), within=0.3)
    challenge = [f for f in frames if "tcp" in f and f["tcp"].flags.ack and f["tcp"].dst_port == echo.src_port]
    if challenge:
        assert (challenge[0]["tcp"].ack - echo.isn) % (1 << 32) == echo.rel_snd()
        assert_alive(echo)
    else:
        echo.send(b"x")
        echo.expect(any_of(tcp(flags=has("R")), tcp(flags=has("A"), ack=echo.rel_snd())))


def test_syn_in_established_draws_challenge_ack_or_reset(echo):
    """RFC 5961 §4.2 / RFC 9293 §3.10.7.4 fourth check: a SYN in a synchronized state draws a challenge
    ACK (Linux, netstack with RFC 5961) — or, under RFC 793's rule, an RST. Never a SYN-ACK."""
    echo.send_segment("S", seq=echo.rel_snd() + 10, ack=0, options=[("mss", 1460)])
    reply = echo.expect(any_of(tcp(flags="A", ack=echo.rel_snd()), tcp(flags=has("R"))), within=1.0)
    if not reply["tcp"].flags.rst:
        assert_alive(echo)


def test_data_acknowledging_unsent_data_is_dropped_and_acked(echo):
    """RFC 9293 §3.10.7.4 fifth check (ESTABLISHED): "If the ACK acks something not yet sent (SEG.ACK >
    SND.NXT), then send an ACK, drop the segment, and return." The data must not be delivered."""
    echo.bench.send(echo.segment("PA", payload=b"forged", ack=echo.rel_rcv() + 50_000))
    echo.expect(tcp(flags="A", ack=echo.rel_snd()), within=1.0)
    echo.expect_none(tcp(payload=has(b"forged")), within=0.5)
    echo.send(b"honest")
    assert echo.receive(6) == b"honest"


def test_out_of_window_data_is_acked_not_delivered(echo):
    """RFC 9293 §3.10.7.4 first check: an unacceptable segment (beyond RCV.NXT + RCV.WND) is answered
    by <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (rate limiting may suppress it) and dropped."""
    echo.send_segment("PA", seq=echo.rel_snd() + 10_000_000, payload=b"far away")
    frames = echo.expect_none(tcp(payload=has(b"far away")), within=0.5)
    for frame in frames:
        if "tcp" in frame and frame["tcp"].dst_port == echo.src_port:
            assert (frame["tcp"].ack - echo.isn) % (1 << 32) == echo.rel_snd()
    assert_alive(echo)


def test_old_duplicate_syn_ack_in_established_is_answered_with_ack(echo):
    """RFC 9293 §3.10.7.4: a SYN-ACK (an old duplicate) in ESTABLISHED is not acceptable as a new
    connection; the DUT answers with an ACK (challenge ACK, RFC 5961 §4) or RST, never a SYN-ACK."""
    echo.send_segment("SA", seq=echo.rel_snd() - 1, options=[("mss", 1460)])
    echo.expect_none(tcp(flags=has("S")), within=0.5)
