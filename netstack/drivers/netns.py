"""Private Linux network namespaces for tests, the demo and benchmarks: create, use, always delete.

Network safety rule of the project: everything that touches a real interface happens inside a
namespace created for it and deleted afterwards, even on failure. ``NetworkNamespace`` is that rule as
a context manager::

    with NetworkNamespace() as ns:                       # "nst-<pid>-<n>", deleted on exit
        with netstack.run_tap(ip="192.0.2.2/24", host_ip="192.0.2.1/24", netns=ns.name) as running:
            ns.run(["ping", "-c", "3", "192.0.2.2"], check=True)     # a kernel tool inside it
            with ns.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # a kernel socket inside it
                ...

``run``/``popen`` run a command inside with ``ip netns exec`` (bounded by a timeout; every process
started through ``popen`` is terminated, by its PID, when the namespace is deleted). ``socket``
creates a kernel socket that lives in the namespace, for use from this process: a socket belongs to
the namespace its creator was in, so a short-lived thread enters the namespace (``setns(2)`` changes
only the calling thread) and creates it. The loopback interface is brought up on creation.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import socket as socket_module
import subprocess
import threading

CLONE_NEWNET = 0x40000000
_counter = itertools.count()
_libc = None


def _setns(fd: int) -> None:
    global _libc
    if hasattr(os, "setns"):
        os.setns(fd, CLONE_NEWNET)
        return
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


class NetworkNamespace:
    """A named network namespace that this object created and will delete."""

    def __init__(self, name: str | None = None):
        self.name = name or f"nst-{os.getpid()}-{next(_counter)}"
        if len(self.name) > 60 or "/" in self.name:
            raise ValueError(f"namespace name {self.name!r} is not usable")
        self.processes: list[subprocess.Popen] = []
        self.created = False

    # ----------------------------------------------------------------- lifetime
    def create(self) -> "NetworkNamespace":
        if os.geteuid() != 0:
            raise PermissionError("creating a network namespace needs root (CAP_SYS_ADMIN)")
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True, timeout=30)
        self.created = True
        try:
            self.run(["ip", "link", "set", "lo", "up"], check=True)
        except BaseException:
            self.delete()  # __exit__ never runs when __enter__ raises: do not leave the namespace behind
            raise
        return self

    def delete(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    process.terminate()
                    process.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=3)
                except ProcessLookupError:
                    pass
        self.processes.clear()
        if self.created:
            subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, timeout=30)
            self.created = False

    def __enter__(self) -> "NetworkNamespace":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.delete()

    @property
    def path(self) -> str:
        return f"/var/run/netns/{self.name}"

    # ----------------------------------------------------------------- using it
    def command(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, args: list[str], *, timeout: float = 120, check: bool = False, **kwargs):
        """Run ``args`` inside; returns ``subprocess.CompletedProcess`` (text output captured)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.command(args), timeout=timeout, check=check, **kwargs)

    def popen(self, args: list[str], **kwargs) -> subprocess.Popen:
        """Start ``args`` inside; the process is terminated (by PID) when the namespace is deleted."""
        process = subprocess.Popen(self.command(args), **kwargs)
        self.processes.append(process)
        return process

    def start_capture(self, interface: str, path, *, timeout: float = 20.0) -> subprocess.Popen:
        """Start tshark writing ``interface``'s frames to ``path``; returns once it captures.

        tshark creates its file when the capture is live, so the caller's traffic starts only then
        (the half second after covers the gap between file and first packet). The process ends with
        the namespace, or earlier by the caller (by PID, through the returned Popen).
        """
        import pathlib
        import time

        path = pathlib.Path(path)
        tshark = self.popen(["tshark", "-q", "-i", interface, "-w", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not path.exists() and time.monotonic() < deadline and tshark.poll() is None:
            time.sleep(0.1)
        time.sleep(0.5)
        return tshark

    @staticmethod
    def stop_capture(tshark: subprocess.Popen, *, settle: float = 1.0) -> None:
        """End a ``start_capture`` tshark (by its PID) once the last frames are written."""
        import time

        time.sleep(settle)  # tshark writes what it read in batches
        tshark.terminate()
        tshark.wait(timeout=10)

    def socket(self, family=socket_module.AF_INET, type=socket_module.SOCK_STREAM, proto: int = 0):
        """A kernel socket created inside the namespace (usable from any thread of this process)."""
        return call_in_namespace(self.name, socket_module.socket, family, type, proto)

    def in_namespace(self, function, *args, **kwargs):
        """Run ``function`` on a thread that entered the namespace (e.g. to open a pyroute2 socket)."""
        return call_in_namespace(self.name, function, *args, **kwargs)


def call_in_namespace(name: str, function, *args, **kwargs):
    """Run ``function(*args, **kwargs)`` on a short-lived thread inside network namespace ``name``.

    Sockets and TAP devices created there belong to that namespace and stay usable from any thread.
    """
    result: dict = {}

    def target():
        try:
            with open(f"/var/run/netns/{name}") as namespace:
                _setns(namespace.fileno())
            result["value"] = function(*args, **kwargs)
        except BaseException as error:  # re-raised in the caller's thread
            result["error"] = error

    thread = threading.Thread(target=target, name=f"netns-{name}")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def terminate(process: subprocess.Popen, timeout: float = 3.0) -> None:
    """Stop one process we started, by its PID: SIGINT, then SIGTERM, then SIGKILL."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            process.send_signal(sig)
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return
