"""Data transfer: ordering, duplicates, acknowledgments, SACK (RFC 9293 §3.8, §3.10.7.4; RFC 5681 §4.2;
RFC 2018)."""

from __future__ import annotations

from netstack.testing.matchers import has, not_, tcp


def test_one_byte_is_echoed(echo):
    """RFC 9293 §3.8 and RFC 862: a byte sent is delivered (echoed back) and acknowledged."""
    echo.send(b"a")
    assert echo.receive(1) == b"a"


def test_several_segments_arrive_in_order(echo):
    """RFC 9293 §3.10.7.4 seventh step: in-order segments are delivered in sequence."""
    chunks = [bytes([65 + i]) * 1000 for i in range(3)]
    for chunk in chunks:
        echo.send(chunk)
    assert echo.receive(3000) == b"".join(chunks)


def test_out_of_order_segment_is_delivered_once_after_the_hole_fills(echo):
    """RFC 9293 §3.10.7.4: a segment beyond RCV.NXT may be queued; RFC 5681 §4.2: an out-of-order
    segment SHOULD draw an immediate duplicate ACK (ACK = RCV.NXT). Once the hole is filled both parts
    are delivered, in order, once."""
    start = echo.rel_snd()
    echo.send_segment("PA", seq=start + 5, payload=b"world")
    echo.expect(tcp(ack=start), within=0.5)
    echo.send_segment("PA", seq=start, payload=b"hello")
    echo.snd_nxt = (echo.snd_nxt + 10) % (1 << 32)
    assert echo.receive(10) == b"helloworld"
    echo.expect_none(tcp(payload=has(b"world")), within=0.3)


def test_duplicate_segment_is_acked_not_delivered_twice(echo):
    """RFC 9293 §3.10.7.4 first check: an old duplicate is answered with an ACK and its data dropped."""
    start = echo.rel_snd()
    echo.send(b"once")
    assert echo.receive(4) == b"once"
    echo.send_segment("PA", seq=start, payload=b"once")
    echo.expect(tcp(flags="A", ack=start + 4, payload=b""), within=1.0)
    echo.expect_none(tcp(payload=has(b"once")), within=0.3)


def test_overlapping_segment_delivers_only_the_new_part(echo):
    """RFC 9293 §3.10.7.4: a segment starting before RCV.NXT is trimmed to its new data."""
    start = echo.rel_snd()
    echo.send(b"abcd")
    assert echo.receive(4) == b"abcd"
    echo.send_segment("PA", seq=start + 2, payload=b"cdEF")
    echo.snd_nxt = (echo.snd_nxt + 2) % (1 << 32)
    assert echo.receive(2) == b"EF"


def test_ack_comes_within_half_a_second(dut, tcp_peer):
    """RFC 9293 §3.8.6.3: an ACK may be delayed, but "the delay MUST be less than 0.5 seconds"."""
    peer = tcp_peer(dut.ports["discard"])
    peer.connect()
    peer.send(b"acknowledge me")
    peer.expect(tcp(flags=has("A"), ack=peer.rel_snd()), within=0.5)


def test_every_second_full_segment_is_acked(dut, tcp_peer):
    """RFC 5681 §4.2 / RFC 9293 §3.8.6.3: an ACK SHOULD be generated for at least every second
    full-sized segment; the two are acknowledged at once or within the delayed-ACK bound."""
    peer = tcp_peer(dut.ports["discard"])
    peer.connect()
    mss = peer.dut_options.get("mss", 536)
    peer.send(bytes(mss))
    peer.send(bytes(mss))
    peer.expect(tcp(flags=has("A"), ack=peer.rel_snd()), within=0.5)


def test_sack_blocks_describe_out_of_order_data(echo):
    """RFC 2018 §4: with SACK negotiated, an ACK sent while out-of-order data is held SHOULD carry a SACK
    option whose first block is the block holding the segment that triggered it. Without SACK
    negotiated, no SACK option may appear (RFC 2018 §3). Both stacks offered SACK-permitted when
    asked; a DUT that negotiates SACK but sends no blocks passes (SHOULD)."""
    start = echo.rel_snd()
    echo.send_segment("PA", seq=start + 100, payload=b"z" * 50)
    dup = echo.expect(tcp(ack=start), within=0.5)
    sack = [o for o in dup["tcp"].options if str(o.kind) == "sack"]
    if "sack_permitted" not in echo.dut_options:
        assert not sack, "SACK option on a connection that did not negotiate it"
    elif sack:
        first = sack[0].value[0]
        left = (first.left - echo.isn) % (1 << 32)
        right = (first.right - echo.isn) % (1 << 32)
        assert (left, right) == (start + 100, start + 150)


def test_no_sack_without_sack_permitted(dut, tcp_peer):
    """RFC 2018 §2-3: a receiver sends SACK options only when the sender offered SACK-permitted."""
    peer = tcp_peer(dut.ports["echo"])
    peer.connect(options=[("mss", 1460)])
    start = peer.rel_snd()
    peer.send_segment("PA", seq=start + 100, payload=b"z" * 50)
    dup = peer.expect(tcp(ack=start), within=0.5)
    assert not_(has("sack")).mismatch(dup["tcp"].options, "options") is None


def test_sack_for_two_holes_lists_the_latest_first(echo):
    """RFC 2018 §4: "The first SACK block ... MUST specify the contiguous block of data containing the
    segment which triggered this ACK"; later blocks repeat the most recently reported ones."""
    start = echo.rel_snd()
    echo.send_segment("PA", seq=start + 100, payload=b"a" * 10)
    echo.expect(tcp(ack=start), within=0.5)
    echo.send_segment("PA", seq=start + 300, payload=b"b" * 10)
    dup = echo.expect(tcp(ack=start), within=0.5)
    sack = [o for o in dup["tcp"].options if str(o.kind) == "sack"]
    if sack and "sack_permitted" in echo.dut_options:
        blocks = [((b.left - echo.isn) % (1 << 32), (b.right - echo.isn) % (1 << 32)) for b in sack[0].value]
        assert blocks[0] == (start + 300, start + 310)
        assert set(blocks) <= {(start + 300, start + 310), (start + 100, start + 110)}
