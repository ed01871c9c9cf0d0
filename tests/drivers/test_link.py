"""Live frames with ``netstack.link`` against the kernel, in a namespace the test creates.

A veth pair inside a fresh namespace: our AF_PACKET socket on one end (no address: the kernel on our
side stays silent), the kernel's 192.0.2.1 on the other. sr1 an echo request, a SYN to a listening
kernel socket (then the RST), sniff a kernel ping, ARP who-has, and a TAP link; every wait bounded.
"""

import socket
import subprocess

import pytest

from netstack import link
from netstack.errors import FormatError
from netstack.formats import pcap
from netstack.formats.craft import ARP, ICMP, IP, TCP, Ether
from tests.support.veth_peers import KERNEL_IP, OUR_IP, veth_peers

pytestmark = pytest.mark.netns


@pytest.fixture
def wire(tmp_path):
    with veth_peers() as peers:
        with link.open(peers.ours, netns=peers.namespace.name, ip=OUR_IP, record=tmp_path / "wire.pcap") as opened:
            yield peers, opened


def test_public_name_is_the_driver():
    import netstack.drivers.link

    assert link is netstack.drivers.link


def test_sr1_echo_request_gets_the_kernels_reply(wire, tmp_path):
    peers, opened = wire
    assert opened.mac == peers.our_mac
    request = Ether(dst=peers.kernel_mac) / IP(dst=KERNEL_IP) / ICMP(type="echo_request", identifier=0x4242, sequence=1) / b"hello"
    reply = opened.sr1(request, timeout=3)
    request = opened.complete(request)  # what was sent: our MAC and address filled in
    assert reply is not None, "no echo reply within 3 s"
    assert reply.answers(request) and ICMP in reply
    assert reply[ICMP].type == "echo_reply" and reply[ICMP].identifier == 0x4242 and reply[ICMP].payload == b"hello"
    assert reply[IP].src == KERNEL_IP and reply[IP].dst == OUR_IP  # the defaults filled our address in
    assert reply.summary().startswith("192.0.2.1 → 192.0.2.2 ICMP ")
    opened.close()
    recorded = [frame for _, frame in pcap.read(tmp_path / "wire.pcap")]
    assert len(recorded) >= 2 and recorded[0][6:12] == bytes.fromhex(peers.our_mac.replace(":", ""))
    assert reply.data in recorded


def test_syn_to_a_listening_socket_gets_a_syn_ack_then_we_reset(wire):
    peers, opened = wire
    listener = peers.namespace.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((KERNEL_IP, 8080))
        listener.listen(1)
        syn = Ether(dst=peers.kernel_mac) / IP(dst=KERNEL_IP) / TCP(src_port=40000, dst_port=8080, seq=1000, flags="S",
                                                                    options=[("mss", 1460)])
        reply = opened.sr1(syn, timeout=3)
        assert reply is not None, "no SYN-ACK within 3 s"
        segment = reply[TCP]
        assert segment.flags.syn and segment.flags.ack and segment.ack == 1001 and reply.answers(opened.complete(syn))
        half_open = ["ss", "-Htn", "state", "syn-recv", "sport", "= :8080"]
        assert "192.0.2.2:40000" in peers.namespace.run(half_open, check=True).stdout
        rst = Ether(dst=peers.kernel_mac) / IP(dst=KERNEL_IP) / TCP(src_port=40000, dst_port=8080, seq=1001, flags="R")
        opened.send(rst)
        assert peers.namespace.run(half_open, check=True).stdout.strip() == ""  # the RST removed it
    finally:
        listener.close()


def test_sniff_sees_a_kernel_ping(wire):
    peers, opened = wire
    ping = peers.namespace.popen(["ping", "-c", "3", "-i", "0.2", "-W", "1", OUR_IP],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen = opened.sniff(filter="icmp.type == echo_request and ipv4.src == 192.0.2.1", count=2, timeout=5)
    finally:
        ping.wait(timeout=10)
    assert len(seen) == 2
    assert all(frame[ICMP].type == "echo_request" and frame[IP].dst == OUR_IP for frame in seen)
    assert seen[0][ICMP].sequence + 1 == seen[1][ICMP].sequence


def test_arp_who_has_gets_its_reply(wire):
    peers, opened = wire
    who_has = Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(tpa=KERNEL_IP)  # sha/spa: the link's defaults
    reply = opened.sr1(who_has, timeout=3)
    assert reply is not None and reply[ARP].op == "reply"
    assert reply[ARP].sha == peers.kernel_mac and reply[ARP].spa == KERNEL_IP and reply[ARP].tpa == OUR_IP
    assert opened.resolve(KERNEL_IP) == peers.kernel_mac
    # with no Ethernet destination the link resolves it by ARP
    reply = opened.sr1(Ether() / IP(dst=KERNEL_IP) / ICMP(type="echo_request", identifier=9), timeout=3)
    assert reply is not None and reply[ICMP].type == "echo_reply"


def test_waits_are_bounded_and_filters_checked(wire):
    peers, opened = wire
    with pytest.raises(ValueError, match="bounded"):
        opened.sniff(count=None, timeout=None)
    with pytest.raises(FormatError, match="unknown field"):
        opened.sniff(filter="tcp.dport == 80", timeout=0.1)
    nobody = Ether(dst=peers.kernel_mac) / IP(dst="192.0.2.77") / ICMP(type="echo_request")
    answered, unanswered = opened.sr(nobody, timeout=0.5)
    assert answered == [] and len(unanswered) == 1


def test_tap_link_talks_to_the_kernel():
    from netstack.drivers.netns import NetworkNamespace

    with NetworkNamespace() as namespace:
        with link.tap("hptap0", netns=namespace.name, host_ip=f"{KERNEL_IP}/24", ip=OUR_IP) as tap:
            reply = tap.sr1(Ether() / IP(dst=KERNEL_IP) / ICMP(type="echo_request", identifier=5, sequence=1), timeout=5)
            assert reply is not None and reply[ICMP].type == "echo_reply" and reply[IP].dst == OUR_IP
