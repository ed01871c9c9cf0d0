"""TCP under loss against the Linux kernel (issue 10), in a namespace created and deleted here: the
TAP drops 2 % of the frames each way (``--impair loss=2%``); a kernel socket with TCP_CONGESTION=cubic
sends 20 MB through netstack's echo service (CUBIC by default) and reads them back, sha256 equal. The
capture shows SACK blocks in netstack's ACKs and netstack retransmitting the holes the kernel's SACK
blocks leave, not what they cover; ``ss -ti`` in the namespace shows the kernel's retransmissions."""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.support.external_tools import require_tool
from tests.support.kernel_peers import STACK_IP, echo_connection_views, stack_in_namespace, through_echo, tshark_fields

pytestmark = pytest.mark.netns

MB20 = 20 * 1024 * 1024
TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)


def _fields(capture, display_filter: str, fields: list[str]) -> list[list[str]]:
    return tshark_fields(capture, display_filter, fields, "tcp.relative_sequence_numbers:FALSE")


def test_20_mb_each_way_at_2_percent_loss_sack_and_cubic_against_the_kernel(tmp_path):
    require_tool("tshark")
    require_tool("ss", "iproute2")
    capture = tmp_path / "loss.pcap"
    with stack_in_namespace("nstloss0", services=["echo"], capture=capture,
                            impair="loss=2%,seed=7") as (ns, running, tshark):
        sock = ns.socket()
        sock.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"cubic")
        assert sock.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0") == b"cubic"
        sock.settimeout(60)
        sock.connect((STACK_IP, 7))
        seen = {}  # the kernel's own view of the connection while it is alive (its retransmissions), and ours
        received, equal, elapsed = through_echo(sock, MB20, echo_connection_views(ns, running, seen))
        sock.close()
        print(f"\n20 MB each way through echo at 2 % loss: {MB20 / elapsed / 1e6:.2f} MB/s each way")
        assert received == MB20
        assert equal
        ss, rows = seen["ss"], seen["rows"]
        retrans = re.search(r"retrans:\d+/(\d+)", ss)
        assert retrans and int(retrans.group(1)) > 0, ss
        assert "cubic" in ss
        ours = [row for row in rows if row["connection"].startswith(f"{STACK_IP}:7-")]
        assert ours and ours[0]["congestion_control"] == "cubic" and ours[0]["sack"]
        assert ours[0]["retransmissions"] > 0
        time.sleep(0.5)
        ns.stop_capture(tshark, settle=0.5)

    # netstack's ACKs carry SACK blocks (RFC 2018) while it holds out-of-order data
    sacks = _fields(capture, "ip.src == 192.0.2.2 && tcp.options.sack_le", ["frame.number"])
    assert len(sacks) > 10
    # what netstack retransmitted, against what the kernel had SACKed before (one RTT of slack aside)
    kernel_sacks = _fields(capture, "ip.src == 192.0.2.1 && tcp.options.sack_le",
                           ["frame.time_relative", "tcp.options.sack_le", "tcp.options.sack_re"])
    resent = _fields(capture, "ip.src == 192.0.2.2 && tcp.analysis.retransmission && tcp.len > 0",
                     ["frame.time_relative", "tcp.seq", "tcp.len"])
    assert resent, "2 % loss and no retransmission by netstack?"
    blocks = []
    for when, lefts, rights in kernel_sacks:
        for left, right in zip(lefts.split(","), rights.split(",")):
            blocks.append((float(when), int(left), int(right)))
    covered = 0
    for when, seq, length in resent:
        t, start, end = float(when), int(seq), int(seq) + int(length)
        if any(b_time < t - 0.005 and left <= start and end <= right for b_time, left, right in blocks):
            covered += 1
    print(f"netstack retransmitted {len(resent)} segments, {covered} of them inside an earlier kernel SACK block")
    assert covered <= max(2, len(resent) // 50), (covered, len(resent))
