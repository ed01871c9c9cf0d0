"""What TCP and UDP share: the IPv4 addresses for the pseudo-header (RFC 9293 §3.1, RFC 768).

A TCP or UDP layer decoded inside IPv4 gets the addresses from the IPv4 header. Used alone it takes
them as context: ``TCP.parse(data, src="192.0.2.1", dst="192.0.2.2")`` and the same for ``build``.
Without them a parse reports ``checksum_ok=None`` and a build that must compute a checksum raises
``FormatError``.
"""

from __future__ import annotations

from netstack.errors import FormatError
from netstack.formats.checksum import transport_checksum
from netstack.formats.fields import ipv4_to_bytes


def pseudo_header_addresses(context, layer: str) -> tuple[bytes, bytes] | None:
    """(src, dst) as 4-byte values from a decode/encode context, or None when not given."""
    if context is None:
        return None
    src, dst = context.get("src"), context.get("dst")
    if src is None or dst is None:
        return None
    try:
        return ipv4_to_bytes(src), ipv4_to_bytes(dst)
    except FormatError as error:
        raise FormatError(layer, "pseudo_header", None, f"src/dst context: {error.reason}") from None


def checksum_verdict(context, layer: str, protocol: int, data) -> bool | None:
    """Whether ``data`` (header + payload) sums to zero with its pseudo-header; None without addresses."""
    addresses = pseudo_header_addresses(context, layer)
    if addresses is None:
        return None
    return transport_checksum(addresses[0], addresses[1], protocol, data) == 0


def pseudo_header_checksum(context, layer: str, protocol: int, data) -> int:
    """The checksum to put in ``data`` (whose checksum field is zero); FormatError without addresses."""
    addresses = pseudo_header_addresses(context, layer)
    if addresses is None:
        raise FormatError(layer, "checksum", None, "computing it needs src and dst (build inside IPv4, or pass src=, dst=)")
    return transport_checksum(addresses[0], addresses[1], protocol, data)
