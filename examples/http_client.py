"""An HTTP/1.1 client on netstack with the standard socket idioms: connect, sendall, makefile.

    sudo python3 examples/http_client.py     # private namespace: kernel http.server <- netstack client

``fetch(stack, host, port, path)`` returns (status, headers, body); it reads the response through
``sock.makefile("rb")`` exactly as code written for ``socket.socket`` would (Content-Length or read
to the end). ``main`` serves a directory with ``python3 -m http.server`` inside a private namespace and
fetches a file from it over netstack.
"""

from __future__ import annotations

import socket


def fetch(stack, host: str, port: int = 80, path: str = "/", timeout: float = 10.0):
    with stack.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("ascii"))
        with sock.makefile("rb") as response:
            status_line = response.readline().decode("iso-8859-1").rstrip("\r\n")
            status = int(status_line.split()[1])
            headers = {}
            while (line := response.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("iso-8859-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if "content-length" in headers:
                body = response.read(int(headers["content-length"]))
            else:
                body = response.read()
    return status, headers, body


def main() -> int:
    import pathlib
    import tempfile
    import time

    import netstack
    from netstack.drivers.netns import NetworkNamespace

    with tempfile.TemporaryDirectory() as directory, NetworkNamespace() as ns, netstack.run_tap(
            tap="nsthttp0", ip="192.0.2.2/24", host_ip="192.0.2.1/24", netns=ns.name) as stack:
        (pathlib.Path(directory) / "hello.txt").write_text("hello from the kernel's http.server\n")
        ns.popen(["python3", "-m", "http.server", "8000", "--bind", "192.0.2.1", "--directory", directory])
        for _ in range(50):  # until the server listens
            try:
                status, headers, body = fetch(stack, "192.0.2.1", 8000, "/hello.txt")
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        else:
            return 1
        print(status, headers.get("content-type"), body.decode().strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
