"""`netstack demo` (TAP tour as root, --sim anywhere) and its refusal without root."""

from __future__ import annotations

import pytest

from netstack.cli import main


def test_demo_sim_runs_every_step_and_prints_the_table(capsys):
    assert main(["demo", "--sim"]) == 0
    out = capsys.readouterr().out
    for title in ("ping, 56 bytes x5", "ping, 3000 bytes x5", "UDP echo (port 7)", "UDP to a closed port"):
        assert title in out
    assert "FAILED" not in out
    assert "8000 bytes back identical" in out and "ECONNREFUSED" in out


def test_demo_without_root_says_so_and_suggests_sim(monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "needs root" in err and "netstack demo --sim" in err


def test_a_failing_step_is_reported_and_fails_the_tour(capsys):
    from netstack.commands import demo

    def broken(context):
        raise demo.DemoFailure("0/5 replies")

    rows = demo.run_steps([("always fails", broken), ("fine", lambda context: "yes")], context=None)
    assert [(row[0], row[1], row[2]) for row in rows] == [("always fails", "FAILED", "0/5 replies"),
                                                         ("fine", "ok", "yes")]


@pytest.mark.netns
def test_demo_against_the_kernel(capsys):
    status = main(["demo"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "kernel ping, 3000 bytes x5" in out and "ConnectionRefusedError" in out
    assert "deleted" in out
