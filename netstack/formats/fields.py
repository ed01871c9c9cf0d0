"""Field types shared by the schemas: addresses as people write them, named numbers, flattened bit groups.

* ``MacAddress`` / ``HardwareAddress``: bytes on the wire, "02:00:5e:00:53:01" in a container; build
  accepts that string, bytes of the right length, or a ``bytes``-like object.
* ``IPv4Address`` / ``ProtocolAddress``: "192.0.2.1" in a container; build also accepts 4 bytes or an int.
* ``NamedNumber``: an ``Enum`` whose names can grow at run time (the registry adds EtherTypes and IP
  protocol numbers) and which parses unknown numbers to plain ints and builds them back.
* ``HeaderStruct`` with ``Flattened`` members: RFC headers pack fields smaller than a byte (IPv4
  version/ihl, TCP data offset/flags). ``Flattened(BitStruct(...))`` declares them as bits and the
  enclosing ``HeaderStruct`` puts them beside the byte-sized fields, so a TCP container reads
  ``segment.data_offset`` and ``segment.flags.syn``, the names of the RFC figure. ``Flattened(Switch(...))``
  does the same for per-type fields (ICMP ``identifier``/``sequence`` vs ``next_hop_mtu``).

The fast-path generator (``netstack.formats.codegen``) walks these same declarations.
"""

from __future__ import annotations

import ipaddress

from construct import (
    Adapter,
    ValidationError,
    Bytes,
    Construct,
    Container,
    Enum,
    Struct,
    Subconstruct,
)

from netstack.errors import FormatError


def mac_to_text(raw: bytes) -> str:
    """b"\\x02\\x00^\\x00S\\x01" -> "02:00:5e:00:53:01"."""
    return raw.hex(":")


def mac_to_bytes(value, length: int = 6) -> bytes:
    """Hardware address text ("02:00:5e:00:53:01", "02-00-...", "0200.5e00.5301") or bytes -> bytes."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif isinstance(value, str):
        digits = value.replace(":", "").replace("-", "").replace(".", "")
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            raise FormatError("address", None, None, f"not a hardware address: {value!r}") from None
    else:
        raise FormatError("address", None, None, f"not a hardware address: {value!r}")
    if len(raw) != length:
        raise FormatError("address", None, None, f"hardware address {value!r} is not {length} bytes")
    return raw


def ipv4_to_text(raw: bytes) -> str:
    """b"\\xc0\\x00\\x02\\x01" -> "192.0.2.1"."""
    return "%d.%d.%d.%d" % (raw[0], raw[1], raw[2], raw[3])


def _address_error(path, error: FormatError):
    """A construct error (it carries the field path) for a bad address met while building."""
    return ValidationError(error.reason, path=path)


def ipv4_to_bytes(value) -> bytes:
    """"192.0.2.1", an ``ipaddress.IPv4Address``, an int or 4 bytes -> 4 bytes."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) != 4:
            raise FormatError("address", None, None, f"IPv4 address {raw!r} is not 4 bytes")
        return raw
    try:
        return ipaddress.IPv4Address(value).packed
    except (ValueError, TypeError):
        raise FormatError("address", None, None, f"not an IPv4 address: {value!r}") from None


class AddressField(Adapter):
    """An address of ``length`` bytes on the wire, text in containers; subclasses say which text.

    A bad address met while building becomes a construct error carrying the field path, so the
    layer turns it into a FormatError naming the field.
    """

    def __init__(self, length):
        super().__init__(Bytes(length))
        self.length = length

    def to_text(self, raw: bytes) -> str:
        return raw.hex(":")

    def to_bytes(self, obj) -> bytes:
        raise NotImplementedError

    def _decode(self, obj, context, path):
        return self.to_text(obj)

    def _encode(self, obj, context, path):
        try:
            return self.to_bytes(obj)
        except FormatError as error:
            raise _address_error(path, error) from None
        except ValueError as error:
            raise ValidationError(str(error), path=path) from None


class MacAddress(AddressField):
    """A 48-bit IEEE 802 MAC address, "02:00:5e:00:53:01" in containers."""

    def __init__(self):
        super().__init__(6)

    def to_bytes(self, obj) -> bytes:
        return mac_to_bytes(obj)


class HardwareAddress(AddressField):
    """A hardware address of ``length`` bytes (an expression, e.g. ARP's ``this.hlen``), as hex:colons."""

    def to_bytes(self, obj) -> bytes:
        if isinstance(obj, str):
            return mac_to_bytes(obj, len(obj.replace(":", "").replace("-", "").replace(".", "")) // 2)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return bytes(obj)
        raise ValueError(f"not a hardware address: {obj!r}")


class IPv4Address(AddressField):
    """A 32-bit IPv4 address, "192.0.2.1" in containers."""

    def __init__(self):
        super().__init__(4)

    def to_text(self, raw: bytes) -> str:
        return ipv4_to_text(raw)

    def to_bytes(self, obj) -> bytes:
        return ipv4_to_bytes(obj)


class ProtocolAddress(AddressField):
    """A protocol address of ``length`` bytes (ARP's ``this.plen``): dotted quad when 4 bytes, else hex."""

    def to_text(self, raw: bytes) -> str:
        return ipv4_to_text(raw) if len(raw) == 4 else raw.hex(":")

    def to_bytes(self, obj) -> bytes:
        if isinstance(obj, str) and (":" in obj or "." not in obj):
            # the hex form to_text gives for plen != 4, including "" (plen 0) and "0a" (plen 1)
            try:
                return bytes.fromhex(obj.replace(":", ""))
            except ValueError:
                raise ValueError(f"not a protocol address: {obj!r}") from None
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return bytes(obj)
        return ipv4_to_bytes(obj)


class NamedNumber(Enum):
    """``Enum`` whose table can grow (``add``) and that accepts aliases; unknown numbers stay ints.

    Parsing gives the name (a str that ``int()`` turns back into the number) or the bare int when the
    number has no name; building takes a name, an alias or any int.
    """

    def add(self, number: int, name: str) -> None:
        """Name ``number`` (registering a protocol). A name already used for another number is refused."""
        from construct.core import EnumIntegerString

        if name in self.encmapping and self.encmapping[name] != number:
            raise ValueError(f"{name!r} already names {self.encmapping[name]}")
        label = EnumIntegerString.new(number, name)
        self.encmapping[label] = number
        self.decmapping[number] = label
        self.ksymapping[number] = name

    def remove(self, number: int) -> None:
        """Forget the name of ``number`` (unregistering a protocol); it parses as the bare int again."""
        name = self.ksymapping.pop(number, None)
        self.decmapping.pop(number, None)
        if name is not None:
            self.encmapping.pop(name, None)

    def alias(self, name: str, number: int) -> None:
        """Accept ``name`` on build as another spelling of ``number`` (parse keeps the main name)."""
        self.encmapping[name] = number

    def number(self, value) -> int:
        """The number of a name, alias or number; FormatError when the name is unknown."""
        if isinstance(value, int):
            return int(value)
        try:
            return self.encmapping[value]
        except (KeyError, TypeError):
            raise FormatError("enum", None, None, f"unknown name {value!r}") from None

    def label(self, number: int):
        """The parsed form of ``number``: its name, or the int itself when it has none."""
        return self.decmapping.get(number, number)

    def names(self) -> dict[int, str]:
        """number -> main name."""
        return dict(self.ksymapping)

    def _decode(self, obj, context, path):
        return self.decmapping.get(obj, obj)


class Flattened(Subconstruct):
    """Marks a member of a ``HeaderStruct`` whose fields sit directly in the enclosing container.

    The subcon is a ``BitStruct`` (sub-byte fields) or a ``Switch`` of ``Struct``s (per-type fields).
    """

    def _parse(self, stream, context, path):
        return self.subcon._parsereport(stream, context, path)

    def _build(self, obj, stream, context, path):
        return self.subcon._build(obj, stream, context, path)

    def _sizeof(self, context, path):
        return self.subcon._sizeof(context, path)


class HeaderStruct(Struct):
    """A ``Struct`` in the RFC figure's order whose ``Flattened`` members merge into it.

    Parse puts a flattened member's named fields into this container; build hands the whole container to
    the member, which takes the keys it declares.
    """

    def _child_context(self, context, stream):
        """The context construct's own ``Struct`` gives its members (``_`` is the parent's)."""
        child = Container(
            _=context,
            _params=context._params,
            _root=None,
            _parsing=context._parsing,
            _building=context._building,
            _sizing=context._sizing,
            _subcons=self._subcons,
            _io=stream,
            _index=context.get("_index", None),
        )
        child._root = context.get("_root", child)
        return child

    def _parse(self, stream, context, path):
        obj = Container()
        obj._io = stream
        context = self._child_context(context, stream)
        for sc in self.subcons:
            subobj = sc._parsereport(stream, context, path)
            if isinstance(sc, Flattened):
                for key, value in subobj.items():
                    if not key.startswith("_"):
                        obj[key] = value
                        context[key] = value
            elif sc.name:
                obj[sc.name] = subobj
                context[sc.name] = subobj
        return obj

    def _build(self, obj, stream, context, path):
        if obj is None:
            obj = Container()
        context = self._child_context(context, stream)
        context.update(obj)
        for sc in self.subcons:
            if isinstance(sc, Flattened):
                sc._build(obj, stream, context, path)
                continue
            # Missing members build from None: a Default fills them in, anything else fails naming the field.
            subobj = obj.get(sc.name, None)
            if sc.name:
                context[sc.name] = subobj
            buildret = sc._build(subobj, stream, context, path)
            if sc.name:
                context[sc.name] = buildret
        return context


def field_names(struct: Construct) -> list[str]:
    """The container keys a (Header)Struct declares, flattened members expanded, in wire order."""
    names = []
    for sc in getattr(struct, "subcons", []):
        if isinstance(sc, Flattened):
            inner = sc.subcon
            while not hasattr(inner, "subcons") and hasattr(inner, "subcon"):
                inner = inner.subcon
            names.extend(field_names(inner))
        elif sc.name and not sc.name.startswith("_"):
            names.append(sc.name)
    return names
