"""Black-box protocol tests of any stack, scripted and property-based (packetdrill / packetimpact style).

* ``matchers``: layer matchers built from the declarations (``tcp(flags="SA", ack=isn + 1)``).
* ``bench``: the fake host on the DUT's link (``Bench.send``, ``expect``, ``expect_none``,
  ``expect_schedule``), one pcap per test, integrity checks on every frame received.
* ``wire``: the bench's port on a simulated link or an AF_PACKET socket.
* ``targets``: the DUTs (``sim``, ``tap``, ``linux``, ``cmd:COMMAND``) behind one interface.
* ``tcp_peer``: a scripted TCP peer (handshake, data with ACKs, close) with relative sequence numbers.
* ``tcp_model``: a hypothesis ``RuleBasedStateMachine`` that drives segments and checks invariants.
* ``plugin``: the pytest plugin (``pytest --dut sim|tap|linux|cmd:...``).

``expect(frame, matcher)`` checks one frame (integrity first, then the fields); ``Bench.expect`` waits
for one. See docs/testing.md.
"""

from netstack.testing.bench import Bench, ExpectationFailed, IntegrityError, expect
from netstack.testing.matchers import (
    ANY, all_of, any_of, arp, between, ethernet, has, icmp, ipv4, not_, predicate, tcp, udp,
)

__all__ = [
    "ANY", "Bench", "ExpectationFailed", "IntegrityError", "all_of", "any_of", "arp", "between", "ethernet",
    "expect", "has", "icmp", "ipv4", "not_", "predicate", "tcp", "udp",
]
