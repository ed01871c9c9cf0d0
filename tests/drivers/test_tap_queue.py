"""The TAP's queue in the kernel (txqueuelen, tun's ring): ``run_tap(queue_length=...)`` sets it, None
keeps the kernel's default, nonsense fails before a device exists. (What the loop does with the queue
is ``netstack.drivers.intake``'s, tested in test_intake.py and, under a real flood,
tests/engine/tcp/test_syn_flood_kernel.py.)"""

from __future__ import annotations

import json

import pytest

import netstack
from netstack.drivers.netns import NetworkNamespace
from netstack.drivers.tap_device import QUEUE_LENGTH
from netstack.engine.config import ConfigError

pytestmark = pytest.mark.netns


def _queue_length(ns: NetworkNamespace, tap: str) -> int:
    return json.loads(ns.run(["ip", "-j", "link", "show", tap], capture_output=True, text=True,
                             check=True).stdout)[0]["txqlen"]


def test_the_tap_gets_a_long_queue_by_default_and_the_kernels_when_asked():
    with NetworkNamespace() as ns:
        with netstack.run_tap(tap="nstq0", netns=ns.name):
            assert _queue_length(ns, "nstq0") == QUEUE_LENGTH == 8192
        with netstack.run_tap(tap="nstq1", netns=ns.name, queue_length=None):
            assert _queue_length(ns, "nstq1") == 1000  # Linux's default for an Ethernet-like device
        with netstack.run_tap(tap="nstq2", netns=ns.name, queue_length=300):
            assert _queue_length(ns, "nstq2") == 300


def test_a_bad_queue_length_or_drain_fails_before_anything_is_created():
    with NetworkNamespace() as ns:
        for options, field in (({"queue_length": 0}, "queue_length"), ({"queue_length": 1 << 21}, "queue_length"),
                               ({"drain": 0}, "drain")):
            with pytest.raises(ConfigError, match=field):
                with netstack.run_tap(tap="nstq3", netns=ns.name, **options):
                    pass
        assert ns.run(["ip", "link", "show", "nstq3"]).returncode != 0
