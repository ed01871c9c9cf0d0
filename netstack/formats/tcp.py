"""TCP header (RFC 9293 §3.1 "Header Format"; ECE/CWR per RFC 3168 §6.1; options in ``tcp_options``).

Header layout (RFC 9293 §3.1)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |          Source Port          |       Destination Port        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                        Sequence Number                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Acknowledgment Number                      |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |  Data |       |C|E|U|A|P|R|S|F|                               |
    | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
    |       |       |R|E|G|K|H|T|N|N|                               |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           Checksum            |         Urgent Pointer        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           [Options]                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                             Data                              :
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Container: ``src_port, dst_port, seq, ack, data_offset, reserved, flags`` (``cwr, ece, urg, ack, psh,
rst, syn, fin`` booleans), ``window, checksum, urgent_pointer, options`` (see ``tcp_options``),
``checksum_ok`` and ``payload`` (bytes).

Decode checks (the rule table ``TCP_RULES``, which the generated decoder runs too): 20 bytes present,
data_offset >= 5, data_offset * 4 bytes present; then the options
(``tcp_options``). The checksum covers the pseudo-header (src, dst, zero, protocol 6, TCP length),
header and data (RFC 9293 §3.1 "Checksum"); the addresses come from the enclosing IPv4 layer or the
``src``/``dst`` context (see ``transport``). ``checksum_ok`` is None when they are not known.

Build defaults: src_port 49152, seq 0, ack 0, reserved 0, flags none, window 65535, urgent pointer 0, no options.
``data_offset`` (options zero-padded, i.e. ended by EOL, to a 4-byte boundary) and ``checksum`` are
computed when absent or None. ``flags`` may be a dict of booleans, the 8-bit int, names joined by
"|" ("syn|ack") or scapy's letters ("SA": F S R P A U E C).
"""

from __future__ import annotations

from construct import BitsInteger, BitStruct, Container, Default, FlagsEnum, Int16ub, Int32ub

from netstack.errors import FormatError
from netstack.formats.checksum import with_checksum
from netstack.formats.fields import Flattened, HeaderStruct
from netstack.formats.layer import Layer
from netstack.formats.registry import IP_PROTOCOL_TCP, register_ip_protocol
from netstack.formats.rules import Derive, HeaderRules, Rule
from netstack.formats.tcp_options import TcpOptionList, decode_options, encode_options
from netstack.formats.transport import checksum_verdict, pseudo_header_checksum

MINIMUM_HEADER_LENGTH = 20

# The control bits as ints (the flags byte, RFC 9293 §3.1); the engine and the codec import these.
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

TCP_FLAGS = FlagsEnum(BitsInteger(8), fin=FIN, syn=SYN, rst=RST, psh=PSH, ack=ACK, urg=URG, ece=ECE, cwr=CWR)
"""The control bits (RFC 9293 §3.1 "Control bits"; CWR, ECE from RFC 3168 §6.1)."""
TCP_FLAGS.bit_docs = {  # read by `netstack explain` and docs/formats.md, one line per bit
    "cwr": "congestion window reduced (RFC 3168 §6.1)",
    "ece": "ECN-echo: congestion experienced seen, or ECN-capable in a SYN (RFC 3168 §6.1)",
    "urg": "urgent pointer field is significant (RFC 9293 §3.1)",
    "ack": "acknowledgment field is significant (RFC 9293 §3.1)",
    "psh": "push function (RFC 9293 §3.9.1)",
    "rst": "reset the connection (RFC 9293 §3.5.2)",
    "syn": "synchronize sequence numbers (RFC 9293 §3.4)",
    "fin": "no more data from sender (RFC 9293 §3.6)",
}

#: scapy's one-letter flag spelling -> our flag name
FLAG_LETTERS = {"F": "fin", "S": "syn", "R": "rst", "P": "psh", "A": "ack", "U": "urg", "E": "ece", "C": "cwr"}

tcp_header = HeaderStruct(
    "src_port" / Default(Int16ub, 49152) * "source port; 49152 (first dynamic port, RFC 6335 §6) when left out (RFC 9293 §3.1)",
    "dst_port" / Int16ub * "destination port (RFC 9293 §3.1)",
    "seq" / Default(Int32ub, 0) * "sequence number of the first data octet, or the ISN on SYN (RFC 9293 §3.1)",
    "ack" / Default(Int32ub, 0) * "acknowledgment number: next sequence number expected, when ACK is set (RFC 9293 §3.1)",
    Flattened(
        BitStruct(
            "data_offset" / BitsInteger(4) * "header length in 32-bit words, >= 5 (RFC 9293 §3.1)",
            "reserved" / Default(BitsInteger(4), 0) * "reserved, zero (RFC 9293 §3.1)",
            "flags" / Default(TCP_FLAGS, 0) * "control bits CWR ECE URG ACK PSH RST SYN FIN (RFC 9293 §3.1, RFC 3168)",
        )
    ),
    "window" / Default(Int16ub, 65535) * "receive window, bytes, before window scaling (RFC 9293 §3.1, RFC 7323 §2)",
    "checksum" / Int16ub * "ones' complement checksum of pseudo-header, header and data (RFC 9293 §3.1)",
    "urgent_pointer" / Default(Int16ub, 0) * "offset of the byte after urgent data, when URG is set (RFC 9293 §3.1)",
    "options" / TcpOptionList() * "options, (data_offset - 5) * 4 bytes (RFC 9293 §3.1, see tcp_options)",
)
"""TCP header; ``TCP`` adds data offset, checksum and payload."""

MINIMUM_DATA_OFFSET = MINIMUM_HEADER_LENGTH // 4

TCP_RULES = HeaderRules("tcp", tcp_header, MINIMUM_HEADER_LENGTH, (
    Rule("data_offset", f"data_offset < {MINIMUM_DATA_OFFSET}",
         f"data_offset %d is below the minimum {MINIMUM_DATA_OFFSET} ({MINIMUM_HEADER_LENGTH} bytes)", "data_offset",
         "RFC 9293 §3.1"),
    Derive("header_length", "data_offset << 2"),
    Rule("data_offset", "header_length > available", "data_offset %d says %d header bytes, has %d",
         "data_offset, header_length, available", "RFC 9293 §3.1"),
))
"""The integrity rules of a TCP header, read by ``TcpLayer.decode`` and the generated ``decode_tcp``."""
_CHECKSUM = TCP_RULES.offset_of("checksum")


def flags_value(flags):
    """Any accepted spelling of the flags -> what the FlagsEnum builds (int or dict)."""
    if isinstance(flags, str) and flags and "|" not in flags and flags.isupper():
        names = []
        for letter in flags:
            if letter not in FLAG_LETTERS:
                raise FormatError("tcp", "flags", None, f"unknown flag letter {letter!r} in {flags!r}")
            names.append(FLAG_LETTERS[letter])
        return "|".join(names)
    return flags


class TcpLayer(Layer):
    """TCP segment: header checks, options, pseudo-header checksum, payload bytes."""

    tail_field = "options"

    def decode(self, data: bytes, base: int, context) -> Container:
        values = {"available": len(data)}
        TCP_RULES.check_truncated(values, base, self)
        container = self.parse_header(data[:MINIMUM_HEADER_LENGTH], base)
        data_offset = values["data_offset"] = container.data_offset
        header_length = TCP_RULES.check(values, base)["header_length"]
        container.options = decode_options(data[MINIMUM_HEADER_LENGTH:header_length], base + MINIMUM_HEADER_LENGTH)
        container.checksum_ok = checksum_verdict(context, "tcp", IP_PROTOCOL_TCP, data)
        container.payload = data[header_length:]
        container._derived = {"data_offset": data_offset}
        if container.checksum_ok:
            container._derived["checksum"] = container.checksum
        return container

    def encode(self, obj, context) -> bytes:
        values = dict(obj)
        options = encode_options(values.get("options"))
        if self.wanted(obj, "data_offset") is None:
            options += bytes(-len(options) % 4)
            values["data_offset"] = MINIMUM_DATA_OFFSET + len(options) // 4
        values["options"] = options
        values["flags"] = flags_value(values.get("flags"))
        payload = self.raw_bytes(values.get("payload"))
        explicit_checksum = self.wanted(obj, "checksum")
        values["checksum"] = 0 if explicit_checksum is None else explicit_checksum
        segment = self.build_header(values) + payload
        if explicit_checksum is None:
            checksum = pseudo_header_checksum(context, "tcp", IP_PROTOCOL_TCP, segment)
            segment = with_checksum(segment, _CHECKSUM, checksum)
        return segment


TCP = TcpLayer("tcp", tcp_header, "TCP segment (RFC 9293)")
TCP.ip_protocol = IP_PROTOCOL_TCP
register_ip_protocol(IP_PROTOCOL_TCP, "tcp", TCP)
