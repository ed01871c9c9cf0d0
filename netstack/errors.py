"""The one exception tree of netstack.

``NetstackError`` is the root. ``FormatError`` (also a ``ValueError``) is what every decoder raises on
bad input, naming the layer, the field and the byte offset; no ``construct.ConstructError``,
``struct.error`` or ``IndexError`` escapes the formats layer. ``TransitionError`` is raised when a user
call is not allowed in a protocol state (RFC 9293's "connection does not exist", "connection closing",
"connection already exists"). Socket calls raise ``OSError`` subclasses with the kernel's errno.
"""

from __future__ import annotations


class NetstackError(Exception):
    """Root of every exception netstack raises on purpose."""


class FormatError(NetstackError, ValueError):
    """Bytes that do not decode, or values that do not encode, as the named layer.

    ``layer`` is the protocol ("ipv4", "tcp_options", ...), ``field`` the field at fault and ``offset``
    the byte offset into the buffer handed to the decoder (None when building).
    """

    def __init__(self, layer: str, field: str | None, offset: int | None, reason: str):
        self.layer = layer
        self.field = field
        self.offset = offset
        self.reason = reason
        where = layer if field is None else f"{layer}.{field}"
        at = "" if offset is None else f" at offset {offset}"
        super().__init__(f"{where}{at}: {reason}")

    def __reduce__(self):
        return (type(self), (self.layer, self.field, self.offset, self.reason))


class TransitionError(NetstackError):
    """A user call or event that the protocol state does not allow.

    ``state`` is the state it arrived in, ``event`` the event, and ``errno`` (optional) the errno a
    socket call turns it into.
    """

    def __init__(self, message: str, *, state=None, event: str | None = None, errno: int | None = None):
        self.state = state
        self.event = event
        self.errno = errno
        super().__init__(message)
