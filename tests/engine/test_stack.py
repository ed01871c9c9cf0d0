"""The sans-I/O Stack driven by hand: frames crafted with the declarative schemas in, frames out: ARP,
IPv4 validation and reassembly, echo, the transport interface, UDP and observability (ICMP errors:
test_icmp.py)."""

from __future__ import annotations

import errno

import pytest

from netstack import Stack
from netstack.engine.icmp import Pinger
from netstack.formats import Frame, IPv4

from tests.support.crafting import (
    PEER,
    PEER_MAC,
    STACK_MAC,
    RecordingTransport,
    arp_frame,
    echo_request,
    ipv4_frame,
    parsed,
    resolved_stack,
)


# ------------------------------------------------------------------------------------------ ARP
def test_rfc826_request_for_us_is_answered_with_our_mac_and_merged():
    stack = Stack(ip="192.0.2.2/24")
    out = parsed(stack.receive(arp_frame("request"), 1.0))
    assert len(out) == 1
    reply = out[0]
    assert reply.dst == PEER_MAC and reply.src == STACK_MAC
    assert int(reply.payload.op) == 2
    assert reply.payload.sha == STACK_MAC and reply.payload.spa == "192.0.2.2"
    assert reply.payload.tha == PEER_MAC and reply.payload.tpa == "192.0.2.1"
    assert str(stack.arp.lookup(PEER).state) == "STALE"  # RFC 4861 §7.2.3: learnt, not confirmed


def test_request_for_another_host_is_not_answered_and_not_learnt():
    stack = Stack(ip="192.0.2.2/24")
    assert stack.receive(arp_frame("request", tpa="192.0.2.77"), 1.0) == []
    assert stack.arp.lookup(PEER) is None
    assert stack.counters["arp.not_for_us"] == 1


def test_gratuitous_arp_when_the_interface_comes_up():
    stack = Stack(ip="192.0.2.2/24")
    (frame,) = parsed(stack.start(0.0))
    assert frame.dst == "ff:ff:ff:ff:ff:ff"
    assert frame.payload.spa == frame.payload.tpa == "192.0.2.2"


def test_arp_retries_then_failed_reports_ehostunreach():
    stack = Stack(ip="192.0.2.2/24", arp_retries=3, arp_retry_interval=1.0)
    pinger = Pinger(stack, PEER, identifier=9)
    pinger.send(0.0)
    requests = [frame for frame in parsed(stack.poll_output()) if int(frame.ethertype) == 0x0806]
    assert len(requests) == 1 and requests[0].payload.tpa == "192.0.2.1"
    assert stack.next_deadline() == pytest.approx(1.0)
    for now in (1.0, 2.0):
        again = parsed(stack.tick(now))
        assert len(again) == 1 and int(again[0].payload.op) == 1
    assert pinger.errors == []
    assert stack.tick(3.0) == []
    assert str(stack.arp.lookup(PEER).state) == "FAILED"
    assert pinger.errors == [(1, errno.EHOSTUNREACH)]
    assert stack.counters["arp.request_sent"] == 3
    assert stack.counters["arp.drop.unresolved"] == 1


def test_pending_queue_is_bounded_and_flushed_in_order_on_reply():
    stack = Stack(ip="192.0.2.2/24", arp_queue_limit=2)
    pinger = Pinger(stack, PEER, identifier=9)
    for _ in range(5):
        pinger.send(0.0)
    stack.poll_output()
    assert stack.counters["arp.drop.queue_full"] == 3
    reply = arp_frame("reply", eth_dst=STACK_MAC, tha=STACK_MAC)
    out = parsed(stack.receive(reply, 0.1))
    assert [frame.payload.payload.sequence for frame in out] == [4, 5]
    assert all(frame.dst == PEER_MAC for frame in out)
    assert str(stack.arp.lookup(PEER).state) == "REACHABLE"


def test_arp_update_changes_the_cached_address():
    stack = resolved_stack()
    new_mac = "02:00:5e:00:53:99"
    stack.receive(arp_frame("request", sha=new_mac, tpa="192.0.2.1"), 1.0)  # gratuitous from the peer
    assert stack.arp.lookup(PEER).mac == bytes.fromhex("02005e005399")


def test_send_path_shortcut_states_are_the_tables_transmit_only_rows():
    from netstack.engine.arp import TRANSMIT_ONLY_STATES
    from netstack.machines.arp_neighbour import NEIGHBOUR_TABLE, NeighbourEvent, NeighbourState

    expected = {state for state in NeighbourState
                if [(c.guards, c.dest, c.actions) for c in NEIGHBOUR_TABLE.candidates(state, NeighbourEvent.resolve_request)]
                == [((), None, ("transmit_packet",))]}
    assert TRANSMIT_ONLY_STATES == expected == {NeighbourState.REACHABLE, NeighbourState.DELAY, NeighbourState.PROBE}


def test_reply_with_a_new_mac_while_reachable_redirects_the_next_datagram():
    stack = resolved_stack()
    stack.receive(arp_frame("reply", eth_dst=STACK_MAC, tha=STACK_MAC), 0.1)
    assert str(stack.arp.lookup(PEER).state) == "REACHABLE"
    new_mac = "02:00:5e:00:53:99"
    stack.receive(arp_frame("reply", sha=new_mac, eth_dst=STACK_MAC, tha=STACK_MAC), 0.2)
    assert str(stack.arp.lookup(PEER).state) == "REACHABLE"  # no state change, only record_address
    Pinger(stack, PEER, identifier=9).send(0.3)
    (frame,) = parsed(stack.poll_output())
    assert frame.dst == new_mac  # not the cached header of the old address


def test_datagrams_in_delay_go_to_the_cached_address_without_a_state_change():
    stack = resolved_stack(arp_delay_first_probe=5.0)  # STALE (learnt from a request)
    pinger = Pinger(stack, PEER, identifier=9)
    pinger.send(1.0)  # STALE -> DELAY
    pinger.send(1.1)  # DELAY: the shortcut
    pinger.send(1.2)
    out = parsed(stack.poll_output())
    assert [frame.dst for frame in out] == [PEER_MAC] * 3
    assert str(stack.arp.lookup(PEER).state) == "DELAY"
    assert stack.counters["arp.state.delay"] == 1
    assert len(stack.arp.lookup(PEER).unconfirmed) == 1  # one flow remembered for a failure


def test_upper_layer_confirmations_keep_an_entry_reachable_without_a_timer_per_confirmation():
    stack = resolved_stack(arp_reachable_time=10.0, arp_delay_first_probe=5.0)
    Pinger(stack, PEER, identifier=9).send(0.5)  # STALE -> DELAY
    stack.poll_output()
    stack.arp.confirm_reachable(PEER)  # RFC 4861 §7.3.1: DELAY -> REACHABLE, no probe
    entry = stack.arp.lookup(PEER)
    assert str(entry.state) == "REACHABLE"
    restarts = []
    original = stack.arp.start_timer
    stack.arp.start_timer = lambda *args: (restarts.append(args), original(*args))
    for step in range(1, 61):  # a confirmation every 0.5 s for 30 s (randomised ReachableTime 5-15 s)
        now = 0.5 + step * 0.5
        stack.tick(now)
        assert str(entry.state) == "REACHABLE", now
        stack.now = now
        stack.arp.confirm_reachable(PEER)
    assert 1 <= len(restarts) <= 8  # restarted as the timer expires, not 60 times
    stack.tick(30.5 + 15.01)  # no confirmation for longer than any ReachableTime
    assert str(entry.state) == "STALE"
    assert stack.counters.get("arp.request_sent", 0) == 0  # never probed


def test_arp_entry_goes_stale_then_ages_out():
    stack = resolved_stack(arp_reachable_time=10.0, arp_stale_time=20.0)
    stack.receive(arp_frame("reply", eth_dst=STACK_MAC, tha=STACK_MAC), 0.0)
    assert str(stack.arp.lookup(PEER).state) == "REACHABLE"
    stack.tick(16.0)  # reachable time is randomised in [0.5, 1.5) x 10 s
    assert str(stack.arp.lookup(PEER).state) == "STALE"
    stack.tick(40.0)
    assert stack.arp.lookup(PEER) is None
    assert stack.counters["arp.aged_out"] == 1


def test_malformed_arp_is_dropped_and_counted():
    stack = Stack(ip="192.0.2.2/24")
    frame = bytearray(arp_frame("request") + bytes(18))  # padded to the Ethernet minimum
    frame[14 + 4] = 8  # hlen 8: not Ethernet
    assert stack.receive(bytes(frame), 0.0) == []
    assert sum(stack.counters.drops().values()) == 1 and stack.arp.lookup(PEER) is None
    assert stack.receive(arp_frame("request")[:30], 0.0) == []
    assert stack.counters["arp.drop.truncated"] == 1


# ------------------------------------------------------------------------------------------ IPv4
def _mutate(frame: bytes, position: int, value: int, fix_checksum: bool = True) -> bytes:
    data = bytearray(frame)
    data[position] = value
    if fix_checksum:
        from netstack.formats.checksum import internet_checksum

        ihl = (data[14] & 0x0F) * 4
        data[24:26] = b"\x00\x00"
        data[24:26] = internet_checksum(bytes(data[14:14 + max(ihl, 20)])).to_bytes(2, "big")
    return bytes(data)


@pytest.mark.parametrize(
    "reason, mutate",
    [
        ("bad_version", lambda f: _mutate(f, 14, 0x65)),
        ("bad_ihl", lambda f: _mutate(f, 14, 0x44)),
        ("bad_checksum", lambda f: _mutate(f, 24, f[24] ^ 0xFF, fix_checksum=False)),
        ("ttl_expired", lambda f: _mutate(f, 22, 0)),
        ("truncated", lambda f: f[:30]),
        ("bad_total_length", lambda f: _mutate(f, 16, 0x10)),  # total_length 4096 > frame
        ("bad_total_length", lambda f: _mutate(_mutate(f, 16, 0), 17, 8)),
        ("not_for_us", lambda f: _mutate(f, 33, 77)),  # dst 192.0.2.77
        ("bad_source", lambda f: _mutate(f, 26, 224)),  # src 224.0.2.1 multicast
        ("unicast_in_link_broadcast", lambda f: b"\xff" * 6 + f[6:]),  # RFC 1122 §3.3.6
    ],
)
def test_rfc1122_3_2_1_validation_drops_are_counted(reason, mutate):
    stack = resolved_stack()
    good = ipv4_frame(echo_request())
    assert len(stack.receive(good, 1.0)) == 1  # the unmodified frame is answered
    assert stack.receive(mutate(good), 1.0) == []
    assert stack.counters[f"ipv4.drop.{reason}"] == 1


def test_ethernet_padding_after_total_length_is_ignored():
    stack = resolved_stack()
    out = parsed(stack.receive(ipv4_frame(echo_request(data=b"")) + bytes(20), 1.0))
    assert len(out) == 1 and out[0].payload.payload.payload == b""


def test_frames_for_other_macs_are_dropped():
    stack = resolved_stack()
    assert stack.receive(ipv4_frame(echo_request(), eth_dst="02:00:5e:00:53:42"), 1.0) == []
    assert stack.counters["ethernet.drop.not_for_us"] == 1


def test_echo_reply_mirrors_identifier_sequence_and_data():
    stack = resolved_stack()
    (reply,) = parsed(stack.receive(ipv4_frame(echo_request(77, 5, b"abc" * 20)), 1.0))
    assert reply.dst == PEER_MAC
    ip = reply.payload
    assert ip.src == "192.0.2.2" and ip.dst == "192.0.2.1" and ip.checksum_ok
    icmp = ip.payload
    assert (str(icmp.type), icmp.identifier, icmp.sequence, icmp.payload) == ("echo_reply", 77, 5, b"abc" * 20)
    assert icmp.checksum_ok


def test_fragmented_echo_request_gets_a_fragmented_reply():
    stack = resolved_stack(mtu=576)
    data = bytes(range(256)) * 8  # 2048 bytes of data, 2056 of ICMP
    whole = Frame.build({"dst": STACK_MAC, "src": PEER_MAC, "payload": {
        "src": "192.0.2.1", "dst": "192.0.2.2", "protocol": "icmp", "payload": echo_request(3, 4, data)}})
    icmp_bytes = whole[34:]
    pieces = [(0, icmp_bytes[:1480], True), (1480, icmp_bytes[1480:], False)]
    out = []
    for offset, piece, more in reversed(pieces):  # out of order on purpose
        out += stack.receive(ipv4_frame(piece, identification=42, offset=offset, more=more), 1.0)
    fragments = parsed(out)
    assert len(fragments) == 4  # 2056 bytes in 552-byte pieces at MTU 576
    assert all(len(frame) - 14 <= 576 for frame in out)
    reassembled = b"".join(frame.payload.payload for frame in fragments)
    assert reassembled[0] == 0 and reassembled[8:] == data
    assert stack.counters["reassembly.done"] == 1


def test_reassembly_timeout_sends_time_exceeded_code_1_only_with_fragment_zero():
    stack = resolved_stack(reassembly_timeout=30.0)
    stack.receive(ipv4_frame(b"a" * 16, identification=1, offset=0, more=True), 0.0)
    stack.receive(ipv4_frame(b"b" * 16, identification=2, offset=16, more=True), 0.0)
    assert stack.next_deadline() == pytest.approx(30.0)
    assert stack.tick(29.0) == []
    (error,) = parsed(stack.tick(30.0))
    icmp = error.payload.payload
    assert (str(icmp.type), icmp.code) == ("time_exceeded", 1)
    assert stack.counters["reassembly.drop.timeout"] == 2  # both timed out, one error sent
    assert stack.counters["icmp.error_sent.11.1"] == 1
    assert len(stack.ipv4.reassembly) == 0 and stack.ipv4.reassembly.held_bytes == 0


def test_overlapping_fragments_drop_the_whole_datagram_rfc5722():
    stack = resolved_stack()
    whole = ipv4_frame(echo_request(1, 1, b"x" * 40))[34:]  # 48 bytes of ICMP
    stack.receive(ipv4_frame(whole[:24], identification=7, offset=0, more=True), 0.0)
    stack.receive(ipv4_frame(whole[16:32], identification=7, offset=16, more=True), 0.0)  # overlaps 16..24
    out = stack.receive(ipv4_frame(whole[24:], identification=7, offset=24, more=False), 0.0)
    assert out == []
    assert stack.counters["reassembly.drop.overlap"] == 1
    assert stack.counters["reassembly.drop.after_overlap"] == 1


def test_exact_duplicate_fragment_is_ignored_and_datagram_completes():
    stack = resolved_stack()
    whole = ipv4_frame(echo_request(1, 1, b"x" * 40))[34:]
    first = ipv4_frame(whole[:24], identification=8, offset=0, more=True)
    stack.receive(first, 0.0)
    stack.receive(first, 0.0)
    out = stack.receive(ipv4_frame(whole[24:], identification=8, offset=24), 0.0)
    assert len(out) == 1
    assert stack.counters["reassembly.duplicate"] == 1


class _RecordingTransport:
    """A transport that records the ECN codepoint and header each datagram arrives with."""

    def __init__(self, stack):
        self.stack, self.seen = stack, []

    def receive(self, src, dst, payload, now):
        self.seen.append((self.stack.ipv4.ecn_codepoint, self.stack.ipv4.current_header, payload))

    def next_deadline(self):
        return None

    def tick(self, now):
        return None

    def icmp_error(self, *args):
        return None


@pytest.mark.parametrize("codepoints, delivered", [
    ((0b10, 0b10, 0b10), 0b10),  # ECT(0) throughout: kept
    ((0b10, 0b11, 0b10), 0b11),  # one fragment marked CE on the way: the datagram is CE
    ((0b11, 0b10, 0b10), 0b11),
    ((0b00, 0b00, 0b00), 0b00),  # Not-ECT throughout
    ((0b00, 0b11, 0b00), None),  # Not-ECT mixed with CE: no correct sender did that, dropped
    ((0b10, 0b00, 0b10), None),
])
def test_reassembled_datagram_is_ce_when_any_fragment_was_rfc3168_5_3(codepoints, delivered):
    stack = resolved_stack()
    transport = _RecordingTransport(stack)
    stack.register_transport(253, transport)  # RFC 3692's experimental protocol number
    data = bytes(range(48))
    for index in (2, 0, 1):  # out of order, so fragment zero's header is not simply the last one
        stack.receive(ipv4_frame(data[index * 16:index * 16 + 16], protocol=253, identification=9,
                                 offset=index * 16, more=index < 2, tos=codepoints[index]), 0.0)
    if delivered is None:
        assert transport.seen == [] and stack.counters["reassembly.drop.ecn_mismatch"] == 1
        return
    ((codepoint, header, payload),) = transport.seen
    assert payload == data and codepoint == delivered
    quoted = IPv4.parse(header + payload[:16])  # fragment zero's header and payload
    assert quoted.tos.ecn == delivered and quoted.checksum_ok  # a rewritten header keeps a valid checksum


def test_reassembly_limits_evict_the_oldest():
    stack = resolved_stack(reassembly_max_datagrams=2, reassembly_max_bytes=100)
    for identification in (1, 2, 3):
        stack.receive(ipv4_frame(b"z" * 16, identification=identification, more=True), 0.0)
    assert stack.counters["reassembly.drop.evicted"] == 1
    assert [key[3] for key in stack.ipv4.reassembly.pending] == [2, 3]
    stack.receive(ipv4_frame(b"z" * 80, identification=4, offset=16, more=True), 0.0)  # bytes limit
    assert stack.ipv4.reassembly.held_bytes <= 100
    assert stack.counters["reassembly.drop.evicted"] >= 2


def test_ping_of_death_fragment_is_dropped():
    stack = resolved_stack()
    stack.receive(ipv4_frame(b"z" * 16, identification=5, offset=65528, more=False), 0.0)
    assert stack.counters["reassembly.drop.too_long"] == 1


# ------------------------------------------------------------------------------ transport interface
def test_transport_interface_receive_tick_and_send():
    stack = resolved_stack()
    transport = RecordingTransport()
    stack.register_transport(253, transport)
    with pytest.raises(ValueError):
        stack.register_transport(253, RecordingTransport())
    stack.receive(ipv4_frame(b"segment!", protocol=253), 1.0)
    assert transport.received == [(PEER, stack.address, b"segment!", 1.0)]
    transport.deadline = 5.0
    assert stack.next_deadline() == 5.0
    stack.tick(5.0)
    assert transport.ticks == [5.0]
    stack.send_ip(PEER, 253, b"reply", 6.0)
    (frame,) = parsed(stack.poll_output())
    assert frame.payload.payload == b"reply" and frame.payload.flags.df
    assert stack.path_mtu(PEER) == 1500


def test_send_ip_refuses_oversize_with_df_and_unroutable():
    stack = resolved_stack(mtu=1000)
    with pytest.raises(OSError) as too_big:
        stack.send_ip(PEER, 253, bytes(1000), 1.0)
    assert too_big.value.errno == errno.EMSGSIZE
    with pytest.raises(OSError) as no_route:
        stack.send_ip(bytes([198, 51, 100, 1]), 253, b"x", 1.0)
    assert no_route.value.errno == errno.ENETUNREACH


def test_off_link_destination_goes_through_the_gateway():
    stack = Stack(ip="192.0.2.2/24", gateway="192.0.2.1")
    stack.start(0.0)
    stack.send_ip(bytes([198, 51, 100, 7]), 253, b"x", 1.0)
    (request,) = parsed(stack.poll_output())
    assert request.payload.tpa == "192.0.2.1"  # ARP for the gateway, not the destination


# ------------------------------------------------------------------------------------------ UDP
def test_udp_endpoint_receives_and_port_unreachable_reaches_sender_as_econnrefused():
    stack = resolved_stack()
    endpoint = stack.udp_bind(5353)
    stack.receive(ipv4_frame({"src_port": 1234, "dst_port": 5353, "payload": b"hi"}, protocol="udp"), 1.0)
    assert endpoint.recvfrom() == (b"hi", ("192.0.2.1", 1234))
    endpoint.sendto(b"x", ("192.0.2.1", 4000), 1.0)
    (sent,) = stack.poll_output()
    error = {"type": "destination_unreachable", "code": 3, "payload": sent[14:14 + 28]}
    stack.receive(ipv4_frame(error), 1.1)
    assert endpoint.error == errno.ECONNREFUSED


def test_udp_bad_checksum_dropped_and_zero_checksum_accepted():
    stack = resolved_stack()
    endpoint = stack.udp_bind(5353)
    good = ipv4_frame({"src_port": 1, "dst_port": 5353, "payload": b"data"}, protocol="udp")
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    stack.receive(bytes(bad), 1.0)
    assert stack.counters["udp.drop.bad_checksum"] == 1 and endpoint.recvfrom() is None
    none = bytearray(good)
    none[40:42] = b"\x00\x00"  # RFC 768: zero means "no checksum"
    stack.receive(bytes(none), 1.0)
    assert endpoint.recvfrom() == (b"data", ("192.0.2.1", 1))


def test_udp_bind_errors():
    stack = resolved_stack()
    stack.udp_bind(7)
    with pytest.raises(OSError) as in_use:
        stack.udp_bind(7)
    assert in_use.value.errno == errno.EADDRINUSE
    with pytest.raises(OSError) as not_ours:
        stack.udp_bind(8, "192.0.2.99")
    assert not_ours.value.errno == errno.EADDRNOTAVAIL
    assert stack.udp_bind(0).port >= 49152


def test_udp_datagram_larger_than_mtu_is_fragmented_with_valid_checksum():
    stack = resolved_stack()
    endpoint = stack.udp_bind(0)
    data = bytes(range(256)) * 31
    endpoint.sendto(data, ("192.0.2.1", 9), 1.0)
    frames = stack.poll_output()
    assert len(frames) == 6
    payload = b"".join(Frame.parse(frame).payload.payload for frame in frames)
    reassembled = Frame.build({"dst": PEER_MAC, "src": STACK_MAC, "payload": {
        "src": "192.0.2.2", "dst": "192.0.2.1", "protocol": "udp", "payload": payload}})
    udp = Frame.parse(reassembled).payload.payload
    assert udp.payload == data and udp.checksum_ok


# ------------------------------------------------------------------------------------------ observability
def test_trace_events_have_stable_names_and_fields(caplog):
    import logging

    stack = Stack(ip="192.0.2.2/24", arp_retries=1)
    pinger = Pinger(stack, PEER, identifier=9)
    with caplog.at_level(logging.DEBUG, logger="netstack.trace"):
        pinger.send(0.0)
        stack.tick(1.0)
    events = [(record.event, record.fields) for record in caplog.records if hasattr(record, "event")]
    names = [name for name, _ in events]
    assert names[:2] == ["arp.request_sent", "arp.state"]
    assert ("arp.failed", {"ip": "192.0.2.1", "dropped": 1}) in events
    assert all(record.stack_time in (0.0, 1.0) for record in caplog.records if hasattr(record, "event"))


def test_trace_formatter_prints_decoded_events():
    import io

    from netstack.engine.observability import TRACE_LOGGER, enable_trace

    stream = io.StringIO()
    handler = enable_trace(stream)
    try:
        stack = Stack(ip="192.0.2.2/24")
        stack.receive(ipv4_frame(echo_request(), ttl=0), 5.0)
    finally:
        import logging

        logging.getLogger(TRACE_LOGGER).removeHandler(handler)
        logging.getLogger(TRACE_LOGGER).setLevel(logging.NOTSET)
    assert "5.000000 192.0.2.2 ipv4.drop reason=ttl_expired src=192.0.2.1 dst=192.0.2.2" in stream.getvalue()


def test_path_mtu_cache_is_bounded():
    stack = resolved_stack(pmtu_cache_limit=4)
    transport = RecordingTransport()
    stack.register_transport(6, transport)
    for host in range(10, 20):
        quoted = ipv4_frame(b"\x00" * 8, protocol=6, src="192.0.2.2", dst=f"192.0.2.{host}")[14:]
        error = {"type": "destination_unreachable", "code": 4, "next_hop_mtu": 1000, "payload": quoted}
        stack.receive(ipv4_frame(error), 1.0)
    assert len(stack.icmp.path_mtus) == 4
    assert stack.path_mtu(bytes([192, 0, 2, 19])) == 1000 and stack.path_mtu(bytes([192, 0, 2, 10])) == 1500
