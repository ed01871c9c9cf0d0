"""The command line's contract: help, the module entry point, errors that name what is wrong, and
missing privileges.

"Bad input (wrong argument, missing privilege) gets a clear error": root inside a container without
CAP_NET_ADMIN/CAP_SYS_ADMIN is the common way to lack the privilege while euid is 0, and used to give
a pyroute2 / subprocess traceback. setpriv drops every capability for the child; it runs inside a
namespace the test creates, so even a wrong expectation cannot touch the host's interfaces.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from netstack import FormatError, NetstackError
from netstack.cli import build_parser, main
from netstack.drivers.netns import NetworkNamespace


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "usage: netstack" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "netstack", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "netstack" in result.stdout


@pytest.mark.parametrize("argv", [["ping", "192.0.2.1", "--sim", "-c", "1"], ["stats", "--sim"], ["demo", "--sim"]])
def test_sim_commands_run_in_a_fresh_interpreter(argv):
    """In one pytest process another test may already have imported netstack.drivers.sim; a fresh
    interpreter shows whether the command imports what it uses itself."""
    result = subprocess.run([sys.executable, "-m", "netstack", *argv], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and result.stdout


def test_format_error_names_layer_field_offset():
    error = FormatError("ipv4", "ihl", 14, "header length 4 words is below the minimum 5")
    assert isinstance(error, ValueError) and isinstance(error, NetstackError)
    assert str(error) == "ipv4.ihl at offset 14: header length 4 words is below the minimum 5"
    assert (error.layer, error.field, error.offset) == ("ipv4", "ihl", 14)


def test_parser_builds_without_error():
    assert build_parser().prog == "netstack"


# ------------------------------------------------------------------------- missing privileges
WITHOUT_CAPABILITIES = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]


def _netns_names() -> set[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout
    return {line.split()[0] for line in listing.splitlines() if line.strip()}


def _orphaned(names: set[str]) -> set[str]:
    """NetworkNamespace names (nst-PID-N) whose creating process is gone: leaked, not someone's in use."""
    orphans = set()
    for name in names:
        match = re.fullmatch(r"nst-(\d+)-\d+", name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            orphans.add(name)
    return orphans


@pytest.mark.netns
@pytest.mark.parametrize("argv, expected", [
    (["up", "--tap", "audcap0"], r"^netstack up: cannot create TAP audcap0: .*CAP_NET_ADMIN"),
    (["ping", "192.0.2.1", "-c", "1", "--tap", "audcap0"], r"^netstack ping: cannot create TAP audcap0: .*CAP_NET_ADMIN"),
    (["ping", "192.0.2.1", "-c", "1"], r"^netstack ping: `ip netns add nst-\d+-\d+` failed: .*CAP_SYS_ADMIN"),
])
def test_missing_capabilities_give_one_line_not_a_traceback(argv, expected):
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to drop capabilities")
    before = _netns_names()
    with NetworkNamespace() as ns:
        result = ns.run([*WITHOUT_CAPABILITIES, sys.executable, "-m", "netstack", *argv], timeout=60)
        assert ns.run(["ip", "link", "show", "audcap0"]).returncode != 0  # nothing was created
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(expected, lines[0]), result.stderr
    assert result.stdout == ""
    # A failed `ip netns add` leaves nothing behind (other engineers' live namespaces may come and go).
    assert _orphaned(_netns_names() - before) == set()


@pytest.mark.netns
def test_namespace_that_fails_half_way_is_deleted(monkeypatch):
    """NetworkNamespace.create: if bringing lo up fails, __exit__ never runs, so create must clean up."""
    namespace = NetworkNamespace()
    original_run = NetworkNamespace.run

    def failing_run(self, args, **kwargs):
        if args[:3] == ["ip", "link", "set"]:
            raise subprocess.CalledProcessError(1, args, stderr="injected failure")
        return original_run(self, args, **kwargs)

    monkeypatch.setattr(NetworkNamespace, "run", failing_run)
    with pytest.raises(subprocess.CalledProcessError):
        with namespace:
            pytest.fail("the body must not run")
    assert namespace.name not in _netns_names()
