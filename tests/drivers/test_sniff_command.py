"""``netstack sniff`` on a veth end inside a test namespace while the kernel pings: lines printed,
the filter applied, the capture written, the count and the timeout obeyed."""

import subprocess
import sys
import time

import pytest

from netstack.formats import pcap
from tests.support.veth_peers import OUR_IP, veth_peers

pytestmark = pytest.mark.netns


def test_sniff_prints_and_writes_a_kernel_ping(tmp_path):
    written = tmp_path / "sniffed.pcapng"
    with veth_peers() as peers:
        command = [sys.executable, "-m", "netstack", "sniff", "-i", peers.ours, "--netns", peers.namespace.name,
                   "-c", "2", "--timeout", "10", "-Y", "icmp.type == echo_request", "-w", str(written)]
        sniffer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)  # the interpreter starts and binds before the first request
            peers.namespace.run(["ping", "-c", "3", "-i", "0.3", "-W", "1", OUR_IP])
            out, err = sniffer.communicate(timeout=15)
        finally:
            if sniffer.poll() is None:
                sniffer.kill()
                sniffer.wait()
    assert sniffer.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(f"192.0.2.1 → {OUR_IP} ICMP 98 Echo (ping) request" in line for line in lines)
    records = list(pcap.read(written))
    assert len(records) == 2 and pcap.pcapng.is_pcapng(written.read_bytes())


def test_sniff_timeout_ends_a_quiet_capture():
    with veth_peers() as peers:
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "netstack", "sniff", "-i", peers.ours, "--netns",
                                 peers.namespace.name, "--timeout", "1", "-Y", "tcp"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and result.stdout == ""
        assert time.monotonic() - started < 15
        result = subprocess.run([sys.executable, "-m", "netstack", "sniff", "-i", "absent0", "--netns",
                                 peers.namespace.name, "--timeout", "1"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 1 and "absent0" in result.stderr and "Traceback" not in result.stderr
