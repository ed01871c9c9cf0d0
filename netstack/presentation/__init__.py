"""Presentation and teaching: what turns the declarations into text, tables and pictures.

- ``describe``         field tables of a header declaration (``netstack explain``)
- ``frame_text``       a decoded frame, every layer and field (``netstack decode``)
- ``formats_docs``     docs/formats.md, generated
- ``guide``            the crafting guide, executed as documentation
- ``tour``             ``netstack demo --formats``: craft, decode, write a pcap, read it back with tshark
- ``machine_diagram``  mermaid and dot text from a machine declaration (``netstack diagram``)
- ``machine_docs``     docs/machines.md, generated
"""
