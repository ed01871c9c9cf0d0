"""Layer matchers built from the declarations, in the manner of gVisor's ``checker``.

::

    from netstack.testing.matchers import tcp, ipv4, has, between, any_of, not_

    tcp(flags="SA", ack=isn + 1, options=has(mss=1460))       # one TCP layer, these fields
    ipv4(tcp(flags=has("R")), ttl=between(1, 255))             # nested: a TCP layer inside this IPv4
    any_of(tcp(flags="R"), tcp(flags="RA"))                    # either
    tcp(window=lambda w: w > 0)                                # a predicate

A layer matcher (``ethernet``, ``arp``, ``ipv4``, ``icmp``, ``udp``, ``tcp``) takes keyword arguments
named after the fields of that layer's declaration (``netstack.formats.<layer>``), read from the
schema when this module is imported; a name the schema does not declare is refused with the list of
those it does. Besides the declared fields every layer knows ``payload`` (bytes), and ``checksum_ok``
where the layer has a checksum. Positional arguments are matchers for layers *inside* this one.

A field's expected value is one of:

* a plain value, compared after normalising both sides: TCP ``flags`` as scapy letters ("SA" means
  exactly SYN and ACK), enum fields by name ("echo_reply") or number, addresses as text;
* a ``Matcher``: ``between(a, b)`` (inclusive), ``any_of``/``all_of``/``not_``, ``has(...)``,
  ``predicate(fn, "description")``;
* a callable, taken as a predicate.

Sequence numbers relative to a connection: ``Frame.match(matcher, relative=...)`` takes a mapping of
field name to base (``{"seq": dut_isn, "ack": bench_isn}``); then ``tcp(seq=1)`` means ``dut_isn + 1``
mod 2**32. ``netstack.testing.tcp_peer.TcpPeer.expect`` passes it.

Every frame a bench receives is checked before any matcher sees it (``integrity_problems``): IPv4
header checksum, total length against the bytes present, TCP/UDP/ICMP checksums, UDP length.
"""

from __future__ import annotations

from construct import Container, Switch

from netstack.errors import FormatError
from netstack.formats import ARP, ICMP, TCP, UDP, Ethernet, Frame, IPv4
from netstack.formats.fields import Flattened
from netstack.formats.tcp import FLAG_LETTERS
from netstack.formats.tcp_options import TCP_OPTION_KIND

SEQUENCE_SPACE = 1 << 32
SEQUENCE_FIELDS = ("seq", "ack")


def declared_fields(struct) -> list[str]:
    """The field names a header declaration gives a container, every case of a Switch included."""
    names: list[str] = []
    for sc in getattr(struct, "subcons", []):
        if isinstance(sc, Flattened):
            inner = sc.subcon
            while not hasattr(inner, "subcons") and not isinstance(inner, Switch) and hasattr(inner, "subcon"):
                inner = inner.subcon
            if isinstance(inner, Switch):
                cases = list(inner.cases.values()) + [inner.default]
                for case in cases:
                    names.extend(n for n in declared_fields(case) if n not in names)
            else:
                names.extend(declared_fields(inner))
        elif sc.name and not sc.name.startswith("_"):
            names.append(sc.name)
    return names


LAYERS = {schema.layer: schema for schema in (Ethernet, ARP, IPv4, ICMP, UDP, TCP)}
#: layer name -> field names a matcher may use: the declaration's, plus what decoding adds
FIELDS = {
    name: declared_fields(schema.header) + ["payload"] + (["checksum_ok"] if name in ("ipv4", "icmp", "udp", "tcp") else [])
    for name, schema in LAYERS.items()
}
OPTION_NAMES = sorted(set(TCP_OPTION_KIND.ksymapping.values()) | {"wscale", "ts"})
OPTION_ALIASES = {"wscale": "window_scale", "ts": "timestamps"}


# --------------------------------------------------------------------------------------------- values

def flag_letters(flags) -> str:
    """A decoded flags container (or letters, or "syn|ack") as scapy letters in a fixed order."""
    if isinstance(flags, str):
        if "|" in flags or flags.islower():
            names = {name.strip() for name in flags.split("|") if name.strip()}
        else:
            names = {FLAG_LETTERS[letter] for letter in flags if letter in FLAG_LETTERS}
            unknown = [letter for letter in flags if letter not in FLAG_LETTERS]
            if unknown:
                raise ValueError(f"unknown TCP flag letter(s) {''.join(unknown)!r}; known: {''.join(FLAG_LETTERS)}")
    elif isinstance(flags, int):
        names = {name for letter, name in FLAG_LETTERS.items() if flags & _FLAG_BITS[name]}
    else:
        names = {name for name, on in dict(flags).items() if on is True and not name.startswith("_")}
    return "".join(letter for letter, name in FLAG_LETTERS.items() if name in names)


_FLAG_BITS = {"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20, "ece": 0x40, "cwr": 0x80}


def plain(value):
    """A decoded value in the form people write: enum labels as str, containers as dicts."""
    if isinstance(value, Container):
        return {k: plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def options_of(options) -> dict:
    """A decoded option list as {name: value}; padding (eol, nop) left out."""
    found = {}
    for option in options or []:
        kind = str(option.kind) if not isinstance(option.kind, int) else option.kind
        if kind in ("eol", "nop"):
            continue
        value = option.value
        if kind == "timestamps":
            value = (value.ts_value, value.ts_echo_reply)
        elif kind == "sack":
            value = [(block.left, block.right) for block in value]
        found[kind] = value
    return found


def show(value, field: str | None = None) -> str:
    """A received or expected value as short text for the side-by-side report."""
    if isinstance(value, Matcher):
        return value.describe()
    if field == "flags" and not callable(value):
        try:
            return flag_letters(value) or "(none)"
        except (ValueError, TypeError):
            pass
    if field == "options" and isinstance(value, list):
        return ", ".join(f"{k}={v}" if v is not None else str(k) for k, v in options_of(value).items()) or "(none)"
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes" if len(value) > 16 else repr(bytes(value))
    if callable(value):
        return getattr(value, "__name__", "predicate")
    value = plain(value)
    return str(value)


# ------------------------------------------------------------------------------------------- matchers

class Matcher:
    """Something a value (a field, or a decoded frame) can be compared with."""

    def mismatch(self, value, field: str | None = None) -> str | None:
        """None when ``value`` matches, else a short reason."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def __and__(self, other):
        return all_of(self, other)

    def __or__(self, other):
        return any_of(self, other)

    def __invert__(self):
        return not_(self)

    def __repr__(self):
        return self.describe()


def compare(expected, value, field: str | None = None) -> str | None:
    """None when the received ``value`` of ``field`` meets ``expected`` (value, Matcher or callable)."""
    if isinstance(expected, Matcher):
        return expected.mismatch(value, field)
    if callable(expected):
        try:
            ok = expected(plain(value))
        except Exception as error:  # a predicate that raises is a mismatch, reported
            return f"predicate raised {error!r}"
        return None if ok else f"{show(value, field)} fails {show(expected)}"
    if field == "flags":
        if flag_letters(expected) == flag_letters(value):
            return None
        return f"flags {flag_letters(value) or '(none)'} != {flag_letters(expected) or '(none)'}"
    received = plain(value)
    if isinstance(expected, (bytes, bytearray)) and isinstance(received, (bytes, bytearray)):
        return None if bytes(expected) == bytes(received) else f"{show(received)} != {show(expected)}"
    if received == expected:
        return None
    if isinstance(expected, int) and not isinstance(expected, bool) and hasattr(value, "__int__"):
        try:
            if int(value) == expected:  # an enum field compared by number
                return None
        except (TypeError, ValueError):
            pass
    return f"{show(received, field)} != {show(expected, field)}"


class _Combination(Matcher):
    def __init__(self, word: str, matchers):
        self.word = word
        self.matchers = matchers

    def describe(self):
        return f"{self.word}(" + ", ".join(show(m) for m in self.matchers) + ")"


class any_of(_Combination):
    """Matches when at least one of ``matchers`` (values, matchers or predicates) matches."""

    def __init__(self, *matchers):
        super().__init__("any_of", matchers)

    def mismatch(self, value, field=None):
        reasons = [compare(m, value, field) for m in self.matchers]
        if any(reason is None for reason in reasons):
            return None
        return " and ".join(reasons)


class all_of(_Combination):
    """Matches when every one of ``matchers`` matches."""

    def __init__(self, *matchers):
        super().__init__("all_of", matchers)

    def mismatch(self, value, field=None):
        for m in self.matchers:
            reason = compare(m, value, field)
            if reason is not None:
                return reason
        return None


class not_(Matcher):
    """Matches when ``matcher`` does not."""

    def __init__(self, matcher):
        self.matcher = matcher

    def mismatch(self, value, field=None):
        return f"{show(value, field)} matches {show(self.matcher)}" if compare(self.matcher, value, field) is None else None

    def describe(self):
        return f"not_({show(self.matcher)})"


class between(Matcher):
    """``low <= value <= high`` (inclusive); with ``modulo`` the interval wraps (sequence space)."""

    def __init__(self, low, high, *, modulo: int | None = None):
        if modulo is None and low > high:
            raise ValueError(f"between({low}, {high}): the low end is above the high end")
        self.low, self.high, self.modulo = low, high, modulo

    def mismatch(self, value, field=None):
        try:
            number = value if isinstance(value, float) else int(value)
        except (TypeError, ValueError):
            return f"{show(value, field)} is not a number"
        if self.modulo:
            inside = (number - self.low) % self.modulo <= (self.high - self.low) % self.modulo
        else:
            inside = self.low <= number <= self.high
        return None if inside else f"{number} outside [{self.low}, {self.high}]"

    def describe(self):
        return f"between({self.low}, {self.high})"


class predicate(Matcher):
    """``function(value)`` is true; ``description`` names it in reports."""

    def __init__(self, function, description: str | None = None):
        self.function = function
        self.description = description or getattr(function, "__name__", "predicate")

    def mismatch(self, value, field=None):
        return compare(self.function, value, field) and f"{show(value, field)} fails {self.description}"

    def describe(self):
        return self.description


class has(Matcher):
    """Contains: flag letters for ``flags`` (``has("A")``), options by name for ``options``
    (``has(mss=1460)``, ``has("sack_permitted")``, ``has(timestamps=ANY)``), a substring of a payload."""

    def __init__(self, *items, **options):
        for name in options:
            if name not in OPTION_NAMES:
                raise ValueError(f"has(): unknown TCP option {name!r}; the declaration knows: {', '.join(OPTION_NAMES)}")
        self.items, self.options = items, options

    def mismatch(self, value, field=None):
        if field == "flags":
            present = flag_letters(value)
            wanted = flag_letters("".join(self.items))
            missing = [letter for letter in wanted if letter not in present]
            return f"flags {present or '(none)'} lack {''.join(missing)}" if missing else None
        if field == "options":
            found = options_of(value)
            for name in self.items:
                if OPTION_ALIASES.get(name, name) not in found:
                    return f"no {name} option in {show(value, 'options')}"
            for name, expected in self.options.items():
                key = OPTION_ALIASES.get(name, name)
                if key not in found:
                    return f"no {name} option in {show(value, 'options')}"
                if expected is not ANY:
                    reason = compare(expected, found[key], name)
                    if reason is not None:
                        return f"option {name}: {reason}"
            return None
        if isinstance(value, (bytes, bytearray)):
            missing = [item for item in self.items if bytes(item) not in value]
            return f"{show(value)} lacks {missing!r}" if missing else None
        return f"has() applies to flags, options or a payload, not {field}"

    def describe(self):
        parts = [repr(i) for i in self.items] + [f"{k}={show(v)}" for k, v in self.options.items()]
        return f"has({', '.join(parts)})"


class _Anything(Matcher):
    def mismatch(self, value, field=None):
        return None

    def describe(self):
        return "ANY"


ANY = _Anything()


# ------------------------------------------------------------------------------------- layer matchers

class LayerMatcher(Matcher):
    """One layer of a frame with the given fields, and ``inner`` layers somewhere inside it."""

    def __init__(self, layer: str, inner, fields: dict):
        known = FIELDS[layer]
        unknown = [name for name in fields if name not in known]
        if unknown:
            raise TypeError(f"{layer}() has no field {', '.join(map(repr, unknown))}; "
                            f"the {layer} declaration has: {', '.join(known)}")
        for matcher in inner:
            if not isinstance(matcher, LayerMatcher):
                raise TypeError(f"{layer}(): positional arguments are inner layer matchers, got {matcher!r}")
        if layer == "tcp" and "flags" in fields and isinstance(fields["flags"], str):
            flag_letters(fields["flags"])  # an unknown letter fails here, not at the first frame
        self.layer, self.inner, self.fields = layer, inner, fields

    def field_report(self, container, relative=None) -> list[tuple[str, str, str, str | None]]:
        """(field, expected, received, reason or None) for every field this matcher names."""
        rows = []
        for name, expected in self.fields.items():
            value = container.get(name)
            if relative and self.layer == "tcp" and name in relative and value is not None:
                value = (value - relative[name]) % SEQUENCE_SPACE
            rows.append((f"{self.layer}.{name}", show(expected, name), show(value, name), compare(expected, value, name)))
        return rows

    def mismatch(self, value, field=None, relative=None):
        layers = value if isinstance(value, list) else decoded_layers(value)
        reasons = []
        for index, (name, container) in enumerate(layers):
            if name != self.layer:
                continue
            failed = [f"{row[0]}: {row[3]}" for row in self.field_report(container, relative) if row[3]]
            for inner in self.inner:
                reason = inner.mismatch(layers[index + 1:], relative=relative)
                if reason:
                    failed.append(reason)
            if not failed:
                return None
            reasons.append("; ".join(failed))
        return reasons[0] if reasons else f"no {self.layer} layer"

    def report(self, layers, relative=None) -> list[tuple[str, str, str, str | None]]:
        rows = []
        containers = [c for n, c in layers if n == self.layer]
        if not containers:
            rows.append((self.layer, "present", "absent", "no such layer"))
        else:
            rows.extend(self.field_report(containers[0], relative))
        for inner in self.inner:
            start = next((i for i, (n, _) in enumerate(layers) if n == self.layer), len(layers))
            rows.extend(inner.report(layers[start + 1:], relative))
        return rows

    def describe(self):
        parts = [inner.describe() for inner in self.inner] + [f"{k}={show(v, k)}" for k, v in self.fields.items()]
        return f"{self.layer}({', '.join(parts)})"


def _layer(name: str):
    def make(*inner, **fields) -> LayerMatcher:
        return LayerMatcher(name, inner, fields)

    make.__name__ = name
    make.__doc__ = f"A {name} layer whose fields match; fields: {', '.join(FIELDS[name])}."
    return make


ethernet = _layer("ethernet")
arp = _layer("arp")
ipv4 = _layer("ipv4")
icmp = _layer("icmp")
udp = _layer("udp")
tcp = _layer("tcp")


# ------------------------------------------------------------------------------------ decoded frames

def decoded_layers(frame) -> list[tuple[str, Container]]:
    """(layer name, container) outermost first, for a decoded Ethernet container or raw bytes."""
    if isinstance(frame, (bytes, bytearray)):
        frame = Frame.parse(bytes(frame))
    layers = [("ethernet", frame)]
    current = frame
    selector = "ethertype"
    while isinstance(current.get("payload"), Container):
        name = str(current[selector]) if selector else None
        current = current.payload
        layers.append((name, current))
        selector = "protocol" if name == "ipv4" else None
    return layers


def integrity_problems(layers) -> list[str]:
    """What is wrong with the lengths and checksums of a decoded frame (empty when all is right)."""
    problems = []
    for name, container in layers:
        if container.get("checksum_ok") is False:
            problems.append(f"{name} checksum {container.get('checksum'):#06x} is wrong")
        if name == "ipv4" and container.get("padding") and isinstance(container.get("payload"), Container):
            # Ethernet pads short frames to 60 bytes (IEEE 802.3 §3.2.8); more trailing bytes mean a length lies.
            if container.total_length + 14 + len(container.padding) > 60:
                problems.append(f"ipv4 total_length {container.total_length} leaves {len(container.padding)} bytes unaccounted")
        if name == "udp":
            expected = 8 + len(container.payload)
            if container.length != expected:
                problems.append(f"udp length {container.length} != {expected} (header + payload)")
    return problems


def decode(data: bytes) -> tuple[list[tuple[str, Container]] | None, list[str]]:
    """(layers, integrity problems) for one received frame; layers None when it does not decode."""
    try:
        layers = decoded_layers(Frame.parse(data))
    except FormatError as error:
        return None, [f"undecodable: {error}"]
    return layers, integrity_problems(layers)


__all__ = [
    "ANY", "FIELDS", "LayerMatcher", "Matcher", "all_of", "any_of", "arp", "between", "decode", "decoded_layers",
    "ethernet", "flag_letters", "has", "icmp", "integrity_problems", "ipv4", "not_", "options_of", "predicate",
    "tcp", "udp",
]
