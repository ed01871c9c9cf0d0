"""Whatever arrives on the wire, the stack never raises, stays within its bounds, and only sends
frames that decode cleanly (the formats schemas are the oracle)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netstack import Stack
from netstack.formats import Frame
from netstack.formats.checksum import internet_checksum
from netstack.engine.icmp import Pinger
from netstack.apps.services import start_services

from netstack import strategies as frame_strategies  # derived from the schemas

from tests.support.crafting import ipv4_frame

STACK_MAC = "02:00:c0:00:02:02"
PEERS = ["192.0.2.1", "192.0.2.3", "192.0.2.254"]


def _schema_frames():
    peer = st.sampled_from(PEERS)
    ipv4 = frame_strategies.ipv4_packets(dst=st.sampled_from(["192.0.2.2", "192.0.2.255"]), src=peer,
                                         ttl=st.integers(0, 255))
    arp = frame_strategies.arp_packets(tpa=st.sampled_from(["192.0.2.2", "192.0.2.9"]), spa=peer)
    payload = st.one_of(st.tuples(st.just("ipv4"), ipv4), st.tuples(st.just("arp"), arp))
    return frame_strategies.ethernet_frames(
        payload=payload, vlan=False, dst=st.sampled_from([STACK_MAC, "ff:ff:ff:ff:ff:ff"])).map(Frame.build)


def _our_frames():
    """Frames our own stack would accept: echo requests (whole or cut in fragments), UDP to services."""
    return st.builds(
        lambda size, port, ident: Frame.build({"dst": STACK_MAC, "src": "02:00:5e:00:53:01", "payload": {
            "src": "192.0.2.1", "dst": "192.0.2.2", "protocol": "udp", "identification": ident,
            "payload": {"src_port": 4000, "dst_port": port, "payload": bytes(size)}}}),
        st.integers(0, 3000), st.sampled_from([7, 9, 4444]), st.integers(0, 3))


@st.composite
def mutated(draw, frames):
    data = bytearray(draw(frames))
    for _ in range(draw(st.integers(0, 3))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()) and data:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


wire = st.one_of(
    st.binary(max_size=200),
    _schema_frames(),
    _our_frames(),
    mutated(st.one_of(_schema_frames(), _our_frames())),
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("frame"), wire),
        st.tuples(st.just("wait"), st.floats(0, 40)),
        st.tuples(st.just("ping"), st.sampled_from(PEERS + ["198.51.100.1"])),
    ),
    max_size=25,
)


def check_output(frames):
    for frame in frames:
        decoded = Frame.parse(frame)  # raises FormatError if we ever emit something malformed
        if int(decoded.ethertype) == 0x0800:
            assert internet_checksum(frame[14:14 + (frame[14] & 0x0F) * 4]) == 0


@given(steps)
def test_no_frame_sequence_makes_the_stack_raise(sequence):
    stack = Stack(ip="192.0.2.2/24", gateway="192.0.2.254", reassembly_max_datagrams=4,
                  reassembly_max_bytes=6000, arp_queue_limit=3)
    check_output(stack.start(0.0))
    start_services(stack, ["echo", "discard"])
    pinger = Pinger(stack, b"\xc0\x00\x02\x01", identifier=1, size=100)
    now = 0.0
    for kind, value in sequence:
        if kind == "frame":
            check_output(stack.receive(value, now))
        elif kind == "wait":
            now += value
            check_output(stack.tick(now))
        else:
            pinger.dst = bytes(int(part) for part in value.split("."))
            pinger.send(now)
            check_output(stack.poll_output())
        reassembly = stack.ipv4.reassembly
        assert reassembly.held_bytes <= 6000 and len(reassembly.pending) <= 4
        assert all(len(entry.queue) <= 3 for entry in stack.arp.table.values())
        deadline = stack.next_deadline()
        assert deadline is None or deadline >= 0
    check_output(stack.tick(now + 1000))


@given(
    size=st.integers(0, 6000),
    cuts=st.lists(st.integers(1, 400), min_size=1, max_size=30),
    order=st.randoms(use_true_random=False),
    duplicates=st.lists(st.integers(0, 29), max_size=5),
)
def test_any_fragmentation_order_and_duplication_reassembles_exactly_once(size, cuts, order, duplicates):
    """RFC 815: fragments in any order, exact duplicates ignored -> one datagram, byte for byte."""
    stack = Stack(ip="192.0.2.2/24")
    stack.start(0.0)
    endpoint = stack.udp_bind(5000)
    data = bytes((i * 31 + 7) & 0xFF for i in range(size))
    whole = Frame.build({"dst": STACK_MAC, "src": "02:00:5e:00:53:01", "payload": {
        "src": "192.0.2.1", "dst": "192.0.2.2", "protocol": "udp",
        "payload": {"src_port": 4000, "dst_port": 5000, "payload": data}}})
    segment = whole[34:]
    pieces, start = [], 0
    for cut in cuts:  # cut points on 8-byte boundaries (RFC 791)
        end = min(len(segment), start + cut * 8)
        if end <= start:
            break
        pieces.append((start, segment[start:end]))
        start = end
    if start < len(segment):
        pieces.append((start, segment[start:]))
    frames = [ipv4_frame(piece, protocol="udp", identification=77, offset=offset,
                         more=offset + len(piece) < len(segment)) for offset, piece in pieces]
    # Duplicates of a strict subset only: a duplicate of every fragment (or of an unfragmented
    # datagram) is a second whole datagram with the same key, which a receiver must deliver again.
    repeated = sorted({index for index in duplicates if index < len(frames)})[: len(frames) - 1]
    frames += [frames[index] for index in repeated]
    order.shuffle(frames)
    for frame in frames:
        check_output(stack.receive(frame, 1.0))
    assert endpoint.recvfrom() == (data, ("192.0.2.1", 4000))
    assert endpoint.recvfrom() is None
    # A duplicate arriving after completion starts a new datagram (same key): it can only time out.
    check_output(stack.tick(1.0 + stack.config.reassembly_timeout))
    assert endpoint.recvfrom() is None
    assert stack.ipv4.reassembly.held_bytes == 0 and not stack.ipv4.reassembly.pending
