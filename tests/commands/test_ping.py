"""`netstack ping`: ping(8)-like output on the simulated network and against the kernel."""

from __future__ import annotations

import re

import pytest

from netstack.cli import main


def test_ping_sim_prints_like_ping8(capsys):
    assert main(["ping", "192.0.2.9", "--sim", "-c", "3", "-s", "100", "-i", "0.1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PING 192.0.2.9 (192.0.2.9) 100(128) bytes of data.")
    assert len(re.findall(r"108 bytes from 192\.0\.2\.9: icmp_seq=\d ttl=64 time=[\d.]+ ms", out)) == 3
    assert "3 packets transmitted, 3 received, 0% packet loss" in out
    assert re.search(r"rtt min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms", out)


def test_ping_sim_with_loss_exits_non_zero(capsys):
    assert main(["ping", "192.0.2.9", "--sim", "-c", "20", "-i", "0.1", "--loss", "0.5"]) == 1
    assert "packet loss" in capsys.readouterr().out


def test_ping_rejects_a_bad_host(capsys):
    assert main(["ping", "example.org", "--sim"]) == 1
    assert "HOST: 'example.org' is not an IPv4 address" in capsys.readouterr().err


@pytest.mark.netns
def test_ping_the_kernel_from_a_private_namespace(capsys):
    assert main(["ping", "192.0.2.1", "-c", "3", "-s", "2000", "-i", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "3 packets transmitted, 3 received, 0% packet loss" in out
    assert out.count("2008 bytes from 192.0.2.1") == 3


@pytest.mark.netns
def test_ping_an_absent_host_prints_destination_host_unreachable(capsys):
    assert main(["ping", "192.0.2.77", "-c", "1", "-W", "4"]) == 1
    assert "Destination Host Unreachable" in capsys.readouterr().out


def test_ping_sim_summary_time_is_not_padded_with_the_timeout(capsys):
    assert main(["ping", "192.0.2.1", "--sim", "-c", "3", "-i", "0.2", "-W", "10"]) == 0
    out = capsys.readouterr().out
    summary = re.search(r"3 packets transmitted, 3 received, 0% packet loss, time (\d+)ms", out)
    assert summary, out
    # Two intervals of 200 ms plus the last round trip, as ping(8) counts it; not 400 ms + 10 s.
    assert 400 <= int(summary.group(1)) < 1000, out


def test_ping_sim_unanswered_waits_for_the_timeout(capsys):
    assert main(["ping", "192.0.2.1", "--sim", "-c", "2", "-i", "0.2", "-W", "3", "--loss", "1"]) == 1
    out = capsys.readouterr().out
    summary = re.search(r"2 packets transmitted, 0 received, (\+2 errors, )?100% packet loss, time (\d+)ms", out)
    assert summary and int(summary.group(2)) >= 3000, out
