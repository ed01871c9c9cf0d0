"""RFC 9293 §3.10.7.4: while our receive window is zero, valid ACKs are still taken.

Regression: an echo of a bulk stream fills both windows; each side's zero-window probe moves its
SND.NXT one past the other's RCV.NXT, so every later ACK arrived "outside the window" and was dropped,
and both connections backed off to a 60 s RTO for good (seed 2 stalled at 5.19 of 8 MiB). The demo's
echo step reproduces it exactly; it must now complete with the stream intact.
"""

from __future__ import annotations

import functools

import pytest

import netstack.sim
from netstack.commands import demo_sim, demo_steps
from netstack.apps.services import start_services
from netstack.engine.tcp import layer as tcp_layer
from netstack.engine.tcp.config import TcpConfig


def _echo_round_trip(seed: int, monkeypatch) -> tuple[tuple, int]:
    monkeypatch.setattr(demo_sim, "SIM_BULK_BYTES", 8 << 20)
    # Fixed 256 KiB receive buffers, as when the stall was found: autotuned ones grow past what an echo
    # of 8 MiB can fill, and the windows this regression is about never close.
    monkeypatch.setattr(tcp_layer, "TcpConfig", functools.partial(TcpConfig, buffer_autotuning=False))
    network = netstack.sim.Network(seed=seed)
    ours = network.host(f"{demo_steps.STACK_IP}/24", name="netstack")
    peer = network.host(f"{demo_steps.HOST_IP}/24", name="peer")
    link = network.link(ours, peer, delay=100e-6)
    ours.call(start_services, ours.stack, ["echo"])
    context = demo_steps.DemoContext(running=ours, network=network, peer=peer, link=link)
    try:
        rows = demo_steps.run_steps([("echo", demo_sim.sim_step_bulk_echo)], context)
        taken = sum(host.stack.counters.get("tcp.zero_window_acks_taken", 0) for host in (ours, peer))
    finally:
        network.close()
    return rows[0], taken


def test_echo_of_a_bulk_stream_survives_both_windows_closing(monkeypatch):
    # Seed 2 reproduced the stall before byte counting (RFC 3465) and SACK changed the dynamics; which
    # seeds close both windows moves with every such change, so take the first of a few that does.
    taken = 0
    for seed in (103, 128, 32, 3, 5, 13, 20, 6, 26, *range(33, 70)):
        (title, status, result, _), taken = _echo_round_trip(seed, monkeypatch)
        assert status == "ok", result
        assert "8 MiB there and back, sha256 equal" in result
        if taken:
            break
    # the allowance was what carried it through: ACKs were taken while a window was zero
    assert taken > 0


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_echo_of_a_bulk_stream_completes_for_other_seeds(seed, monkeypatch):
    (title, status, result, _), taken = _echo_round_trip(seed, monkeypatch)
    assert status == "ok", result
