"""Closing: FIN handling, half-close, TIME-WAIT (RFC 9293 §3.6, §3.10.7.4 eighth step)."""

from __future__ import annotations

from netstack.testing.matchers import any_of, has, tcp


def test_fin_is_acknowledged_and_answered_by_fin(echo):
    """RFC 9293 §3.6 figure 12: our FIN is acknowledged (ACK = its sequence number + 1); echo then
    closes its side with a FIN, which we acknowledge."""
    echo.close()
    assert echo.fin_received


def test_data_with_fin_is_delivered_and_both_acked(echo):
    """RFC 9293 §3.10.7.4: text and FIN in one segment: the text is delivered, the FIN occupies the
    sequence number after it, and the ACK covers both."""
    echo.send(b"last words", flags="FPA")
    echo.snd_nxt = (echo.snd_nxt + 1) % (1 << 32)
    covering = echo.expect(tcp(flags=has("A"), ack=echo.rel_snd()), within=1.0)  # 10 bytes + FIN
    echo.take(covering)
    if len(echo.received) < 10:
        echo.receive(10 - len(echo.received), within=3.0)
    assert bytes(echo.received[:10]) == b"last words"


def test_half_closed_connection_still_delivers_to_us(echo):
    """RFC 9293 §3.6: after our FIN the DUT may keep sending (half-close, CLOSE-WAIT): the echo of data
    sent before the FIN still arrives, then the DUT's FIN."""
    echo.send(b"before fin")
    echo.send_segment("FA")
    echo.snd_nxt = (echo.snd_nxt + 1) % (1 << 32)
    assert echo.receive(10) == b"before fin"
    while not echo.fin_received:
        echo.take(echo.expect(within=2.0))
    echo.send_segment("A")


def test_fin_beyond_a_hole_waits_for_the_hole(echo):
    """RFC 9293 §3.10.7.4 eighth step: a FIN is processed only when in sequence; while data before it
    is missing no ACK may cover it; when the hole fills, data and FIN are acknowledged together.
    Linux and netstack differ legally: Linux answers the early FIN at once with a duplicate ACK at
    RCV.NXT, netstack holds it silently (RFC 5681 §4.2's immediate ACK concerns data segments)."""
    start = echo.rel_snd()
    echo.send_segment("FA", seq=start + 4)
    echo.expect_none(tcp(flags=has("A"), ack=lambda ack: ack != start), within=0.5)
    echo.send_segment("PA", seq=start, payload=b"gap!")
    echo.snd_nxt = (echo.snd_nxt + 5) % (1 << 32)
    echo.expect(tcp(flags=has("A"), ack=start + 5), within=1.0)


def test_dut_active_close_and_time_wait_reacks_a_retransmitted_fin(dut, tcp_peer):
    """RFC 9293 §3.10.7.4 (TIME-WAIT): the closing side that sent the first FIN ends in TIME-WAIT, where
    "the only thing that can arrive ... is a retransmission of the remote FIN. Acknowledge it". HTTP
    with Connection: close makes the DUT close first."""
    peer = tcp_peer(dut.ports["http"])
    peer.connect()
    peer.send(b"GET / HTTP/1.1\r\nHost: 192.0.2.2\r\nConnection: close\r\n\r\n")
    while not peer.fin_received:
        frame = peer.expect(within=3.0)
        if peer.take(frame):
            peer.send_segment("A")
    assert peer.received.startswith(b"HTTP/1.1 ")
    peer.send_segment("FA")
    fin_seq = peer.rel_snd()
    peer.snd_nxt = (peer.snd_nxt + 1) % (1 << 32)
    peer.expect(tcp(flags="A", ack=fin_seq + 1), within=1.0)
    peer.send_segment("FA", seq=fin_seq)  # our FIN again, as if its ACK was lost
    peer.expect(tcp(flags="A", ack=fin_seq + 1), within=1.0)


def test_data_after_fin_is_not_delivered(echo):
    """RFC 9293 §3.10.7.4 seventh step (CLOSE-WAIT etc.): "This should not occur since a FIN has been
    received from the remote side. Ignore the segment text." The DUT may answer with an ACK or RST."""
    echo.send_segment("FA")
    echo.snd_nxt = (echo.snd_nxt + 1) % (1 << 32)
    echo.expect(tcp(flags=has("A"), ack=echo.rel_snd()), within=1.0)
    echo.send_segment("PA", payload=b"too late")
    echo.expect_none(tcp(payload=has(b"too late")), within=0.5)


def test_rst_after_close_draws_nothing(echo):
    """RFC 9293 §3.10.7.1: after an abort the connection is gone, and an RST to nothing is discarded."""
    echo.abort()
    echo.send_segment("R", ack=0, absolute=True)
    echo.expect_none(any_of(tcp(flags=has("R")), tcp(flags=has("A"))), within=0.5)
