"""`netstack up`: the ready line, echo answered, TAP removed on SIGTERM and SIGINT; the options a user
types (--gateway, --mtu, --pcap, --services, --trace) with the counters read back by `netstack stats`
from inside the same namespace, as a user would. Each namespace is created and deleted by the test;
only documentation addresses are used.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from netstack.drivers.netns import NetworkNamespace
from netstack.formats import Frame
from netstack.formats.pcap import PcapReader

from tests.support.external_tools import require_tool

STACK_IP, HOST_IP, GATEWAY, OFF_LINK = "192.0.2.2", "192.0.2.1", "192.0.2.254", "198.51.100.7"


def _link_exists(ns: NetworkNamespace, name: str) -> bool:
    return ns.run(["ip", "link", "show", name]).returncode == 0


def _start_up(ns: NetworkNamespace, *options: str) -> subprocess.Popen:
    return ns.popen([sys.executable, "-m", "netstack", "up", *options],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
        raise
    return status, process.stderr.read()


def _stats(ns: NetworkNamespace, *options: str) -> subprocess.CompletedProcess:
    return ns.run([sys.executable, "-m", "netstack", "stats", *options], timeout=60)


def _wait_for_stats(ns: NetworkNamespace, tap: str) -> dict:
    """The first snapshot `up` publishes (it publishes once a second)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        result = _stats(ns, "--tap", tap, "--json")
        if result.returncode == 0:
            return json.loads(result.stdout)
        time.sleep(0.3)
    pytest.fail(f"netstack stats --tap {tap} never found the stats file: {result.stderr}")


@pytest.mark.netns
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_netstack_up_prints_ready_answers_and_cleans_up_on_signal(sig):
    with NetworkNamespace() as ns:
        process = ns.popen([sys.executable, "-m", "netstack", "up", "--tap", "nstup0", "--ip", "192.0.2.2/24",
                            "--host-ip", "192.0.2.1/24"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = process.stdout.readline().strip()
            assert line == "ready nstup0 192.0.2.2 02:00:c0:00:02:02", process.stderr.read() if not line else line
            assert _link_exists(ns, "nstup0")
            with ns.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(5)
                sock.sendto(b"echo?", ("192.0.2.2", 7))
                assert sock.recvfrom(100)[0] == b"echo?"
            process.send_signal(sig)
            assert process.wait(timeout=15) == 0
            assert not _link_exists(ns, "nstup0")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)



@pytest.mark.netns
def test_up_options_mtu_pcap_services_trace_gateway_and_stats(tmp_path):
    require_tool("ping", "iputils-ping")
    pcap = tmp_path / "up.pcap"
    with NetworkNamespace() as ns:
        process = _start_up(ns, "--tap", "aud0", "--ip", f"{STACK_IP}/24", "--host-ip", f"{HOST_IP}/24",
                            "--gateway", GATEWAY, "--mtu", "1400", "--pcap", str(pcap),
                            "--services", "echo", "--trace")
        try:
            line = process.stdout.readline().strip()
            assert line == f"ready aud0 {STACK_IP} 02:00:c0:00:02:02", line or process.stderr.read()
            # --mtu: the host side of the TAP has it, and our replies are fragmented to it.
            assert "mtu 1400" in ns.run(["ip", "link", "show", "aud0"]).stdout
            ping = ns.run(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-s", "3000", STACK_IP], timeout=30)
            assert " 0% packet loss" in ping.stdout, ping.stdout + ping.stderr
            # --services echo: UDP echo answers, discard (not asked for) is a closed port.
            with ns.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(5)
                sock.sendto(b"audit", (STACK_IP, 7))
                assert sock.recvfrom(100) == (b"audit", (STACK_IP, 7))
            with ns.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(5)
                sock.connect((STACK_IP, 9))
                sock.send(b"to discard")
                with pytest.raises(ConnectionRefusedError):
                    sock.recv(100)
            # --gateway: a request from an off-link source is answered through the gateway, so the
            # stack asks who has the gateway's address (nobody answers; the reply waits in the queue).
            ns.run(["ip", "addr", "add", f"{OFF_LINK}/32", "dev", "lo"], check=True)
            ns.run(["ping", "-n", "-c", "1", "-W", "1", "-I", OFF_LINK, STACK_IP], timeout=10)
            # `netstack stats` in the same namespace finds this stack's counters.
            snapshot = _wait_for_stats(ns, "aud0")
            assert snapshot["tap"] == "aud0" and snapshot["ip"] == f"{STACK_IP}/24"
            counters = snapshot["counters"]
            assert counters["icmp.echo_replied"] >= 3 and counters["services.udp_echo"] == 1
            assert counters["ipv4.fragments_sent"] >= 9  # 3 replies of 3008 bytes, 3 fragments each at 1400
            table = _stats(ns, "--tap", "aud0")
            assert table.returncode == 0 and re.search(r"icmp\.echo_replied\s+\d+", table.stdout), table.stdout
            drops = _stats(ns, "--tap", "aud0", "--drops")
            assert drops.returncode == 0 and "icmp.echo_replied" not in drops.stdout
            status, stderr = _stop(process)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
        assert status == 0, stderr
        # --trace: decoded events on stderr, with stable names, their fields and the rule behind them.
        assert re.search(r"stack\.up interface up 192\.0\.2\.2 02:00:c0:00:02:02 mtu 1400 \[RFC 5227", stderr), stderr
        assert "reassembly.done" in stderr and "ipv4.fragmented" in stderr
        # The stats file goes with the stack.
        assert _stats(ns, "--tap", "aud0").returncode == 1
    # --pcap: every frame in and out, none above the MTU, the gateway asked for.
    frames = [Frame.parse(data) for _, data in PcapReader(str(pcap))]
    sent = [f for f in frames if f.src == "02:00:c0:00:02:02"]
    assert sent and max(len(Frame.build(f)) for f in sent) <= 1400 + 14
    asked = {f.payload.tpa for f in sent if f.ethertype == "arp" and f.payload.op == "request"}
    assert GATEWAY in asked, asked


@pytest.mark.netns
def test_stacks_in_two_namespaces_with_the_same_tap_name_keep_their_own_stats():
    """/run is shared between namespaces: `nst0` in one must not overwrite or delete `nst0` in another."""
    with NetworkNamespace() as first, NetworkNamespace() as second:
        one = _start_up(first, "--tap", "nst0", "--ip", "192.0.2.2/24", "--host-ip", "192.0.2.1/24")
        two = _start_up(second, "--tap", "nst0", "--ip", "192.0.2.3/24", "--host-ip", "192.0.2.1/24")
        try:
            assert one.stdout.readline().startswith("ready nst0 192.0.2.2 ")
            assert two.stdout.readline().startswith("ready nst0 192.0.2.3 ")
            assert _wait_for_stats(first, "nst0")["ip"] == "192.0.2.2/24"
            assert _wait_for_stats(second, "nst0")["ip"] == "192.0.2.3/24"
            assert _stop(one)[0] == 0
            # The second stack's file survives the first one's exit.
            assert _wait_for_stats(second, "nst0")["ip"] == "192.0.2.3/24"
            assert _stop(two)[0] == 0
        finally:
            for process in (one, two):
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=5)
