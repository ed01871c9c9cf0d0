"""Two hosts on one simulated link (``netstack.sim``): the setting of the TCP, apps and socket tests.

``two_tcp_hosts`` gives each host a TCP layer of its own configuration (ISN secrets fixed, so a run
is reproducible by its seed); ``connected`` opens one connection from a to b's listening port;
``socket_hosts`` is the socket tests' pair, b's TCP attached so that it answers SYNs.
"""

from __future__ import annotations

import netstack.sim as sim
from netstack.engine.tcp.endpoint import TcpServer, TcpStream
from netstack.engine.tcp.layer import TcpLayer

A = bytes([192, 0, 2, 1])
B = bytes([192, 0, 2, 2])


def two_tcp_hosts(config_a=None, config_b=None, *, tcp_on_b=True, seed=1, delay=0.001, **link):
    """(net, a, b, ta, tb): a 192.0.2.1 and b 192.0.2.2 on one link, each with a TcpLayer (tb None
    with ``tcp_on_b=False``); ``link`` holds the link's impairments."""
    net = sim.Network(seed=seed)
    a = net.host("192.0.2.1/24")
    b = net.host("192.0.2.2/24")
    net.link(a, b, delay=delay, **link)
    ta = TcpLayer.attach(a.stack, config_a, isn_secret=b"a")
    tb = TcpLayer.attach(b.stack, config_b, isn_secret=b"b") if tcp_on_b else None
    return net, a, b, ta, tb


def connected(net, a, ta, tb, port: int = 80, timeout: float = 5.0):
    """(client stream, accepted list): a listener on b's ``port`` and one connection from a, accepted."""
    server = TcpServer(tb, port)
    accepted = []
    server.on_accept = lambda srv, now: accepted.append(srv.accept())
    client = a.call(TcpStream.connect, ta, B, port)
    net.run_until(lambda: accepted, timeout)
    return client, accepted


def socket_hosts(seed: int, a_ip: str = "192.0.2.2", b_ip: str = "192.0.2.3"):
    """A network with hosts ``.a`` and ``.b`` and their link ``.ab``, for socket calls on both sides."""
    network = sim.Network(seed=seed)
    a = network.host(f"{a_ip}/24", name="a")
    b = network.host(f"{b_ip}/24", name="b")
    link = network.link(a, b, delay=0.001)
    network.a, network.b, network.ab = a, b, link
    b.socket().close()  # attaches b's TCP (without it, b answers SYNs with protocol unreachable)
    return network



