"""Drivers: what brings the sans-I/O engine to life. The only places with fds and real time.

- ``tap``                   a Linux TAP device in real time (``run_tap``), epoll loop on a thread
- ``segmentation_offload``  the TAP's virtio-net header: TSO/GSO both ways
- ``sim``                   an in-process simulated network on a virtual clock, seeded impairments
- ``netns``                 network namespaces for tests, demos and benchmarks (and tshark captures)
- ``link``                  live frames on an interface (AF_PACKET) or a TAP: send, sniff, sr1 (``netstack.link``)
"""
