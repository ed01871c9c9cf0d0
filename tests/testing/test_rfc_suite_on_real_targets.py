"""CI runs the RFC suite (tests/rfc, default DUT sim) against the real targets too: the Linux kernel in
a namespace over a veth, netstack on a TAP, and netstack through `netstack up`'s command contract.

Each run is a separate pytest process with ``--dut``, as a user would type it; it must pass whole.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.netns


def run_suite(dut: str, *paths: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--dut", dut,
               *(paths or ["tests/rfc"])]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("dut", ["linux", "tap"])
def test_rfc_suite_passes(dut):
    result = run_suite(dut)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout, result.stdout[-2000:]


def test_rfc_suite_passes_through_the_command_contract():
    """`--dut cmd:...` runs any program following `netstack up`'s contract; here netstack itself. Cases
    needing the DUT to open a connection skip (a command has no control channel)."""
    result = run_suite(f"cmd:{sys.executable} -m netstack", "tests/rfc/test_handshake.py",
                       "tests/rfc/test_network_layer.py", "tests/rfc/test_reset.py")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "cannot open connections on request" in result.stdout + result.stderr or " skipped" in result.stdout
