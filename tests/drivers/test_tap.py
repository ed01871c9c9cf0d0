"""The TAP driver cleans up after itself: on exceptions and on SIGTERM; it records a pcap of frames in and out.
(``netstack up``'s contract is tested in tests/commands/test_up.py.)"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import textwrap

import pytest

import netstack
from netstack.drivers.tap import TAP_IMMEDIATE_ACKS_FOLDED, _fold_immediate_acks
from netstack.engine.config import ConfigError, StackConfig
from netstack.engine.stack import Stack
from netstack.engine.tcp.config import TcpConfig
from netstack.engine.tcp.layer import TcpLayer
from netstack.formats.registry import IP_PROTOCOL_TCP
from netstack.drivers.netns import NetworkNamespace
from netstack.formats.pcap import PcapReader

from tests.support.external_tools import require_tool

pytestmark = pytest.mark.netns


def _link_exists(ns: NetworkNamespace, name: str) -> bool:
    return ns.run(["ip", "link", "show", name]).returncode == 0


def test_tap_is_removed_when_the_body_raises():
    with NetworkNamespace() as ns:
        with pytest.raises(RuntimeError, match="boom"):
            with netstack.run_tap(tap="nstx0", netns=ns.name) as running:
                assert _link_exists(ns, "nstx0")
                assert running.alive
                raise RuntimeError("boom")
        assert not _link_exists(ns, "nstx0")
        assert not running.alive


def test_bad_options_fail_before_anything_is_created():
    # Inside a namespace of its own, so that a regression (a TAP made before the check) stays there.
    with NetworkNamespace() as ns:
        with pytest.raises(ConfigError, match="mtu"):
            with netstack.run_tap(tap="nstx1", netns=ns.name, mtu=10):
                pass
        with pytest.raises(ConfigError, match="host_ip"):
            with netstack.run_tap(tap="nstx1", netns=ns.name, ip="192.0.2.2/24", host_ip="192.0.2.2/24"):
                pass
        assert not _link_exists(ns, "nstx1")
    assert subprocess.run(["ip", "link", "show", "nstx1"], capture_output=True).returncode != 0


def test_run_tap_in_a_script_cleans_up_on_sigterm():
    script = textwrap.dedent("""
        import sys, time, netstack
        with netstack.run_tap(tap="nstsig0", ip="192.0.2.2/24", host_ip="192.0.2.1/24"):
            print("up", flush=True)
            time.sleep(60)
        """)
    with NetworkNamespace() as ns:
        process = ns.popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout.readline().strip() == "up"
            assert _link_exists(ns, "nstsig0")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 128 + signal.SIGTERM
            assert not _link_exists(ns, "nstsig0")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)


def test_run_tap_records_a_pcap_of_frames_in_and_out(tmp_path):
    require_tool("ping", "iputils-ping")
    path = tmp_path / "tap.pcap"
    with NetworkNamespace() as ns:
        with netstack.run_tap(tap="nstp0", netns=ns.name, pcap=str(path)):
            assert ns.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.2"]).returncode == 0
    frames = [frame for _, frame in PcapReader(str(path))]
    echo_requests = [f for f in frames if f[12:14] == b"\x08\x00" and f[34] == 8]
    echo_replies = [f for f in frames if f[12:14] == b"\x08\x00" and f[34] == 0]
    assert len(echo_requests) == 2 and len(echo_replies) == 2


def test_the_tap_driver_folds_the_immediate_acks_of_a_batch_unless_configured():
    """The TAP hands TCP batches of frames: up to TAP_IMMEDIATE_ACKS_FOLDED immediate ACKs share one
    (TcpConfig.immediate_acks_folded); a stack configured otherwise keeps its setting."""
    stack = Stack(StackConfig())
    _fold_immediate_acks(stack)
    assert TAP_IMMEDIATE_ACKS_FOLDED > 1
    assert stack.transport(IP_PROTOCOL_TCP).config.immediate_acks_folded == TAP_IMMEDIATE_ACKS_FOLDED
    assert dataclasses.replace(stack.transport(IP_PROTOCOL_TCP).config, immediate_acks_folded=1) == TcpConfig()
    configured = Stack(StackConfig())
    TcpLayer.attach(configured, TcpConfig(immediate_acks_folded=2))
    _fold_immediate_acks(configured)
    assert configured.transport(IP_PROTOCOL_TCP).config.immediate_acks_folded == 2


def test_a_timer_that_raises_is_counted_and_the_loop_goes_on():
    # Due timers run from the loop and before each application call (at the present time): an
    # exception there is the stack's, like one from a frame: counted and logged, never the loop's end.
    with NetworkNamespace() as ns:
        with netstack.run_tap(tap="nstt0", netns=ns.name) as running:
            def arm_a_failing_timer():
                def fail():
                    raise RuntimeError("a timer bug")
                running.stack.timers.schedule(running.stack.now, fail)

            running.call(arm_a_failing_timer)
            assert running.call(lambda: 6 * 7) == 42
            assert running.alive
            assert running.call(lambda: running.stack.counters.get("stack.drop.internal_error", 0)) >= 1
