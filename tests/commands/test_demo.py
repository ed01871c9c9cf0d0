"""`netstack demo` (TAP tour as root, --sim anywhere) and its refusal without root.

The TCP steps are checked on their results (HTTP status and page, sha256 of the bulk transfers, the
simulated loss TCP recovered from) and against the stacks' own counters; a peer that corrupts one
byte or serves another page must make the step fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

import netstack
from netstack.cli import main
from netstack.commands import demo, demo_sim, demo_steps
from netstack.apps.services import start_services
from netstack.engine.tcp.endpoint import TcpServer
from netstack.apps.tcp_services import tcp_layer_of


def _table(out: str, steps) -> dict[str, tuple[str, str]]:
    """The summary table's rows: title -> (status, result); every step must have one."""
    rows = {}
    for title, _ in steps:
        match = re.search(rf"^{re.escape(title)}\s+(ok|skipped|FAILED)\s+[\d.]+ms\s+(.*)$", out, re.MULTILINE)
        assert match, f"no table row for {title!r} in:\n{out}"
        rows[title] = (match.group(1), match.group(2))
    return rows


def _title(steps, function) -> str:
    return next(title for title, step in steps if step is function)


def _sim_context(echo: bool = True):
    """The sim tour's setup (as ``netstack demo --sim``): our stack with its services, a peer, a link."""
    network = netstack.sim.Network(seed=1)
    ours = network.host(f"{demo_steps.STACK_IP}/24", name="netstack")
    peer = network.host(f"{demo_steps.HOST_IP}/24", name="peer")
    link = network.link(ours, peer, delay=100e-6)
    ours.call(start_services, ours.stack, ["echo", "discard", "http"] if echo else ["discard", "http"])
    return demo_steps.DemoContext(running=ours, network=network, peer=peer, link=link)


# ------------------------------------------------------------------------------------------ sim tour
def test_demo_sim_runs_every_step_and_prints_the_table(capsys):
    assert main(["demo", "--sim"]) == 0
    out = capsys.readouterr().out
    rows = _table(out, demo_sim.SIM_STEPS)
    assert all(status == "ok" for status, _ in rows.values()), rows
    assert "8000 bytes back identical" in rows["UDP echo (port 7)"][1]
    assert "ECONNREFUSED" in rows["UDP to a closed port"][1]

    http = rows[_title(demo_sim.SIM_STEPS, demo_sim.sim_step_http_get)][1]
    assert "HTTP 200" in http and "/stats.json parses" in http
    bulk = rows[_title(demo_sim.SIM_STEPS, demo_sim.sim_step_bulk_echo)][1]
    assert f"{demo_sim.SIM_BULK_BYTES >> 20} MiB there and back, sha256 equal" in bulk
    lost, retransmitted = map(int, re.search(r"(\d+) frames lost, (\d+) retransmissions", bulk).groups())
    assert lost > 0 and retransmitted > 0  # seed 1 loses frames: the tour shows TCP recovering


def test_sim_tcp_steps_agree_with_the_stacks_counters():
    context = _sim_context()
    try:
        steps = [step for step in demo_sim.SIM_STEPS if step[1] in (demo_sim.sim_step_http_get, demo_sim.sim_step_bulk_echo)]
        rows = demo_steps.run_steps(steps, context)
        assert [row[1] for row in rows] == ["ok", "ok"], rows
        ours = context.running.stack.counters
        assert ours.get("services.http_requests", 0) == 2  # GET / and GET /stats.json
        assert ours.get("services.tcp_echo_connections", 0) == 1
        assert ours.get("tcp.retransmissions", 0) + context.peer.stack.counters.get("tcp.retransmissions", 0) > 0
        assert context.link.counters.get("lost", 0) > 0
        assert context.link.loss == 0.0  # the loss was only for the TCP steps
    finally:
        context.network.close()


class _CorruptingEcho:
    """An echo on TCP 7 that flips one bit of the first byte it echoes (otherwise faithful)."""

    def __init__(self, stack):
        self.server = TcpServer(tcp_layer_of(stack), 7)
        self.server.on_accept = self._accept
        self.pending = bytearray()
        self.flipped = False
        self.eof = False

    def _accept(self, server, now):
        while (stream := server.accept()) is not None:
            stream.on_event = self._event
            self._event(stream, now)

    def _event(self, stream, now):
        while not stream.closed:
            while self.pending:
                n = stream.send(bytes(self.pending[:65536]), now)
                if not n:
                    return  # woken again when the send buffer has room
                del self.pending[:n]
            if self.eof:
                stream.close(now)
                return
            if not stream.readable:
                return
            data = bytearray(stream.recv(65536, now))
            if not data:
                self.eof = True
                continue
            if not self.flipped:
                data[0] ^= 1
                self.flipped = True
            self.pending += data


def test_sim_echo_that_changes_one_bit_fails_the_bulk_step(monkeypatch):
    # 128 KiB: fits the fake's send buffer, so it never stops reading (no zero window in this test)
    monkeypatch.setattr(demo_sim, "SIM_BULK_BYTES", 128 * 1024)
    context = _sim_context(echo=False)
    try:
        context.running.call(_CorruptingEcho, context.running.stack)
        rows = demo_steps.run_steps([("echo", demo_sim.sim_step_bulk_echo)], context)
    finally:
        context.network.close()
    assert rows[0][1] == "FAILED"
    assert rows[0][2] == f"{demo_sim.SIM_BULK_BYTES} of {demo_sim.SIM_BULK_BYTES} bytes came back, sha256 different"


def test_http_checks_reject_what_is_not_netstacks_answer():
    with pytest.raises(demo_steps.DemoFailure, match="HTTP 404"):
        demo_steps.check_status_page(404, "<title>netstack status</title> TCP connections")
    with pytest.raises(demo_steps.DemoFailure, match="not netstack's status page"):
        demo_steps.check_status_page(200, "<html><title>Directory listing</title></html>")
    with pytest.raises(demo_steps.DemoFailure, match="does not parse"):
        demo_steps.check_stats_json(200, "<html>")
    with pytest.raises(demo_steps.DemoFailure, match="no counters"):
        demo_steps.check_stats_json(200, "[1, 2]")
    with pytest.raises(demo_steps.DemoFailure, match="counts 0 HTTP requests"):
        demo_steps.check_stats_json(200, '{"counters": {}}')
    assert demo_steps.check_stats_json(200, '{"counters": {"services.http_requests": 2}}') == 2


# ------------------------------------------------------------------------------------------ the runner
def test_demo_without_root_says_so_and_suggests_sim(monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "needs root" in err and "netstack demo --sim" in err


def test_a_failing_step_is_reported_and_fails_the_tour(capsys):
    def broken(context):
        raise demo_steps.DemoFailure("0/5 replies")

    rows = demo_steps.run_steps([("always fails", broken), ("fine", lambda context: "yes")], context=None)
    assert [(row[0], row[1], row[2]) for row in rows] == [("always fails", "FAILED", "0/5 replies"),
                                                         ("fine", "ok", "yes")]


def test_curl_missing_skips_the_step_instead_of_failing(monkeypatch, capsys):
    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    rows = demo_steps.run_steps([("curl", demo.step_curl_status_page)], context=None)
    assert [(row[1], row[2]) for row in rows] == [("skipped", "needs curl")]


# ------------------------------------------------------------------------------------------ TAP tour
@pytest.mark.netns
def test_demo_against_the_kernel(capsys):
    status = main(["demo"])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = _table(out, demo.TAP_STEPS)
    for title, (state, result) in rows.items():
        # a step may be skipped only when its tool is really missing (CI has them all)
        assert state == "ok" or (state == "skipped" and shutil.which(result.removeprefix("needs ")) is None), (title, result)
    assert "ConnectionRefusedError" in rows["UDP to a closed port"][1]

    curl_state, curl = rows[_title(demo.TAP_STEPS, demo.step_curl_status_page)]
    if shutil.which("curl"):
        assert curl_state == "ok" and curl.startswith("HTTP 200") and "/stats.json 200" in curl and "parses" in curl

    def rate(text):
        return float(re.search(r"([\d.]+) MB/s", text).group(1))

    discard = rows[_title(demo.TAP_STEPS, demo.step_bulk_to_discard)][1]
    assert discard.startswith(f"{demo.BULK_BYTES >> 20} MiB taken") and rate(discard) > 0
    echo = rows[_title(demo.TAP_STEPS, demo.step_bulk_through_echo)][1]
    assert f"{demo.BULK_BYTES >> 20} MiB there and back, sha256 equal" in echo and rate(echo) > 0
    download = rows[_title(demo.TAP_STEPS, demo.step_stack_downloads_from_kernel)][1]
    assert f"{demo.DOWNLOAD_BYTES >> 20} MiB from python3 -m http.server" in download and "sha256 equal" in download
    assert rate(download) > 0
    pid = int(re.search(r"PID (\d+), ended", download).group(1))
    assert not os.path.exists(f"/proc/{pid}/cmdline") or b"http.server" not in open(f"/proc/{pid}/cmdline", "rb").read()

    # everything the demo created is gone
    name = re.search(r"namespace (\S+) and TAP nst0 deleted", out).group(1)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout
    assert name not in namespaces.split()


def test_demo_without_namespace_privilege_says_why_in_one_line(monkeypatch, capsys):
    """Root without CAP_SYS_ADMIN (a restricted container): `ip netns add` fails; no traceback."""
    import subprocess

    import netstack.drivers.netns

    def refuse(self, *args, **kwargs):
        raise subprocess.CalledProcessError(1, ["ip", "netns", "add", "nst-x"],
                                            stderr=b"mount --make-shared /run/netns failed: Operation not permitted")

    monkeypatch.setattr(netstack.drivers.netns.NetworkNamespace, "create", refuse)
    monkeypatch.setattr(demo.os, "geteuid", lambda: 0)
    assert main(["demo"]) == 1
    error = capsys.readouterr().err
    assert "Operation not permitted" in error and "CAP_SYS_ADMIN" in error and "--sim" in error
