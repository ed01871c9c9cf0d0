"""``netstack decode`` and ``netstack explain``: output generated from the schemas, clear errors."""

from __future__ import annotations

import subprocess
import sys

import construct as cs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from netstack import strategies
from netstack.cli import main
from netstack.formats import FormatError, Frame, IPv4, register_ethertype, unregister_ethertype
from netstack.formats.craft import ICMP, IP, TCP, UDP, Ether
from netstack.presentation.describe import explain_text, field_table, split_reference
from netstack.formats.pcap import write_pcap

SYN = Ether(dst="02:00:5e:00:53:01", src="02:00:5e:00:53:02") / IP(src="192.0.2.2", dst="192.0.2.1") / TCP(
    src_port=40000, dst_port=80, seq=1000, flags="S",
    options=[("mss", 1460), ("nop", None), ("wscale", 7), ("sack_permitted", None), ("timestamps", (1, 0))])


def run_cli(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --- explain -------------------------------------------------------------------------------------


def test_explain_tcp_gives_offsets_widths_and_rfc_sections(capsys):
    status, out, _ = run_cli(capsys, "explain", "tcp")
    assert status == 0
    rows = {line.split()[2]: line.split() for line in out.splitlines() if line[:1].isdigit()}
    assert rows["src_port"][:2] == ["0", "16"]
    assert rows["seq"][:2] == ["32", "32"]
    assert rows["data_offset"][:2] == ["96", "4"]
    assert rows["flags.syn"][:2] == ["110", "1"]  # SYN is bit 110 of the header (RFC 9293 §3.1 figure)
    assert rows["flags.fin"][:2] == ["111", "1"]
    assert rows["window"][:2] == ["112", "16"]
    assert rows["options"][:2] == ["160", "var"]
    assert "RFC 9293 §3.1" in " ".join(rows["checksum"])


def test_explain_every_schema(capsys):
    for name in ("ethernet", "arp", "ipv4", "icmp", "udp", "tcp", "tcp_options", "pcap"):
        status, out, _ = run_cli(capsys, "explain", name)
        assert status == 0 and ("bit" in out or "kind" in out), name
    assert "next_hop_mtu" in explain_text("icmp") and "destination_unreachable" in explain_text("icmp")
    assert "window_scale" in explain_text("tcp_options") and "RFC 7323 §2.2" in explain_text("tcp_options")
    assert "snaplen" in explain_text("pcap") and "incl_len" in explain_text("pcap")
    ipv4 = {row.name: row for row in field_table(IPv4.header)}
    assert (ipv4["flags.df"].bit_offset, ipv4["fragment_offset"].bit_offset, ipv4["fragment_offset"].bit_width) == (49, 51, 13)
    assert (ipv4["ttl"].bit_offset, ipv4["dst"].bit_offset) == (64, 128)


def test_explain_lists_schemas_and_rejects_unknown_names(capsys):
    status, out, _ = run_cli(capsys, "explain")
    assert status == 0 and "tcp_options" in out and "pcap" in out
    status, _, err = run_cli(capsys, "explain", "sctp")
    assert status == 2 and "no schema named 'sctp'" in err


def test_explain_picks_up_a_registered_protocol(capsys):
    toy = cs.Struct("channel" / cs.Int16ub * "channel number (RFC 9999 §1)",
                    "level" / cs.BitStruct("high" / cs.Flag * "high bit", "value" / cs.BitsInteger(7) * "level"))
    register_ethertype(0x88B5, "toy_explained", toy)
    try:
        status, out, _ = run_cli(capsys, "explain", "toy_explained")
        assert status == 0
        rows = {line.split()[2]: line for line in out.splitlines() if line[:1].isdigit()}
        assert rows["channel"].split()[:2] == ["0", "16"] and "RFC 9999 §1" in rows["channel"]
        assert rows["level.value"].split()[:2] == ["17", "7"]
    finally:
        unregister_ethertype(0x88B5)


def test_split_reference():
    assert split_reference("source port (RFC 9293 §3.1)") == ("source port", "RFC 9293 §3.1")
    assert split_reference("x (first, RFC 6335 §6) y (RFC 1)") == ("x (first) y", "RFC 6335 §6; RFC 1")
    assert split_reference("flags: reserved (0)") == ("flags: reserved (0)", "")


# --- decode --------------------------------------------------------------------------------------


def test_decode_hex_shows_every_layer_and_checksums(capsys):
    status, out, _ = run_cli(capsys, "decode", "-V", "--hex", bytes(SYN).hex(" "))
    assert status == 0
    assert "src_port: 40000" in out and "dst_port: 80" in out and "seq: 1000" in out
    assert "......1. = syn: set" in out
    assert out.count("[correct]") == 2  # IPv4 header and TCP checksums
    assert "mss: 1460" in out and "timestamps: TSval 1, TSecr 0" in out and "window_scale: 7" in out
    assert "ethertype: ipv4 (0x0800)" in out and "protocol: tcp (6)" in out


def test_decode_reports_a_bad_checksum(capsys):
    data = bytearray(bytes(SYN))
    data[-1] ^= 0xFF  # last byte of the timestamps option, covered by the TCP checksum
    status, out, _ = run_cli(capsys, "decode", "-V", "--hex", data.hex())
    assert status == 0  # a bad checksum does not stop decoding
    assert "[INCORRECT]" in out and "[correct]" in out


def test_decode_pcap_with_a_malformed_frame(capsys, tmp_path):
    ping = Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / ICMP(type="echo_request", identifier=7) / b"hi"
    udp = Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / UDP(src_port=5, dst_port=9) / b"data"
    path = tmp_path / "mixed.pcap"
    write_pcap(path, [(1.0, bytes(ping)), (2.0, bytes(SYN)[:30]), (3.0, bytes(udp))])
    status, out, err = run_cli(capsys, "decode", "-V", str(path))
    assert status == 1 and "1 of 3 frames did not decode" in err
    assert "Frame 1" in out and "identifier: 7" in out
    assert "[Malformed: ipv4" in out and "offset" in out
    assert "Frame 3" in out and "dst_port: 9" in out and "Data (4 bytes)" in out


@pytest.mark.parametrize("argv, message", [
    (["decode", "--hex", "zz"], "hex"),
    (["decode", "--hex", "0800"], "ethernet"),
])
def test_decode_bad_hex_is_a_clear_error(capsys, argv, message):
    status, out, err = run_cli(capsys, *argv)
    assert status == 1
    assert message in (out + err) and "Traceback" not in (out + err)


def test_decode_not_a_pcap_and_missing_file(capsys, tmp_path):
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture file at all")
    status, _, err = run_cli(capsys, "decode", str(junk))
    assert status == 1 and "not a pcap or pcapng file" in err
    status, _, err = run_cli(capsys, "decode", str(tmp_path / "absent.pcap"))
    assert status == 1 and "No such file" in err


def test_decode_as_a_subprocess_never_prints_a_traceback(tmp_path):
    truncated = tmp_path / "truncated.pcap"
    write_pcap(truncated, [(1.0, bytes(SYN))])
    truncated.write_bytes(truncated.read_bytes()[:-5])
    result = subprocess.run([sys.executable, "-m", "netstack", "decode", str(truncated)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "truncated" in result.stderr and "Traceback" not in result.stderr


def test_decode_shows_a_registered_protocol(capsys):
    toy = cs.Struct("channel" / cs.Int16ub * "channel number", "payload" / cs.GreedyBytes)
    register_ethertype(0x88B5, "toy_decoded", toy)
    try:
        data = Frame.build({"ethertype": "toy_decoded", "payload": {"channel": 4242, "payload": b"z"}})
        status, out, _ = run_cli(capsys, "decode", "-V", "--hex", data.hex())
        assert status == 0 and "toy_decoded" in out and "channel: 4242" in out
    finally:
        unregister_ethertype(0x88B5)


# --- the tour ------------------------------------------------------------------------------------


def test_demo_runs_the_formats_tour(capsys, tmp_path):
    path = tmp_path / "tour.pcap"
    status, out, _ = run_cli(capsys, "demo", "--formats", "--pcap", str(path))
    assert status == 0
    assert "flags: 0x02 (syn)" in out and "flags: 0x12 (ack, syn)" in out
    assert path.exists()
    from netstack.formats.pcap import read_pcap

    frames = [data for _, data in read_pcap(path)]
    assert len(frames) == 3
    assert Frame.parse(frames[1]).payload.payload.flags.ack
    import shutil

    if shutil.which("tshark"):
        assert "[SYN]" in out and "[SYN, ACK]" in out and "Echo (ping) request" in out


def test_decode_summarises_an_icmp_errors_quoted_datagram(capsys):
    quote = bytes(IP(src="192.0.2.2", dst="192.0.2.1") / UDP(src_port=1, dst_port=2) / b"12345678")[:28]
    data = Frame.build({"payload": {"src": "192.0.2.1", "dst": "192.0.2.2", "protocol": "icmp", "payload": {
        "type": "destination_unreachable", "code": 4, "next_hop_mtu": 1400, "payload": quote}}})
    status, out, _ = run_cli(capsys, "decode", "-V", "--hex", data.hex())
    assert status == 0 and "next_hop_mtu: 1400" in out
    assert "quoted datagram: 192.0.2.2 → 192.0.2.1, protocol udp" in out


@given(strategies.frame_bytes(), st.integers(0, 200), st.integers(0, 255))
def test_decode_text_shows_any_frame_or_names_the_error(data, position, value):
    from netstack.presentation.frame_text import decode_text

    text, error = decode_text(data)
    assert error is None and text.startswith("Frame 1:")
    damaged = bytearray(data)
    damaged[position % len(damaged)] = value
    text, error = decode_text(bytes(damaged[: max(1, position % (len(damaged) + 1))]))
    assert text.startswith("Frame 1:")
    assert error is None or f"[Malformed: {error}]" in text


def test_a_malformed_frame_shows_the_layers_before_the_damage(capsys):
    damaged = bytearray(bytes(SYN))
    damaged[14 + 20 + 12] = 0x30  # TCP data offset 3 words: below the minimum 5
    status, out, _ = run_cli(capsys, "decode", "-V", "--hex", damaged.hex())
    assert status == 1
    assert "ethertype: ipv4 (0x0800)" in out and "protocol: tcp (6)" in out and "checksum: 0xf6b8 [correct]" in out
    assert "[Malformed: tcp.data_offset at offset 46" in out
    assert out.index("protocol: tcp (6)") < out.index("[Malformed")


@given(st.lists(strategies.frame_bytes(), min_size=1, max_size=8))
def test_decode_shows_every_frame_of_a_pcap_of_drawn_frames(tmp_path_factory, frames):
    import contextlib
    import io

    from netstack.commands import decode

    path = tmp_path_factory.mktemp("drawn") / "frames.pcap"
    write_pcap(path, [(1.5 + index, frame) for index, frame in enumerate(frames)])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["decode", "-V", str(path)])
    assert status == 0 and decode.HELP
    text = out.getvalue()
    assert [line.split(":")[0] for line in text.splitlines() if line.startswith("Frame ")] == [
        f"Frame {number}" for number in range(1, len(frames) + 1)]
    assert "Malformed" not in text and "INCORRECT" not in text


def test_explain_arp_gives_address_offsets_for_the_default_sizes():
    from netstack.formats import ARP

    rows = {row.name: row for row in field_table(ARP.header)}
    assert (rows["sha"].bit_offset, rows["sha"].bit_width) == (64, 48)
    assert (rows["tpa"].bit_offset, rows["tpa"].bit_width) == (192, 32)
    assert rows["tpa"].condition == "hlen 6, plen 4"


def test_decode_of_a_pcap_written_by_up_style_writer_round_trips(tmp_path, capsys):
    """`netstack decode FILE` reads what netstack's pcap writer writes, and a damaged frame is
    reported as malformed (exit 1) without stopping the other frames."""
    good = Frame.build({"dst": "02:00:5e:00:53:01", "src": "02:00:5e:00:53:02",
                        "payload": {"src": "192.0.2.2", "dst": "192.0.2.1", "protocol": "udp",
                                    "payload": {"src_port": 7, "dst_port": 40000, "payload": b"hi"}}})
    path = tmp_path / "two.pcap"
    write_pcap(str(path), [(1.0, good), (2.0, good[:20]), (3.0, good)])
    assert main(["decode", "-V", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.count("Frame ") == 3 and "Malformed" in out and out.count("src_port: 7") == 2
    assert main(["decode", str(path)]) == 1  # one line a frame
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "Malformed" in lines[1] and all(" UDP 44 7 → 40000 Len=2" in lines[i] for i in (0, 2))
    with pytest.raises(FormatError):
        Frame.parse(good[:20])
