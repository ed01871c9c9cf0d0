"""An echo server on netstack, written with nothing but the standard socket idioms (a thread per client).

    sudo python3 examples/echo_server.py          # creates a private namespace, a TAP, a kernel client

``serve(stack, port, stop)`` is the server: change ``stack.socket`` back to ``socket.socket`` and it
runs on the kernel. ``main`` creates a network namespace, runs netstack on a TAP inside it, sends a
few lines from a kernel client (``socket`` in the namespace) and prints what came back.
"""

from __future__ import annotations

import socket
import threading

PORT = 7007


def handle(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def serve(stack, port: int = PORT, stop: threading.Event | None = None, ready: threading.Event | None = None) -> None:
    """Accept clients until ``stop`` is set; each one gets its bytes back until it closes."""
    stop = stop or threading.Event()
    with stack.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("", port))
        server.listen()
        server.settimeout(0.2)  # so that ``stop`` is noticed
        if ready is not None:
            ready.set()
        while not stop.is_set():
            try:
                conn, _address = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()


def main() -> int:
    import netstack
    from netstack.drivers.netns import NetworkNamespace

    with NetworkNamespace() as ns, netstack.run_tap(tap="nstecho0", ip="192.0.2.2/24", host_ip="192.0.2.1/24",
                                                    netns=ns.name) as stack:
        stop, ready = threading.Event(), threading.Event()
        thread = threading.Thread(target=serve, args=(stack, PORT, stop, ready), daemon=True)
        thread.start()
        ready.wait(10)
        with ns.socket() as client:  # a kernel socket inside the namespace
            client.settimeout(10)
            client.connect(("192.0.2.2", PORT))
            for line in (b"hello\n", b"netstack\n"):
                client.sendall(line)
                print("echoed:", client.recv(100).decode().strip())
        stop.set()
        thread.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
