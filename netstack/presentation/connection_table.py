"""The TCP connection table of a stack, as ``ss -tni`` prints the kernel's (``netstack ss``).

``connection_rows(stack) -> list[dict]`` is a snapshot taken on the stack's own thread (``running.call``)
that ``netstack up`` publishes with its counters; ``format_table(rows, listening=False) -> str`` prints
it. A row holds what ``ss -tni`` shows, under ``ss``'s names where it has one:

- ``state`` (RFC 9293 spelling), ``recv_q`` (bytes received, not yet read by the application),
  ``send_q`` (bytes written, not yet acknowledged), ``local`` and ``peer`` (``address:port``);
- ``cwnd``/``ssthresh`` (bytes here; ``ss`` prints segments, so the table divides by ``mss``),
  ``srtt``/``rttvar``/``rto`` (seconds), ``retrans`` (segments retransmitted), ``bytes_acked``
  (``SND.UNA - ISS - 1``: our data the peer has acknowledged), ``bytes_received`` (``RCV.NXT - IRS - 1``),
  ``mss``, ``snd_wnd``, ``rcv_wnd``;
- any further figure the connection reports in ``info()`` (``delivery_rate``, ``pacing_rate``,
  ``sacked``, ... as loss recovery grows them): copied as they are and printed after the others.

A figure a connection does not have (no RTT sample yet, no congestion control before the handshake)
is ``None`` in the row and left out of the printed line, as ``ss`` does. Listeners (``LISTEN``) are
rows too, shown with ``listening=True`` (``ss -tnl``): Recv-Q is the accept queue, Send-Q its bound.
"""

from __future__ import annotations

from netstack.engine.tcp.seqnum import SEQ_MASK

PROTOCOL_TCP = 6
_HALF = 1 << 31


def _address(ip) -> str:
    return ".".join(map(str, ip)) if isinstance(ip, (bytes, bytearray)) else "*"


def _since(start, now) -> int | None:
    """Bytes between two sequence numbers (``now - start - 1``, the SYN excluded), or None."""
    if start is None or now is None:
        return None
    count = ((now - start) & SEQ_MASK) - 1
    return count if 0 <= count < _HALF else 0


def connection_rows(stack) -> list[dict]:
    """One dict per TCP connection and listener of ``stack`` (run it on the stack's thread)."""
    layer = stack.transport(PROTOCOL_TCP)
    if layer is None:
        return []
    rows = []
    for listener in getattr(layer, "listeners", {}).values():
        rows.append({
            "state": "LISTEN", "local": f"{_address(listener.address)}:{listener.port}", "peer": "*:*",
            "recv_q": len(getattr(listener, "accept_queue", ()) or ()),
            "send_q": getattr(listener, "accept_backlog", None),
        })
    for conn in getattr(layer, "connections", {}).values():
        info = dict(conn.info()) if hasattr(conn, "info") else {}
        snd, rcv = getattr(conn, "snd", None), getattr(conn, "rcv", None)  # sender and receiver halves
        receive_buffer = getattr(rcv, "buffer", None)
        send_buffer = getattr(snd, "buffer", None)
        state = info.pop("state", str(getattr(conn, "state", "?")))
        irs = None if state == "SYN-SENT" else getattr(rcv, "irs", None)  # the peer's ISN is not known yet
        row = {
            "state": state,
            "recv_q": len(receive_buffer) if receive_buffer is not None else None,
            "send_q": len(send_buffer) if send_buffer is not None else None,  # written, not yet acknowledged
            "local": f"{_address(conn.local_ip)}:{conn.local_port}",
            "peer": f"{_address(conn.remote_ip)}:{conn.remote_port}",
            "cwnd": info.pop("cwnd", None), "ssthresh": info.pop("ssthresh", None),
            "srtt": info.pop("srtt", None), "rttvar": info.pop("rttvar", None), "rto": info.pop("rto", None),
            "retrans": info.pop("retransmissions", None),
            "bytes_acked": _since(getattr(snd, "iss", None), getattr(snd, "una", None)),
            "bytes_received": _since(irs, getattr(rcv, "nxt", None)),
            "mss": info.pop("send_mss", None), "snd_wnd": info.pop("snd_wnd", None),
            "rcv_wnd": info.pop("rcv_wnd", None),
        }
        row.update(info)  # whatever else the connection reports (delivery_rate, pacing_rate, ...)
        rows.append(row)
    return rows


# The per-connection line: (row key, ss label, how to print it). Milliseconds as ss prints them.
_DETAILS = (
    ("mss", "mss", str),
    ("rto", "rto", lambda value: f"{value * 1000:g}"),
    ("cwnd", "cwnd", None),  # segments, computed below
    ("ssthresh", "ssthresh", None),
    ("bytes_acked", "bytes_acked", str),
    ("bytes_received", "bytes_received", str),
    ("retrans", "retrans", str),
    ("snd_wnd", "snd_wnd", str),
    ("rcv_wnd", "rcv_wnd", str),
)
_SS_NAMES = {"segments_out": "segs_out", "segments_in": "segs_in"}  # always shown, under ss's names
_SHOWN = {"state", "recv_q", "send_q", "local", "peer", "srtt", "rttvar", *(key for key, _, _ in _DETAILS)}


def _segments(value, mss) -> str:
    if isinstance(value, (int, float)) and isinstance(mss, int) and mss > 0:
        return str(max(1, round(value / mss)))
    return str(value)


def detail_line(row: dict) -> str:
    """``ss -i``'s second line: ``mss:1448 rtt:3.1/1.5 rto:200 cwnd:10 ...`` (what the row has)."""
    parts = []
    mss = row.get("mss")
    for key, label, render in _DETAILS:
        value = row.get(key)
        if value is None:
            continue
        if key == "rto" and row.get("srtt") is not None:
            rttvar = row.get("rttvar") or 0.0
            parts.append(f"rtt:{row['srtt'] * 1000:.3g}/{rttvar * 1000:.3g}")
        text = _segments(value, mss) if render is None else render(value)
        if key == "ssthresh" and isinstance(value, int) and value >= 1 << 29:
            continue  # the initial "infinite" ssthresh: ss prints nothing either
        parts.append(f"{label}:{text}")
    for key, value in row.items():
        if key in _SHOWN or value is None or isinstance(value, (dict, list)):
            continue
        if key in _SS_NAMES:
            parts.append(f"{_SS_NAMES[key]}:{value}")
        elif value:  # further counters only once something happened (ss prints lost:, reordering: alike)
            parts.append(f"{key}:{value:g}" if isinstance(value, float) else f"{key}:{value}")
    return " ".join(parts)


def format_table(rows: list[dict], *, listening: bool = False, details: bool = True) -> str:
    """The table ``ss -tni`` prints (``listening``: only listeners, as ``ss -tnl``)."""
    shown = [row for row in rows if (row.get("state") == "LISTEN") == listening]
    local_width = max([len("Local Address:Port")] + [len(str(row.get("local"))) for row in shown])
    lines = [f"{'State':<13}{'Recv-Q':>7}{'Send-Q':>7}  {'Local Address:Port':<{local_width}}  Peer Address:Port"]
    for row in shown:
        recv_q = row.get("recv_q")
        send_q = row.get("send_q")
        lines.append(f"{row.get('state', '?'):<13}{'-' if recv_q is None else recv_q:>7}"
                     f"{'-' if send_q is None else send_q:>7}  {row.get('local', '?'):<{local_width}}  "
                     f"{row.get('peer', '?')}")
        if details and not listening:
            line = detail_line(row)
            if line:
                lines.append(f"\t {line}")
    return "\n".join(lines)
