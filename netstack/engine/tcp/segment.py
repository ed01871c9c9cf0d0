"""The decoded form of a TCP segment that ``TcpConnection`` consumes and produces.

The connection is sans-I/O and knows no byte layout: the transport layer decodes arriving bytes with the
generated codec (``netstack.formats``) into a ``TcpSegment`` and encodes the connection's outgoing
``TcpSegment`` objects with it. Options appear as typed attributes (``None`` when absent); SACK blocks,
unknown options and the urgent pointer are carried but not acted on (the urgent pointer is parsed and
ignored, RFC 9293 §3.8.5 / RFC 6093: urgent data is delivered in line like any other byte).

Flag bits are those of the header's flags byte (RFC 9293 §3.1, RFC 3168 for ECE/CWR), declared in
``netstack.formats.tcp`` and re-exported here.
"""

from __future__ import annotations

from netstack.formats.tcp import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG

_FLAG_LETTERS = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, "A"), (URG, "U"), (ECE, "E"), (CWR, "C"))


def flags_text(flags: int) -> str:
    """Flags as tcpdump-style letters, e.g. ``SA`` for SYN+ACK."""
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit) or "."


class TcpSegment:
    """One segment: header fields, the options netstack acts on, and the payload."""

    __slots__ = (
        "src_port",
        "dst_port",
        "seq",
        "ack",
        "flags",
        "window",
        "payload",
        "urgent_pointer",
        "mss",
        "wscale",
        "sack_permitted",
        "tsval",
        "tsecr",
        "sack_blocks",
        "fastopen_cookie",
        "ecn",
    )

    def __init__(
        self,
        src_port: int,
        dst_port: int,
        seq: int,
        ack: int,
        flags: int,
        window: int,
        payload=b"",
        *,
        urgent_pointer: int = 0,
        mss: int | None = None,
        wscale: int | None = None,
        sack_permitted: bool = False,
        tsval: int | None = None,
        tsecr: int | None = None,
        sack_blocks: tuple = (),
        fastopen_cookie: bytes | None = None,
    ):
        self.src_port = src_port
        self.dst_port = dst_port
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.payload = payload
        self.urgent_pointer = urgent_pointer
        self.mss = mss
        self.wscale = wscale
        self.sack_permitted = sack_permitted
        self.tsval = tsval
        self.tsecr = tsecr
        self.sack_blocks = sack_blocks
        self.fastopen_cookie = fastopen_cookie  # RFC 7413: None absent, b"" a request, else the cookie
        # The IPv4 ECN codepoint (RFC 3168 §5) the segment arrived with, or leaves with (ECT(0) on an
        # ECN connection's new data, §6.1.2); not part of the TCP header.
        self.ecn = 0

    @property
    def seg_len(self) -> int:
        """SEG.LEN of RFC 9293 §3.4: payload octets plus one each for SYN and FIN."""
        return len(self.payload) + (self.flags & SYN and 1) + (self.flags & FIN and 1)

    def __repr__(self) -> str:
        extra = []
        if self.mss is not None:
            extra.append(f"mss={self.mss}")
        if self.wscale is not None:
            extra.append(f"wscale={self.wscale}")
        if self.sack_permitted:
            extra.append("sackOK")
        if self.tsval is not None:
            extra.append(f"ts={self.tsval}/{self.tsecr}")
        return (
            f"TcpSegment({self.src_port}->{self.dst_port} [{flags_text(self.flags)}] seq={self.seq} "
            f"ack={self.ack} win={self.window} len={len(self.payload)}{' ' if extra else ''}{' '.join(extra)})"
        )
