"""Protocol state machines, declared with `transitions`, run from tables derived at import time.

- ``netstack.machines.tcp_connection``: RFC 9293 connection states (``TcpState``, ``TCP_TABLE``).
- ``netstack.machines.congestion``: RFC 5681/6582 phases and the ``CongestionControl`` interface;
  ``netstack.machines.reno``: ``NewReno``.
- ``netstack.machines.arp_neighbour``: RFC 4861 §7.3.2 neighbour states for ARP (``NEIGHBOUR_TABLE``).
- ``netstack.machines.table``: how a declaration becomes a ``TransitionTable`` (``fire`` rules).
- ``netstack.presentation.machine_diagram``: mermaid and dot text from a declaration;
  ``python -m netstack.presentation.machine_docs`` regenerates docs/machines.md.

Each machine module builds one `transitions` Machine (the declaration, the teaching view, the
diagram source) and derives its table from it; connections and neighbour entries are plain objects
with a ``state`` attribute, so a connection costs no machine of its own.
"""
