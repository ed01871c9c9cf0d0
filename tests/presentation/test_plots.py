"""``netstack plot`` from a simulator pcap and from a kernel capture: the files exist and what the
figures draw equals the pcap's numbers (read with scapy, independently of netstack's decoders)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from netstack.cli import main
from netstack.drivers.netns import NetworkNamespace, terminate
from netstack.presentation.ladder import ladder_arrows, ladder_mermaid, ladder_svg
from netstack.presentation.sim_transfer import record_transfer
from netstack.presentation.tcp_series import congestion_series, read_segments, time_sequence

matplotlib = pytest.importorskip("matplotlib", reason="the plot extra (pip install 'netstack[plot]') is missing")

from netstack.presentation import tcp_plots  # noqa: E402

from tests.support.external_tools import require_tool  # noqa: E402
from tests.support.pcap_oracle import expected_time_sequence  # noqa: E402


def _drawn(figure) -> dict:
    """Every labelled artist of the figure's axes -> the points it draws."""
    drawn = {}
    for axes in figure.axes:
        for line in axes.get_lines():
            drawn[line.get_label()] = list(zip(line.get_xdata(), line.get_ydata()))
        for collection in axes.collections:
            drawn[collection.get_label()] = [(a[0], a[1], b[1]) for a, b in
                                             (segment.tolist() for segment in collection.get_segments())]
    return drawn


def _assert_time_sequence_matches(pcap: Path, sender: str) -> None:
    expected = expected_time_sequence(pcap, sender)
    series = time_sequence(read_segments(str(pcap)), sender=sender)
    assert series.receiver == expected["receiver"]
    assert series.data == expected["data"] and series.acks == expected["acks"]
    assert series.window == expected["window"] and series.sack == expected["sack"]
    figure = tcp_plots.time_sequence_figure(series)
    drawn = _drawn(figure)
    retransmitted = set(series.retransmissions)
    assert sorted(drawn["data"] + drawn["retransmissions"]) == sorted(expected["data"])
    assert sorted(drawn["retransmissions"]) == sorted(retransmitted)
    assert drawn["ack"] == [(t, float(a)) for t, a in expected["acks"]]
    assert drawn["window"] == [(t, float(w)) for t, w in expected["window"]]
    assert sorted(drawn["sack"]) == sorted(expected["sack"])
    matplotlib.pyplot.close(figure)


def test_plots_of_a_simulated_lossy_transfer(tmp_path):
    status = main(["plot", "--sim", "--out-dir", str(tmp_path), "--format", "png", "--seed", "4"])
    assert status == 0
    for name in ("time-sequence.png", "congestion.png", "ladder.svg", "ladder.mmd", "transfer.pcap"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "time-sequence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _assert_time_sequence_matches(tmp_path / "transfer.pcap", "192.0.2.2:40000")
    series = time_sequence(read_segments(str(tmp_path / "transfer.pcap")))
    assert series.retransmissions, "seed 4 with 2 % loss retransmits: the graph shows it"
    # congestion: what is drawn is the trace's tcp.congestion events of the sender, unchanged
    lines = (tmp_path / "transfer.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if '"tcp.congestion"' in line]
    sender = [e for e in events if e["conn"] == "192.0.2.2:40000-192.0.2.3:9"]
    congestion = congestion_series(lines)
    assert congestion.conn == "192.0.2.2:40000-192.0.2.3:9"
    figure = tcp_plots.congestion_figure(congestion)
    drawn = _drawn(figure)
    assert drawn["cwnd"] == [(e["time"], e["cwnd"]) for e in sender]
    assert [y for _, y in drawn["srtt"] if y == y] == [e["srtt"] * 1000 for e in sender if e["srtt"] is not None]
    finite = [(e["time"], e["ssthresh"]) for e in sender if e["ssthresh"] < 1 << 29]
    assert [(t, y) for t, y in drawn["ssthresh"] if y == y] == finite and finite, "a loss set ssthresh"
    matplotlib.pyplot.close(figure)


def test_ladder_of_the_handshake(tmp_path):
    recorded = record_transfer(tmp_path, size=3000, loss=0.0, seed=1)
    segments = read_segments(str(recorded.pcap))
    arrows = ladder_arrows(segments, limit=5)
    assert [arrow.label.split()[0] for arrow in arrows[:3]] == ["SYN", "SYN,ACK", "ACK"]
    assert arrows[0].label.startswith("SYN seq=0 win=") and " ack=1 " in arrows[1].label
    assert arrows[3].label.startswith("ACK seq=1 ack=1 len=1448") or arrows[3].label.startswith("PSH,ACK seq=1 ack=1")
    mermaid = ladder_mermaid(arrows, recorded.sender, recorded.receiver)
    assert mermaid.splitlines()[:4] == ["sequenceDiagram", "    participant A as 192.0.2.2:40000",
                                        "    participant B as 192.0.2.3:9",
                                        f"    A->>B: 0.000000 {arrows[0].label}"]
    svg = ladder_svg(arrows, recorded.sender, recorded.receiver)
    assert svg.count('class="segment"') == 5 and svg.startswith("<svg") and "SYN,ACK seq=0 ack=1" in svg
    import xml.etree.ElementTree as ElementTree

    ElementTree.fromstring(svg)  # well-formed


def test_missing_matplotlib_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(tcp_plots.PlotUnavailable, match=r"pip install 'netstack\[plot\]'"):
        tcp_plots.time_sequence_figure(None)


@pytest.mark.netns
def test_plots_of_a_kernel_capture(tmp_path):
    """The kernel sends 200 kB to netstack's discard service; `netstack up --pcap` records it, and tshark
    on the TAP's kernel side too (pcapng): both captures give the same sequence numbers."""
    require_tool("tshark")
    pcap = tmp_path / "kernel.pcap"
    pcapng = tmp_path / "tshark.pcapng"
    with NetworkNamespace() as ns:
        up = ns.popen([sys.executable, "-m", "netstack", "up", "--tap", "hwpl0", "--ip", "192.0.2.2/24",
                       "--host-ip", "192.0.2.1/24", "--services", "discard", "--pcap", str(pcap)],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert up.stdout.readline().startswith("ready hwpl0 "), up.stderr.read()
            tshark = ns.start_capture("hwpl0", pcapng)
            with ns.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
                client.settimeout(20)
                client.connect(("192.0.2.2", 9))
                sender = f"192.0.2.1:{client.getsockname()[1]}"
                client.sendall(bytes(200_000))
                client.shutdown(socket.SHUT_WR)
                assert client.recv(10) == b""  # discard closes after our FIN: everything was taken
            ns.stop_capture(tshark)
        finally:
            terminate(up)  # by its PID: SIGINT (the stack's clean exit), then SIGTERM, SIGKILL
    assert main(["plot", str(pcap), "--out-dir", str(tmp_path), "--graph", "time-sequence"]) == 0
    assert (tmp_path / "time-sequence.svg").stat().st_size > 0
    assert main(["plot", str(pcap), "--out-dir", str(tmp_path), "--graph", "ladder"]) == 0
    assert "SYN,ACK" in (tmp_path / "ladder.mmd").read_text()
    _assert_time_sequence_matches(pcap, sender)
    series = time_sequence(read_segments(str(pcap)), sender=sender)
    assert series.data[-1][2] == 200_000 + 2  # SYN, 200 kB, FIN
    assert series.window_scale > 0  # both SYNs offered window scaling (RFC 7323): the window line is scaled
    _assert_time_sequence_matches(pcapng, sender)
    seen_by_tshark = time_sequence(read_segments(str(pcapng)), sender=sender)
    assert [(first, end) for _, first, end in seen_by_tshark.data] == [(first, end) for _, first, end in series.data]
    assert [ack for _, ack in seen_by_tshark.acks] == [ack for _, ack in series.acks]


def test_mermaid_parser_accepts_the_ladder(tmp_path):
    """mermaid's own parser on the sequenceDiagram (optional, as in test_machine_diagrams.py)."""
    import os
    import shutil

    modules = os.environ.get("NETSTACK_MERMAID_MODULES")
    node = shutil.which("node")
    if not modules or node is None:
        pytest.skip("needs node and NETSTACK_MERMAID_MODULES (a directory with npm install mermaid@10 jsdom)")
    recorded = record_transfer(tmp_path, size=30_000, loss=0.05, seed=3)
    arrows = ladder_arrows(read_segments(str(recorded.pcap)), limit=60)
    ladder = tmp_path / "ladder.mmd"
    ladder.write_text(ladder_mermaid(arrows, recorded.sender, recorded.receiver))
    script = Path(__file__).with_name("mermaid_parse.mjs")
    result = subprocess.run([node, str(script), modules, str(ladder)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("ok "), result.stdout + result.stderr
