"""Whatever arrives on the wire, the TCP layer never raises: random bytes, and well-formed segments with
arbitrary flags, sequence and acknowledgment numbers, windows and options, fed to a listener and to
connections in every state we can reach quickly. (ARCHITECTURE.md: the stack never dies from the wire.)"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netstack.formats import fast

from tests.support.sim_hosts import A, B, connected, two_tcp_hosts

options = st.lists(
    st.one_of(
        st.tuples(st.just(2), st.integers(0, 65535)),
        st.tuples(st.just(3), st.integers(0, 255)),
        st.tuples(st.just(4), st.none()),
        st.tuples(st.just(8), st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))),
        st.tuples(st.just(1), st.none()),
    ),
    max_size=4,
)
segments = st.lists(
    st.tuples(
        st.integers(0, 255),  # flags
        st.integers(-70000, 70000),  # seq offset from the connection's RCV.NXT
        st.integers(-70000, 70000),  # ack offset from SND.UNA
        st.integers(0, 65535),  # window
        options,
        st.binary(max_size=3000),
        st.booleans(),  # to the listening port (True) or the connection
    ),
    max_size=25,
)


def _setup(seed):
    net, a, b, ta, tb = two_tcp_hosts(seed=seed, delay=0.0001)
    client, accepted = connected(net, a, ta, tb, timeout=2)
    a.call(client.send, b"x" * 5000)
    net.run(0.01)
    return net, a, b, tb, accepted[0], client


@settings(max_examples=60)
@given(st.integers(0, 1000), segments, st.lists(st.binary(max_size=80), max_size=5), st.integers(0, 3))
def test_random_segments_never_raise(seed, segs, junk, close_mode):
    net, a, b, tb, stream, client = _setup(seed)
    if close_mode == 1:
        b.call(stream.close)
    elif close_mode == 2:
        b.call(stream.shutdown)
    elif close_mode == 3:
        a.call(client.close)
    net.run(0.01)
    conn = stream.conn
    for raw in junk:
        b.call(tb.receive, A, B, raw, net.clock)
    for flags, dseq, dack, window, opts, payload, to_listener in segs:
        dst_port = 80 if to_listener else conn.local_port
        src_port = 40000 if to_listener else conn.remote_port
        data = fast.encode_tcp(A, B, src_port, dst_port, seq=(conn.rcv.nxt + dseq) & 0xFFFFFFFF,
                               ack=(conn.snd.una + dack) & 0xFFFFFFFF, flags=flags, window=window,
                               options=opts, payload=payload)
        b.call(tb.receive, A, B, data, net.clock)
        net.run(0.001)
    net.run(200)  # every timer runs out (RTOs, TIME-WAIT, probes) without raising
    assert b.stack.counters["tcp.segments_in"] >= len(segs) // 2
