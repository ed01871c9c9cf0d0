"""The property-based driver (netstack.testing.tcp_model) passes on netstack and finds a planted bug."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from netstack.engine.tcp.receive import SEQ_MASK, ReceivePath
from netstack.testing.targets import LinuxTarget, SimTarget
from netstack.testing.tcp_model import TcpInvariantViolation, tcp_state_machine

SETTINGS = settings(max_examples=40, stateful_step_count=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow], print_blob=False, database=None)


def test_netstack_keeps_the_invariants_on_the_simulator():
    machine = tcp_state_machine(SimTarget())
    run_state_machine_as_test(machine, settings=SETTINGS)
    assert machine.last_steps is not None


def _accept_unsent_acks(original):
    """The planted bug: a segment acknowledging unsent data is processed instead of dropped."""

    def process_ack(self, seg, now):
        acked = (seg.ack - self.snd.una) & SEQ_MASK
        in_flight = (self.snd.max - self.snd.una) & SEQ_MASK
        if in_flight < acked < (1 << 31):
            return True  # BUG: RFC 9293 §3.10.7.4 says ACK, drop the segment and return
        return original(self, seg, now)

    return process_ack


def test_the_state_machine_finds_and_shrinks_a_planted_bad_ack_bug(monkeypatch):
    monkeypatch.setattr(ReceivePath, "_process_ack", _accept_unsent_acks(ReceivePath._process_ack))
    machine = tcp_state_machine(SimTarget())
    with pytest.raises(TcpInvariantViolation) as failure:
        run_state_machine_as_test(machine, settings=settings(SETTINGS, max_examples=200))
    assert "acknowledged unsent data" in str(failure.value)
    # shrunk to the one step that shows it: new data whose ACK covers data the DUT never sent
    assert machine.last_steps == ["send_data(size=1, ack=unsent)"], machine.last_steps


@pytest.mark.netns
def test_the_linux_kernel_keeps_the_invariants():
    """The same machine against the kernel, in real time: a few short runs (about half a minute)."""
    with LinuxTarget("linux") as target:
        machine = tcp_state_machine(target)
        run_state_machine_as_test(machine, settings=settings(SETTINGS, max_examples=4, stateful_step_count=6))
