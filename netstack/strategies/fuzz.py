"""``fuzz(template)``: scapy's ``fuzz()`` in our idiom, a hypothesis strategy of crafted frames.

Every field the template sets is kept; every other field is drawn from the strategy for its protocol
(``tcp_segments``, ``udp_datagrams``, ``icmp_messages``, ``arp_packets``, or ``for_schema`` of the
declaration for IPv4, Ethernet and registered layers), so lengths and checksums stay the builder's
and each frame builds. Use it in a ``@given`` test, or draw one frame at the prompt::

    from netstack.formats.craft import Ether, IP, TCP
    from netstack.strategies import fuzz

    frames = fuzz(Ether() / IP(dst="192.0.2.1") / TCP(dst_port=80))   # src, ports, flags, options... drawn
    frame = frames.example()                                          # one Crafted frame (interactive use)
    bytes(frame)

The template is a ``Crafted`` stack or a layer (``fuzz(TCP)``); a bytes payload in it is kept.
IPv4 is drawn unfragmented (a fragment's payload could not carry the layer above).
"""

from __future__ import annotations

from hypothesis import strategies as st

from netstack.formats.crafted import Crafted
from netstack.strategies.declarations import LEAVE_OUT, for_schema
from netstack.strategies.protocols import arp_packets, icmp_messages, ipv4_options, tcp_segments, udp_datagrams

_UNFRAGMENTED = st.fixed_dictionaries({"reserved": st.just(False), "df": st.booleans(), "mf": st.just(False)})


def _ethernet(layer, fixed):
    return for_schema(layer, **{"vlan": None, "ethertype": LEAVE_OUT, **fixed})


def _ipv4(layer, fixed):
    computed = dict.fromkeys(("version", "ihl", "total_length", "checksum", "protocol"), LEAVE_OUT)
    return for_schema(layer, **{**computed, "options": ipv4_options(), "flags": _UNFRAGMENTED,
                                "fragment_offset": 0, **fixed})


#: layer name -> (layer, fields the template fixed) -> strategy of that layer's field dict
_LAYER_STRATEGIES = {
    "ethernet": _ethernet,
    "ipv4": _ipv4,
    "arp": lambda layer, fixed: arp_packets(**fixed),
    "tcp": lambda layer, fixed: tcp_segments(**fixed),
    "udp": lambda layer, fixed: udp_datagrams(**fixed),
    "icmp": lambda layer, fixed: icmp_messages(**fixed),
}


def fuzz(template) -> st.SearchStrategy[Crafted]:
    """Crafted frames shaped like ``template`` (a Crafted stack or a layer), unset fields drawn."""
    if not isinstance(template, Crafted):
        template = template()
    layers = list(template.layers())

    @st.composite
    def frames(draw):
        upper = None
        for layer in reversed(layers):  # innermost first: each layer carries the one drawn above it
            fixed = {name: value for name, value in layer.fields.items() if name != "payload"}
            payload = layer.fields.get("payload")
            if upper is not None or payload is not None:
                fixed["payload"] = LEAVE_OUT
            strategy = _LAYER_STRATEGIES.get(layer.layer.layer)
            fields = draw(strategy(layer.layer, fixed) if strategy else for_schema(layer.layer, **fixed))
            if upper is not None:
                fields["payload"] = upper
            elif payload is not None:
                fields["payload"] = payload
            upper = Crafted(layer.layer, fields)
        return upper

    return frames()


__all__ = ["fuzz"]
