"""Audit of the `netstack up` options and `netstack stats` (issue 4, item 7 and 8).

test_tap.py covers the bare `up` contract (ready line, signals, TAP removal); these tests drive the
options a user types - --gateway, --mtu, --pcap, --services, --trace - and read the counters back with
`netstack stats` from inside the same namespace, as a user would. Each namespace is created and
deleted by the test; only documentation addresses are used.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from netstack.cli import main
from netstack.formats import Frame, FormatError
from netstack.formats.pcap import PcapReader
from netstack.drivers.netns import NetworkNamespace

STACK_IP, HOST_IP, GATEWAY, OFF_LINK = "192.0.2.2", "192.0.2.1", "192.0.2.254", "198.51.100.7"


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
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        result = _stats(ns, "--tap", tap, "--json")
        if result.returncode == 0:
            return json.loads(result.stdout)
        time.sleep(0.3)
    pytest.fail(f"netstack stats --tap {tap} never found the stats file: {result.stderr}")


@pytest.mark.netns
def test_up_options_mtu_pcap_services_trace_gateway_and_stats(tmp_path):
    if shutil.which("ping") is None:
        pytest.skip("needs ping (apt-get install iputils-ping; .ci/run does)")
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


def test_stats_sim_json_holds_both_stacks_and_the_link(capsys):
    assert main(["stats", "--sim", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    ours, peer, link = result["netstack 192.0.2.2"], result["peer 192.0.2.1"], result["link"]
    # The session: 50 pings of 3000 bytes from the peer, over a lossy link; ours answers those whose
    # fragments all arrived, the peer counts the replies that came back.
    assert peer["icmp.echo_request_sent"] == 50
    assert 0 < ours["icmp.echo_replied"] <= ours["icmp.echo_request_received"] <= 50
    assert peer["icmp.echo_reply_received"] <= ours["icmp.echo_replied"]
    assert ours["services.udp_echo"] > 0 and ours["services.udp_discard"] > 0
    assert link["frames_sent"] > 0 and link["lost"] > 0  # the session's link is lossy


def test_stats_sim_drops_shows_only_drop_reasons(capsys):
    assert main(["stats", "--sim", "--drops"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert rows and all(".drop." in name or name == "(none)" for name in rows), rows


@pytest.mark.parametrize("content", ["[1]", '{"counters": 5}', "not json", ""])
def test_stats_file_that_is_not_a_stats_file_gives_one_line_on_stderr(tmp_path, capfd, content):
    path = tmp_path / "stats.json"
    path.write_text(content)
    assert main(["stats", "--file", str(path)]) == 1
    captured = capfd.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and captured.err.startswith("netstack stats: ")


def test_stats_file_is_printed_as_a_table(tmp_path, capsys):
    path = tmp_path / "stats.json"
    path.write_text(json.dumps({"tap": "nst9", "ip": "192.0.2.9/24", "pid": 1, "time": 0,
                                "counters": {"ipv4.drop.bad_checksum": 2, "ipv4.received": 5}}))
    assert main(["stats", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nst9 192.0.2.9/24 (pid 1,")
    assert re.search(r"ipv4\.drop\.bad_checksum\s+2", out) and re.search(r"ipv4\.received\s+5", out)
    assert main(["stats", "--file", str(path), "--drops"]) == 0
    out = capsys.readouterr().out
    assert "ipv4.drop.bad_checksum" in out and "ipv4.received" not in out


def test_decode_of_a_pcap_written_by_up_style_writer_round_trips(tmp_path, capsys):
    """`netstack decode FILE` reads what netstack's pcap writer writes, and a damaged frame is
    reported as malformed (exit 1) without stopping the other frames."""
    from netstack.formats.pcap import write_pcap

    good = Frame.build({"dst": "02:00:5e:00:53:01", "src": "02:00:5e:00:53:02",
                        "payload": {"src": STACK_IP, "dst": HOST_IP, "protocol": "udp",
                                    "payload": {"src_port": 7, "dst_port": 40000, "payload": b"hi"}}})
    path = tmp_path / "two.pcap"
    write_pcap(str(path), [(1.0, good), (2.0, good[:20]), (3.0, good)])
    assert main(["decode", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.count("Frame ") == 3 and "Malformed" in out and out.count("src_port: 7") == 2
    with pytest.raises(FormatError):
        Frame.parse(good[:20])
