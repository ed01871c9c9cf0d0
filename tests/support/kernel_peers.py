"""A private network namespace with netstack on a TAP and the kernel as the peer, for interop tests.

The stack is 192.0.2.2 on the TAP; its host side 192.0.2.1 and every kernel peer (``ns.socket()``,
ping, curl, http.server, tshark) live in the namespace, which is deleted afterwards even on failure
(the project's network safety rule). The TAP is created inside the namespace, so its name cannot
collide with another test run's.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager

import netstack
from netstack.apps.services import start_services
from netstack.apps.tcp_services import tcp_layer_of
from netstack.drivers.netns import NetworkNamespace

STACK_IP = "192.0.2.2"
HOST_IP = "192.0.2.1"
STACK = bytes([192, 0, 2, 2])
HOST = bytes([192, 0, 2, 1])
_taps = itertools.count()


@contextmanager
def stack_in_namespace(tap: str | None = None, *, services=(), capture=None, **options):
    """Yield (namespace, running stack, tshark or None) with ``services`` started on the stack.

    With ``capture`` (a path) and tshark installed, tshark records the TAP's host side from before the
    first frame the test sends; it is stopped on the way out unless the test stopped it already.
    ``options`` go to ``netstack.run_tap``.
    """
    tap = tap or f"nstpeer{next(_taps)}"
    with NetworkNamespace() as ns:
        # No IPv6 chatter (router solicitations, MLD) on the link: it would only be counted and dropped.
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        ns.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        with netstack.run_tap(tap=tap, ip=f"{STACK_IP}/24", host_ip=f"{HOST_IP}/24", netns=ns.name,
                              **options) as running:
            if services:
                running.call(start_services, running.stack, list(services))
            tshark = None
            if capture is not None and shutil.which("tshark"):
                tshark = ns.start_capture(tap, capture)
            try:
                yield ns, running, tshark
            finally:
                if tshark is not None and tshark.poll() is None:
                    ns.stop_capture(tshark, settle=0.5)


def tshark_fields(capture, display_filter: str, fields: list[str], *preferences: str) -> list[list[str]]:
    """Fields of the captured frames tshark's filter selects (reading a file: no namespace needed);
    ``preferences`` are ``-o`` settings such as ``tcp.relative_sequence_numbers:FALSE``."""
    options = sum((["-o", preference] for preference in preferences), [])
    result = subprocess.run(["tshark", "-r", str(capture), *options, "-Y", display_filter, "-T", "fields",
                             "-E", "separator=;", *sum((["-e", f] for f in fields), [])],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return [line.split(";") for line in result.stdout.splitlines() if line.strip()]


def echo_connection_views(ns, running, seen: dict):
    """A ``before_shutdown`` for ``through_echo`` on a kernel socket to netstack's echo: stores the
    kernel's ``ss -tin`` view (``seen["ss"]``) and netstack's connection table (``seen["rows"]``)
    while the connection is alive."""
    def look():
        seen["ss"] = ns.run(["ss", "-tin", "dst", STACK_IP], capture_output=True, text=True, timeout=30).stdout
        layer = running.call(tcp_layer_of, running.stack)
        seen["rows"] = running.call(layer.connection_table)

    return look


def through_echo(sock, size: int, before_shutdown=None) -> tuple[int, bool, float]:
    """Send ``size`` random bytes (1 MiB blocks) through an echo service on the connected ``sock`` while a
    thread reads the echo back; ``before_shutdown()`` runs once everything is written. Returns (bytes
    received, sha256 equal, seconds)."""
    block = os.urandom(1 << 20)
    sent_hash, got_hash = hashlib.sha256(), hashlib.sha256()
    received = {"n": 0}

    def reader():
        while True:
            data = sock.recv(1 << 20)
            if not data:
                return
            got_hash.update(data)
            received["n"] += len(data)

    thread = threading.Thread(target=reader)
    thread.start()
    started = time.monotonic()
    for _ in range(size // len(block)):
        sock.sendall(block)
        sent_hash.update(block)
    if before_shutdown is not None:
        before_shutdown()
    sock.shutdown(socket.SHUT_WR)
    thread.join(180)
    return received["n"], got_hash.digest() == sent_hash.digest(), time.monotonic() - started
