"""A spoofed SYN flood at full speed from the Linux kernel's side of the TAP against ``netstack up
--services http``.

``hping3 -S --flood -a 192.0.2.150`` (one fixed spoofed documentation address, never
``--rand-source``; 100,000-300,000 SYN/s on this machine, several times what the stack can answer with
cookies) runs for 10 s, inside a private namespace, while a kernel client makes 20 sequential HTTP
requests: at least 18 must be served before the flood ends, and the service must answer within 5 s
after it. The issue measured 0 of 20 served and the service down 65 s after; then, with SYN
cookies, still 0 of 20 at full speed because the kernel's TAP queue dropped the client's own segments.
Now the TAP loop drains that queue far faster than the stack answers (``netstack.drivers.intake``): the
client's segments go first, its SYN gets every other turn against the flooding address, and the excess
SYNs are dropped in user space, counted. At 600,000+ SYN/s (this machine, quiet) even that reading fell
behind and the queue's tail drop took the client's frames again (0-2 of 20 served): the flooding address
is then thinned in the kernel, before the queue, by a BPF filter on the TAP
(``netstack.drivers.syn_flood_filter``), attached while the flood lasts. Run with ``-s`` to see the
figures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from netstack.drivers.netns import NetworkNamespace, terminate

pytestmark = pytest.mark.netns

STACK_IP = "192.0.2.2"
SPOOFED = "192.0.2.150"  # inside 192.0.2.100-250: nobody answers ARP for it
FLOOD_SECONDS = 10  # the 20 requests are made during it, each timed out at what is left of it
REQUEST_TIMEOUT = 5  # s: a request whose SYN is lost waits for the kernel's 1 s and 3 s retries


def _http_get(ns, timeout: float) -> bool:
    try:
        with ns.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect((STACK_IP, 80))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: netstack\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _hping_count(report: str) -> int:
    match = re.search(r"(\d+) packets transmitted", report)
    assert match, f"hping3 printed no count: {report!r}"
    return int(match.group(1))


def _tx_dropped(ns, tap: str) -> int:
    links = json.loads(ns.run(["ip", "-s", "-j", "link", "show", tap], capture_output=True, text=True).stdout or "[]")
    return links[0]["stats64"]["tx"]["dropped"] if links else -1


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_http_keeps_answering_during_a_spoofed_syn_flood_and_is_healthy_right_after(tmp_path):
    if shutil.which("hping3") is None:
        pytest.skip("needs hping3 (apt-get install it; .ci/run does)")
    tap = f"hyfl{os.getpid() % 100000}"
    stats = tmp_path / "stats.json"
    with NetworkNamespace() as ns:
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        up = ns.popen([sys.executable, "-m", "netstack", "up", "--tap", tap, "--ip", f"{STACK_IP}/24",
                       "--host-ip", "192.0.2.1/24", "--services", "http", "--stats-file", str(stats)],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        flood = None
        try:
            line = up.stdout.readline().strip()
            assert line.startswith(f"ready {tap} {STACK_IP}"), up.stderr.read() if not line else line
            assert _http_get(ns, 5)
            rss_before = _rss_kib(up.pid)
            flood = ns.popen(["hping3", "-S", "--flood", "-p", "80", "-a", SPOOFED, STACK_IP],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            started = time.monotonic()
            time.sleep(0.5)  # the flood is at full speed before the first request
            served, seconds = [], []
            for _ in range(20):
                # Each request must be served while the flood runs: it gets what is left of the 10 s.
                began = time.monotonic()
                left = started + FLOOD_SECONDS - began
                served.append(left > 0.1 and _http_get(ns, min(left, REQUEST_TIMEOUT)))
                seconds.append(time.monotonic() - began)
                assert flood.poll() is None, "hping3 stopped early"
            while time.monotonic() - started < FLOOD_SECONDS:
                time.sleep(0.1)
            rss_during = _rss_kib(up.pid)
            flood.send_signal(signal.SIGINT)  # hping3 prints its count on SIGINT (our child, by PID)
            sent = _hping_count(flood.communicate(timeout=10)[1])
            flooded = time.monotonic() - started
            flood = None
            stopped = time.monotonic()
            healthy_after = None
            while time.monotonic() - stopped < 5:
                if _http_get(ns, 5 - (time.monotonic() - stopped)):
                    healthy_after = time.monotonic() - stopped
                    break
            time.sleep(1.5)  # the next stats publication
            counters = json.loads(stats.read_text())["counters"]
            kernel_dropped = _tx_dropped(ns, tap)
        finally:
            if flood is not None:
                terminate(flood)
            terminate(up, timeout=10)
    healthy = "never" if healthy_after is None else f"{healthy_after:.3f} s"
    print(f"\nflood {sent:,} SYNs in {flooded:.1f} s ({sent / flooded:,.0f}/s); served {sum(served)}/20, slowest "
          f"{max(seconds):.2f} s, mean {sum(seconds) / 20:.2f} s; healthy after {healthy}; cookies "
          f"{counters.get('tcp.syncookies.sent', 0):,}; SYNs shed by the intake "
          f"{counters.get('tap.drop.syn_queue_full', 0):,}; dropped by the kernel's TAP queue {kernel_dropped:,}; "
          f"RSS +{rss_during - rss_before} KiB; SYN filter attached {counters.get('tap.syn_filter.attached', 0)}, "
          f"detached {counters.get('tap.syn_filter.detached', 0)}")
    assert sum(served) >= 18, f"{sum(served)} of 20 requests served during the flood: {served} {seconds}"
    assert healthy_after is not None and healthy_after < 5
    assert counters["tcp.syncookies.sent"] > 10_000  # it was a flood, and cookies answered it
    assert counters["tcp.syncookies.recv_ok"] >= 1
    # full speed: more SYNs than the stack could answer, the excess shed before parsing
    assert counters["tap.drop.syn_queue_full"] > 0
    # the flooding address was thinned in the kernel while it flooded, and let go when it stopped
    assert counters["tap.syn_filter.attached"] >= 1
    assert counters["tap.syn_filter.detached"] == counters["tap.syn_filter.attached"]
    # bounded memory: the flood leaves no state behind it (backlog, ARP queue and TIME-WAIT are bounded)
    assert rss_during - rss_before < 64 * 1024, (rss_before, rss_during)
