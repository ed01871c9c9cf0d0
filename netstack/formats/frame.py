"""``Frame``: a whole Ethernet frame decoded down the layers (Ethernet -> ARP/IPv4 -> ICMP/UDP/TCP).

``Frame.parse(data)`` returns the Ethernet container whose ``payload`` is the ARP/IPv4 container (or a
registered protocol's), whose ``payload`` is the ICMP/UDP/TCP container, whose ``payload`` is bytes.
``Frame.build(container_or_dict)`` is its inverse: ``Frame.build(Frame.parse(b)) == b`` and
``Frame.parse(Frame.build(c)) == c`` for a container ``c`` that came from ``parse``.

Frame is the Ethernet layer under the name users look for; both follow the registry, so a protocol
registered with ``register_ethertype``/``register_ip_protocol`` is decoded too. ``Frame`` parses and
builds on the codec generated from the declarations: ``parse`` returns lazy views over its records
(``frame_views``: the same containers, converted field by field when read), ``build`` runs
``frame_encoder.encode_frame``; ``Ethernet``'s interpreter stays behind both for registered protocols,
and a malformed frame is decoded again by it so that its ``FormatError`` is the declarative one.
"""

from __future__ import annotations

from netstack.errors import FormatError
from netstack.formats.ethernet import EthernetLayer, ethernet_header
from netstack.formats.frame_codec import NotOurs
from netstack.formats.frame_encoder import encode_frame
from netstack.formats.frame_views import parse_frame


class FastFrameLayer(EthernetLayer):
    """``Frame``: the Ethernet layer whose ``parse`` and ``build`` run on the generated codec."""

    def parse(self, data, **contextkw):
        if not contextkw and isinstance(data, (bytes, bytearray, memoryview)):
            try:
                return parse_frame(bytes(data))
            except (NotOurs, FormatError):
                pass  # the declarative path decodes it, or raises its own FormatError
        return super().parse(data, **contextkw)

    def build(self, obj=None, **contextkw):
        if obj.__class__ is dict and not contextkw:  # the common case, without Layer.build's checks
            try:
                return encode_frame(obj)
            except NotOurs:
                pass
        return super().build(obj, **contextkw)

    def encode(self, obj, context) -> bytes:
        try:
            return encode_frame(obj)
        except NotOurs:
            return super().encode(obj, context)


Frame = FastFrameLayer("ethernet", ethernet_header, "Ethernet frame decoded down the layers")
