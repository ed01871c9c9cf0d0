"""Connection establishment (RFC 9293 §3.5, §3.10.7), passive and active, against any DUT (--dut)."""

from __future__ import annotations

from netstack.testing.matchers import any_of, between, has, not_, tcp
from netstack.testing.tcp_peer import TcpPeer

from tests.rfc.conftest import DOUBLING, assert_alive, backoff_ratio


def test_syn_draws_a_syn_ack_of_isn_plus_one(dut, tcp_peer):
    """RFC 9293 §3.5 figure 6 line 3: <SEQ=300><ACK=101><CTL=SYN,ACK> answers <SEQ=100><CTL=SYN>."""
    peer = tcp_peer(dut.ports["echo"], isn=100)
    synack = peer.connect()
    assert synack["tcp"].ack == 101
    assert_alive(peer)


def test_syn_to_a_closed_port_draws_rst_ack(dut, bench, tcp_peer):
    """RFC 9293 §3.10.7.1 (CLOSED): no ACK in the segment -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>;
    the SYN counts as one octet."""
    peer = tcp_peer(dut.closed_port, isn=5000)
    peer.send_segment("S", seq=5000, ack=0, absolute=True)
    peer.bench.expect(peer.mine(tcp(flags="RA", seq=0, ack=5001)), within=2.0)


def test_ack_to_a_closed_port_draws_rst_at_its_ack(dut, tcp_peer):
    """RFC 9293 §3.10.7.1: with ACK set, the reset is <SEQ=SEG.ACK><CTL=RST>."""
    peer = tcp_peer(dut.closed_port)
    peer.send_segment("A", seq=777, ack=123456, absolute=True)
    peer.bench.expect(peer.mine(tcp(flags="R", seq=123456)), within=2.0)


def test_rst_to_a_closed_port_draws_nothing(dut, tcp_peer):
    """RFC 9293 §3.10.7.1: "An incoming segment containing a RST is discarded"."""
    peer = tcp_peer(dut.closed_port)
    peer.send_segment("R", seq=777, ack=0, absolute=True)
    peer.expect_none(within=0.5)


def test_syn_ack_is_retransmitted_with_backoff(dut, tcp_peer):
    """RFC 9293 §3.8.1 and RFC 6298 (5.5): an unacknowledged SYN-ACK is retransmitted, the timer doubling
    each time. Linux starts at 1 s (RFC 6298 (2.1)); any start between 0.2 s and 3 s passes. netstack
    stretches each handshake timeout by up to 25 % at random (``TcpConfig.syn_retransmit_jitter``, so
    SYN floods' retries do not synchronise), hence ratios from 1.5 to 2.6 count as doubling."""
    peer = tcp_peer(dut.ports["discard"])
    peer.connect(ack=False)
    gaps = peer.bench.expect_schedule(peer.mine(tcp(flags="SA", ack=peer.snd_nxt)),
                                      [between(0.2, 3.0), between(0.4, 6.5)], within=3.5)
    assert all(DOUBLING.mismatch(ratio) is None for ratio in backoff_ratio(gaps)), gaps


def test_duplicate_syn_then_ack_still_establishes(dut, tcp_peer):
    """RFC 9293 §3.10.7.4 (SYN-RECEIVED): a retransmitted SYN must not break the handshake; the DUT may
    repeat its SYN-ACK (Linux) or answer with an ACK (RFC 5961 §4); our ACK then completes it."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(ack=False)
    peer.send_segment("S", seq=(peer.snd_nxt - 1) % (1 << 32), ack=0, absolute=True,
                      options=[("mss", 1460), ("sack_permitted", None)])
    peer.bench.sleep(0.2)
    peer.send_segment("A")
    assert_alive(peer)


def test_data_on_a_syn_is_delivered_exactly_once(dut, tcp_peer):
    """RFC 9293 §3.10.7.2: data in a SYN may be queued and delivered after the handshake, or dropped
    (then our retransmission carries it). Either way the echo shows it once. Linux without Fast Open
    drops it (its SYN-ACK acknowledges the SYN only); both pass."""
    peer = tcp_peer(dut.ports["echo"], isn=9000)
    peer.bench.send(peer.segment("S", seq=9000, ack=0, absolute=True, payload=b"early",
                                 options=[("mss", 1460)]))
    synack = peer.bench.expect(peer.mine(tcp(flags="SA", ack=any_of(9001, 9006))), within=2.0)
    peer.accept_synack(synack)
    peer.snd_nxt = 9001
    if synack["tcp"].ack == 9006:
        peer.snd_nxt = 9006
        peer.send_segment("A")
    else:
        peer.send(b"early")
    assert peer.receive(5) == b"early"
    peer.expect_none(tcp(payload=has(b"early")), within=0.5)


def test_bad_ack_in_syn_received_draws_rst(dut, tcp_peer):
    """RFC 9293 §3.10.7.4 (SYN-RECEIVED, fifth check): an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(ack=False)
    bad = (peer.dut_isn + 5000) % (1 << 32)
    peer.send_segment("A", ack=bad, absolute=True)
    peer.expect(tcp(flags="R", seq=5000))


def test_rst_in_syn_received_aborts_the_embryonic_connection(dut, tcp_peer):
    """RFC 9293 §3.10.7.4 (SYN-RECEIVED, second check): an in-window RST at RCV.NXT ends it (back to
    LISTEN); an ACK then finds no connection and draws an RST (RFC 9293 §3.10.7.1 / LISTEN)."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(ack=False)
    peer.send_segment("R", ack=0, absolute=True)
    peer.bench.sleep(0.1)
    peer.send_segment("A")
    peer.expect(tcp(flags=has("R")))


def test_active_open_syn_carries_mss_and_is_acked_into_established(dut, bench, dut_connection):
    """RFC 9293 §3.7.1: a SYN SHOULD carry an MSS option; with a 1500-byte MTU it is at most 1460.
    RFC 9293 §3.5 figure 6: our SYN-ACK and the DUT's ACK of it complete the handshake."""
    connection = dut_connection(4242)
    syn = bench.expect(tcp(flags="S", dst_port=4242, options=has(mss=between(536, 1460))), within=2.0)
    peer = TcpPeer.accept(bench, syn)
    peer.expect(tcp(flags=has("A"), ack=1, seq=1))
    connection.send(b"from the DUT")
    assert peer.receive(12) == b"from the DUT"


def test_active_open_syn_is_retransmitted_with_backoff(dut, bench, dut_connection):
    """RFC 9293 §3.8.1: an unanswered SYN is retransmitted; RFC 6298 (5.5) doubles the timer each time.

    Linux and netstack differ here: since 6.6 Linux retransmits the first SYNs at a fixed interval
    (``net.ipv4.tcp_syn_linear_timeouts``, default 4) before doubling, netstack doubles from the start.
    The case checks what both do: retransmissions come, the first after 0.2-3 s, and the gaps never
    shrink (doubling itself is checked on the SYN-ACK and on data)."""
    dut_connection(4243)
    gaps = bench.expect_schedule(tcp(flags="S", dst_port=4243), [between(0.2, 3.0), between(0.2, 6.5)],
                                 within=2.0)
    assert all(between(0.8, 2.6).mismatch(ratio) is None for ratio in backoff_ratio(gaps)), gaps
    if not dut.is_netstack:
        return
    assert DOUBLING.mismatch(backoff_ratio(gaps)[0]) is None, f"netstack doubles its SYN timer: {gaps}"


def test_syn_sent_answers_a_bad_syn_ack_with_rst_and_keeps_trying(dut, bench, dut_connection):
    """RFC 9293 §3.10.7.3 (SYN-SENT): an ACK outside (ISS, SND.NXT] draws <SEQ=SEG.ACK><CTL=RST> and the
    segment is dropped; a later correct SYN-ACK still establishes the connection."""
    dut_connection(4244)
    syn = bench.expect(tcp(flags="S", dst_port=4244), within=2.0)
    peer = TcpPeer(bench, syn["tcp"].src_port, src_port=4244)
    peer.dut_isn, peer.rcv_nxt = syn["tcp"].seq, (syn["tcp"].seq + 1) % (1 << 32)
    peer.send_segment("SA", ack=(syn["tcp"].seq + 1000) % (1 << 32), absolute=True,
                      options=[("mss", 1460)])
    bench.expect(peer.mine(tcp(flags="R", seq=(syn["tcp"].seq + 1000) % (1 << 32))))
    peer.send_segment("SA", options=[("mss", 1460)])
    peer.snd_nxt += 1
    peer.expect(tcp(flags=has("A"), ack=1))


def test_simultaneous_open_answers_syn_with_syn_ack(dut, bench, dut_connection):
    """RFC 9293 §3.5 figure 8: a SYN (no ACK) arriving in SYN-SENT moves to SYN-RECEIVED and is answered
    by <SEQ=ISS><ACK=SEG.SEQ+1><CTL=SYN,ACK>."""
    dut_connection(4245)
    syn = bench.expect(tcp(flags="S", dst_port=4245), within=2.0)
    peer = TcpPeer(bench, syn["tcp"].src_port, src_port=4245, isn=300)
    peer.dut_isn, peer.rcv_nxt = syn["tcp"].seq, (syn["tcp"].seq + 1) % (1 << 32)
    peer.send_segment("S", seq=300, ack=0, absolute=True, options=[("mss", 1460)])
    peer.snd_nxt = 301
    peer.expect(tcp(flags="SA", seq=0, ack=1), within=3.0)


def test_syn_ack_window_and_flags_are_sane(dut, tcp_peer):
    """RFC 9293 §3.1, §3.10.7.2: the SYN-ACK has exactly SYN and ACK (ECE only if we asked for ECN,
    RFC 3168 §6.1.1 — we did not), a non-zero window and no data."""
    peer = tcp_peer(dut.ports["echo"])
    synack = peer.connect()
    segment = synack["tcp"]
    assert not_(has("E")).mismatch(segment.flags, "flags") is None
    assert segment.window > 0 and segment.payload == b""
