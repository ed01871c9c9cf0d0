"""The formats tour (``netstack demo --formats``): craft, decode, edit, save, and check with tshark.

1. craft a TCP SYN with options in one expression (``netstack.formats.craft``);
2. show it decoded field by field, with checksum verdicts (``frame_text``, as ``netstack decode``);
3. show the TCP header's field table generated from the declaration (as ``netstack explain tcp``);
4. edit the decoded frame and rebuild it: lengths and checksums follow;
5. write the frames to a pcap and, when tshark is installed, let tshark read it back and print its
   one-line summaries (the pcap and the frames are checked by an independent decoder).

Only documentation addresses (RFC 5737, RFC 7042) are used, and nothing is sent anywhere.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from netstack.presentation import describe
from netstack.formats.craft import ICMP, IP, TCP, Ether, dissect
from netstack.presentation.frame_text import decode_text
from netstack.formats.pcap import write_pcap

CLIENT_MAC, SERVER_MAC = "02:00:5e:00:53:02", "02:00:5e:00:53:01"  # RFC 7042 §2.1.2 documentation MACs
CLIENT_IP, SERVER_IP = "192.0.2.2", "192.0.2.1"  # RFC 5737 TEST-NET-1


def tour_frames() -> list[tuple[str, bytes]]:
    """The frames the tour shows: (what it is, bytes)."""
    syn = Ether(dst=SERVER_MAC, src=CLIENT_MAC) / IP(src=CLIENT_IP, dst=SERVER_IP) / TCP(
        src_port=40000, dst_port=80, seq=1000, flags="S",
        options=[("mss", 1460), ("nop", None), ("wscale", 7), ("sack_permitted", None), ("timestamps", (1, 0))],
    )
    syn_ack = dissect(bytes(syn))
    syn_ack["ethernet"].dst, syn_ack["ethernet"].src = CLIENT_MAC, SERVER_MAC
    syn_ack[IP].src, syn_ack[IP].dst = SERVER_IP, CLIENT_IP
    tcp = syn_ack[TCP]
    tcp.src_port, tcp.dst_port, tcp.ack, tcp.seq, tcp.flags = 80, 40000, 1001, 5000, "SA"
    ping = Ether(dst=SERVER_MAC, src=CLIENT_MAC) / IP(src=CLIENT_IP, dst=SERVER_IP) / ICMP(
        type="echo_request", identifier=1, sequence=1) / b"netstack"
    return [("TCP SYN", bytes(syn)), ("SYN-ACK (the SYN, dissected, edited and rebuilt)", bytes(syn_ack)),
            ("ICMP echo request", bytes(ping))]


def _tshark_summary(path: str, out) -> bool:
    tshark = shutil.which("tshark")
    if tshark is None:
        out.write("tshark is not installed; open the file in Wireshark or install tshark to check it.\n")
        return True
    import subprocess  # only here: the tour's one external program

    try:
        result = subprocess.run([tshark, "-n", "-r", path, "-o", "tcp.check_checksum:TRUE",
                                 "-o", "ip.check_checksum:TRUE"],
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        out.write(f"tshark could not be run: {error}\n")
        return False
    out.write(f"$ tshark -r {path}\n{result.stdout}")
    if result.returncode != 0:
        out.write(f"tshark failed ({result.returncode}): {result.stderr.strip()}\n")
        return False
    return True


def run_tour(out=sys.stdout, pcap_path: str | None = None) -> int:
    """Run the tour, writing to ``out``; the pcap goes to ``pcap_path`` (a temporary file, removed
    afterwards, when None). Returns the exit status: 0, or 1 when something did not check out."""
    frames = tour_frames()
    heading = "== {} ==\n"
    out.write(heading.format("1. Craft a TCP SYN with options in one expression"))
    out.write(
        'Ether(dst="02:00:5e:00:53:01", src="02:00:5e:00:53:02") / IP(src="192.0.2.2", dst="192.0.2.1") / TCP(\n'
        '    src_port=40000, dst_port=80, seq=1000, flags="S",\n'
        '    options=[("mss", 1460), ("nop", None), ("wscale", 7), ("sack_permitted", None), ("timestamps", (1, 0))])\n'
    )
    out.write(f"-> {len(frames[0][1])} bytes: {frames[0][1].hex()}\n\n")

    out.write(heading.format("2. Decoded field by field (netstack decode --hex ...)"))
    status = 0
    text, error = decode_text(frames[0][1])
    out.write(text + "\n")
    status |= error is not None

    out.write(heading.format("3. The TCP header, from its declaration (netstack explain tcp)"))
    out.write(describe.field_table_text(TCP.header) + "\n")

    out.write(heading.format("4. Dissect, edit, rebuild: the SYN-ACK"))
    text, error = decode_text(frames[1][1], number=2)
    out.write(text + "\n")
    status |= error is not None

    out.write(heading.format("5. Write a pcap and read it back with tshark"))
    temporary = None
    if pcap_path is None:
        handle, temporary = tempfile.mkstemp(prefix="netstack-tour-", suffix=".pcap")
        os.close(handle)
        pcap_path = temporary
    try:
        write_pcap(pcap_path, [(1_700_000_000 + index * 0.001, data) for index, (_, data) in enumerate(frames)])
        out.write(f"wrote {len(frames)} frames ({', '.join(what for what, _ in frames)}) to {pcap_path}\n")
        if not _tshark_summary(pcap_path, out):
            status = 1
    finally:
        if temporary is not None:
            os.unlink(temporary)
    return int(status)


if __name__ == "__main__":
    raise SystemExit(run_tour())
