"""The TAP device itself: create it through ``/dev/net/tun`` in the calling thread's namespace,
configure its host side with pyroute2, and delete it (``netstack.drivers.tap`` runs a stack on it).

``create_tap`` attaches with ``TUNSETIFF`` (``IFF_TAP | IFF_NO_PI``, and ``IFF_VNET_HDR`` for
segmentation offload) and clears persistence (``TUNSETPERSIST`` 0), so the kernel removes the device as
soon as our file descriptor closes — even after SIGKILL; the host side gets its address, MTU, link up
and the length of the kernel's queue towards us (txqueuelen, the size of tun's ring: when the reader
falls behind, the kernel drops at its tail whatever the frame, see ``netstack.drivers.intake``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct

from netstack.drivers.netns import call_in_namespace

TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
#: The kernel's queue towards the TAP (txqueuelen, the length of tun's ring), in frames. Linux's default
#: (1000) is 3-4 ms of a SYN flood: a scheduling delay of the loop's thread longer than that drops
#: frames, the legitimate ones too. 8192 frames bound the kernel's memory near 20 MB (skb truesize).
QUEUE_LENGTH = 8192
log = logging.getLogger("netstack.drivers.tap")


def _open_tap(name: str, vnet_header: bool = False) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if vnet_header else 0)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
        # Not persistent: the kernel deletes the device when this fd closes, whatever kills us.
        fcntl.ioctl(fd, TUNSETPERSIST, 0)
    except OSError:
        os.close(fd)
        raise
    return fd


def create_tap(name: str, host_ip: str | None, mtu: int, vnet_header: bool = False,
               queue_length: int | None = QUEUE_LENGTH) -> int:
    """Create TAP ``name`` in the calling thread's namespace, configure its host side; returns our fd.

    ``vnet_header``: every frame on the fd carries a ``virtio_net_hdr`` (IFF_VNET_HDR), which lets
    ``RunningStack`` hand runs of TCP segments to the kernel as one offloaded frame. ``queue_length``:
    the device's txqueuelen, i.e. how many frames the kernel holds for us before dropping (None: the
    kernel's default, 1000)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        if ipr.link_lookup(ifname=name):
            raise FileExistsError(f"an interface named {name} already exists in this namespace")
        ipr.link("add", ifname=name, kind="tuntap", mode="tap")
        try:
            fd = _open_tap(name, vnet_header)
        except OSError:
            ipr.link("del", index=ipr.link_lookup(ifname=name)[0])
            raise
        try:
            _configure_host_side(ipr, name, host_ip, mtu, queue_length)
        except Exception:
            os.close(fd)  # not persistent: closing removes it
            raise
    return fd


def _configure_host_side(ipr, name: str, host_ip: str | None, mtu: int, queue_length: int | None) -> None:
    index = ipr.link_lookup(ifname=name)[0]
    if host_ip:
        address, _, prefix = host_ip.partition("/")
        ipr.addr("add", index=index, address=address, prefixlen=int(prefix or 24))
    if queue_length is not None:
        # tun resizes its ring when txqueuelen changes, after our fd is attached too.
        ipr.link("set", index=index, txqlen=queue_length)
    ipr.link("set", index=index, mtu=mtu, state="up")


def check_privileges() -> None:
    if os.geteuid() != 0:
        raise PermissionError("creating a TAP device needs root (CAP_NET_ADMIN); run as root, "
                              "or try the simulated network: netstack demo --sim")
    if not os.path.exists("/dev/net/tun"):
        raise FileNotFoundError("/dev/net/tun is missing (load the tun module: modprobe tun)")


def delete_tap(tap: str, netns: str | None) -> None:
    try:
        if netns is None:
            _delete_link(tap)
        elif os.path.exists(f"/var/run/netns/{netns}"):
            call_in_namespace(netns, _delete_link, tap)
    except Exception:  # closing our fd removes the device anyway
        log.debug("deleting %s failed; closing the fd removes it", tap, exc_info=True)


def _delete_link(name: str) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        indexes = ipr.link_lookup(ifname=name)
        if indexes:
            ipr.link("del", index=indexes[0])
