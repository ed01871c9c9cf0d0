"""``Frame``: a whole Ethernet frame decoded down the layers (Ethernet -> ARP/IPv4 -> ICMP/UDP/TCP).

``Frame.parse(data)`` returns the Ethernet container whose ``payload`` is the ARP/IPv4 container (or a
registered protocol's), whose ``payload`` is the ICMP/UDP/TCP container, whose ``payload`` is bytes.
``Frame.build(container_or_dict)`` is its inverse: ``Frame.build(Frame.parse(b)) == b`` and
``Frame.parse(Frame.build(c)) == c`` for a container ``c`` that came from ``parse``.

Frame is the Ethernet layer under the name users look for; both follow the registry, so a protocol
registered with ``register_ethertype``/``register_ip_protocol`` is decoded too. ``Frame`` parses and
builds on the codec generated from the declarations (``frame_codec``), the same containers and bytes
as ``Ethernet``'s interpreter, which stays behind it for registered protocols.
"""

from __future__ import annotations

from netstack.formats.ethernet import ethernet_header
from netstack.formats.frame_codec import FastFrameLayer

Frame = FastFrameLayer("ethernet", ethernet_header, "Ethernet frame decoded down the layers")
