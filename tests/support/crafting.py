"""Frames crafted with the declarative formats schemas (an oracle independent of the engine's codec),
a stack that already knows its peer, and a transport that records what the stack hands it."""

from __future__ import annotations

from netstack import Stack
from netstack.formats import Frame

STACK_MAC = "02:00:c0:00:02:02"  # StackConfig's default MAC for 192.0.2.2
PEER_MAC = "02:00:5e:00:53:01"
PEER = bytes([192, 0, 2, 1])


def ipv4_frame(payload: bytes | dict, *, src="192.0.2.1", dst="192.0.2.2", protocol="icmp",
               identification=0, offset=0, more=False, ttl=64, dont_fragment=False, tos=0,
               eth_dst=STACK_MAC, eth_src=PEER_MAC) -> bytes:
    """An Ethernet/IPv4 frame built by the declarative schemas (an oracle independent of the engine)."""
    flags = {}
    if more:
        flags["mf"] = True
    if dont_fragment:
        flags["df"] = True
    return Frame.build({
        "dst": eth_dst, "src": eth_src,
        "payload": {"src": src, "dst": dst, "protocol": protocol, "identification": identification,
                    "flags": flags, "fragment_offset": offset // 8, "ttl": ttl, "tos": tos,
                    "payload": payload},
    })


def echo_request(identifier=1, sequence=1, data=b"ping") -> dict:
    return {"type": "echo_request", "code": 0, "identifier": identifier, "sequence": sequence, "payload": data}


def arp_frame(op: str, *, sha=PEER_MAC, spa="192.0.2.1", tha="00:00:00:00:00:00", tpa="192.0.2.2",
              eth_dst="ff:ff:ff:ff:ff:ff") -> bytes:
    return Frame.build({
        "dst": eth_dst, "src": sha, "ethertype": "arp",
        "payload": {"op": op, "sha": sha, "spa": spa, "tha": tha, "tpa": tpa},
    })


def resolved_stack(**options) -> Stack:
    """A stack that already knows the peer 192.0.2.1 (it got an ARP request from it)."""
    stack = Stack(ip="192.0.2.2/24", **options)
    stack.start(0.0)
    stack.receive(arp_frame("request"), 0.0)
    return stack


def parsed(frames):
    """The frames a stack sent, decoded by the declarative schemas."""
    return [Frame.parse(frame) for frame in frames]


class RecordingTransport:
    """A transport protocol for ``Stack.register_transport`` that records every call."""

    def __init__(self):
        self.received = []
        self.errors = []
        self.ticks = []
        self.deadline = None

    def receive(self, src, dst, payload, now):
        self.received.append((bytes(src), bytes(dst), bytes(payload), now))

    def next_deadline(self):
        return self.deadline

    def tick(self, now):
        self.ticks.append(now)
        self.deadline = None

    def icmp_error(self, error, src, dst, quoted, now):
        self.errors.append((error, src, dst, quoted))
