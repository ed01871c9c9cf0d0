"""Property: any sequence of socket calls on a simulated connection keeps the socket layer's contract.

Hypothesis draws calls (send, recv, shutdown, close, options, time passing) for both ends of a TCP
connection on a lossy, reordering simulated link. After every step:

- a call either succeeds or raises ``OSError`` (a ``TimeoutError`` for timeouts), never anything else;
- the fd's readiness seen by ``select`` equals the socket's readiness once the network ran;
- the bytes each side received are a prefix of what the other side sent (exactly once, in order).
"""

from __future__ import annotations

import select
import socket
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

import netstack

A_IP, B_IP = "192.0.2.2", "192.0.2.3"

CALLS = st.one_of(
    st.tuples(st.just("send"), st.sampled_from("ab"), st.integers(0, 70000)),
    st.tuples(st.just("recv"), st.sampled_from("ab"), st.integers(0, 70000)),
    st.tuples(st.just("shutdown"), st.sampled_from("ab"), st.sampled_from([0, 1, 2])),
    st.tuples(st.just("close"), st.sampled_from("ab"), st.booleans()),
    st.tuples(st.just("option"), st.sampled_from("ab"), st.sampled_from(["nodelay", "rcvbuf", "keepalive",
                                                                          "error", "info", "peer"])),
    st.tuples(st.just("run"), st.just("a"), st.sampled_from([0.0, 0.001, 0.05, 0.5, 3.0])),
)


def _connected(seed: int, loss: float):
    net = netstack.sim.Network(seed=seed)
    a, b = net.host(f"{A_IP}/24"), net.host(f"{B_IP}/24")
    link = net.link(a, b, delay=0.001, jitter=0.001)
    server = b.socket()
    server.bind(("", 80))
    server.listen()
    client = a.socket()
    client.settimeout(30)
    client.connect((B_IP, 80))
    server.settimeout(30)
    accepted, _ = server.accept()
    link.loss, link.reorder = loss, loss
    return net, {"a": client, "b": accepted}, server


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 16), loss=st.sampled_from([0.0, 0.05]), calls=st.lists(CALLS, min_size=4, max_size=30))
def test_socket_calls_keep_the_contract(seed, loss, calls):
    net, socks, server = _connected(seed, loss)
    sent = {"a": bytearray(), "b": bytearray()}
    received = {"a": bytearray(), "b": bytearray()}
    counter = 0
    for name, side, argument in calls:
        sock = socks[side]
        sock.setblocking(False)
        try:
            if name == "send":
                counter += 1
                data = bytes([counter % 251]) * argument
                n = sock.send(data)
                sent[side] += data[:n]
            elif name == "recv":
                received[side] += sock.recv(argument)
            elif name == "shutdown":
                sock.shutdown(argument)
            elif name == "close":
                if argument:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            elif name == "option":
                if argument == "nodelay":
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                elif argument == "rcvbuf":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                elif argument == "keepalive":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                elif argument == "error":
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                elif argument == "info":
                    assert sock.tcp_info()["state"]
                else:
                    sock.getpeername()
            else:
                net.run(argument)
        except OSError:
            pass  # any errno is fine here: the parity test checks which; the type is the contract
        net.run(0.002)
        for other, sock in socks.items():
            if sock.fileno() < 0:
                continue
            readable, writable = sock._host.call(sock._readiness)
            r, w, _ = select.select([sock], [sock], [], 0)
            assert (bool(r), bool(w)) == (readable, writable), (other, readable, writable)
    peer = {"a": "b", "b": "a"}
    for side in "ab":
        assert bytes(received[side]) == bytes(sent[peer[side]][:len(received[side])])
    for sock in (*socks.values(), server):
        sock.close()
