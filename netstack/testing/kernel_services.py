"""echo, discard, chargen and HTTP as kernel sockets, for the ``linux`` target (run inside its namespace).

``python -m netstack.testing.kernel_services echo,discard,chargen,http`` binds TCP 7 (RFC 862), 9
(RFC 863), 19 (RFC 864), 80 (a one-page HTTP/1.1 server) and UDP 7 and 9, prints ``ready`` and
serves until SIGTERM, one thread per connection. These are the same ports ``netstack up
--services`` offers, so the RFC cases talk to the kernel and to netstack alike.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading

PORTS = {"echo": 7, "discard": 9, "chargen": 19, "http": 80}
CHARGEN_LINE = bytes(range(33, 33 + 72)) + b"\r\n"  # RFC 864: rotating printable ASCII, 72 per line
HTTP_BODY = b"netstack testing bench: the kernel under test\n"


def _serve_tcp(name: str, connection: socket.socket) -> None:
    with connection:
        try:
            if name == "echo":
                while data := connection.recv(65536):
                    connection.sendall(data)
            elif name == "discard":
                while connection.recv(65536):
                    pass
            elif name == "chargen":
                for _ in range(100_000):  # bounded: ~7 MB, then close
                    connection.sendall(CHARGEN_LINE)
            elif name == "http":
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 16384:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                                   + str(len(HTTP_BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + HTTP_BODY)
        except OSError:
            return


def _accept_loop(name: str, listener: socket.socket) -> None:
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=_serve_tcp, args=(name, connection), daemon=True).start()


def _udp_loop(name: str, sock: socket.socket) -> None:
    while True:
        data, peer = sock.recvfrom(65536)
        if name == "echo":
            sock.sendto(data, peer)


def main(argv: list[str]) -> int:
    names = [n for n in (argv[0] if argv else "echo,discard,chargen,http").split(",") if n]
    for name in names:
        if name not in PORTS:
            print(f"unknown service {name!r}; known: {', '.join(PORTS)}", file=sys.stderr)
            return 2
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", PORTS[name]))
        listener.listen(128)
        threading.Thread(target=_accept_loop, args=(name, listener), daemon=True).start()
        if name in ("echo", "discard"):
            datagram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            datagram.bind(("0.0.0.0", PORTS[name]))
            threading.Thread(target=_udp_loop, args=(name, datagram), daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
