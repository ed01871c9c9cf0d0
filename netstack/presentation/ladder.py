"""A ladder (sequence) diagram of one TCP connection: SVG written directly, or mermaid text.

``ladder_arrows(segments, first=None, second=None, limit=40) -> list[Arrow]`` labels each segment of the
connection between ``first`` and ``second`` (``"ip:port"``; default: the first connection of the
capture) the way Wireshark's flow graph does: flags, then relative sequence and acknowledgement
numbers (ISN-relative per direction, RFC 9293 §3.4), the payload length, and the options that
matter in a handshake (MSS, window scale, SACK permitted). ``ladder_svg(arrows, first, second)``
draws them as arrows between two timelines, each arrow sloping down by its own transit (sent on the
left time, drawn to the next row), with its time on the left; ``ladder_mermaid`` writes a mermaid
``sequenceDiagram`` (render it with mermaid, or in the docs site).
"""

from __future__ import annotations

from html import escape
from typing import NamedTuple

from netstack.engine.tcp.segment import ACK, FIN, PSH, RST, SYN
from netstack.presentation.tcp_series import SEQ_MASK, Segment, connections

_FLAG_NAMES = ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"), (ACK, "ACK"))


class Arrow(NamedTuple):
    time: float  # seconds since the connection's first segment
    src: str
    dst: str
    label: str


def _flags(flags: int) -> str:
    return ",".join(name for bit, name in _FLAG_NAMES if flags & bit) or "none"


def ladder_arrows(segments: list[Segment], first: str | None = None, second: str | None = None,
                  limit: int | None = 40) -> list[Arrow]:
    if first is None or second is None:
        found = connections(segments)
        if not found:
            raise ValueError("the capture holds no TCP segment")
        first, second = found[0]
    ours = [s for s in segments if {s.src, s.dst} == {first, second}]
    if not ours:
        raise ValueError(f"no segment between {first} and {second}")
    base: dict[str, int] = {}
    for segment in ours:
        if segment.flags & SYN:
            base.setdefault(segment.src, segment.seq)
    start = ours[0].time
    arrows = []
    for segment in ours[:limit]:
        own = base.setdefault(segment.src, (segment.seq - 1) & SEQ_MASK)
        parts = [_flags(segment.flags), f"seq={(segment.seq - own) & SEQ_MASK}"]
        if segment.flags & ACK:
            peer = base.setdefault(segment.dst, (segment.ack - 1) & SEQ_MASK)
            parts.append(f"ack={(segment.ack - peer) & SEQ_MASK}")
        if segment.length:
            parts.append(f"len={segment.length}")
        parts.append(f"win={segment.window}")
        if segment.mss is not None:
            parts.append(f"mss={segment.mss}")
        if segment.wscale is not None:
            parts.append(f"ws={segment.wscale}")
        if segment.sack_blocks:
            parts.append("sack=" + ",".join(f"{(left - base.get(segment.dst, 0)) & SEQ_MASK}-"
                                            f"{(right - base.get(segment.dst, 0)) & SEQ_MASK}"
                                            for left, right in segment.sack_blocks))
        arrows.append(Arrow(round(segment.time - start, 6), segment.src, segment.dst, " ".join(parts)))
    return arrows


def ladder_mermaid(arrows: list[Arrow], first: str, second: str) -> str:
    """A mermaid ``sequenceDiagram``: one message per segment, its time in the text."""
    lines = ["sequenceDiagram", f"    participant A as {first}", f"    participant B as {second}"]
    alias = {first: "A", second: "B"}
    for arrow in arrows:
        # mermaid ends a message at ";" and treats "#" as an entity start: our labels have neither
        lines.append(f"    {alias[arrow.src]}->>{alias[arrow.dst]}: {arrow.time:.6f} {arrow.label}")
    return "\n".join(lines) + "\n"


ROW, TOP, LEFT_X, RIGHT_X, WIDTH = 34, 70, 170, 650, 820


def ladder_svg(arrows: list[Arrow], first: str, second: str) -> str:
    """An SVG document: two timelines, one sloping arrow per segment, labels above the arrows."""
    height = TOP + ROW * (len(arrows) + 1) + 20
    x = {first: LEFT_X, second: RIGHT_X}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="12">',
        '<defs><marker id="head" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto">'
        '<path d="M0,0 L10,4 L0,8 z" fill="#333"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT_X}" y="30" text-anchor="middle" font-weight="bold">{escape(first)}</text>',
        f'<text x="{RIGHT_X}" y="30" text-anchor="middle" font-weight="bold">{escape(second)}</text>',
        f'<line x1="{LEFT_X}" y1="40" x2="{LEFT_X}" y2="{height - 10}" stroke="#999"/>',
        f'<line x1="{RIGHT_X}" y1="40" x2="{RIGHT_X}" y2="{height - 10}" stroke="#999"/>',
    ]
    for index, arrow in enumerate(arrows):
        y = TOP + index * ROW
        x1, x2 = x[arrow.src], x[arrow.dst]
        colour = "#b00" if "RST" in arrow.label else ("#05a" if arrow.src == first else "#070")
        out.append(f'<text x="10" y="{y + 4}" fill="#666">{arrow.time:.6f}</text>')
        out.append(f'<line class="segment" x1="{x1}" y1="{y}" x2="{x2}" y2="{y + ROW - 12}" stroke="{colour}" '
                   f'stroke-width="1.5" marker-end="url(#head)"/>')
        out.append(f'<text class="label" x="{(x1 + x2) // 2}" y="{y + (ROW - 12) // 2 - 4}" text-anchor="middle" '
                   f'fill="{colour}">{escape(arrow.label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
