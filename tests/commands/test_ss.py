"""``netstack ss`` against a running ``netstack up`` in a namespace, with a kernel client connected."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time

import pytest

import netstack
from netstack.drivers.netns import NetworkNamespace, terminate
from netstack.presentation.connection_table import connection_rows, detail_line, format_table

STACK_IP, HOST_IP = "192.0.2.2", "192.0.2.1"


def _ss(ns: NetworkNamespace, *options: str) -> subprocess.CompletedProcess:
    return ns.run([sys.executable, "-m", "netstack", "ss", *options], timeout=60)


def _rows_until(ns: NetworkNamespace, tap: str, predicate, timeout: float = 10.0) -> list[dict]:
    """`netstack ss --json` until a published table satisfies ``predicate`` (up publishes each second)."""
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        result = _ss(ns, "--tap", tap, "--json")
        if result.returncode == 0:
            rows = json.loads(result.stdout)
            if predicate(rows):
                return rows
        time.sleep(0.3)
    pytest.fail(f"netstack ss never showed the expected rows; last: {rows}")


@pytest.mark.netns
def test_ss_shows_the_kernel_client_established_with_its_ports():
    with NetworkNamespace() as ns:
        up = ns.popen([sys.executable, "-m", "netstack", "up", "--tap", "hwss0", "--ip", f"{STACK_IP}/24",
                       "--host-ip", f"{HOST_IP}/24", "--services", "echo"],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert up.stdout.readline().startswith(f"ready hwss0 {STACK_IP} "), up.stderr.read()
            with ns.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
                client.settimeout(10)
                client.connect((STACK_IP, 7))
                client_port = client.getsockname()[1]
                client.sendall(b"e" * 3000)
                echoed = b""
                while len(echoed) < 3000:
                    echoed += client.recv(65536)
                peer = f"{HOST_IP}:{client_port}"

                def echoed_all(rows):
                    return any(row["peer"] == peer and (row.get("bytes_acked") or 0) >= 3000 for row in rows)

                rows = _rows_until(ns, "hwss0", echoed_all)
                row = next(row for row in rows if row["peer"] == peer)
                assert row["state"] == "ESTABLISHED" and row["local"] == f"{STACK_IP}:7"
                assert row["bytes_received"] == 3000 and row["bytes_acked"] == 3000
                assert row["recv_q"] == 0 and row["send_q"] == 0
                assert row["srtt"] > 0 and row["rto"] >= 0.2 and row["mss"] == 1448  # 1460 less the timestamp option
                listeners = [r for r in rows if r["state"] == "LISTEN"]
                assert any(r["local"].endswith(":7") for r in listeners)
                table = _ss(ns, "--tap", "hwss0")
                assert table.returncode == 0, table.stderr
                line = next(line for line in table.stdout.splitlines() if peer in line)
                assert re.match(rf"ESTABLISHED\s+0\s+0\s+{STACK_IP}:7\s+{peer}$", line), table.stdout
                assert re.search(r"\bmss:1448 rtt:[\d.]+/[\d.]+ rto:\d+ cwnd:\d+ bytes_acked:3000 "
                                 r"bytes_received:3000 retrans:0", table.stdout), table.stdout
                listening = _ss(ns, "--tap", "hwss0", "-l")
                assert re.search(r"LISTEN\s+0\s+\d+\s+\*:7\s+\*:\*", listening.stdout), listening.stdout
        finally:
            terminate(up)  # by its PID: SIGINT (the stack's clean exit), then SIGTERM, SIGKILL
        assert _ss(ns, "--tap", "hwss0").returncode == 1  # the stack is gone: a clear error, not a table


def test_connection_rows_of_a_simulated_stack_and_missing_figures_left_out():
    with netstack.sim.Network(seed=2) as network:
        a = network.host("192.0.2.2/24", seed=1)
        b = network.host("192.0.2.3/24", seed=2)
        network.link(a, b, delay=0.001)
        client, accepted = a.connect_sockets(b, ("192.0.2.3", 7), backlog=4)
        client.sendall(b"y" * 5000)
        assert len(accepted.recv(100)) == 100
        network.run(0.1)
        rows = {row["state"] + row["local"]: row for row in connection_rows(b.stack)}
        row = rows["ESTABLISHED192.0.2.3:7"]
        assert row["recv_q"] == 4900 and row["bytes_received"] == 5000
        sender = connection_rows(a.stack)[0]
        assert sender["bytes_acked"] == 5000 and sender["send_q"] == 0
    # a row from a stack without an RTT sample or with figures ss does not know
    line = detail_line({"state": "SYN-SENT", "mss": 1460, "srtt": None, "rto": 1.0, "cwnd": None,
                        "delivery_rate": 1.5e6, "pacing_rate": None})
    assert line == "mss:1460 rto:1000 delivery_rate:1.5e+06"
    assert detail_line({"segments_out": 4, "dup_acks": 0, "rto_firings": 2}) == "segs_out:4 rto_firings:2"
    assert "SYN-SENT" in format_table([{"state": "SYN-SENT", "local": "a:1", "peer": "b:2"}])
