"""Every packet format of netstack as a construct declaration, plus the codecs generated from them.

Import the layers to decode and build::

    from netstack.formats import Frame, Ethernet, ARP, IPv4, ICMP, UDP, TCP, FormatError

    frame = Frame.parse(data)                 # Ethernet container -> IPv4 -> TCP -> bytes
    frame.payload.ttl = 1                     # edit, then rebuild: lengths/checksums follow
    data = Frame.build(frame)

Modules: ``ethernet``, ``arp``, ``ipv4``, ``icmp``, ``udp``, ``tcp``, ``tcp_options`` (one per protocol,
each citing its RFC), ``frame``, ``registry`` (add protocols), ``checksum`` (RFC 1071), ``pcap`` and
``pcapng`` (capture files; ``pcap.read`` reads both), ``craft`` (scapy-style ``Ether()/IP()/TCP()``,
``dissect``), ``fast`` (the struct codec generated from these declarations, for the engine's hot path),
``frame_encoder`` (``Frame.build`` on it), ``frame_codec`` (declared values to container values),
``frame_views`` and ``layer_view`` (``Frame.parse`` and ``dissect``: lazy views over its records),
``ownership`` (when ``/`` may extend a crafted stack in place), ``text`` (summary line, field tree, hex dump),
``answers`` (does a frame answer another) and ``display_filter`` (``tcp.dst_port == 80``).
"""

from netstack.errors import FormatError
from netstack.formats.arp import ARP
from netstack.formats.ethernet import Ethernet
from netstack.formats.frame import Frame
from netstack.formats.icmp import ICMP
from netstack.formats.ipv4 import IPv4
from netstack.formats.registry import (
    ETHERTYPE,
    IP_PROTOCOL,
    register_ethertype,
    register_ip_protocol,
    unregister_ethertype,
    unregister_ip_protocol,
)
from netstack.formats.tcp import TCP
from netstack.formats.udp import UDP
from netstack.formats import craft  # noqa: F401 - gives crafted layers summary/show/hexdump/answers

__all__ = [
    "ARP",
    "ETHERTYPE",
    "Ethernet",
    "FormatError",
    "Frame",
    "ICMP",
    "IP_PROTOCOL",
    "IPv4",
    "TCP",
    "UDP",
    "register_ethertype",
    "register_ip_protocol",
    "unregister_ethertype",
    "unregister_ip_protocol",
]
