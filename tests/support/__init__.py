"""Helpers shared by the tests, one module per concern, imported as ``from tests.support.X import ...``.

pyproject.toml's ``pythonpath = ["."]`` puts the repository root on the path, so no conftest edits
``sys.path``; test files never import each other, only from here.

- ``crafting``: frames built with the declarative schemas (an oracle independent of the engine's codec).
- ``format_inputs``: hypothesis strategies drawing *build inputs* for the formats tests.
- ``machine_models``: a model that answers the machines' guards from a dict and records every call.
- ``kernel_peers``: a private network namespace with netstack on a TAP and the kernel as the peer.
- ``errno_script``: one script of socket calls, run with the kernel's sockets and with netstack's.
"""
