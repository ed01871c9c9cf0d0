"""Small local hypothesis strategies for the formats tests (the shared ones live in netstack.strategies).

They draw *build inputs* (plain dicts with only some fields, as users write them); tests build them,
parse the bytes back and check the drawn fields survived, then that the parsed container is a fixed
point of build/parse.
"""

from __future__ import annotations

from hypothesis import strategies as st

from netstack.formats.tcp_options import OPTION_LENGTHS, encode_options

macs = st.binary(min_size=6, max_size=6).map(lambda raw: raw.hex(":"))
ipv4_addresses = st.binary(min_size=4, max_size=4).map(lambda raw: ".".join(str(b) for b in raw))
ports = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
payloads = st.binary(max_size=64)

UNKNOWN_KINDS = [k for k in range(6, 254) if k not in OPTION_LENGTHS]

single_options = st.one_of(
    st.tuples(st.just("mss"), st.integers(0, 0xFFFF)),
    st.tuples(st.just("nop"), st.none()),
    st.tuples(st.just("window_scale"), st.integers(0, 14)),
    st.tuples(st.just("sack_permitted"), st.none()),
    st.tuples(st.just("sack"), st.lists(st.tuples(u32, u32), min_size=1, max_size=4)),
    st.tuples(st.just("timestamps"), st.tuples(u32, u32)),
    st.tuples(st.just("tfo"), st.binary(max_size=16)),
    st.tuples(st.sampled_from(UNKNOWN_KINDS), st.binary(max_size=10)),
)

tcp_option_lists = st.lists(single_options, max_size=8).filter(lambda options: len(encode_options(options)) <= 40)


@st.composite
def tcp_segments(draw):
    segment = {"src_port": draw(ports), "dst_port": draw(ports)}
    for name, strategy in [
        ("seq", u32),
        ("ack", u32),
        ("window", st.integers(0, 0xFFFF)),
        ("urgent_pointer", st.integers(0, 0xFFFF)),
        ("flags", st.integers(0, 255)),
        ("options", tcp_option_lists),
        ("payload", payloads),
    ]:
        if draw(st.booleans()):
            segment[name] = draw(strategy)
    return segment


@st.composite
def udp_datagrams(draw):
    return {"src_port": draw(ports), "dst_port": draw(ports), "payload": draw(payloads)}


@st.composite
def icmp_messages(draw):
    kind = draw(st.sampled_from(["echo_request", "echo_reply", "destination_unreachable", "time_exceeded", "redirect", "parameter_problem", 42]))
    message = {"type": kind, "code": draw(st.integers(0, 255)), "payload": draw(payloads)}
    if kind in ("echo_request", "echo_reply"):
        message.update(identifier=draw(ports), sequence=draw(ports))
    elif kind == "destination_unreachable":
        message.update(next_hop_mtu=draw(ports))
    elif kind == "redirect":
        message.update(gateway=draw(ipv4_addresses))
    elif kind == "parameter_problem":
        message.update(pointer=draw(st.integers(0, 255)))
    elif kind == 42:
        message.update(rest_of_header=draw(st.binary(min_size=4, max_size=4)))
    return message


@st.composite
def ipv4_packets(draw, transport=True):
    packet = {"src": draw(ipv4_addresses), "dst": draw(ipv4_addresses)}
    if draw(st.booleans()):
        packet["ttl"] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        packet["identification"] = draw(ports)
    if draw(st.booleans()):
        packet["tos"] = {"dscp": draw(st.integers(0, 63)), "ecn": draw(st.integers(0, 3))}
    if draw(st.booleans()):
        packet["flags"] = {"df": draw(st.booleans())}
    if draw(st.booleans()):
        packet["options"] = draw(st.binary(max_size=40).map(lambda b: b + bytes(-len(b) % 4)))
    choice = draw(st.sampled_from(["tcp", "udp", "icmp", 99] if transport else [99]))
    packet["protocol"] = choice
    packet["payload"] = {
        "tcp": tcp_segments,
        "udp": udp_datagrams,
        "icmp": icmp_messages,
        99: lambda: payloads,
    }[choice]()
    packet["payload"] = draw(packet["payload"])
    return packet


@st.composite
def arp_packets(draw):
    return {
        "op": draw(st.sampled_from(["request", "reply", 3])),
        "sha": draw(macs),
        "spa": draw(ipv4_addresses),
        "tha": draw(macs),
        "tpa": draw(ipv4_addresses),
        "padding": draw(st.sampled_from([b"", bytes(18)])),
    }


@st.composite
def frames(draw):
    frame = {"dst": draw(macs), "src": draw(macs)}
    if draw(st.integers(0, 4)) == 0:
        frame["vlan"] = {"pcp": draw(st.integers(0, 7)), "dei": draw(st.booleans()), "vid": draw(st.integers(0, 4095))}
    kind = draw(st.sampled_from(["ipv4", "ipv4", "ipv4", "arp", 0x88B5]))
    frame["ethertype"] = kind
    if kind == "ipv4":
        frame["payload"] = draw(ipv4_packets())
    elif kind == "arp":
        frame["payload"] = draw(arp_packets())
    else:
        frame["payload"] = draw(payloads)
    return frame
