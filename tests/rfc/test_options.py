"""TCP options in the handshake and after it (RFC 9293 §3.2, §3.7.1; RFC 7323; RFC 2018 §2)."""

from __future__ import annotations

from netstack.testing.matchers import ANY, between, has, not_, tcp


def test_window_scale_only_when_offered(dut, tcp_peer):
    """RFC 7323 §2.2: "A TCP MAY send the Window Scale option in a <SYN,ACK> segment only if the
    corresponding option was received in the initial <SYN> segment"."""
    peer = tcp_peer(dut.ports["echo"])
    synack = peer.connect(options=[("mss", 1460)])
    assert "window_scale" not in peer.dut_options, synack


def test_timestamps_only_when_offered(dut, tcp_peer):
    """RFC 7323 §3.2: a TCP may send TSopt in a <SYN,ACK> only if it received TSopt in the <SYN>."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(options=[("mss", 1460), ("sack_permitted", None)])
    assert "timestamps" not in peer.dut_options


def test_sack_permitted_only_when_offered(dut, tcp_peer):
    """RFC 2018 §2: SACK-permitted is an offer made in a SYN; a SYN-ACK to a SYN without it does not
    carry it (neither stack would use SACK on such a connection)."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(options=[("mss", 1460)])
    assert "sack_permitted" not in peer.dut_options


def test_window_scale_answer_is_at_most_14(dut, tcp_peer):
    """RFC 7323 §2.3: the shift count is at most 14; the DUT may also decline (no option)."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(options=[("mss", 1460), ("nop", None), ("window_scale", 7)])
    assert peer.dut_options.get("window_scale", 0) <= 14


def test_timestamps_echo_our_tsval(dut, tcp_peer):
    """RFC 7323 §3.2, §4.3: a SYN-ACK with TSopt echoes our TSval in TSecr; declining (no TSopt) is legal."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(options=[("mss", 1460), ("timestamps", (4242, 0))], ack=False)
    if "timestamps" in peer.dut_options:
        assert peer.dut_options["timestamps"][1] == 4242


def test_timestamps_on_every_segment_once_negotiated(dut, tcp_peer):
    """RFC 7323 §3.2: "Once TSopt has been successfully negotiated ... the TSopt MUST be sent in every
    non-<RST> segment for the duration of the connection"."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(options=[("mss", 1460), ("timestamps", (100, 0))], ack=False)
    negotiated = "timestamps" in peer.dut_options
    tsecr = peer.dut_options["timestamps"][0] if negotiated else 0
    peer.send_segment("A", options=[("timestamps", (101, tsecr))] if negotiated else [])
    peer.send(b"stamped", options=[("timestamps", (102, tsecr))] if negotiated else [])
    echoed = peer.expect(tcp(payload=b"stamped"))
    options = echoed["tcp"].options
    if negotiated:
        assert has(timestamps=ANY).mismatch(options, "options") is None
    else:
        assert has("timestamps").mismatch(options, "options") is not None


def test_unknown_option_in_syn_is_ignored(dut, tcp_peer):
    """RFC 9293 §3.2: "A TCP implementation MUST ignore without error any TCP option it does not
    implement, assuming that the option has a length field" (kind 253, RFC 4727 experiment)."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(options=[("mss", 1460), (253, b"\x12\x34")])
    peer.send(b"still fine")
    assert peer.receive(10) == b"still fine"


def test_mss_is_respected(dut, tcp_peer):
    """RFC 9293 §3.7.1: the sender never sends segments larger than the MSS the receiver announced
    (here 536, the RFC 9293 §3.7.1 default), chargen's stream included."""
    peer = tcp_peer(dut.ports["chargen"])
    peer.connect(options=[("mss", 536)])
    for _ in range(6):
        peer.expect(tcp(payload=lambda p: 0 < len(p) <= 536), within=2.0)
    peer.abort()


def test_syn_ack_mss_fits_the_link(dut, tcp_peer):
    """RFC 9293 §3.7.1 and RFC 879: the MSS the DUT announces is at most the link MTU (1500) - 40."""
    peer = tcp_peer(dut.ports["echo"])
    synack = peer.connect()
    peer.bench.expect_none(tcp(flags=has("R")), within=0.1)
    assert has(mss=between(536, 1460)).mismatch(synack["tcp"].options, "options") is None
    assert not_(has("sack")).mismatch(synack["tcp"].options, "options") is None
