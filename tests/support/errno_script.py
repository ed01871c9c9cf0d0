"""One script of socket calls, run with the kernel's sockets and with netstack's: the errno parity test.

``run_script(make_socket, env)`` performs every step with sockets from ``make_socket(family, type)``
and returns ``[(step, outcome), ...]``; an outcome is an errno name ("ECONNREFUSED"), "timeout"
(``TimeoutError`` without errno), "eof" (recv returned b""), "ok", or a small value (select results,
SO_ERROR names). ``env`` gives the addresses and the kernel peer both runs use:

- ``env.server_ip``: where ``env.port`` listens (a kernel socket) and ``env.closed_port`` does not;
- ``env.own_ip``: the address of the sockets under test; ``env.blackhole_ip``: on the link, no host;
- ``env.accept(behaviour)``: the kernel listener accepts one connection and then "reset"s it
  (SO_LINGER 0), "close"s it, or "hold"s it.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import time

STREAM, DGRAM = socket.SOCK_STREAM, socket.SOCK_DGRAM


def outcome(function) -> str:
    try:
        result = function()
    except TimeoutError as error:
        if error.errno is None:
            return "timeout"
        return errno.errorcode[error.errno]
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))
    if result is None:
        return "ok"
    if isinstance(result, bytes):
        return "eof" if result == b"" else "data"
    return result


def _error_name(code: int) -> str:
    return "0" if code == 0 else errno.errorcode[code]


def _writable(sock, timeout=3.0) -> bool:
    return bool(select.select([], [sock], [], timeout)[1])


def _readable(sock, timeout=3.0) -> bool:
    return bool(select.select([sock], [], [], timeout)[0])


def run_script(make_socket, env) -> list[tuple[str, str]]:
    steps: list[tuple[str, str]] = []

    def step(name, function):
        steps.append((name, outcome(function)))

    server = (env.server_ip, env.port)
    closed = (env.server_ip, env.closed_port)

    # -- a fresh socket ------------------------------------------------------------------------
    with make_socket(socket.AF_INET, STREAM) as s:
        step("fresh recv", lambda: s.recv(10))
        step("fresh send", lambda: s.send(b"x"))
        step("fresh getpeername", s.getpeername)
        step("fresh shutdown", lambda: s.shutdown(socket.SHUT_RDWR))
        step("fresh accept", s.accept)
        step("fresh SO_ERROR", lambda: _error_name(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))
        step("unknown SOL_SOCKET option", lambda: s.getsockopt(socket.SOL_SOCKET, 9999))
        step("unknown TCP option", lambda: s.setsockopt(socket.IPPROTO_TCP, 9999, 1))
        step("TCP_KEEPIDLE 0", lambda: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 0))
        step("shutdown how=7", lambda: s.shutdown(7))

    # -- bind ----------------------------------------------------------------------------------
    with make_socket(socket.AF_INET, STREAM) as a, make_socket(socket.AF_INET, STREAM) as b:
        step("bind non-local address", lambda: a.bind(("203.0.113.77", 0)))
        step("bind", lambda: a.bind((env.own_ip, env.bind_port)))
        step("bind twice (same socket)", lambda: a.bind((env.own_ip, env.bind_port + 1)))
        step("bind a port in use", lambda: b.bind(("", env.bind_port)))
        step("listen", lambda: a.listen(5))
        a.setblocking(False)
        step("accept none waiting (non-blocking)", a.accept)
        step("recv on listener", lambda: a.recv(10))
        step("send on listener", lambda: a.send(b"x"))
        step("connect on listener", lambda: a.connect(server))
        step("listener readable", lambda: _readable(a, 0.05))

    # -- refused -------------------------------------------------------------------------------
    with make_socket(socket.AF_INET, STREAM) as s:
        s.settimeout(5)
        step("connect to closed port", lambda: s.connect(closed))
        step("connect again after refusal", lambda: s.connect(closed))
    with make_socket(socket.AF_INET, STREAM) as s:
        s.settimeout(5)
        step("connect_ex to closed port", lambda: errno.errorcode[s.connect_ex(closed)])
    with make_socket(socket.AF_INET, STREAM) as s:
        s.setblocking(False)
        step("non-blocking connect to closed port", lambda: s.connect(closed))
        step("writable after refusal", lambda: _writable(s))
        step("SO_ERROR after refusal", lambda: _error_name(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))
        step("SO_ERROR read twice", lambda: _error_name(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))
        step("connect after SO_ERROR was read", lambda: s.connect(closed))
    with make_socket(socket.AF_INET, STREAM) as s:
        step("connect without a route", lambda: s.connect(("203.0.113.5", 80)))

    # -- non-blocking connect that succeeds ----------------------------------------------------
    with make_socket(socket.AF_INET, STREAM) as s:
        s.setblocking(False)
        step("non-blocking connect", lambda: s.connect(server))
        step("recv right after non-blocking connect", lambda: s.recv(10))
        step("writable when connected", lambda: _writable(s))
        step("SO_ERROR when connected", lambda: _error_name(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))
        step("connect again when connected", lambda: s.connect(server))
        step("connect a third time", lambda: s.connect(server))
        env.accept("hold")
        step("recv nothing (non-blocking)", lambda: s.recv(10))
        s.settimeout(0.2)
        step("recv nothing (timeout)", lambda: s.recv(10))
        step("shutdown SHUT_WR", lambda: s.shutdown(socket.SHUT_WR))
        step("send after SHUT_WR", lambda: s.send(b"x"))
        env.release()

    # -- in progress (nobody answers) ----------------------------------------------------------
    with make_socket(socket.AF_INET, STREAM) as s:
        s.setblocking(False)
        step("connect to a silent host", lambda: s.connect((env.blackhole_ip, 80)))
        step("connect while in progress", lambda: s.connect((env.blackhole_ip, 80)))
        step("recv while connecting", lambda: s.recv(10))
        step("send while connecting", lambda: s.send(b"x"))
        step("getpeername while connecting", s.getpeername)
        step("writable while connecting", lambda: _writable(s, 0.1))

    # -- the peer resets -----------------------------------------------------------------------
    with make_socket(socket.AF_INET, STREAM) as s:
        s.settimeout(5)
        s.connect(server)
        env.accept("reset")
        step("readable after RST", lambda: _readable(s))
        step("send after peer reset", lambda: s.send(b"x"))
        step("send again after reset", lambda: s.send(b"x"))
        step("recv after reset", lambda: s.recv(10))
        step("getpeername after reset", s.getpeername)
    with make_socket(socket.AF_INET, STREAM) as s:
        s.settimeout(5)
        s.connect(server)
        env.accept("reset")
        _readable(s)
        step("recv after peer reset", lambda: s.recv(10))
        step("recv again after reset", lambda: s.recv(10))
        step("send after reset was reported", lambda: s.send(b"x"))
        step("shutdown after reset", lambda: s.shutdown(socket.SHUT_RDWR))

    # -- the peer closes, then resets our data -------------------------------------------------
    with make_socket(socket.AF_INET, STREAM) as s:
        s.settimeout(5)
        s.connect(server)
        env.accept("close")
        step("recv after peer FIN", lambda: s.recv(10))
        step("send to a closed peer", lambda: s.send(b"x"))
        time.sleep(0.3)  # the peer's RST answers that byte
        step("send after RST in CLOSE-WAIT", lambda: s.send(b"x"))
        step("send again", lambda: s.send(b"x"))

    # -- closed socket -------------------------------------------------------------------------
    s = make_socket(socket.AF_INET, STREAM)
    s.close()
    step("fileno after close", s.fileno)
    step("send after close", lambda: s.send(b"x"))
    step("bind after close", lambda: s.bind(("", 0)))
    step("close twice", s.close)

    # -- UDP -----------------------------------------------------------------------------------
    with make_socket(socket.AF_INET, DGRAM) as u:
        u.setblocking(False)
        step("udp recv nothing", lambda: u.recv(10))
        step("udp getpeername unconnected", u.getpeername)
        step("udp send unconnected", lambda: u.send(b"x"))
        step("udp sendto 70000 bytes", lambda: u.sendto(b"x" * 70000, server))
        step("udp connect", lambda: u.connect((env.server_ip, env.closed_port)))
        step("udp send to closed port", lambda: u.send(b"x"))
        time.sleep(0.3)  # the ICMP port unreachable
        step("udp recv after port unreachable", lambda: u.recv(10))
        step("udp recv again", lambda: u.recv(10))
        step("udp unknown option", lambda: u.setsockopt(socket.SOL_SOCKET, 9999, 1))
    return steps


def linger_abort() -> bytes:
    return struct.pack("ii", 1, 0)
