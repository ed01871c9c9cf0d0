"""The generated fast path (netstack/formats/fast.py) agrees with the declarative schemas.

Both directions: every frame decodes to the same values or fails with the same FormatError (layer,
field, offset), including truncated and mutated frames; and the fast builders produce the same bytes
as ``Frame.build`` for the same field values.

The agreement property mutates random bytes, which rarely lands on the one nibble that matters
(removing the fast path's ``ihl < 5`` check once passed the whole suite), so every length field that
lies is also hit on purpose, with every lying value: the declarative ``Frame``/layer parse and the
generated fast decoder both raise FormatError for the same layer, field and offset.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netstack.formats import TCP, UDP, Frame, FormatError, IPv4
from netstack.formats import fast, fast_tcp_options
from netstack.formats.codegen import header_layout
from netstack.formats.fast import decode_ipv4, decode_tcp, decode_udp
from netstack.formats.tcp import TCP_FLAGS, tcp_header

from tests.support.format_inputs import frames


def _flags_int(flags, bits):
    return sum(value for name, value in bits.items() if flags.get(name))


def _option_plain(option):
    kind = int(option.kind)
    value = option.value
    if kind == fast.OPT_SACK:
        value = tuple((block.left, block.right) for block in value)
    elif kind == fast.OPT_TIMESTAMPS:
        value = (value.ts_value, value.ts_echo_reply)
    return (kind, value)


def declarative_view(frame):
    """The declarative decode reduced to the fast path's raw values."""
    view = {"ethernet": (frame.dst, frame.src, int(frame.ethertype), None if frame.vlan is None else (frame.vlan.pcp, int(frame.vlan.dei), frame.vlan.vid))}
    ip = frame.payload
    if int(frame.ethertype) == fast.ETHERTYPE_ARP:
        view["arp"] = (int(ip.htype), int(ip.ptype), ip.hlen, ip.plen, int(ip.op), ip.sha, ip.spa, ip.tha, ip.tpa)
        return view
    if int(frame.ethertype) != fast.ETHERTYPE_IPV4:
        return view
    view["ipv4"] = (
        ip.version, ip.ihl, ip.tos.dscp << 2 | ip.tos.ecn, ip.total_length, ip.identification,
        _flags_int(ip.flags, {"reserved": 4, "df": 2, "mf": 1}), ip.fragment_offset, ip.ttl, int(ip.protocol),
        ip.checksum, ip.src, ip.dst, ip.options, ip.checksum_ok,
    )
    inner = ip.payload
    if isinstance(inner, bytes):
        view["ip_payload"] = inner
        return view
    protocol = int(ip.protocol)
    if protocol == fast.IP_PROTOCOL_TCP:
        view["tcp"] = (
            inner.src_port, inner.dst_port, inner.seq, inner.ack, inner.data_offset, inner.reserved,
            _flags_int(inner.flags, dict(TCP_FLAGS.flags)), inner.window, inner.checksum, inner.urgent_pointer,
            tuple(_option_plain(option) for option in inner.options), inner.checksum_ok, inner.payload,
        )
    elif protocol == fast.IP_PROTOCOL_UDP:
        view["udp"] = (inner.src_port, inner.dst_port, inner.length, inner.checksum, inner.checksum_ok, inner.payload)
    elif protocol == fast.IP_PROTOCOL_ICMP:
        fields = tuple(inner.get(name) for name in fast.ICMP_TYPE_FIELDS)
        fields = tuple(fast.ipv4_bytes(value) if name == "gateway" and value is not None else value for name, value in zip(fast.ICMP_TYPE_FIELDS, fields))
        view["icmp"] = (int(inner.type), inner.code, inner.checksum) + fields + (inner.checksum_ok, inner.payload)
    return view


def fast_view(buf):
    """The fast decode of a whole frame, shaped like ``declarative_view``."""
    ethernet = fast.decode_ethernet(buf)
    view = {"ethernet": (fast.mac_text(ethernet.dst), fast.mac_text(ethernet.src), ethernet.ethertype, None if ethernet.vlan is None else tuple(ethernet.vlan))}
    if ethernet.ethertype == fast.ETHERTYPE_ARP:
        arp = fast.decode_arp(buf, ethernet.payload_offset)
        text = lambda raw: fast.mac_text(raw)
        view["arp"] = (arp.htype, arp.ptype, arp.hlen, arp.plen, arp.op, text(arp.sha),
                       fast.ipv4_text(arp.spa) if arp.plen == 4 else text(arp.spa), text(arp.tha),
                       fast.ipv4_text(arp.tpa) if arp.plen == 4 else text(arp.tpa))
        return view
    if ethernet.ethertype != fast.ETHERTYPE_IPV4:
        return view
    ip = fast.decode_ipv4(buf, ethernet.payload_offset)
    view["ipv4"] = (
        ip.version, ip.ihl, ip.tos, ip.total_length, ip.identification, ip.flags, ip.fragment_offset, ip.ttl,
        ip.protocol, ip.checksum, fast.ipv4_text(ip.src), fast.ipv4_text(ip.dst), ip.options, ip.checksum_ok,
    )
    if ip.fragment_offset or ip.flags & fast.IP_MF or ip.protocol not in (1, 6, 17):
        view["ip_payload"] = ip.payload
        return view
    if ip.protocol == fast.IP_PROTOCOL_TCP:
        t = fast.decode_tcp(buf, ip.payload_offset, ip.payload_end, ip.src, ip.dst)
        view["tcp"] = (t.src_port, t.dst_port, t.seq, t.ack, t.data_offset, t.reserved, t.flags, t.window,
                       t.checksum, t.urgent_pointer, t.options, t.checksum_ok, t.payload)
    elif ip.protocol == fast.IP_PROTOCOL_UDP:
        u = fast.decode_udp(buf, ip.payload_offset, ip.payload_end, ip.src, ip.dst)
        view["udp"] = (u.src_port, u.dst_port, u.length, u.checksum, u.checksum_ok, u.payload)
    else:
        i = fast.decode_icmp(buf, ip.payload_offset, ip.payload_end)
        view["icmp"] = (i.type, i.code, i.checksum) + tuple(getattr(i, name) for name in fast.ICMP_TYPE_FIELDS) + (i.checksum_ok, i.payload)
    return view


def outcome(decode, data):
    try:
        return decode(data)
    except FormatError as error:
        return ("FormatError", error.layer, error.field, error.offset)


def assert_agree(data):
    declarative = outcome(lambda d: declarative_view(Frame.parse(d)), data)
    generated = outcome(fast_view, data)
    assert generated == declarative


@given(frames())
def test_fast_decode_agrees_on_valid_frames(frame):
    assert_agree(Frame.build(frame))


@given(frames(), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=12))
def test_fast_decode_agrees_on_truncated_and_mutated_frames(frame, mutations):
    raw = Frame.build(frame)
    for cut in range(len(raw)):
        assert_agree(raw[:cut])
    for position, value in mutations:
        index = position % len(raw)
        assert_agree(raw[:index] + bytes([value]) + raw[index + 1 :])


@given(frames())
def test_fast_encode_builds_the_same_bytes(frame):
    raw = Frame.build(frame)
    parsed = Frame.parse(raw)
    ethernet = fast.decode_ethernet(raw)
    if ethernet.ethertype == fast.ETHERTYPE_ARP:
        a = fast.decode_arp(raw, ethernet.payload_offset)
        payload = fast.encode_arp(a.op, a.sha, a.spa, a.tpa, a.tha, a.htype, a.ptype) + parsed.payload.padding
    elif ethernet.ethertype == fast.ETHERTYPE_IPV4:
        ip = fast.decode_ipv4(raw, ethernet.payload_offset)
        inner = ip.payload
        if ip.protocol == fast.IP_PROTOCOL_TCP:
            t = fast.decode_tcp(raw, ip.payload_offset, ip.payload_end, ip.src, ip.dst)
            inner = fast.encode_tcp(ip.src, ip.dst, t.src_port, t.dst_port, t.seq, t.ack, t.flags, t.window,
                                    t.urgent_pointer, t.options, t.payload)
        elif ip.protocol == fast.IP_PROTOCOL_UDP:
            u = fast.decode_udp(raw, ip.payload_offset, ip.payload_end, ip.src, ip.dst)
            inner = fast.encode_udp(ip.src, ip.dst, u.src_port, u.dst_port, u.payload)
        elif ip.protocol == fast.IP_PROTOCOL_ICMP:
            i = fast.decode_icmp(raw, ip.payload_offset, ip.payload_end)
            fields = {name: getattr(i, name) for name in fast.ICMP_TYPE_FIELDS if getattr(i, name) is not None}
            inner = fast.encode_icmp(i.type, i.code, i.payload, **fields)
        payload = fast.encode_ipv4(ip.src, ip.dst, ip.protocol, inner, ip.ttl, ip.identification, ip.flags,
                                   ip.fragment_offset, ip.tos, ip.options)
    else:
        payload = raw[ethernet.payload_offset :]
    assert fast.encode_ethernet(ethernet.dst, ethernet.src, ethernet.ethertype, payload, ethernet.vlan) == raw


def test_layouts_come_from_the_declarations():
    layout = header_layout(tcp_header)
    assert layout.field_names == ["src_port", "dst_port", "seq", "ack", "data_offset", "reserved", "flags", "window", "checksum", "urgent_pointer"]
    assert fast.TcpHeader._fields[: len(layout.field_names)] == tuple(layout.field_names)
    assert layout.size == 20 and fast.IPV4_LAYOUT.size == 20 and fast.UDP_LAYOUT.size == 8
    assert (fast.FIN, fast.SYN, fast.RST, fast.PSH, fast.ACK, fast.URG, fast.ECE, fast.CWR) == (1, 2, 4, 8, 16, 32, 64, 128)


def test_zero_length_option_does_not_hang():
    segment = fast.encode_tcp(bytes(4), bytes(4), 1, 2, options=b"\x02\x00\x00\x00", data_offset=6)
    with pytest.raises(FormatError) as raised:
        fast.decode_tcp(segment)
    assert (raised.value.layer, raised.value.field, raised.value.offset) == ("tcp_options", "length", 21)


def test_records_expose_payload_and_offsets():
    raw = Frame.build({"payload": {"src": "192.0.2.1", "dst": "192.0.2.2", "protocol": "udp", "payload": {"src_port": 7, "dst_port": 9, "payload": b"data"}}}) + bytes(6)
    ip = fast.decode_ipv4(raw, 14)
    udp = fast.decode_udp(raw, ip.payload_offset, ip.payload_end, ip.src, ip.dst)
    assert udp.payload == b"data" and udp.checksum_ok is True and ip.payload_end == len(raw) - 6


DECODERS = [fast.decode_arp, fast.decode_ipv4, fast.decode_icmp, fast.decode_udp, fast.decode_tcp]


@given(st.binary(max_size=80), st.integers(0, 80), st.sampled_from([None, 0, 10, 40, 65535]), st.booleans())
def test_decoders_raise_only_format_error_on_any_bytes(data, offset, end, with_addresses):
    for decode in DECODERS:
        arguments = (data, offset, end)
        if with_addresses and decode in (fast.decode_tcp, fast.decode_udp):
            arguments += (bytes(4), bytes(4))
        try:
            record = decode(*arguments)
        except FormatError:
            continue
        assert record.offset == offset and record.payload_offset >= offset
    try:
        fast.decode_ethernet(data, offset)
    except FormatError:
        pass


@given(st.tuples(st.integers(0, 8), st.integers(0, 8)).flatmap(lambda sizes: st.binary(min_size=8, max_size=60).map(lambda d: d[:4] + bytes(sizes) + d[6:])))
def test_arp_of_any_address_size_agrees(data):
    outcome_fast = outcome(lambda d: tuple(fast.decode_arp(d)[:9]), data)
    def declarative(d):
        from netstack.formats import ARP

        packet = ARP.parse(d)
        hardware = lambda text: bytes.fromhex(text.replace(":", ""))
        protocol = lambda text: bytes(int(x) for x in text.split(".")) if packet.plen == 4 else hardware(text)
        return (int(packet.htype), int(packet.ptype), packet.hlen, packet.plen, int(packet.op),
                hardware(packet.sha), protocol(packet.spa), hardware(packet.tha), protocol(packet.tpa))

    assert outcome_fast == outcome(declarative, data)


def test_quoted_header_reads_past_the_buffer_end():
    datagram = fast.encode_ipv4(bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]), 17, bytes(1000))
    quote = datagram[:28]
    header = fast.decode_ipv4(quote, 0, 65535)
    assert header.total_length == 1020 and header.payload_offset == 20
    with pytest.raises(FormatError):
        fast.decode_ipv4(quote)  # the default end is the buffer: total_length lies


@given(st.binary(min_size=400, max_size=9000), st.booleans())
def test_large_segments_checksum_like_the_reference(payload, use_udp):
    """Payloads past 512 bytes take the folded-sum path; the checksum must still be RFC 1071's."""
    from netstack.formats.checksum import transport_checksum

    src, dst = bytes([192, 0, 2, 1]), bytes([203, 0, 113, 5])
    if use_udp:
        segment = fast.encode_udp(src, dst, 1, 2, payload)
        record = fast.decode_udp(segment, 0, None, src, dst)
        protocol = 17
    else:
        segment = fast.encode_tcp(src, dst, 1, 2, options=[(fast.OPT_NOP, None), (fast.OPT_NOP, None), (fast.OPT_TIMESTAMPS, (7, 9))], payload=payload)
        record = fast.decode_tcp(segment, 0, None, src, dst)
        protocol = 6
    assert transport_checksum(src, dst, protocol, segment) == 0 and record.checksum_ok is True
    broken = segment[:-1] + bytes([segment[-1] ^ 0x01])
    again = (fast.decode_udp if use_udp else fast.decode_tcp)(broken, 0, None, src, dst)
    assert again.checksum_ok is False


@given(st.sampled_from(fast_tcp_options.COMMON_LAYOUTS), st.data())
def test_common_layout_matchers_agree_with_the_loop(layout, data):
    values = {
        "nop": st.none(), "sack_permitted": st.none(), "mss": st.integers(0, 0xFFFF), "window_scale": st.integers(0, 255),
        "timestamps": st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    }
    options = [(name, data.draw(values[name])) for name in layout]
    area = fast.encode_tcp_options(options)
    assert fast.decode_tcp_options(area, 0, len(area)) == fast_tcp_options.decode_tcp_options_loop(area, 0, len(area))
    for position in range(len(area)):  # every kind/length byte changed: the matcher must step aside
        mutated = area[:position] + bytes([data.draw(st.integers(0, 255))]) + area[position + 1 :]
        expected = outcome(lambda b: fast_tcp_options.decode_tcp_options_loop(b, 0, len(b)), mutated)
        assert outcome(lambda b: fast.decode_tcp_options(b, 0, len(b)), mutated) == expected


# ---------------------------------------------- every lying length field is refused by both paths
SRC, DST = "192.0.2.1", "198.51.100.2"
SRC_BYTES, DST_BYTES = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 2])

DATAGRAM = IPv4.build({"src": SRC, "dst": DST, "protocol": 253, "payload": b"0123456789abcdef"})  # 36 bytes
SEGMENT = TCP.build({"src_port": 1, "dst_port": 2, "options": [("mss", 1460)], "payload": b"data"},
                    src=SRC, dst=DST)  # 24-byte header
USER_DATAGRAM = UDP.build({"src_port": 1, "dst_port": 2, "payload": b"0123456789"}, src=SRC, dst=DST)


def _both_refuse(declarative, fast, data: bytes, layer: str, field: str) -> None:
    with pytest.raises(FormatError) as slow_error:
        declarative(data)
    with pytest.raises(FormatError) as fast_error:
        fast(data)
    assert (slow_error.value.layer, slow_error.value.field) == (layer, field), slow_error.value
    assert (fast_error.value.layer, fast_error.value.field) == (layer, field), fast_error.value
    assert slow_error.value.offset == fast_error.value.offset


def _with_ihl(ihl: int) -> bytes:
    data = bytearray(DATAGRAM)
    data[0] = 0x40 | ihl
    return bytes(data)


@pytest.mark.parametrize("ihl", range(5))
def test_ihl_below_5_is_refused(ihl):
    _both_refuse(IPv4.parse, decode_ipv4, _with_ihl(ihl), "ipv4", "ihl")


@pytest.mark.parametrize("ihl", [10, 15])  # 40 and 60 header bytes, only 36 present
def test_ihl_beyond_the_data_is_refused(ihl):
    _both_refuse(IPv4.parse, decode_ipv4, _with_ihl(ihl), "ipv4", "options")


@pytest.mark.parametrize("total_length", [0, 1, 19, 37, 65535])
def test_total_length_that_lies_is_refused(total_length):
    data = bytearray(DATAGRAM)
    data[2:4] = total_length.to_bytes(2, "big")
    _both_refuse(IPv4.parse, decode_ipv4, bytes(data), "ipv4", "total_length")


@pytest.mark.parametrize("data_offset", range(5))
def test_data_offset_below_5_is_refused(data_offset):
    data = bytearray(SEGMENT)
    data[12] = data_offset << 4
    _both_refuse(lambda d: TCP.parse(d, src=SRC, dst=DST), lambda d: decode_tcp(d, 0, None, SRC_BYTES, DST_BYTES),
                 bytes(data), "tcp", "data_offset")


@pytest.mark.parametrize("data_offset", [8, 15])
def test_data_offset_beyond_the_segment_is_refused(data_offset):
    data = bytearray(SEGMENT)
    data[12] = data_offset << 4
    _both_refuse(lambda d: TCP.parse(d, src=SRC, dst=DST), lambda d: decode_tcp(d, 0, None, SRC_BYTES, DST_BYTES),
                 bytes(data), "tcp", "data_offset")


@pytest.mark.parametrize("length", [0, 7, 19, 65535])
def test_udp_length_that_lies_is_refused(length):
    data = bytearray(USER_DATAGRAM)
    data[4:6] = length.to_bytes(2, "big")
    _both_refuse(lambda d: UDP.parse(d, src=SRC, dst=DST), lambda d: decode_udp(d, 0, None, SRC_BYTES, DST_BYTES),
                 bytes(data), "udp", "length")


def test_a_lying_ihl_inside_a_frame_names_ipv4_and_its_offset():
    frame = Frame.build({"payload": {"src": SRC, "dst": DST, "protocol": 253, "payload": b"x" * 8}})
    data = bytearray(frame)
    data[14] = 0x43
    with pytest.raises(FormatError) as error:
        Frame.parse(bytes(data))
    assert (error.value.layer, error.value.field, error.value.offset) == ("ipv4", "ihl", 14)
    assert "ipv4" in str(error.value) and "ihl" in str(error.value) and "14" in str(error.value)


# --- `netstack decode` arguments (issue 2 item 6: bad input is one clear line, never a traceback) ---


@pytest.mark.parametrize("text, words", [
    ("zz", "'z' is not a hex digit"),
    ("00 0g", "'g' is not a hex digit"),
    ("abc", "3 hex digits: not a whole number of bytes"),
    ("", "no hex digits given"),
])
def test_decode_bad_hex_says_what_is_wrong(capfd, text, words):
    from netstack.cli import main

    assert main(["decode", "--hex", text]) == 1
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.strip() == f"netstack decode: hex: {words}"


@pytest.mark.parametrize("count", ["0", "-1", "x"])
def test_decode_count_must_be_a_positive_number(capfd, count):
    from netstack.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["decode", "--hex", "00", "-c", count])
    assert exited.value.code == 2
    assert "argument -c/--count" in capfd.readouterr().err
