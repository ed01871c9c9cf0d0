"""Impairments on the TAP (`netstack up --impair`, `run_tap(impair=...)`) against the Linux kernel, each
in a namespace created and deleted here: the kernel's own ping sees the loss and the delay, and the
stack's counters agree with what ping saw."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

import netstack
from netstack.apps.services import start_services
from netstack.drivers.netns import NetworkNamespace
from netstack.engine.config import ConfigError

from tests.support.external_tools import require_tool

pytestmark = pytest.mark.netns

STACK_IP = "192.0.2.2"


def _ping(ns: NetworkNamespace, count: int, interval: str = "0.01") -> tuple[int, int, float | None]:
    """(transmitted, received, average rtt in ms) of the kernel's ping towards the stack."""
    result = ns.run(["ping", "-n", "-q", "-c", str(count), "-i", interval, "-W", "1", STACK_IP], timeout=120)
    summary = re.search(r"(\d+) packets transmitted, (\d+) received", result.stdout)
    assert summary, result.stdout + result.stderr
    average = re.search(r"= [\d.]+/([\d.]+)/", result.stdout)
    return int(summary.group(1)), int(summary.group(2)), float(average.group(1)) if average else None


def test_netstack_up_impair_loss_is_seen_by_ping_and_counted():
    with NetworkNamespace() as ns:
        process = ns.popen([sys.executable, "-m", "netstack", "up", "--tap", "nsti0", "--services", "none",
                            "--impair", "loss=20%,seed=7"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = process.stdout.readline().strip()
            assert line.startswith("ready nsti0"), process.stderr.read() if not line else line
            # Resolve ARP first (retried until it gets through), so the counters below are the pings'.
            for _ in range(20):
                if _ping(ns, 1, "0.2")[1]:
                    break
            else:
                pytest.fail("no ping got through 20 % loss in 20 tries")
            before = _counters(ns, "nsti0", lambda counters: True)
            transmitted, received, _ = _ping(ns, 200)
            assert transmitted == 200
            lost = transmitted - received
            # Each echo crosses the impairment twice: 1 - 0.8² = 36 % expected.
            assert 0.20 * transmitted <= lost <= 0.60 * transmitted, (transmitted, received)
            after = _counters(ns, "nsti0", lambda counters: counters.get("impair.in.frames", 0)
                              >= before.get("impair.in.frames", 0) + 200)
            counted = sum(after.get(f"impair.{way}.lost", 0) - before.get(f"impair.{way}.lost", 0)
                          for way in ("in", "out"))
            # What ping lost is what the impairment dropped (give or take an ARP frame it also dropped).
            assert abs(counted - lost) <= 3, (counted, lost, after)
            frames_in = after["impair.in.frames"] - before.get("impair.in.frames", 0)
            assert 200 <= frames_in <= 206
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _counters(ns: NetworkNamespace, tap: str, ready) -> dict:
    """The counters `netstack up` publishes (once a second), as soon as ``ready(counters)`` holds."""
    deadline = time.monotonic() + 15
    counters: dict = {}
    while time.monotonic() < deadline:
        result = ns.run([sys.executable, "-m", "netstack", "stats", "--tap", tap, "--json"], timeout=60)
        if result.returncode == 0:
            counters = json.loads(result.stdout)["counters"]
            if ready(counters):
                return counters
        time.sleep(0.3)
    pytest.fail(f"the published counters never got there: {counters}")


def test_netstack_up_rejects_a_bad_impair_spec_before_creating_anything():
    with NetworkNamespace() as ns:
        result = ns.run([sys.executable, "-m", "netstack", "up", "--tap", "nsti1", "--impair", "loss=120%"],
                        timeout=60)
        assert result.returncode != 0
        assert "impair loss" in result.stderr and "100 %" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        result = ns.run([sys.executable, "-m", "netstack", "up", "--tap", "nsti1", "--impair", "drop=1%"],
                        timeout=60)
        assert result.returncode != 0 and "unknown key 'drop'" in result.stderr, result.stderr
        assert ns.run(["ip", "link", "show", "nsti1"]).returncode != 0


def test_run_tap_impair_delay_adds_to_the_round_trip():
    with NetworkNamespace() as ns:
        with netstack.run_tap(tap="nsti2", netns=ns.name, impair="delay=50ms,seed=1") as running:
            _ping(ns, 2, "0.2")  # ARP
            transmitted, received, average = _ping(ns, 10, "0.05")
            assert received == transmitted == 10
            # 50 ms each way; a clean TAP answers in well under 5 ms.
            assert 100.0 <= average < 130.0, average
            counters = running.call(running.stack.counters.snapshot)
            assert counters["impair.out.frames"] >= 10 and counters["impair.in.frames"] >= 10
            assert "impair.in.lost" not in counters
            # The HTTP status page's /stats.json shows them too.
            running.call(start_services, running.stack, ["http"])
            fetched = ns.run([require_tool("curl"), "-s", "--max-time", "20", f"http://{STACK_IP}/stats.json"],
                             timeout=30)
            published = json.loads(fetched.stdout)["counters"]
            assert published["impair.in.frames"] > counters["impair.in.frames"]  # the HTTP exchange's frames


def test_run_tap_bad_impair_arguments_fail_before_the_device_exists():
    with pytest.raises(ConfigError, match="impair"):
        with netstack.run_tap(tap="nsti3", impair="jitter=fast"):
            pass
    with pytest.raises(ConfigError, match="impair"):
        with netstack.run_tap(tap="nsti3", impair={"loss": 3.0}):
            pass
    assert subprocess.run(["ip", "link", "show", "nsti3"], capture_output=True).returncode != 0


def test_held_frames_are_bounded(monkeypatch):
    from netstack.drivers import tap

    monkeypatch.setattr(tap, "MAX_HELD_FRAMES", 4)
    with NetworkNamespace() as ns:
        with netstack.run_tap(tap="nsti4", netns=ns.name, impair="delay=300ms") as running:
            transmitted, received, _ = _ping(ns, 30, "0.01")
            counters = running.call(running.stack.counters.snapshot)
            # Four frames at most in flight through the delay line: the rest of the burst is dropped.
            assert counters.get("impair.drop.held_full", 0) > 0, counters
            assert received < transmitted
            assert running.call(lambda: len(running._held)) <= 4


def test_run_tap_impair_rate_limits_a_kernel_tcp_transfer():
    size = 1_000_000
    with NetworkNamespace() as ns:
        with netstack.run_tap(tap="nsti5", netns=ns.name, impair="rate=20mbit") as running:
            running.call(start_services, running.stack, ["discard"])
            with ns.socket() as sock:
                sock.settimeout(20)
                sock.connect((STACK_IP, 9))
                started = time.monotonic()
                sock.sendall(bytes(size))
                sock.shutdown(socket.SHUT_WR)
                sock.recv(1)  # discard closes once it has everything
                elapsed = time.monotonic() - started
            # 8 Mbit of payload (plus headers) at 20 Mbit/s: at least 0.4 s; unimpaired this takes ~0.02 s.
            assert 0.4 <= elapsed < 4.0, elapsed
            counters = running.call(running.stack.counters.snapshot)
            assert counters["impair.in.frames"] >= size // 1500
