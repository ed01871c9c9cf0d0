"""Crafting packets in one readable expression, scapy style, on top of the declarative layers.

Every layer object is callable: ``TCP(dst_port=80, flags="S")`` returns a ``Crafted`` layer holding
those fields; ``/`` stacks layers (and fills the selector field below: Ethernet ``ethertype``, IPv4
``protocol``); ``bytes()`` builds, computing lengths and checksums. Field names and defaults are the
schemas' (see each module); ``Ether`` and ``IP`` are aliases of ``Ethernet`` and ``IPv4``::

    from netstack.formats.craft import Ether, IP, TCP, UDP, ICMP, ARP, dissect

    syn = Ether(dst="02:00:5e:00:53:01", src="02:00:5e:00:53:02") / IP(src="192.0.2.2", dst="192.0.2.1") / TCP(
        src_port=40000, dst_port=80, seq=1000, flags="S",
        options=[("mss", 1460), ("nop", None), ("wscale", 7), ("sack_permitted", None), ("timestamps", (1, 0))],
    )
    data = bytes(syn)                      # 74 bytes, every length and checksum right

    ping = Ether() / IP(dst="192.0.2.1") / ICMP(type="echo_request", identifier=1, sequence=1) / b"abc"
    arp = Ether(ethertype="arp") / ARP(sha="02:00:5e:00:53:02", spa="192.0.2.2", tpa="192.0.2.1")

    frame = dissect(data)                  # Crafted layers over the decoded containers
    frame[TCP].window = 512                # layers by schema or name: frame["tcp"]
    frame[IP].ttl = 1
    again = bytes(frame)                   # rebuilt: lengths/checksums follow the edits
    print(frame)                           # Ethernet(dst=..., ...) / IPv4(...) / TCP(...)

Reading a field returns it from that layer (``syn[TCP].flags``); ``layer.fields`` is the dict. A
field set explicitly (``TCP(checksum=0)``) is kept: that is how broken packets are made on purpose.
``Crafted.container()`` gives the plain nested dict ``Frame.build`` accepts.
"""

from __future__ import annotations

from netstack.errors import FormatError
from netstack.formats.answers import answers
from netstack.formats.arp import ARP
from netstack.formats.crafted import Crafted, MissingLayer, use_frame_functions, wrap
from netstack.formats.ethernet import Ethernet
from netstack.formats.frame import Frame
from netstack.formats.frame_codec import NotOurs
from netstack.formats.frame_encoder import encode_frame
from netstack.formats.frame_views import dissect_frame
from netstack.formats.icmp import ICMP
from netstack.formats.ipv4 import IPv4
from netstack.formats.tcp import TCP
from netstack.formats.text import hex_dump, show_text, summary_line
from netstack.formats.udp import UDP

Ether = Ethernet
IP = IPv4


def dissect(data: bytes, layer=Frame) -> Crafted:
    """Decode ``data`` (a whole Ethernet frame by default) into Crafted layers ready to edit."""
    if layer is Frame and (data.__class__ is bytes or isinstance(data, (bytes, bytearray, memoryview))):
        try:  # layers over the generated codec's records (netstack.formats.frame_views)
            return dissect_frame(data if data.__class__ is bytes else bytes(data))
        except (NotOurs, FormatError):
            pass  # a registered protocol, or the declarative path's FormatError
    return wrap(Ethernet if layer is Frame else layer, layer.parse(data))


use_frame_functions(summary=summary_line, show=show_text, hexdump=lambda data: "\n".join(hex_dump(data)),
                    answers=answers, build=Frame.build, encode=encode_frame)

__all__ = ["ARP", "Crafted", "MissingLayer", "Ether", "Ethernet", "ICMP", "IP", "IPv4", "TCP", "UDP", "dissect"]
