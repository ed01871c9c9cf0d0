"""Errno parity: the same script of socket calls against the kernel's sockets and netstack's.

Both runs happen in one private namespace: the kernel run between two kernel sockets (client and
listener inside the namespace), the netstack run between netstack's sockets (192.0.2.2, on the TAP)
and the same kernel listener. Every step must give the same errno (or the same result).
"""

from __future__ import annotations

import socket
import threading

import pytest

from tests.support.kernel_peers import HOST_IP, STACK_IP
from tests.support.errno_script import linger_abort, run_script

pytestmark = pytest.mark.netns


class KernelPeer:
    """The kernel listener of the script, inside the namespace."""

    def __init__(self, ns, own_ip, bind_port):
        self.listener = ns.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST_IP, 0))
        self.listener.listen(16)
        self.listener.settimeout(5)
        self.server_ip = HOST_IP
        self.port = self.listener.getsockname()[1]
        self.closed_port = 4444
        self.own_ip = own_ip
        self.bind_port = bind_port
        self.blackhole_ip = "192.0.2.99"
        self.held = []

    def accept(self, behaviour: str) -> None:
        conn, _ = self.listener.accept()
        if behaviour == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_abort())
            conn.close()
        elif behaviour == "close":
            conn.close()
        else:
            self.held.append(conn)

    def release(self) -> None:
        for conn in self.held:
            conn.close()
        self.held.clear()

    def close(self) -> None:
        self.release()
        self.listener.close()


def test_same_errno_as_the_kernel_at_every_step(kernel_session):
    ns, running = kernel_session
    kernel_peer = KernelPeer(ns, HOST_IP, 40000)
    try:
        kernel = run_script(ns.socket, kernel_peer)
    finally:
        kernel_peer.close()
    netstack_peer = KernelPeer(ns, STACK_IP, 40000)
    try:
        ours = run_script(running.socket, netstack_peer)
    finally:
        netstack_peer.close()
    assert [name for name, _ in kernel] == [name for name, _ in ours]
    differences = [(name, k, o) for (name, k), (_, o) in zip(kernel, ours) if k != o]
    assert not differences, "\n".join(f"{name}: kernel {k}, netstack {o}" for name, k, o in differences)
    outcomes = dict(kernel)
    # the script exercises the errno the issue names (so parity is not vacuous)
    for expected in ("ECONNREFUSED", "ECONNRESET", "EADDRINUSE", "EADDRNOTAVAIL", "EAGAIN", "EINPROGRESS",
                     "EALREADY", "EISCONN", "ENOTCONN", "EPIPE", "EMSGSIZE", "EINVAL", "EBADF", "ENOPROTOOPT",
                     "ENETUNREACH"):
        assert expected in outcomes.values(), expected


def test_connect_to_a_host_that_never_answers_arp_is_unreachable_in_both(kernel_session):
    """ARP gives up (3 requests, 1 s apart, in both stacks): the blocking connect fails EHOSTUNREACH."""
    ns, running = kernel_session
    results = {}

    def attempt(name, make_socket):
        with make_socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(15)
            results[name] = sock.connect_ex(("192.0.2.98", 80))

    threads = [threading.Thread(target=attempt, args=("kernel", ns.socket)),
               threading.Thread(target=attempt, args=("netstack", running.socket))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    import errno

    assert results == {"kernel": errno.EHOSTUNREACH, "netstack": errno.EHOSTUNREACH}
