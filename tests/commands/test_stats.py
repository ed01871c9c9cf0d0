"""`netstack stats`: the simulated session's counters as JSON and as drop reasons only, and a stats file
read back as a table, or refused in one line when it is not a stats file."""

from __future__ import annotations

import json
import re

import pytest

from netstack.cli import main


def test_stats_sim_json_holds_both_stacks_and_the_link(capsys):
    assert main(["stats", "--sim", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    ours, peer, link = result["netstack 192.0.2.2"], result["peer 192.0.2.1"], result["link"]
    # The session: 50 pings of 3000 bytes from the peer, over a lossy link; ours answers those whose
    # fragments all arrived, the peer counts the replies that came back.
    assert peer["icmp.echo_request_sent"] == 50
    assert 0 < ours["icmp.echo_replied"] <= ours["icmp.echo_request_received"] <= 50
    assert peer["icmp.echo_reply_received"] <= ours["icmp.echo_replied"]
    assert ours["services.udp_echo"] > 0 and ours["services.udp_discard"] > 0
    assert link["frames_sent"] > 0 and link["lost"] > 0  # the session's link is lossy


def test_stats_sim_drops_shows_only_drop_reasons(capsys):
    assert main(["stats", "--sim", "--drops"]) == 0
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert rows and all(".drop." in name or name == "(none)" for name in rows), rows


@pytest.mark.parametrize("content", ["[1]", '{"counters": 5}', "not json", ""])
def test_stats_file_that_is_not_a_stats_file_gives_one_line_on_stderr(tmp_path, capfd, content):
    path = tmp_path / "stats.json"
    path.write_text(content)
    assert main(["stats", "--file", str(path)]) == 1
    captured = capfd.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and captured.err.startswith("netstack stats: ")


def test_stats_file_is_printed_as_a_table(tmp_path, capsys):
    path = tmp_path / "stats.json"
    path.write_text(json.dumps({"tap": "nst9", "ip": "192.0.2.9/24", "pid": 1, "time": 0,
                                "counters": {"ipv4.drop.bad_checksum": 2, "ipv4.received": 5}}))
    assert main(["stats", "--file", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nst9 192.0.2.9/24 (pid 1,")
    assert re.search(r"ipv4\.drop\.bad_checksum\s+2", out) and re.search(r"ipv4\.received\s+5", out)
    assert main(["stats", "--file", str(path), "--drops"]) == 0
    out = capsys.readouterr().out
    assert "ipv4.drop.bad_checksum" in out and "ipv4.received" not in out
