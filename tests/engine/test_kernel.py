"""Interoperability with the Linux kernel: ping, arping, UDP sockets, all inside a private namespace.

One namespace and one running stack serve the whole module; tshark records the host side of the
TAP for the whole session and the last test checks the capture: no malformed packet, no bad checksum.
"""

from __future__ import annotations

import re
import socket
import subprocess

import pytest

from tests.support.external_tools import require_tool
from tests.support.kernel_peers import HOST_IP, STACK_IP, stack_in_namespace

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    capture = tmp_path_factory.mktemp("capture") / "session.pcap"
    with stack_in_namespace("nst0", services=("echo", "discard"), capture=capture) as (ns, running, tshark):
        yield {"ns": ns, "running": running, "capture": capture, "tshark": tshark}


def _ping(ns, *options, count: int):
    result = ns.run(["ping", "-n", "-c", str(count), "-W", "2", *options, STACK_IP], timeout=120)
    summary = re.search(r"(\d+) packets transmitted, (\d+) received", result.stdout)
    assert summary, result.stdout + result.stderr
    return result, int(summary.group(1)), int(summary.group(2))


def test_100_pings_of_56_bytes_without_loss(session):
    require_tool("ping")
    result, sent, received = _ping(session["ns"], "-i", "0.01", count=100)
    assert (sent, received) == (100, 100), result.stdout
    assert "wrong data" not in result.stdout and "DUP!" not in result.stdout


def test_20_pings_of_3000_bytes_fragmented_both_ways(session):
    require_tool("ping")
    running = session["running"]
    before = running.call(lambda: dict(running.stack.counters))
    result, sent, received = _ping(session["ns"], "-s", "3000", "-M", "dont", "-i", "0.05", count=20)
    assert (sent, received) == (20, 20), result.stdout
    assert "wrong data" not in result.stdout and "DUP!" not in result.stdout
    after = running.call(lambda: dict(running.stack.counters))
    assert after.get("reassembly.done", 0) - before.get("reassembly.done", 0) == 20  # their requests
    assert after.get("ipv4.fragments_sent", 0) - before.get("ipv4.fragments_sent", 0) == 60  # our replies


def test_arping_gets_our_mac_and_the_kernel_neighbour_becomes_reachable(session):
    require_tool("arping")
    ns, running = session["ns"], session["running"]
    mac = running.call(lambda: ":".join(f"{b:02x}" for b in running.stack.mac))
    result = ns.run(["arping", "-c", "3", "-w", "5", "-I", "nst0", STACK_IP], timeout=30)
    assert mac in result.stdout.lower(), result.stdout + result.stderr
    assert re.search(r"3 packets received|Received 3 response", result.stdout), result.stdout
    # The kernel's own ARP: after a fresh resolution and traffic, its entry for us is REACHABLE.
    ns.run(["ip", "neigh", "flush", "dev", "nst0"])
    require_tool("ping")
    _ping(ns, count=1)
    neighbour = ns.run(["ip", "neigh", "show", STACK_IP, "dev", "nst0"]).stdout
    assert mac in neighbour.lower() and "REACHABLE" in neighbour, neighbour


@pytest.mark.parametrize("size", [1, 1472, 8000])
def test_udp_echo_from_a_kernel_socket(session, size):
    payload = bytes((i * 7 + size) & 0xFF for i in range(size))
    with session["ns"].socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(payload, (STACK_IP, 7))
        data, source = sock.recvfrom(65535)
    assert data == payload
    assert source == (STACK_IP, 7)


def test_udp_to_a_closed_port_raises_connection_refused(session):
    with session["ns"].socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.connect((STACK_IP, 4444))
        sock.send(b"anyone there?")
        with pytest.raises(ConnectionRefusedError):
            sock.recv(100)


def test_udp_from_the_stack_to_a_kernel_socket(session):
    running = session["running"]
    with session["ns"].socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST_IP, 5555))
        sock.settimeout(5)
        endpoint = running.call(running.stack.udp_bind, 0)
        running.call(endpoint.sendto, b"x" * 5000, (HOST_IP, 5555), running.clock())
        data, source = sock.recvfrom(65535)
        assert data == b"x" * 5000 and source == (STACK_IP, endpoint.port)
        sock.sendto(b"answer", source)
        assert running.wait(lambda: bool(endpoint.queue), timeout=5)
        assert running.call(endpoint.recvfrom) == (b"answer", (HOST_IP, 5555))


def test_ping_from_the_stack_to_the_kernel(session):
    from netstack.engine.icmp import Pinger

    running = session["running"]
    pinger = running.call(Pinger, running.stack, socket.inet_aton(HOST_IP), identifier=0x4242, size=2000)
    for _ in range(5):
        running.call(pinger.send, running.clock())
    assert running.wait(lambda: len(pinger.replies) == 5, timeout=5)
    assert pinger.mismatched == 0


def test_zz_capture_of_the_session_has_no_malformed_packets_or_bad_checksums(session):
    """Runs last (name order): the capture covers every test above."""
    require_tool("tshark")
    session["ns"].stop_capture(session["tshark"])
    capture = str(session["capture"])
    preferences = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    total = subprocess.run(["tshark", "-r", capture, *preferences], capture_output=True, text=True, timeout=120)
    assert total.returncode == 0, total.stderr
    assert len(total.stdout.splitlines()) > 300  # the pings and echoes above really were captured
    bad = subprocess.run(
        ["tshark", "-r", capture, *preferences, "-Y",
         "_ws.malformed || ip.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0"],
        capture_output=True, text=True, timeout=120)
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.strip() == "", bad.stdout
