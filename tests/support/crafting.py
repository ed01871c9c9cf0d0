"""Frames crafted with the declarative formats schemas: an oracle independent of the engine's codec."""

from __future__ import annotations

from netstack.formats import Frame

STACK_MAC = "02:00:c0:00:02:02"  # StackConfig's default MAC for 192.0.2.2
PEER_MAC = "02:00:5e:00:53:01"


def ipv4_frame(payload: bytes | dict, *, src="192.0.2.1", dst="192.0.2.2", protocol="icmp",
               identification=0, offset=0, more=False, ttl=64, dont_fragment=False,
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
                    "flags": flags, "fragment_offset": offset // 8, "ttl": ttl, "payload": payload},
    })


def echo_request(identifier=1, sequence=1, data=b"ping") -> dict:
    return {"type": "echo_request", "code": 0, "identifier": identifier, "sequence": sequence, "payload": data}


def arp_frame(op: str, *, sha=PEER_MAC, spa="192.0.2.1", tha="00:00:00:00:00:00", tpa="192.0.2.2",
              eth_dst="ff:ff:ff:ff:ff:ff") -> bytes:
    return Frame.build({
        "dst": eth_dst, "src": sha, "ethertype": "arp",
        "payload": {"op": op, "sha": sha, "spa": spa, "tha": tha, "tpa": tpa},
    })
