"""Helpers shared by the tests, one module per concern, imported as ``from tests.support.X import ...``.

pyproject.toml's ``pythonpath = ["."]`` puts the repository root on the path, so no conftest edits
``sys.path``; test files never import each other, only from here.

- ``crafting``: frames built with the declarative schemas (an oracle independent of the engine's
  codec), a stack that already knows its peer, a transport that records what the stack hands it.
- ``format_inputs``: hypothesis strategies drawing *build inputs* for the formats tests.
- ``machine_models``: a model that answers the machines' guards from a dict and records every call.
- ``tcp_pair``: two TcpConnections wired back to back in memory, with a tiny event loop.
- ``sim_hosts``: two hosts on a simulated link, with TCP layers or for socket calls.
- ``kernel_peers``: a private network namespace with netstack on a TAP and the kernel as the peer.
- ``veth_peers``: a veth pair in a private namespace, one end for ``netstack.link``, the kernel on the other.
- ``errno_script``: one script of socket calls, run with the kernel's sockets and with netstack's.
- ``external_tools``: ``require_tool``, which skips a test whose program (tshark, ping ...) is missing.
- ``trace_scenarios``: scripted simulator runs recorded through the trace view (golden trace lines).
- ``pcap_oracle``: a pcap's time-sequence numbers read with scapy, to compare with what is plotted.
- ``tutorial_blocks``: the fenced blocks of a tutorial chapter and the markers saying how to run them.
"""
