"""A chat server on netstack driven by ``selectors``: every line a client sends goes to all the others.

    sudo python3 examples/chat_server.py     # private namespace, three kernel clients chat

One thread, non-blocking sockets, ``selectors.DefaultSelector`` (epoll) over their ``fileno()`` —
the same code runs on kernel sockets. ``ChatServer(stack, port).serve(stop)`` runs until ``stop``.
"""

from __future__ import annotations

import selectors
import socket
import threading

PORT = 7070


class ChatServer:
    def __init__(self, stack, port: int = PORT):
        self.selector = selectors.DefaultSelector()
        self.listener = stack.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("", port))
        self.listener.listen()
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.clients: dict = {}  # socket -> (pending input, pending output)

    def serve(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                for key, events in self.selector.select(timeout=0.2):
                    if key.fileobj is self.listener:
                        self._accept()
                        continue
                    if events & selectors.EVENT_READ:
                        self._read(key.fileobj)
                    if events & selectors.EVENT_WRITE and key.fileobj in self.clients:
                        self._flush(key.fileobj)
        finally:
            for sock in list(self.clients):
                self._drop(sock)
            self.selector.unregister(self.listener)
            self.listener.close()
            self.selector.close()

    def _accept(self) -> None:
        try:
            sock, _address = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        self.clients[sock] = [bytearray(), bytearray()]
        self.selector.register(sock, selectors.EVENT_READ)

    def _read(self, sock) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        pending = self.clients[sock][0]
        pending += data
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            for other in self.clients:
                if other is not sock:
                    self.clients[other][1] += line + b"\n"
                    self._flush(other)

    def _flush(self, sock) -> None:
        output = self.clients[sock][1]
        try:
            while output:
                sent = sock.send(output)
                del output[:sent]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(sock)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if output else 0)
        self.selector.modify(sock, events)

    def _drop(self, sock) -> None:
        self.clients.pop(sock, None)
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()


def main() -> int:
    import time

    import netstack
    from netstack.drivers.netns import NetworkNamespace

    with NetworkNamespace() as ns, netstack.run_tap(tap="nstchat0", ip="192.0.2.2/24", host_ip="192.0.2.1/24",
                                                    netns=ns.name) as stack:
        stop = threading.Event()
        server = ChatServer(stack)
        thread = threading.Thread(target=server.serve, args=(stop,), daemon=True)
        thread.start()
        clients = []
        for _ in range(3):
            client = ns.socket()
            client.settimeout(10)
            client.connect(("192.0.2.2", PORT))
            clients.append(client)
        time.sleep(0.2)
        clients[0].sendall(b"hello from client 0\n")
        for client in clients[1:]:
            print("received:", client.recv(100).decode().strip())
        for client in clients:
            client.close()
        stop.set()
        thread.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
