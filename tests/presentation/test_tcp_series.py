"""The series of a crafted capture: ISN-relative numbers with wrap-around, a retransmission, SACK
blocks and the scaled window (RFC 7323 §2.2), checked by hand and against scapy's reading."""

from __future__ import annotations

import pytest

from netstack.cli import main
from netstack.formats.craft import IP, TCP, Ether
from netstack.formats.pcap import PcapWriter
from netstack.presentation.ladder import ladder_arrows
from netstack.presentation.tcp_series import congestion_series, connections, read_segments, time_sequence

from tests.support.pcap_oracle import expected_time_sequence

CLIENT, SERVER = ("192.0.2.1", 40000), ("192.0.2.2", 80)
ISN, PEER_ISN = 0xFFFFFF00, 1000  # the client's sequence numbers wrap past 2**32 during the transfer


def _segment(sender, receiver, **fields) -> bytes:
    return bytes(Ether() / IP(src=sender[0], dst=receiver[0]) / TCP(src_port=sender[1], dst_port=receiver[1], **fields))


def _capture(path) -> None:
    frames = [
        (CLIENT, SERVER, dict(flags="S", seq=ISN, options=[("mss", 1460), ("wscale", 7)])),
        (SERVER, CLIENT, dict(flags="SA", seq=PEER_ISN, ack=ISN + 1, window=29200, options=[("mss", 1460), ("wscale", 2)])),
        (CLIENT, SERVER, dict(flags="A", seq=ISN + 1, ack=PEER_ISN + 1)),
        (CLIENT, SERVER, dict(flags="A", seq=ISN + 1, ack=PEER_ISN + 1, payload=b"a" * 200)),
        (CLIENT, SERVER, dict(flags="A", seq=ISN + 201, ack=PEER_ISN + 1, payload=b"b" * 200)),  # lost
        (CLIENT, SERVER, dict(flags="A", seq=(ISN + 401) & 0xFFFFFFFF, ack=PEER_ISN + 1, payload=b"c" * 200)),
        (SERVER, CLIENT, dict(flags="A", seq=PEER_ISN + 1, ack=ISN + 201, window=1000)),
        (SERVER, CLIENT, dict(flags="A", seq=PEER_ISN + 1, ack=ISN + 201, window=1000,
                              options=[("nop", None), ("nop", None),
                                       ("sack", [((ISN + 401) & 0xFFFFFFFF, (ISN + 601) & 0xFFFFFFFF)])])),
        (CLIENT, SERVER, dict(flags="A", seq=ISN + 201, ack=PEER_ISN + 1, payload=b"b" * 200)),  # resent
        (SERVER, CLIENT, dict(flags="A", seq=PEER_ISN + 1, ack=(ISN + 601) & 0xFFFFFFFF, window=1500)),
    ]
    with PcapWriter(str(path)) as writer:
        for index, (sender, receiver, fields) in enumerate(frames):
            writer.write(_segment(sender, receiver, **fields), 1_700_000_000.0 + index * 0.010)


def test_relative_numbers_retransmission_sack_and_scaled_window(tmp_path):
    pcap = tmp_path / "crafted.pcap"
    _capture(pcap)
    segments = read_segments(str(pcap))
    assert connections(segments) == [("192.0.2.1:40000", "192.0.2.2:80")]
    series = time_sequence(segments)
    assert series.sender == "192.0.2.1:40000" and series.isn == ISN and series.window_scale == 2
    assert series.data == [(0.0, 0, 1), (0.03, 1, 201), (0.04, 201, 401), (0.05, 401, 601), (0.08, 201, 401)]
    assert series.retransmissions == [(0.08, 201, 401)]
    assert series.acks == [(0.01, 1), (0.06, 201), (0.07, 201), (0.09, 601)]
    # the SYN,ACK's window is never scaled; later ones are shifted by the server's scale, 2
    assert series.window == [(0.01, 1 + 29200), (0.06, 201 + 4000), (0.07, 201 + 4000), (0.09, 601 + 6000)]
    assert series.sack == [(0.07, 401, 601)]
    expected = expected_time_sequence(pcap, "192.0.2.1:40000")
    assert (series.data, series.acks, series.window, series.sack) == (
        expected["data"], expected["acks"], expected["window"], expected["sack"])
    labels = [arrow.label for arrow in ladder_arrows(segments)]
    assert labels[0] == "SYN seq=0 win=65535 mss=1460 ws=7"
    assert labels[7] == "ACK seq=1 ack=201 win=1000 sack=401-601"


def test_plot_refuses_what_it_cannot_draw(tmp_path, capsys):
    assert main(["plot", "--out-dir", str(tmp_path)]) == 2
    assert "give a pcap file, or --sim" in capsys.readouterr().err
    not_pcap = tmp_path / "notes.txt"
    not_pcap.write_text("not a capture: just a few words of text")
    assert main(["plot", str(not_pcap), "--out-dir", str(tmp_path)]) == 1
    assert "not a pcap or pcapng file" in capsys.readouterr().err
    empty = tmp_path / "empty.pcap"
    with PcapWriter(str(empty)):
        pass
    assert main(["plot", str(empty), "--out-dir", str(tmp_path)]) == 1
    assert "holds no TCP segment" in capsys.readouterr().err
    crafted = tmp_path / "crafted.pcap"
    _capture(crafted)
    assert main(["plot", str(crafted), "--graph", "congestion", "--out-dir", str(tmp_path)]) == 1
    assert "needs trace JSON lines" in capsys.readouterr().err


def test_congestion_series_needs_congestion_events():
    with pytest.raises(ValueError, match="--trace-format json"):
        congestion_series(['{"event": "tcp.state"}', "not json", ""])
    lines = ['{"event": "tcp.congestion", "conn": "a-b", "host": "h", "time": 1.0, "cwnd": 10, '
             '"ssthresh": 1073725440, "srtt": null, "rto": 1.0}']
    series = congestion_series(lines)
    assert (series.conn, series.cwnd, series.ssthresh, series.srtt) == ("a-b", [10], [None], [None])
