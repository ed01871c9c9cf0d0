"""A minimal HTTP/1.1 client over netstack's TCP (RFC 9112 message syntax), for ``netstack get``.

``HttpDownload`` is event-driven on the stack's thread: it connects, sends one ``GET`` with
``Connection: close``, parses the status line and headers, and streams the body to ``sink`` (a binary
file) as it arrives: with ``Content-Length``, with ``Transfer-Encoding: chunked``, or until the server
closes. ``done`` is set at the end; ``error`` holds what went wrong (an ``OSError`` from the transport
or a ``ValueError`` for a response we do not understand). Status codes other than 2xx are reported,
with the body still written (like ``curl -o``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from netstack.engine.tcp.endpoint import TcpStream

MAX_HEADER = 64 * 1024
#: A chunk-size line (RFC 9112 §7.1: hex size, extensions) longer than this is an error, not a buffer.
MAX_CHUNK_LINE = 4096


def parse_url(url: str) -> tuple[str, int, str]:
    """``http://HOST[:PORT]/PATH`` -> (host, port, path-with-query); ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"only http:// URLs are supported, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, parts.port or 80, path


class HttpDownload:
    """One GET, streamed to ``sink``; drive it by running the stack (see the module docstring)."""

    def __init__(self, layer, address: bytes, port: int, path: str, host: str, sink, now: float):
        self.sink = sink
        self.status = None
        self.reason = ""
        self.headers: dict[str, str] = {}
        self.content_length = None
        self.received = 0
        self.done = False
        self.error = None
        self._head = bytearray()
        self._chunked = False
        self._chunk_left = 0
        self._chunk_buffer = bytearray()
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: netstack-get\r\nAccept: */*\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1")
        self.stream = TcpStream.connect(layer, address, port, now)
        self.stream.on_event = self._event

    def _event(self, stream: TcpStream, now) -> None:
        if self.done:
            return
        try:
            self._step(stream, now)
        except (OSError, ValueError) as error:
            self.error = error
            self.done = True
            if not stream.closed:
                stream.abort(now)

    def _step(self, stream, now) -> None:
        if stream.connecting:
            return
        if self._request:
            n = stream.send(self._request, now)
            self._request = self._request[n:]
            if self._request:
                return
        while True:
            try:
                data = stream.recv(1 << 20, now)
            except BlockingIOError:
                return
            if not data:
                self._finish(stream, now)
                return
            if self.status is None:
                self._head += data
                if b"\r\n\r\n" not in self._head:
                    if len(self._head) > MAX_HEADER:
                        raise ValueError("response header larger than 64 KiB")
                    continue
                head, _, body = bytes(self._head).partition(b"\r\n\r\n")
                self._parse_head(head)
                data = body
                if not data:
                    continue
            self._body(data)
            if self.content_length is not None and self.received >= self.content_length and not self._chunked:
                self._finish(stream, now)
                return

    def _parse_head(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in self.headers:
            text = self.headers["content-length"]
            if not text.isdigit() or not text.isascii():  # int() would take "-1", "+5", " 1_0"
                raise ValueError(f"bad Content-Length {text[:40]!r}")
            self.content_length = int(text)

    def _body(self, data: bytes) -> None:
        if not self._chunked:
            if self.content_length is not None:
                # RFC 9112 §6.3: the body is Content-Length bytes; anything after it is not ours to save
                data = data[: self.content_length - self.received]
            self.sink.write(data)
            self.received += len(data)
            return
        # RFC 9112 §7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF
        buf = self._chunk_buffer
        buf += data
        while True:
            if self._chunk_left > 0:
                take = min(self._chunk_left, len(buf))
                if not take:
                    return
                self.sink.write(bytes(buf[:take]))
                self.received += take
                del buf[:take]
                self._chunk_left -= take
                if self._chunk_left:
                    return
                self._chunk_left = -2  # the CRLF after the data
            if self._chunk_left == -2:
                if len(buf) < 2:
                    return
                del buf[:2]
                self._chunk_left = 0
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                if len(buf) > MAX_CHUNK_LINE:
                    raise ValueError(f"chunk-size line longer than {MAX_CHUNK_LINE} bytes")
                return
            size_text = bytes(buf[:line_end]).split(b";")[0].strip()
            del buf[: line_end + 2]
            if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
                raise ValueError(f"bad chunk size {size_text[:40]!r}")  # int(, 16) would take "0x", "-"
            size = int(size_text, 16)
            if size == 0:
                self.content_length = self.received
                self._chunked = False
                return
            self._chunk_left = size

    def _finish(self, stream, now) -> None:
        if self.status is None:
            raise ValueError("connection closed before a complete response header")
        if self.content_length is not None and self.received < self.content_length:
            raise ValueError(f"connection closed after {self.received} of {self.content_length} bytes")
        self.done = True
        if not stream.closed:
            stream.close(now)
