"""Hypothesis strategies that draw valid values for every netstack schema, and whole frames.

The strategies are *derived from the construct declarations*: :func:`for_schema` walks a header's
Struct and draws each field from what the declaration says it can hold: an ``Int16ub`` draws 0..65535,
a ``BitsInteger(13)`` 0..8191, an ``Enum`` a known name or an unknown number, a ``FlagsEnum`` a dict of
booleans, an adapter (an IPv4 or MAC address) the decoded form of raw bytes of the declared size, a
``Switch`` the case chosen by the fields drawn before it (ICMP's per-type fields). Only what a
declaration cannot say is written here: which fields the builder computes (lengths, checksums), which
option lists fit in a header and are well formed, how a datagram is cut into fragments, and which
payload goes with which EtherType or protocol number.

What a drawn value promises:

* ``schema.build(value)`` succeeds (TCP/UDP alone need ``src=``/``dst=`` for the pseudo-header);
* every field in ``value`` parses back equal: ``value`` is a subset of ``schema.parse(build(value))``
  (the computed fields, lengths and checksums, are left out of ``value`` and filled in by the builder;
  :func:`mismatches` compares the two);
* ``build(parse(build(value))) == build(value)``: the bytes are canonical (options padded as the
  builder pads them).

Typical use, testing your own parser against netstack's::

    from hypothesis import given
    from netstack import strategies
    from netstack.formats import Frame

    @given(strategies.frames())
    def test_my_parser_agrees(frame):
        data = Frame.build(frame)
        mine = my_parser(data)
        assert mine.ttl == Frame.parse(data).payload.ttl

Protocols registered with ``netstack.formats.register_ethertype`` / ``register_ip_protocol`` are drawn
by :func:`frames` too, from their own declarations.

Requires hypothesis (``pip install 'netstack[test]'``); the rest of netstack never imports this module.
"""

from __future__ import annotations

# One clear message when hypothesis is missing; the submodules import it plainly (this runs first).
try:
    import hypothesis  # noqa: F401
except ModuleNotFoundError as error:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError(
        "netstack.strategies needs hypothesis: pip install hypothesis (or 'netstack[test]')",
        name=error.name,
    ) from error

from netstack.strategies.declarations import LEAVE_OUT, for_schema, mismatches
from netstack.strategies.fuzz import fuzz
from netstack.strategies.protocols import (
    EXPERIMENTAL_ETHERTYPES,
    EXPERIMENTAL_IP_PROTOCOLS,
    PAYLOAD_MAX,
    UNASSIGNED_ICMP_TYPES,
    UNASSIGNED_OPTION_KINDS,
    arp_packets,
    ethernet_frames,
    fragmented_datagrams,
    frame_bytes,
    frames,
    icmp_messages,
    ipv4_addresses,
    ipv4_options,
    ipv4_packets,
    mac_addresses,
    pcap_file_headers,
    pcap_files,
    tcp_options,
    tcp_segments,
    udp_datagrams,
    values_for,
)

__all__ = [
    "EXPERIMENTAL_ETHERTYPES",
    "EXPERIMENTAL_IP_PROTOCOLS",
    "LEAVE_OUT",
    "PAYLOAD_MAX",
    "UNASSIGNED_ICMP_TYPES",
    "UNASSIGNED_OPTION_KINDS",
    "arp_packets",
    "ethernet_frames",
    "for_schema",
    "fragmented_datagrams",
    "frame_bytes",
    "fuzz",
    "frames",
    "icmp_messages",
    "ipv4_addresses",
    "ipv4_options",
    "ipv4_packets",
    "mac_addresses",
    "mismatches",
    "pcap_file_headers",
    "pcap_files",
    "tcp_options",
    "tcp_segments",
    "udp_datagrams",
    "values_for",
]
