"""ICMP for IPv4 (RFC 792; fragmentation-needed next-hop MTU from RFC 1191 §4).

Message layout (RFC 792): a 4-byte common part, 4 bytes whose meaning depends on the type, then data::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Type      |     Code      |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | echo (0, 8), timestamp (13, 14): Identifier | Sequence Number |
    | destination unreachable (3):     unused     |  Next-Hop MTU   |
    | time exceeded (11), source quench (4):    unused              |
    | parameter problem (12):  Pointer |        unused              |
    | redirect (5):            Gateway Internet Address             |
    | any other type:          rest_of_header (4 raw bytes)         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  payload: echo data, or the original datagram's IP header     |
    |  + first 8 data bytes for the error messages (3, 4, 5, 11, 12)|
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Container: ``type, code, checksum``, the type's fields (``identifier, sequence`` | ``unused,
next_hop_mtu`` | ``unused`` | ``pointer, unused`` | ``gateway`` | ``rest_of_header``), ``checksum_ok``
and ``payload`` (bytes; ``original_datagram(container)`` decodes the quote of an error message).

The checksum covers the whole ICMP message (RFC 792 "Checksum"). Build: ``code`` 0, the per-type
fields 0 and ``checksum`` computed when absent or None.
"""

from __future__ import annotations

from construct import Bytes, Container, Default, Int8ub, Int16ub, Int24ub, Int32ub, Struct, Switch, this

from netstack.errors import FormatError
from netstack.formats.checksum import internet_checksum, with_checksum
from netstack.formats.fields import Flattened, HeaderStruct, IPv4Address, NamedNumber
from netstack.formats.ipv4 import IPV4_RULES, MINIMUM_HEADER_LENGTH, ipv4_header
from netstack.formats.layer import Layer
from netstack.formats.registry import IP_PROTOCOL_ICMP, register_ip_protocol
from netstack.formats.rules import HeaderRules

HEADER_LENGTH = 8

# ICMP types as ints (RFC 792; IANA icmp-parameters); the engine imports these.
ECHO_REPLY = 0
DESTINATION_UNREACHABLE = 3
SOURCE_QUENCH = 4
REDIRECT = 5
ECHO_REQUEST = 8
TIME_EXCEEDED = 11
PARAMETER_PROBLEM = 12
TIMESTAMP = 13
TIMESTAMP_REPLY = 14

ICMP_TYPE = NamedNumber(
    Int8ub,
    echo_reply=ECHO_REPLY,
    destination_unreachable=DESTINATION_UNREACHABLE,
    source_quench=SOURCE_QUENCH,
    redirect=REDIRECT,
    echo_request=ECHO_REQUEST,
    time_exceeded=TIME_EXCEEDED,
    parameter_problem=PARAMETER_PROBLEM,
    timestamp=TIMESTAMP,
    timestamp_reply=TIMESTAMP_REPLY,
)
"""ICMP type (RFC 792; IANA icmp-parameters)."""

# Codes of destination unreachable (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1).
NET_UNREACHABLE = 0
HOST_UNREACHABLE = 1
PROTOCOL_UNREACHABLE = 2
PORT_UNREACHABLE = 3
FRAGMENTATION_NEEDED = 4  # carries the next-hop MTU (RFC 1191 §4)
SOURCE_ROUTE_FAILED = 5
COMMUNICATION_ADMINISTRATIVELY_PROHIBITED = 13

#: codes of destination unreachable, by number
UNREACHABLE_CODES = {
    NET_UNREACHABLE: "net_unreachable",
    HOST_UNREACHABLE: "host_unreachable",
    PROTOCOL_UNREACHABLE: "protocol_unreachable",
    PORT_UNREACHABLE: "port_unreachable",
    FRAGMENTATION_NEEDED: "fragmentation_needed",
    SOURCE_ROUTE_FAILED: "source_route_failed",
    COMMUNICATION_ADMINISTRATIVELY_PROHIBITED: "communication_administratively_prohibited",
}

# Codes of time exceeded (RFC 792 "Time Exceeded Message").
TTL_EXCEEDED_IN_TRANSIT = 0
FRAGMENT_REASSEMBLY_TIME_EXCEEDED = 1

echo_fields = Struct(
    "identifier" / Default(Int16ub, 0) * "matches replies to requests, e.g. per process (RFC 792 Echo)",
    "sequence" / Default(Int16ub, 0) * "matches replies to requests, incremented per request (RFC 792 Echo)",
)
unreachable_fields = Struct(
    "unused" / Default(Int16ub, 0) * "zero (RFC 1191 §4)",
    "next_hop_mtu" / Default(Int16ub, 0) * "MTU of the next hop, bytes, for code 4 fragmentation needed (RFC 1191 §4)",
)
unused_fields = Struct("unused" / Default(Int32ub, 0) * "zero (RFC 792)")
parameter_problem_fields = Struct(
    "pointer" / Default(Int8ub, 0) * "byte offset of the error in the original header (RFC 792 Parameter Problem)",
    "unused" / Default(Int24ub, 0) * "zero (RFC 792)",
)
redirect_fields = Struct("gateway" / Default(IPv4Address(), "0.0.0.0") * "gateway to send to instead (RFC 792 Redirect)")
raw_fields = Struct("rest_of_header" / Default(Bytes(4), bytes(4)) * "type-specific 4 bytes, raw")


def _cases(**by_name):
    """Switch cases keyed by both name and number: parse yields names, build may give either."""
    cases = {}
    for name, fields in by_name.items():
        cases[name] = fields
        cases[ICMP_TYPE.number(name)] = fields
    return cases


icmp_header = HeaderStruct(
    "type" / ICMP_TYPE * "message type (RFC 792)",
    "code" / Default(Int8ub, 0) * "subtype, e.g. 4 fragmentation needed for type 3 (RFC 792)",
    "checksum" / Int16ub * "ones' complement checksum of the ICMP message (RFC 792)",
    Flattened(
        Switch(
            this.type,
            _cases(
                echo_reply=echo_fields,
                echo_request=echo_fields,
                timestamp=echo_fields,
                timestamp_reply=echo_fields,
                destination_unreachable=unreachable_fields,
                time_exceeded=unused_fields,
                source_quench=unused_fields,
                parameter_problem=parameter_problem_fields,
                redirect=redirect_fields,
            ),
            default=raw_fields,
        )
    ),
)
"""ICMP header (8 bytes); ``ICMP`` adds the checksum and payload."""

ICMP_RULES = HeaderRules("icmp", icmp_header, HEADER_LENGTH, ())
"""An ICMP header has one integrity rule: its 8 bytes are present (RFC 792)."""
_CHECKSUM = ICMP_RULES.offset_of("checksum")

#: the error messages, which quote the datagram that caused them (RFC 792, RFC 1812 §4.3.2.3)
ERROR_TYPES = frozenset({DESTINATION_UNREACHABLE, SOURCE_QUENCH, REDIRECT, TIME_EXCEEDED, PARAMETER_PROBLEM})


class IcmpLayer(Layer):
    """ICMP message: checksum over the whole message, payload bytes."""
    tail_field = "rest_of_header"

    def decode(self, data: bytes, base: int, context) -> Container:
        ICMP_RULES.check_truncated({"available": len(data)}, base, self)
        container = self.parse_header(data[:HEADER_LENGTH], base)
        container.checksum_ok = internet_checksum(data) == 0
        container.payload = data[HEADER_LENGTH:]
        container._derived = {}
        if container.checksum_ok:
            container._derived["checksum"] = container.checksum
        return container

    def encode(self, obj, context) -> bytes:
        values = dict(obj)
        if values.get("type") is None:
            raise FormatError("icmp", "type", None, "missing field (it has no default)")
        if isinstance(values["type"], str):
            try:
                values["type"] = ICMP_TYPE.number(values["type"])
            except FormatError as error:
                raise FormatError("icmp", "type", None, error.reason) from None
        explicit_checksum = self.wanted(obj, "checksum")
        values["checksum"] = 0 if explicit_checksum is None else explicit_checksum
        message = self.build_header(values) + self.raw_bytes(values.get("payload"))
        if explicit_checksum is None:
            checksum = internet_checksum(message)
            message = with_checksum(message, _CHECKSUM, checksum)
        return message


ICMP = IcmpLayer("icmp", icmp_header, "ICMP message (RFC 792)")
ICMP.ip_protocol = IP_PROTOCOL_ICMP
register_ip_protocol(IP_PROTOCOL_ICMP, "icmp", ICMP)


def original_datagram(container) -> Container:
    """The datagram quoted by an ICMP error: ``Container(header=<IPv4 header fields>, data=<bytes>)``.

    The quote is the original IP header and at least its first 8 data bytes (RFC 792, RFC 1812 §4.3.2.3),
    so its total_length usually exceeds what is present: only the header is decoded, ``data`` is the
    rest as bytes. FormatError when the payload does not hold an IPv4 header.
    """
    quote = bytes(container["payload"])
    try:
        if len(quote) < MINIMUM_HEADER_LENGTH:
            raise FormatError("icmp", "payload", None, "shorter than an IPv4 header")
        header = ipv4_header.parse(quote[:MINIMUM_HEADER_LENGTH])
        # The IPv4 rules, the quote's total_length excepted: it counts the whole original datagram.
        values = {"available": 65535, "present": len(quote), "version": header.version, "ihl": header.ihl,
                  "total_length": header.total_length}
        header_length = IPV4_RULES.check(values, 0)["header_length"]
        header.options = quote[MINIMUM_HEADER_LENGTH:header_length]
    except Exception:  # FormatError or a construct error: report, never leak
        raise FormatError("icmp", "payload", None, "the payload does not start with an IPv4 header") from None
    header.pop("_io", None)
    return Container(header=header, data=quote[header_length:])
