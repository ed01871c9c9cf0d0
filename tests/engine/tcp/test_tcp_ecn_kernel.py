"""ECN (RFC 3168) against the Linux kernel, in a namespace created and deleted here: the kernel with
``net.ipv4.tcp_ecn=1`` connects to netstack's echo service, which accepts ECN (our default, Linux's 2),
through a TAP that marks 1 % of ECT frames CE each way (``--impair ce=1%``); and netstack with
``ecn=1`` connects to a kernel listener (tcp_ecn=2). The capture shows the ECN-setup SYN (ECE+CWR), the
SYN-ACK (ECE alone), data ECT(0) (``ip.dsfield.ecn == 2``), and the echo and CWR both ways; the
transfers complete with sha256 equal."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from netstack.apps.tcp_services import tcp_layer_of

from tests.support.external_tools import require_tool
from tests.support.kernel_peers import (
    HOST_IP, STACK_IP, echo_connection_views, stack_in_namespace, through_echo, tshark_fields,
)

pytestmark = pytest.mark.netns

MB4 = 4 * 1024 * 1024


def _count(capture, display_filter: str) -> int:
    return len(tshark_fields(capture, display_filter, ["frame.number"]))


def _syn_handshake(capture, client: str, server: str) -> None:
    """The ECN-setup SYN from ``client`` and SYN-ACK from ``server`` (RFC 3168 §6.1.1) are on the wire."""
    assert _count(capture, f"ip.src == {client} && tcp.flags.syn == 1 && tcp.flags.ack == 0"
                           " && tcp.flags.ece == 1 && tcp.flags.cwr == 1 && ip.dsfield.ecn == 0") >= 1
    assert _count(capture, f"ip.src == {server} && tcp.flags.syn == 1 && tcp.flags.ack == 1"
                           " && tcp.flags.ece == 1 && tcp.flags.cwr == 0 && ip.dsfield.ecn == 0") >= 1


_NEW_DATA = ("tcp.len > 0 && !tcp.analysis.retransmission && !tcp.analysis.spurious_retransmission"
             " && !tcp.analysis.zero_window_probe")


def _ecn_of_new_data(capture, sender: str) -> set[str]:
    return {row[0] for row in tshark_fields(capture, f"ip.src == {sender} && {_NEW_DATA}", ["ip.dsfield.ecn"])}


def test_kernel_with_tcp_ecn_1_connects_and_netstack_accepts_ecn_marks_echoed_both_ways(tmp_path):
    require_tool("tshark")
    require_tool("ss", "iproute2")
    capture = tmp_path / "ecn.pcap"
    with stack_in_namespace("nstecn0", services=["echo"], capture=capture,
                            impair="ce=1%,seed=3") as (ns, running, tshark):
        ns.run(["sysctl", "-qw", "net.ipv4.tcp_ecn=1"], check=True)
        sock = ns.socket()
        sock.settimeout(60)
        sock.connect((STACK_IP, 7))
        seen = {}
        received, equal, _ = through_echo(sock, MB4, echo_connection_views(ns, running, seen))
        sock.close()
        counters = running.stack.counters
        assert received == MB4 and equal
        ours = [row for row in seen["rows"] if row["connection"].startswith(f"{STACK_IP}:7-")]
        assert ours and ours[0]["ecn"]
        # the kernel's count of data acknowledged with ECE: our echoes of the marks on its segments
        delivered_ce = re.search(r"delivered_ce:(\d+)", seen["ss"])
        assert delivered_ce and int(delivered_ce.group(1)) > 0, seen["ss"]
        assert counters.get("impair.out.ce_marked", 0) > 0 and counters.get("impair.in.ce_marked", 0) > 0
        assert counters.get("tcp.ecn.ce_received", 0) > 0
        assert counters.get("tcp.ecn.cwnd_reductions", 0) > 0, "the kernel's ECE reduced our window"
        time.sleep(0.5)
        ns.stop_capture(tshark, settle=0.5)

    _syn_handshake(capture, client=HOST_IP, server=STACK_IP)
    # our new data leaves ECT(0); the capture is behind the impairment, so some arrive CE-marked
    assert _ecn_of_new_data(capture, STACK_IP) == {"2", "3"}
    assert _count(capture, f"ip.src == {STACK_IP} && tcp.len == 0 && ip.dsfield.ecn != 0") == 0, "pure ACKs Not-ECT"
    # the echo and the answer, both ways: netstack echoes the kernel's CE marks and answers its echoes
    assert _count(capture, f"ip.src == {STACK_IP} && tcp.flags.ece == 1 && tcp.flags.syn == 0") > 0
    assert _count(capture, f"ip.src == {HOST_IP} && tcp.flags.cwr == 1 && tcp.flags.syn == 0") > 0
    assert _count(capture, f"ip.src == {HOST_IP} && tcp.flags.ece == 1 && tcp.flags.syn == 0") > 0
    assert _count(capture, f"ip.src == {STACK_IP} && tcp.flags.cwr == 1 && tcp.flags.syn == 0") > 0


def _kernel_echo_server(listener: socket.socket, result: dict) -> None:
    conn, _ = listener.accept()
    conn.settimeout(60)
    with conn:
        while True:
            data = conn.recv(1 << 20)
            if not data:
                break
            conn.sendall(data)
            result["echoed"] = result.get("echoed", 0) + len(data)
        conn.shutdown(socket.SHUT_WR)


def test_netstack_with_ecn_1_connects_to_a_kernel_listener_and_negotiates_ecn(tmp_path):
    require_tool("tshark")
    capture = tmp_path / "ecn_out.pcap"
    with stack_in_namespace("nstecn1", capture=capture) as (ns, running, tshark):
        ns.run(["sysctl", "-qw", "net.ipv4.tcp_ecn=2"], check=True)  # the kernel's default: accept only
        layer = running.call(tcp_layer_of, running.stack)
        running.call(setattr, layer, "config", layer.config.replace(ecn=1))
        listener = ns.socket()
        listener.bind((HOST_IP, 5555))
        listener.listen(1)
        listener.settimeout(30)
        result = {}
        server = threading.Thread(target=_kernel_echo_server, args=(listener, result))
        server.start()
        sock = running.socket()
        sock.settimeout(60)
        sock.connect((HOST_IP, 5555))
        info = sock.tcp_info()
        received, equal, _ = through_echo(sock, MB4)
        server.join(60)
        sock.close()
        listener.close()
        assert received == MB4 and equal and result["echoed"] == MB4
        assert info["ecn"], info
        time.sleep(0.5)
        ns.stop_capture(tshark, settle=0.5)

    _syn_handshake(capture, client=STACK_IP, server=HOST_IP)
    assert _ecn_of_new_data(capture, STACK_IP) == {"2"}, "our data is ECT(0)"
    assert _ecn_of_new_data(capture, HOST_IP) == {"2"}, "and so is the kernel's: it agreed"
