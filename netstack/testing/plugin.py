"""The pytest plugin: ``pytest --dut sim|tap|linux|cmd:COMMAND`` and the fixtures of the bench.

Registered as the ``netstack.testing.plugin`` entry point of ``pytest11`` (so an installed netstack offers it to any
project) and loaded by netstack's own ``tests/conftest.py``. Fixtures:

* ``dut``: the session's ``netstack.testing.targets.Target`` (default ``sim``; started once, its
  namespaces deleted at the end of the session even when tests fail).
* ``bench``: a ``Bench`` on the DUT's link for one test, its pcap in ``--bench-pcaps`` (default
  ``$TMPDIR/netstack-bench/<pid>``), kept when the test fails and named in the failure report.
* ``tcp_peer``: a factory ``tcp_peer(port=7, **kwargs) -> TcpPeer`` on that bench.
* ``dut_connection``: ``dut_connection(port)`` makes the DUT open a connection to the bench; skips on
  targets that cannot (``cmd:``).

Targets needing root skip (saying so) when not root.
"""

from __future__ import annotations

import os
import re
import tempfile

import pytest

from netstack.testing.targets import Unsupported, target_for
from netstack.testing.tcp_peer import TcpPeer


def pytest_addoption(parser):
    group = parser.getgroup("netstack", "netstack black-box protocol tests")
    group.addoption("--dut", default=os.environ.get("NETSTACK_DUT", "sim"), metavar="TARGET",
                    help="device under test: sim (default, or $NETSTACK_DUT), sim:SEED, tap, linux or "
                         "cmd:COMMAND (a program following `netstack up`'s contract)")
    group.addoption("--bench-pcaps", default=None, metavar="DIR",
                    help="directory for the bench's per-test pcaps (kept for failed tests)")


def _needs_root(spec: str) -> str | None:
    if spec.startswith("sim"):
        return None
    if os.geteuid() != 0:
        return f"--dut {spec} needs root (network namespaces, AF_PACKET)"
    if not os.path.exists("/dev/net/tun") and spec != "linux":
        return f"--dut {spec} needs /dev/net/tun"
    return None


@pytest.fixture(scope="session")
def dut(request):
    spec = request.config.getoption("--dut")
    reason = _needs_root(spec)
    if reason:
        pytest.skip(reason)
    target = target_for(spec).start()
    try:
        yield target
    finally:
        target.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.bench_failed = report.failed


@pytest.fixture(scope="session")
def bench_pcaps(request):
    """Where the per-test pcaps go: --bench-pcaps, or $TMPDIR/netstack-bench/<pid> (outside pytest's
    rotated temporary directories, so a failed test's pcap outlives later runs); removed when empty."""
    directory = request.config.getoption("--bench-pcaps") or os.path.join(
        tempfile.gettempdir(), "netstack-bench", str(os.getpid()))
    os.makedirs(directory, exist_ok=True)
    yield directory
    try:
        os.rmdir(directory)  # only when no failed test left its pcap
    except OSError:
        pass


@pytest.fixture
def bench(request, dut, bench_pcaps):
    directory = bench_pcaps
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120]
    bench = dut.bench(os.path.join(directory, f"{name}.pcap"))
    try:
        yield bench
    finally:
        failed = getattr(request.node, "bench_failed", True)
        bench.close(keep=failed)
        dut.release(bench)


@pytest.fixture
def tcp_peer(bench):
    def make(port: int = 7, **kwargs) -> TcpPeer:
        return TcpPeer(bench, port, **kwargs)

    return make


@pytest.fixture
def dut_connection(dut, bench):
    opened = []

    def open_connection(port: int):
        try:
            connection = dut.open_connection(bench, port)
        except Unsupported as error:
            pytest.skip(str(error))
        opened.append(connection)
        return connection

    yield open_connection
    for connection in opened:
        try:
            connection.close()
        except OSError:
            pass

