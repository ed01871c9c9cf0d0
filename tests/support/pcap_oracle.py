"""The time-sequence numbers of a pcap computed with scapy: an oracle independent of netstack's
decoders, for comparing with what ``netstack plot`` draws."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap

MASK = 0xFFFFFFFF


def _endpoint(packet, side: str) -> str:
    ip, tcp = packet[IP], packet[TCP]
    return f"{getattr(ip, side)}:{tcp.sport if side == 'src' else tcp.dport}"


def expected_time_sequence(pcap, sender: str) -> dict:
    packets = [p for p in rdpcap(str(pcap)) if IP in p and TCP in p and p[IP].frag == 0 and not p[IP].flags.MF]
    forward = [p for p in packets if _endpoint(p, "src") == sender]
    receiver = _endpoint(forward[0], "dst")
    ours = [p for p in packets if {_endpoint(p, "src"), _endpoint(p, "dst")} == {sender, receiver}]
    syn = next((p for p in forward if p[TCP].flags.S), None)
    isn = syn[TCP].seq if syn is not None else (forward[0][TCP].seq - 1) & MASK
    peer_syn = next((p for p in ours if _endpoint(p, "src") == receiver and p[TCP].flags.S), None)

    def wscale(packet):
        return dict(packet[TCP].options).get("WScale") if packet is not None else None

    scale = wscale(peer_syn) if wscale(syn) is not None and wscale(peer_syn) is not None else 0
    start = float(ours[0].time)
    data, acks, window, sack = [], [], [], []
    for packet in ours:
        tcp = packet[TCP]
        when = round(float(packet.time) - start, 6)
        if _endpoint(packet, "src") == sender:
            ip_payload = packet[IP].len - packet[IP].ihl * 4 - tcp.dataofs * 4  # pad bytes are not payload
            length = ip_payload + (1 if (tcp.flags.S or tcp.flags.F) else 0)
            if length:
                first = (tcp.seq - isn) & MASK
                data.append((when, first, first + length))
        elif tcp.flags.A and not tcp.flags.R:
            ack = (tcp.ack - isn) & MASK
            acks.append((when, ack))
            window.append((when, ack + (tcp.window if tcp.flags.S else tcp.window << scale)))
            for left, right in pairs(dict(tcp.options).get("SAck", ())):
                sack.append((when, (left - isn) & MASK, (right - isn) & MASK))
    return {"receiver": receiver, "data": data, "acks": acks, "window": window, "sack": sack}


def pairs(values) -> list[tuple[int, int]]:
    values = list(values)
    return list(zip(values[0::2], values[1::2]))
