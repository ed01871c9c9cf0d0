"""The TAP's intake (``netstack.drivers.intake``): which frames are bare SYNs, non-SYN frames first, SYNs
round robin per source address, the bounds and their counter."""

from __future__ import annotations

import pytest

from netstack.drivers.intake import FrameIntake, bare_syn_source
from netstack.engine.observability import Counters
from netstack.formats import fast
from netstack.formats.tcp import ACK, CWR, ECE, PSH, RST, SYN

STACK = bytes([192, 0, 2, 2])
CLIENT = bytes([192, 0, 2, 1])
SPOOFED = [bytes([192, 0, 2, 100 + index]) for index in range(151)]  # 192.0.2.100-250
STACK_MAC = bytes.fromhex("020000000002")
HOST_MAC = bytes.fromhex("020000000001")


def tcp_frame(src, flags, *, seq=1, payload=b"", options=(), ihl_options=b""):
    tcp = fast.encode_tcp(src, STACK, 40000, 80, seq=seq, ack=0 if flags == SYN else 7, flags=flags,
                          window=512, options=list(options), payload=payload)
    ip = fast.encode_ipv4(src, STACK, 6, tcp, ttl=64, identification=seq & 0xFFFF, flags=2, options=ihl_options)
    return fast.encode_ethernet(STACK_MAC, HOST_MAC, 0x0800, ip)


def syn(src, seq=1):
    return tcp_frame(src, SYN, seq=seq, options=[(2, 1460)])


def test_a_bare_syn_is_told_by_its_source_and_nothing_else_is():
    assert bare_syn_source(syn(CLIENT)) == CLIENT
    assert bare_syn_source(tcp_frame(CLIENT, SYN | ECE | CWR)) == CLIENT  # ECN setup SYN
    assert bare_syn_source(tcp_frame(CLIENT, SYN | ACK)) is None  # a SYN-ACK answers us
    assert bare_syn_source(tcp_frame(CLIENT, ACK)) is None  # completes a (cookie) handshake
    assert bare_syn_source(tcp_frame(CLIENT, ACK | PSH, payload=b"GET /")) is None
    assert bare_syn_source(tcp_frame(CLIENT, RST)) is None
    frame = syn(CLIENT)
    assert bare_syn_source(frame[:40]) is None  # too short to hold the flags: the stack judges it
    arp = fast.encode_ethernet(STACK_MAC, HOST_MAC, 0x0806, bytes(28)) + bytes(32)
    assert bare_syn_source(arp) is None
    udp = bytearray(frame)
    udp[23] = 17  # the same bytes as UDP: not a SYN
    assert bare_syn_source(bytes(udp)) is None


def test_the_flags_are_found_after_ip_options():
    # IHL 6: the TCP header starts 4 bytes later; reading a fixed offset would see the window instead.
    frame = tcp_frame(CLIENT, SYN, ihl_options=b"\x01\x01\x01\x00")
    assert frame[14] & 0x0F == 6
    assert bare_syn_source(frame) == CLIENT
    assert bare_syn_source(tcp_frame(CLIENT, ACK, ihl_options=b"\x01\x01\x01\x00")) is None


def test_while_the_stack_keeps_up_every_frame_keeps_its_arrival_order():
    intake = FrameIntake(Counters())  # SYNs wait apart only once a batch (64) of frames waits
    frames = [syn(SPOOFED[0]), tcp_frame(CLIENT, ACK), syn(CLIENT, 5), tcp_frame(CLIENT, ACK | PSH, payload=b"x")]
    for frame in frames:
        intake.add(frame)
    assert intake.take(64) == frames


def test_under_pressure_a_turn_gives_a_few_syns_then_the_others_in_arrival_order():
    intake = FrameIntake(Counters(), divert_after=0)
    first_syn, ack, data, later_syn = syn(SPOOFED[0]), tcp_frame(CLIENT, ACK), \
        tcp_frame(CLIENT, ACK | PSH, seq=2, payload=b"x"), syn(SPOOFED[0], seq=9)
    for frame in (first_syn, ack, data, later_syn):
        intake.add(frame)
    assert len(intake) == 4
    assert intake.take(4) == [first_syn, ack, data]  # a quarter of the turn for SYNs by default
    assert intake.take(4) == [later_syn]
    assert len(intake) == 0 and not intake.take(5)


def test_a_clients_syn_gets_the_next_turn_whatever_one_flooding_source_queued():
    counters = Counters()
    intake = FrameIntake(counters, syn_limit=16, divert_after=0)
    flood = [syn(SPOOFED[0], seq) for seq in range(100)]
    for frame in flood:
        intake.add(frame)
    assert counters["tap.drop.syn_queue_full"] == 100 - 16  # shed unparsed, counted
    client = syn(CLIENT)
    intake.add(client)  # all slots taken: the flooding source gives one up
    assert counters["tap.drop.syn_queue_full"] == 100 - 16 + 1
    assert len(intake) == 16
    assert intake.take(2, syns=2) == [flood[0], client]
    assert intake.take(100, syns=100) == flood[1:15]


def test_151_spoofed_sources_and_a_client_are_served_round_robin():
    counters = Counters()
    intake = FrameIntake(counters, syn_limit=151 * 4, divert_after=0)
    for seq in range(6):
        for source in SPOOFED:
            intake.add(syn(source, seq))
    client = syn(CLIENT)
    intake.add(client)
    assert counters["tap.drop.syn_queue_full"] == 151 * 2 + 1  # the flood's surplus, and one for the client
    first_turn = intake.take(len(SPOOFED) + 1, syns=len(SPOOFED) + 1)
    assert [bare_syn_source(frame) for frame in first_turn] == SPOOFED + [CLIENT]


def test_one_host_opening_many_connections_at_once_is_not_taken_for_a_flood():
    counters = Counters()
    intake = FrameIntake(counters)
    burst = [syn(CLIENT, seq) for seq in range(200)]
    for frame in burst:
        intake.add(frame)
    assert counters["tap.drop.syn_queue_full"] == 0
    assert sorted(intake.take(1000, syns=1000)) == sorted(burst)


def test_bounds_hold_and_say_when_to_stop_reading():
    counters = Counters()
    intake = FrameIntake(counters, frame_limit=3, syn_limit=5, divert_after=0)
    for index in range(3):
        assert not intake.full
        intake.add(tcp_frame(CLIENT, ACK, seq=index))
    assert intake.full  # the driver leaves the rest in the kernel's queue
    for source in SPOOFED[:4]:
        intake.add(syn(source))
        intake.add(syn(source, 2))
    assert len(intake) == 3 + 5  # 5 SYNs in all, whatever the sources
    assert counters["tap.drop.syn_queue_full"] == 3
    intake.take(8, syns=5)
    assert not intake.full


def test_limits_must_be_positive():
    with pytest.raises(ValueError):
        FrameIntake(Counters(), syn_limit=0)


def test_a_turn_takes_at_most_the_syns_asked_for_and_fills_up_with_the_others():
    intake = FrameIntake(Counters(), divert_after=0)
    syns = [syn(source) for source in SPOOFED[:10]]
    others = [tcp_frame(CLIENT, ACK, seq=index) for index in range(3)]
    for frame in syns[:5] + others + syns[5:]:
        intake.add(frame)
    assert intake.take(64, syns=2) == syns[:2] + others
    assert intake.take(64, syns=0) == []
    assert intake.take(3, syns=3) == syns[2:5]


def test_syns_are_set_aside_as_soon_as_the_reader_says_it_is_behind():
    intake = FrameIntake(Counters())
    intake.pressure = True  # the last read left frames in the kernel's queue
    ack, first = tcp_frame(CLIENT, ACK), syn(CLIENT)
    intake.add(first)
    intake.add(ack)
    assert intake.syns_waiting == 1
    assert intake.take(4, syns=0) == [ack]
    intake.pressure = False
    later = syn(SPOOFED[0])
    intake.add(later)  # SYNs already wait apart: this one joins them, whatever the pressure
    assert intake.syns_waiting == 2
    assert intake.take(4, syns=4) == [first, later]
