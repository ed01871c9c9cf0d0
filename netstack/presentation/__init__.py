"""Presentation and teaching: what turns the declarations into text, tables and pictures.

- ``describe``         field tables of a header declaration (``netstack explain``)
- ``frame_text``       a decoded frame, every layer and field (``netstack decode``)
- ``formats_docs``     docs/formats.md, generated
- ``guide``            the crafting guide, executed as documentation
- ``tour``             ``netstack demo --formats``: craft, decode, write a pcap, read it back with tshark
- ``machine_diagram``  mermaid and dot text from a machine declaration (``netstack diagram``)
- ``machine_docs``     docs/machines.md, generated
- ``trace_view``       ``--trace``: time order, relative sequence numbers, colour or JSON lines
- ``trace_rules``      the RFC rule behind each trace event (state changes: the machine row that fired)
- ``connection_table`` ``netstack ss``: the TCP connection table of a stack, like ``ss -tni``
- ``tcp_series``       the numbers a picture of a connection draws, from a pcap or trace JSON lines
- ``tcp_plots``        time-sequence graph and cwnd/ssthresh/srtt plots (matplotlib, the plot extra)
- ``ladder``           ladder diagram of a connection: SVG written directly, mermaid sequenceDiagram
- ``sim_transfer``     a lossy simulated bulk transfer recorded as pcap + trace (``netstack plot --sim``)
"""
