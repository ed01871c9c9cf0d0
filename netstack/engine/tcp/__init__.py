"""TCP (RFC 9293) on top of the engine: one concern per module, as in gVisor's transport/tcp.

- ``seqnum``          modular 32-bit sequence-number arithmetic (RFC 9293 §3.4)
- ``isn``             initial sequence numbers from a keyed hash of the 4-tuple and a clock (RFC 6528)
- ``rto``             the retransmission timer's estimator: SRTT, RTTVAR, Karn, backoff (RFC 6298)
- ``send_buffer``     bytes the application wrote that are not yet acknowledged
- ``reassembly``      the bounded out-of-order queue: trims overlaps, drops duplicates
- ``receive_buffer``  in-order bytes waiting for the application, plus the reassembly queue
- ``options``         option negotiation: MSS, window scale, timestamps + PAWS, SACK-permitted (RFC 7323)
- ``segment``         the decoded form of a segment that the connection consumes and produces
- ``connection``      ``TcpConnection``: the TCB, driven by the TCP machine's table
- ``listener``        passive open: bounded SYN backlog and accept queue
- ``layer``           the transport registered on the stack: demultiplexing, RSTs, counters, traces
- ``endpoint``        a small non-blocking API (listen/connect/accept/send/recv/shutdown/close)
"""
