"""A namespace with a netstack TAP inside and the kernel as the peer, for the interop tests."""

from __future__ import annotations

import contextlib

import netstack
from netstack.drivers.netns import NetworkNamespace
from netstack.apps.services import start_services

STACK_IP = "192.0.2.2"
HOST_IP = "192.0.2.1"


@contextlib.contextmanager
def stack_in_namespace(tap: str = "nst0", services=("echo", "discard"), **options):
    """Yield (namespace, running stack): the TAP's host side at 192.0.2.1/24 inside a fresh namespace."""
    with NetworkNamespace() as ns:
        # No IPv6 chatter (router solicitations, MLD) on the link: it would only be counted and dropped.
        ns.run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
        ns.run(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        with netstack.run_tap(tap=tap, ip=f"{STACK_IP}/24", host_ip=f"{HOST_IP}/24", netns=ns.name,
                              **options) as running:
            running.call(start_services, running.stack, list(services))
            yield ns, running
