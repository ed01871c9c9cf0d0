"""IPv4, fragments, ICMP, UDP and ARP (RFC 791, RFC 1122, RFC 792, RFC 768, RFC 826)."""

from __future__ import annotations

from netstack.formats.checksum import internet_checksum
from netstack.formats.craft import ARP, ICMP, IP, UDP, Ether
from netstack.testing.matchers import arp, icmp, ipv4, udp

OTHER_IP = "192.0.2.3"          # a second address the bench speaks for, unknown to the DUT
OTHER_MAC = "02:00:5e:10:00:03"


def echo_request(bench, identifier: int, payload: bytes, **ip_fields):
    return bench.to_dut(**ip_fields) / ICMP(type="echo_request", identifier=identifier, sequence=1) / payload


def fragments(bench, datagram: bytes, size: int, identification: int):
    """``datagram`` (an IPv4 packet) cut into fragments of ``size`` data bytes (RFC 791 §3.2)."""
    header, data = datagram[:20], datagram[20:]
    pieces = []
    for offset in range(0, len(data), size):
        more = offset + size < len(data)
        pieces.append(Ether(src=bench.mac, dst=bench.resolve()) / IP(
            src=bench.ip, dst=bench.dut_ip, protocol=header[9], identification=identification,
            flags={"mf": more}, fragment_offset=offset // 8) / data[offset:offset + size])
    return pieces


def test_echo_request_draws_echo_reply(bench):
    """RFC 792 (Echo), RFC 1122 §3.2.2.6: "Every host MUST implement an ICMP Echo server"; the reply
    carries the identifier, sequence number and data of the request."""
    bench.send(echo_request(bench, 0x4242, b"netstack testing"))
    bench.expect(ipv4(icmp(type="echo_reply", identifier=0x4242, sequence=1, payload=b"netstack testing"),
                      src=bench.dut_ip, dst=bench.ip))


def test_large_echo_request_is_answered_whole(bench):
    """RFC 1122 §3.2.2.6: the reply returns the whole data, here 1400 bytes."""
    data = bytes(range(256)) * 5 + bytes(120)
    bench.send(echo_request(bench, 7, data))
    bench.expect(icmp(type="echo_reply", identifier=7, payload=data))


def test_echo_request_with_bad_checksum_is_dropped(bench):
    """RFC 1122 §3.2.2 / RFC 792: a message whose checksum fails is not answered."""
    frame = echo_request(bench, 8, b"bad")
    frame["icmp"].checksum = 0x1234
    bench.send(frame)
    bench.expect_none(icmp(type="echo_reply", identifier=8), within=0.5)


def test_bad_ip_header_checksum_is_silently_dropped(bench):
    """RFC 1122 §3.2.1.2: "A host MUST verify the IP header checksum on every received datagram and
    silently discard every datagram that has a bad checksum"."""
    frame = echo_request(bench, 9, b"bad ip", checksum=0xBEEF)
    bench.send(frame)
    bench.expect_none(icmp(identifier=9), within=0.5)


def test_wrong_ip_version_is_silently_dropped(bench):
    """RFC 1122 §3.2.1.1: "A datagram whose version number is not 4 MUST be silently discarded"."""
    data = bytearray(bytes(echo_request(bench, 10, b"v5")))
    data[14] = (5 << 4) | (data[14] & 0x0F)
    data[24:26] = b"\0\0"
    data[24:26] = internet_checksum(bytes(data[14:34])).to_bytes(2, "big")  # only the version is wrong
    bench.send(bytes(data))
    bench.expect_none(icmp(identifier=10), within=0.5)


def test_fragmented_echo_request_is_reassembled(bench):
    """RFC 791 §3.2 (reassembly), RFC 1122 §3.3.2: "A host MUST be able to reassemble"."""
    data = bytes(range(200)) * 6
    datagram = bytes(echo_request(bench, 11, data, identification=0x1111))[14:]
    for piece in fragments(bench, datagram, 400, 0x1111):
        bench.send(piece)
    bench.expect(icmp(type="echo_reply", identifier=11, payload=data), within=2.0)


def test_fragments_out_of_order_are_reassembled(bench):
    """RFC 791 §3.2: fragments may arrive in any order; the last one first is the hard case."""
    data = bytes(range(100)) * 9
    datagram = bytes(echo_request(bench, 12, data, identification=0x2222))[14:]
    for piece in reversed(fragments(bench, datagram, 304, 0x2222)):
        bench.send(piece)
    bench.expect(icmp(type="echo_reply", identifier=12, payload=data), within=2.0)


def test_fragmented_udp_datagram_is_reassembled_and_echoed(dut, bench):
    """RFC 791 §3.2 and RFC 768/862: a UDP datagram in three fragments reaches the echo service whole
    (1200 bytes, so the echo fits one frame back)."""
    data = b"0123456789" * 120
    datagram = bytes(bench.to_dut(identification=0x3333) / UDP(src_port=40007, dst_port=dut.ports["echo"])
                     / data)[14:]
    for piece in fragments(bench, datagram, 400, 0x3333):
        bench.send(piece)
    bench.expect(udp(src_port=dut.ports["echo"], dst_port=40007, payload=data), within=2.0)


def test_incomplete_fragments_are_never_delivered(bench):
    """RFC 791 §3.2: a datagram is delivered only once all its fragments arrived; the first fragment
    alone draws no echo reply."""
    data = bytes(800)
    datagram = bytes(echo_request(bench, 13, data, identification=0x4444))[14:]
    bench.send(fragments(bench, datagram, 400, 0x4444)[0])
    bench.expect_none(icmp(type="echo_reply", identifier=13), within=1.0)


def test_udp_echo(dut, bench):
    """RFC 862 over RFC 768: a datagram to port 7 comes back with ports swapped."""
    bench.send(bench.to_dut() / UDP(src_port=40001, dst_port=dut.ports["echo"]) / b"udp echo")
    bench.expect(udp(src_port=dut.ports["echo"], dst_port=40001, payload=b"udp echo"))


def test_udp_with_bad_checksum_is_dropped(dut, bench):
    """RFC 1122 §4.1.3.4: a datagram with a non-zero, wrong checksum "MUST silently discard"."""
    bench.send(bench.to_dut() / UDP(src_port=40002, dst_port=dut.ports["echo"], checksum=0x1111) / b"corrupt")
    bench.expect_none(udp(dst_port=40002), within=0.5)


def test_udp_with_zero_checksum_is_accepted(dut, bench):
    """RFC 768: "An all zero transmitted checksum value means that the transmitter generated no
    checksum"; the datagram is taken (RFC 1122 §4.1.3.4: a host MAY accept it; Linux and netstack do)."""
    bench.send(bench.to_dut() / UDP(src_port=40003, dst_port=dut.ports["echo"], checksum=0) / b"no sum")
    bench.expect(udp(dst_port=40003, payload=b"no sum"))


def test_udp_to_a_closed_port_quotes_the_datagram(dut, bench):
    """RFC 1122 §4.1.3.1 / RFC 792: a datagram to a port nobody listens on SHOULD draw ICMP port
    unreachable (type 3 code 3) quoting the IP header and at least 8 bytes after it; a DUT that is
    rate limited or silent passes, a reply that comes must quote correctly."""
    bench.send(bench.to_dut(identification=0x5151) / UDP(src_port=40004, dst_port=dut.closed_port) / b"anyone?")
    frames = bench.expect_none(icmp(type="destination_unreachable", code=lambda c: c != 3), within=1.0)
    replies = [f for f in frames if "icmp" in f]
    for reply in replies:
        quote = reply["icmp"].payload
        assert quote[4:6] == (0x5151).to_bytes(2, "big") and len(quote) >= 28
        assert quote[20:22] == (40004).to_bytes(2, "big")


def test_arp_request_for_the_dut_is_answered(bench):
    """RFC 826 "Packet Reception": a request for our protocol address is answered with a reply from our
    hardware address to the requester's."""
    bench.send(Ether(src=bench.mac, dst="ff:ff:ff:ff:ff:ff", ethertype="arp") / ARP(
        op="request", sha=bench.mac, spa=bench.ip, tha="00:00:00:00:00:00", tpa=bench.dut_ip))
    reply = bench.expect(arp(op="reply", spa=bench.dut_ip, tpa=bench.ip, tha=bench.mac))
    assert reply["ethernet"].dst == bench.mac and reply["arp"].sha == reply["ethernet"].src


def test_arp_request_for_another_address_is_not_answered(bench):
    """RFC 826: only a request whose target protocol address is ours gets a reply."""
    bench.send(Ether(src=bench.mac, dst="ff:ff:ff:ff:ff:ff", ethertype="arp") / ARP(
        op="request", sha=bench.mac, spa=bench.ip, tha="00:00:00:00:00:00", tpa="192.0.2.99"))
    bench.expect_none(arp(op="reply"), within=0.5)


def test_dut_resolves_an_unknown_neighbour_before_replying(bench):
    """RFC 1122 §2.3.2.2 / RFC 826: to answer a host it has no entry for, the DUT asks ARP first (Linux
    and netstack do); answering straight to the frame's source MAC is not something either does."""
    bench.resolve()
    bench.send(Ether(src=OTHER_MAC, dst=bench.dut_mac) / IP(src=OTHER_IP, dst=bench.dut_ip)
               / ICMP(type="echo_request", identifier=14, sequence=1) / b"who am i")
    request = bench.expect(arp(op="request", tpa=OTHER_IP, spa=bench.dut_ip), within=2.0)
    bench.send(Ether(src=OTHER_MAC, dst=request["arp"].sha, ethertype="arp") / ARP(
        op="reply", sha=OTHER_MAC, spa=OTHER_IP, tha=request["arp"].sha, tpa=bench.dut_ip))
    reply = bench.expect(icmp(type="echo_reply", identifier=14), within=2.0)
    assert reply["ethernet"].dst == OTHER_MAC
