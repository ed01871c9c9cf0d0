"""A veth pair inside a private namespace: one end for netstack's AF_PACKET socket, the other the kernel's.

Both ends live in the namespace the test creates (deleted afterwards), so nothing touches the root
namespace. ``ours`` has no address (the kernel on that side stays silent); ``kernel`` holds
192.0.2.1/24 and a permanent neighbour entry for 192.0.2.2 -> ``ours``'s MAC, so the kernel answers
frames sent from ``ours`` without an ARP exchange first (tests that want ARP ask for it).
"""

from __future__ import annotations

import contextlib
import dataclasses

from netstack.drivers.netns import NetworkNamespace

KERNEL_IP = "192.0.2.1"
OUR_IP = "192.0.2.2"


@dataclasses.dataclass
class VethPeers:
    namespace: NetworkNamespace
    ours: str
    kernel: str
    our_mac: str
    kernel_mac: str


def _mac(namespace: NetworkNamespace, interface: str) -> str:
    output = namespace.run(["cat", f"/sys/class/net/{interface}/address"], check=True).stdout
    return output.strip()


@contextlib.contextmanager
def veth_peers(neighbour: bool = True):
    with NetworkNamespace() as namespace:
        commands = [
            # no IPv6 chatter (router solicitations, MLD) in the captures
            ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
            ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
            ["ip", "link", "add", "ours0", "type", "veth", "peer", "name", "kernel0"],
            ["ip", "addr", "add", f"{KERNEL_IP}/24", "dev", "kernel0"],
            ["ip", "link", "set", "ours0", "up"],
            ["ip", "link", "set", "kernel0", "up"],
        ]
        for command in commands:
            namespace.run(command, check=True)
        peers = VethPeers(namespace, "ours0", "kernel0", _mac(namespace, "ours0"), _mac(namespace, "kernel0"))
        if neighbour:
            namespace.run(["ip", "neigh", "replace", OUR_IP, "lladdr", peers.our_mac, "dev", "kernel0", "nud", "permanent"],
                          check=True)
        yield peers
