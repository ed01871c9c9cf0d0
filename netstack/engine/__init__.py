"""The sans-I/O engine: frames and the current time in, frames and the next deadline out.

- ``stack``          ``Stack``: the layers wired together, ``receive(frame, now)`` / ``poll(now)``
- ``config``         ``StackConfig``: typed, validated configuration and address conversions
- ``timers``         the deadline wheel every layer schedules on
- ``observability``  counters and trace events
- ``arp``            ARP (RFC 826) with RFC 4861-style neighbour states from the ARP machine
- ``ipv4``           IPv4 (RFC 791, RFC 1122): validation, routing to a gateway, fragmentation
- ``reassembly``     IPv4 fragment reassembly (RFC 791 §3.2, RFC 815), bounded
- ``icmp``           ICMP (RFC 792): echo, errors, errors delivered to transports
- ``udp``            UDP (RFC 768) endpoints
- ``tcp/``           TCP (RFC 9293), one concern per module

Nothing here opens a file descriptor, starts a thread or reads a clock: the drivers
(``netstack.drivers``) do that, and an import contract keeps it so.
"""
