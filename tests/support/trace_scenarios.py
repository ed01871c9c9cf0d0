"""Scripted simulator runs whose traces the presentation tests read (deterministic: seeds fixed)."""

from __future__ import annotations

import io

import netstack
from netstack.presentation.trace_view import disable_trace, enable_trace


def traced(script, *, format: str = "text", **link) -> list[str]:
    """Run ``script(network, a, b)`` on a two-host simulated link with a trace view; its lines."""
    stream = io.StringIO()
    view = enable_trace(stream, format=format, color=False)
    try:
        with netstack.sim.Network(seed=5) as network:
            a = network.host("192.0.2.2/24", name="a", seed=11)
            b = network.host("192.0.2.3/24", name="b", seed=12)
            network.link(a, b, delay=0.001, **link)
            script(network, a, b)
    finally:
        disable_trace(view)
    return stream.getvalue().splitlines()


def connected(a, b):
    """A connection a 192.0.2.2:40000 -> b 192.0.2.3:7000: (client socket, accepted socket)."""
    return a.connect_sockets(b, ("192.0.2.3", 7000), bind=("192.0.2.2", 40000))


def handshake_data_close(network, a, b) -> None:
    """a:40000 connects to b:7000, sends 100 bytes, both close."""
    client, accepted = connected(a, b)
    client.sendall(b"x" * 100)
    assert accepted.recv(1000) == b"x" * 100
    client.close()
    network.run(0.01)
    accepted.close()
    network.run(1.0)


def _tcp_payload_length(frame: bytes) -> int | None:
    """Length of the TCP payload of an Ethernet/IPv4 frame, None for anything else."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    total = int.from_bytes(frame[16:18], "big")
    offset = (frame[14 + ihl + 12] >> 4) * 4
    return total - ihl - offset


def drop_frames(host, should_drop) -> list[bytes]:
    """Make ``host`` lose the frames it sends for which ``should_drop(frame)`` is true; returns them."""
    dropped: list[bytes] = []
    transmit = host._transmit

    def lossy(frames):
        kept = []
        for frame in frames:
            (dropped if should_drop(frame) else kept).append(frame)
        transmit(kept)

    host._transmit = lossy
    return dropped


def syn_unanswered(network, a, b) -> None:
    """b answers ARP but nothing over IPv4: a's SYN is retransmitted with the RTO backed off."""
    drop_frames(b, lambda frame: frame[12:14] == b"\x08\x00")
    client = a.socket()
    client.setblocking(False)
    try:
        client.connect(("192.0.2.3", 7000))
    except BlockingIOError:
        pass
    network.run(4.0)


def _transfer_losing(network, a, b, payload: bytes, lost: tuple[int, ...]) -> None:
    """a sends ``payload`` to b, the data segments numbered in ``lost`` (1 = the first) lost once;
    b reads it all, both close."""
    data_segments = []

    def numbered(frame):
        if _tcp_payload_length(frame):
            data_segments.append(frame)
            return len(data_segments) in lost
        return False

    drop_frames(a, numbered)
    client, accepted = connected(a, b)
    client.sendall(payload)
    received = b""
    while len(received) < len(payload):
        received += accepted.recv(65536)
    assert received == payload
    client.close()
    accepted.close()
    network.run(1.0)


def one_segment_lost(network, a, b) -> None:
    """A 60 kB transfer whose 12th data segment is lost once: duplicate ACKs, fast retransmit."""
    _transfer_losing(network, a, b, bytes(range(256)) * 240, (12,))


def tail_segments_lost(network, a, b) -> None:
    """A 5-segment write whose last two data segments are lost once: nothing follows them, so no
    duplicate ACK comes; a tail loss probe (RFC 8985 §7) resends the last one."""
    # five full segments (a short last one would wait for the ACK of the others: Nagle)
    _transfer_losing(network, a, b, (bytes(range(256)) * 29)[:5 * 1448], (4, 5))
