"""``Layer``: one protocol's header declaration plus the rules around it (lengths, checksums, payload).

A ``Layer`` is a construct ``Construct``, so ``TCP.parse(data, src=..., dst=...)`` and ``TCP.build(dict)``
work like any construct, and it can sit inside other constructs as the last member (it takes the rest of
the stream). Around its ``header`` (a ``HeaderStruct`` declared in the protocol module) it adds:

* **decode contract**: the header is checked for length *before* it is read (integrity), so truncation
  at any byte and length fields that lie raise ``FormatError(layer, field, offset, reason)``, the offset
  counting from the start of the buffer the user handed to ``parse``; no construct, struct or index
  error escapes. Checksums are verified and reported in ``checksum_ok`` (True, False, or None when it
  cannot be checked, e.g. TCP without the IP addresses); a bad checksum does not stop decoding.
* **encode contract**: fields with an obvious value may be left out; lengths and checksums that are
  absent or None are computed; values given explicitly are kept, so broken packets can be crafted.
  A container that came from ``parse`` remembers (in the hidden key ``_derived``) which of its length
  and checksum values were right; those are recomputed on build unless the user changed them, so a
  decoded frame can be edited (``frame.payload.ttl = 1``) and rebuilt into a valid frame.
* **payload**: decoded through the registry (EtherType, IP protocol number) when the layer has a
  payload selector, else kept as bytes.

Containers compare equal ignoring keys that start with "_" (construct's rule), so ``_derived`` never
breaks ``parse(build(x)) == x``.
"""

from __future__ import annotations

from construct import Construct, ConstructError, Container, SizeofError, stream_read_entire

from netstack.errors import FormatError
from netstack.formats.crafted import Crafted
from netstack.formats.fields import Flattened, field_names, ipv4_to_bytes


_new_object, _set_layer, _set_fields = object.__new__, Crafted.layer.__set__, Crafted.fields.__set__


def _field_from_path(path: str | None) -> str | None:
    if not path:
        return None
    parts = [p.strip() for p in path.split("->")]
    names = [p for p in parts[1:] if p and not p.startswith("(")]
    return names[0] if names else None


class Layer(Construct):
    """Base class of the protocol layers; subclasses implement ``decode`` and ``encode``."""

    #: keys of auto-computed fields (lengths, checksums) a parsed container may recompute on build
    derived_fields: tuple[str, ...] = ()
    #: field named when truncation falls after the fixed-size prefix the spans describe
    tail_field: str | None = None

    def __init__(self, layer: str, header: Construct, title: str):
        super().__init__()
        self.layer = layer
        self.header = header
        self.title = title
        self.flagbuildnone = False
        self.field_spans = self._spans(header)
        self.minimum_length = self.field_spans[-1][2] if self.field_spans else 0

    @staticmethod
    def _spans(header) -> list[tuple[str, int, int]]:
        """(field, first byte, end byte) for the fixed-size prefix of the header."""
        spans = []
        offset = 0
        for sc in header.subcons:
            try:
                size = sc.sizeof()
            except (SizeofError, KeyError, AttributeError, TypeError, ConstructError):
                break
            if isinstance(sc, Flattened):
                names = field_names(sc.subcon if hasattr(sc.subcon, "subcons") else sc.subcon.subcon)
            elif sc.name and not sc.name.startswith("_"):
                names = [sc.name]
            else:
                names = []
            for name in names:
                spans.append((name, offset, offset + size))
            offset += size
        return spans

    # --- helpers for subclasses -------------------------------------------------------------------

    def truncated(self, data_length: int, needed: int, base: int) -> FormatError:
        """FormatError naming the first field that does not fit in ``data_length`` bytes."""
        field = self.tail_field
        start = self.minimum_length if field else data_length
        for name, first, end in self.field_spans:
            if end > data_length:
                field, start = name, first
                break
        return FormatError(
            self.layer, field, base + start, f"truncated: needs {needed} bytes, has {data_length}"
        )

    def parse_header(self, data: bytes, base: int, **context) -> Container:
        """Parse ``self.header`` from ``data`` (already length-checked), errors as FormatError."""
        try:
            container = self.header.parse(data, **context)
        except FormatError:
            raise
        except ConstructError as error:
            raise FormatError(self.layer, _field_from_path(error.path), base, str(error).split("\n")[-1]) from None
        container.pop("_io", None)
        return container

    def build_header(self, values: dict, **context) -> bytes:
        """Build ``self.header`` from ``values``, errors as FormatError."""
        try:
            return self.header.build(values, **context)
        except FormatError as error:
            raise FormatError(self.layer, error.field, None, error.reason) from None
        except ConstructError as error:
            raise FormatError(self.layer, _field_from_path(error.path), None, str(error).split("\n")[-1]) from None
        except KeyError as error:
            raise FormatError(self.layer, str(error.args[0]), None, "missing field (it has no default)") from None
        except (ValueError, TypeError, OverflowError) as error:
            raise FormatError(self.layer, None, None, f"cannot build: {error!r}") from None

    def raw_bytes(self, value, field: str = "payload") -> bytes:
        """``value`` as bytes (None is empty); anything else is refused rather than guessed at."""
        if value is None:
            return b""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise FormatError(self.layer, field, None, f"needs bytes, got {type(value).__name__}")

    def address(self, value, field: str) -> bytes:
        """An IPv4 address field as 4 bytes, errors naming this layer and the field."""
        try:
            return ipv4_to_bytes(value)
        except FormatError as error:
            raise FormatError(self.layer, field, None, error.reason) from None

    @staticmethod
    def wanted(obj, key: str):
        """The value to compute ``key`` from, or None when it should be (re)computed.

        None or absent -> compute. A parsed container whose value was right and is unchanged -> compute
        (so edits elsewhere stay consistent). Anything else is an explicit value and is kept.
        """
        value = obj.get(key)
        if value is None:
            return None
        derived = obj.get("_derived")
        if derived and key in derived and derived[key] == value:
            return None
        return value

    # --- construct plumbing ----------------------------------------------------------------------

    def _parse(self, stream, context, path):
        data = stream_read_entire(stream, path)
        base = context.get("offset", 0) or 0
        return self.decode(data, base, context)

    def _build(self, obj, stream, context, path):
        if obj is None:
            obj = {}
        data = self.encode(obj, context)
        stream.write(data)
        return obj

    def _sizeof(self, context, path):
        raise SizeofError(f"{self.layer} has a variable length", path=path)

    def parse(self, data, **contextkw):
        """Decode ``data``; context keys: ``offset`` (of ``data`` in a larger buffer, for messages),
        ``src``/``dst`` (IP addresses, for the TCP/UDP pseudo-header)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise FormatError(self.layer, None, None, f"parse needs bytes, got {type(data).__name__}")
        return self.decode(bytes(data), contextkw.get("offset", 0) or 0, Container(contextkw))

    def build(self, obj=None, **contextkw):
        """Encode a container, dict or crafted layer into bytes (see the module docstring)."""
        if hasattr(obj, "to_container"):
            obj = obj.to_container()
        if obj is None:
            obj = {}
        if not isinstance(obj, dict):
            raise FormatError(self.layer, None, None, f"build needs a dict or container, got {type(obj).__name__}")
        return self.encode(obj, Container(contextkw))

    # --- the protocol's rules ----------------------------------------------------------------------

    def decode(self, data: bytes, base: int, context) -> Container:
        raise NotImplementedError

    def encode(self, obj, context) -> bytes:
        raise NotImplementedError

    def __call__(self, **fields):
        """A ``Crafted`` layer with these fields, to stack with ``/`` (see ``netstack.formats.craft``)."""
        crafted = _new_object(Crafted)  # Crafted.owning written out: ``**fields`` is a new dict on every call
        _set_layer(crafted, self)
        _set_fields(crafted, fields)
        return crafted

    def __repr__(self):
        return f"<{self.layer} layer: {self.title}>"
