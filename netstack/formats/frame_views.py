"""``Frame.parse`` and ``dissect`` as lazy views over the generated codec's records.

``parse_frame(data)`` decodes every layer with ``fast`` (so a malformed frame raises its
``FormatError`` here, before anything is returned; TCP and UDP checksums are verified when
``checksum_ok`` or ``_derived`` is first read, ``_verified``: most reads never look), then returns
``LayerView``s (``netstack.formats.layer_view``) that convert a field into its container form (an
enum's name, a flag ``Container``, address text, the option list) when it is first read. The
conversions are those of ``frame_codec`` (``field_converters``: read from the declarations), so a
view materialised equals the declarative ``Ethernet.parse`` container key for key, in order
(``tests/formats/test_frame_codec.py``).

``dissect_frame(data)`` (``dissect``) gives ``DissectedLayer``s instead, as ``crafted.wrap`` gives
``Crafted`` layers over eager containers: each holds its view's state and reads its fields with the
view's generated getters; the view is made only when ``fields`` is needed, and both see each other's
edits (``tests/formats/test_dissected.py``).

Frames the generated codec does not cover raise ``NotOurs`` as in ``frame_codec``; ``Frame`` then
takes the declarative path.
"""

from __future__ import annotations

from construct import Container, ListContainer

from netstack.formats import fast
from netstack.formats.arp import ARP
from netstack.formats.crafted import Crafted
from netstack.formats.ethernet import Ethernet, ethernet_header, vlan_tag
from netstack.formats.frame_codec import NotOurs, _identity, _unwrap, field_converters
from netstack.formats.icmp import ICMP, icmp_header
from netstack.formats.ipv4 import IPv4, ipv4_header
from netstack.formats.layer_view import LayerView, view_class
from netstack.formats.registry import ETHERTYPES, IP_PROTOCOLS
from netstack.formats.tcp import TCP, tcp_header
from netstack.formats.tcp_options import OPTION_LENGTHS, TCP_OPTION_KIND
from netstack.formats.udp import UDP
from netstack.formats.fields import Flattened

_KIND_LABELS = TCP_OPTION_KIND.decmapping


def _option_container(kind, value):
    """One option as the declarative decoder gives it: Container(kind, length, value)."""
    label = _KIND_LABELS.get(kind, kind)
    if kind == fast.OPT_NOP:
        return Container(kind=label, length=None, value=None)
    if kind == fast.OPT_EOL:
        return Container(kind=label, length=None, value=value)
    if kind == fast.OPT_SACK:
        blocks = ListContainer(Container(left=left, right=right) for left, right in value)
        return Container(kind=label, length=2 + 8 * len(blocks), value=blocks)
    if kind == fast.OPT_TIMESTAMPS:
        return Container(kind=label, length=10, value=Container(ts_value=value[0], ts_echo_reply=value[1]))
    if kind in (fast.OPT_MSS, fast.OPT_WINDOW_SCALE, fast.OPT_SACK_PERMITTED):
        return Container(kind=label, length=min(OPTION_LENGTHS[kind]), value=value)
    return Container(kind=label, length=2 + len(value), value=value)


def _derived(record, *lengths) -> dict:
    """The ``_derived`` a declarative layer records: its length fields, and its checksum when right."""
    derived = {name: getattr(record, name) for name in lengths}
    if record.checksum_ok:
        derived["checksum"] = record.checksum
    return derived


_VLAN_FIELDS = field_converters(vlan_tag)


def _vlan(tag):
    """The 802.1Q tag's Container (pcp, dei, vid) from its record."""
    return Container([(name, convert(getattr(tag, name))) for name, convert in _VLAN_FIELDS])

_NAMESPACE = {"ListContainer": ListContainer, "_option_container": _option_container, "_derived": _derived}


def _header_fields(record_type, converters, skip=()):
    """(key, expression over the state ``s``, mutable) for a header's fields, each read from the
    record by index and converted as ``frame_codec`` converts it."""
    fields = []
    for name, convert in converters:
        if name in skip:
            continue
        index = record_type._fields.index(name)
        raw = f"s[0][{index}]"
        if convert is _identity:
            fields.append((name, raw, False))
        elif getattr(convert, "labels", None) is not None:
            _NAMESPACE[f"_labels_{name}"] = convert.labels
            fields.append((name, f"_labels_{name}.get({raw}, {raw})", False))
        else:
            key = f"_convert_{record_type.__name__}_{name}"
            _NAMESPACE[key] = convert
            # a flag or bit-field Container can be edited in place: convert once and keep it
            fields.append((name, f"{key}({raw})", getattr(convert, "makes_container", False)))
    return fields


def _child(s):
    """The next layer from ``s[3]``, made once and kept in ``s[5]``: its view, or when dissecting a
    ``Crafted`` layer over its state (the view is made only if its ``fields`` are asked for)."""
    cls, record, extra = s[3]
    state = [record, s[1], None, extra, s[4], None]
    if s[4]:
        child = _new_object(cls.CRAFTED)
        _set_crafted_state(child, state)
    else:
        child = _new_view(cls)
        _set_state(child, state)
    s[5] = child
    return child


_new_view, _set_state = LayerView.__new__, LayerView._state.__set__
_new_object, _set_layer, _set_fields = object.__new__, Crafted.layer.__set__, Crafted.fields.__set__
_get_fields = Crafted.fields.__get__


class DissectedLayer(Crafted):
    """A ``Crafted`` layer of a dissected frame: it holds its view's state (``_s``: the record, the
    buffer, the values kept, ...) and reads its fields from it with the view's generated getters; the
    view itself (``fields``) is made the first time something needs the dict. Both share the state,
    so an edit through either is seen by both; once the view materialised, its dict answers."""

    __slots__ = ("_s",)
    VIEW: type = LayerView

    @property
    def fields(self):
        try:
            return _get_fields(self)
        except AttributeError:
            view = _new_view(self.VIEW)
            _set_state(view, self._s)
            _set_fields(self, view)
            return view


    def __getitem__(self, key):
        # the layers made by dissect_frame, each in its parent's state, walked without next_layer();
        # an edit anywhere (a kept value, a materialised view) or a key by name: Crafted's walk
        layer = self
        while layer.layer is not key:
            s = layer._s
            layer = s[5]
            if layer is None or s[2] is not None:
                return Crafted.__getitem__(self, key)
        return layer


_set_crafted_state = DissectedLayer._s.__set__


def _crafted_class(view):
    """The dissected layer over a view: each field a property running the view's generated getter
    (over the layer's own state when the view has such getters, else through the view), no
    ``__getattr__`` round trip; everything else is ``Crafted``'s."""
    attributes = {"__slots__": (), "VIEW": view, "layer": view.LAYER,  # a class attribute: one slot less to set
                  "__doc__": f"A dissected layer over a {view.__name__} (see netstack.formats.frame_views)."}
    getters = view.STATE_GETTERS or view.FIELD_GETTERS
    for key, getter in getters.items():
        if not hasattr(Crafted, key) and not key.startswith("_"):
            attributes[key] = property(getter, None, None, f"the {key!r} field of the layer's view")
    payload = getters.get("payload")  # ARP has none: Crafted's next_layer gives None

    def next_layer(self):
        try:
            return payload(self)
        except AttributeError:  # the payload key deleted (the view materialised)
            return None

    if payload is not None:
        attributes["next_layer"] = next_layer
    return type(f"Crafted{view.__name__.removesuffix('View')}", (DissectedLayer,), attributes)


_NAMESPACE["_child"] = _child

_ethernet_converters = field_converters(ethernet_header)
_NAMESPACE["_vlan"] = _vlan
EthernetView = view_class("EthernetView", _header_fields(fast.EthernetHeader, _ethernet_converters[:2]) + [
    ("vlan", "None if s[0].vlan is None else _vlan(s[0].vlan)", True),
    *_header_fields(fast.EthernetHeader, [item for item in _ethernet_converters if item[0] == "ethertype"]),
    ("payload", "s[5] if s[5] is not None else s[1][s[0].payload_offset:] if s[3] is None else _child(s)", False),
], _NAMESPACE)

Ipv4View = view_class("Ipv4View", _header_fields(fast.Ipv4Header, field_converters(ipv4_header), {"options"}) + [
    ("options", "s[0].options", False),
    ("checksum_ok", "s[0].checksum_ok", False),
    ("payload", "s[5] if s[5] is not None else s[1][s[0].payload_offset:s[0].payload_end] if s[3] is None else _child(s)",
     False),
    ("padding", "s[1][s[0].payload_end:]", False),
    ("_derived", "_derived(s[0], 'ihl', 'total_length')", True),
], _NAMESPACE)
Ipv4View.LAYER = IPv4

def _verified(s, decode):
    """The transport record with its checksum verdict. ``parse_frame`` decodes TCP and UDP without
    the pseudo-header addresses (most reads never look at the checksum, and summing the segment is a
    third of decoding it); the first read of ``checksum_ok`` or ``_derived`` decodes the layer again,
    with the addresses ``s[3]`` holds (``[end, src, dst]``; the addresses dropped once used)."""
    extra = s[3]
    if extra[1] is not None:
        s[0] = decode(s[1], s[0].offset, extra[0], extra[1], extra[2])
        extra[1] = extra[2] = None
    return s[0]


_NAMESPACE.update(_verified=_verified, _decode_tcp=fast.decode_tcp, _decode_udp=fast.decode_udp)

TcpView = view_class("TcpView", _header_fields(fast.TcpHeader, field_converters(tcp_header), {"options"}) + [
    ("options", "ListContainer([_option_container(kind, value) for kind, value in s[0].options])", True),
    ("checksum_ok", "_verified(s, _decode_tcp).checksum_ok", False),
    ("payload", "s[1][s[0].payload_offset:s[0].payload_end]", False),
    ("_derived", "_derived(_verified(s, _decode_tcp), 'data_offset')", True),
], _NAMESPACE)
TcpView.LAYER = TCP

UdpView = view_class("UdpView", _header_fields(fast.UdpHeader, field_converters(UDP.header)) + [
    ("checksum_ok", "_verified(s, _decode_udp).checksum_ok", False),
    ("payload", "s[1][s[0].payload_offset:s[0].payload_end]", False),
    ("padding", "s[1][s[0].payload_end:s[3][0]]", False),  # s[3][0]: where the IPv4 payload ends
    ("_derived", "_derived(_verified(s, _decode_udp), 'length')", True),
], _NAMESPACE)
UdpView.LAYER = UDP

ArpView = view_class("ArpView", _header_fields(fast.ArpPacket, field_converters(ARP.header)) + [
    ("padding", "s[1][s[0].payload_offset:]", False),
], _NAMESPACE)
ArpView.LAYER = ARP


# ICMP: the fields after type, code and checksum depend on the type (the declaration's Switch)
_ICMP_SWITCH = next(_unwrap(sc.subcon) for sc in icmp_header.subcons if isinstance(sc, Flattened))
_ICMP_CASE_FIELDS = {key: [name for name, _ in field_converters(case)]
                     for key, case in _ICMP_SWITCH.cases.items() if isinstance(key, int)}
_ICMP_DEFAULT_FIELDS = [name for name, _ in field_converters(_ICMP_SWITCH.default)]
_icmp_case_converters = {}
for _case in [*_ICMP_SWITCH.cases.values(), _ICMP_SWITCH.default]:
    for _name, _convert in field_converters(_case):
        _icmp_case_converters.setdefault(_name, _convert)
_ICMP_HEAD = _header_fields(fast.IcmpHeader, field_converters(icmp_header))
_ICMP_TAIL = [
    ("checksum_ok", "s[0].checksum_ok", False),
    ("payload", "s[1][s[0].payload_offset:s[3]]", False),  # s[3]: where the IPv4 payload ends
    ("_derived", "_derived(s[0])", True),
]


class _IcmpKeys(LayerView):
    """The ICMP view's keys follow the message type."""

    __slots__ = ()

    @property
    def _KEYSET(self):
        return _ICMP_KEYSETS.get(self._state[0].type, _ICMP_DEFAULT_KEYSET)

    @property
    def _KEYS(self):
        return _ICMP_KEYS.get(self._state[0].type, _ICMP_DEFAULT_KEYS)


IcmpView = view_class("IcmpView", _ICMP_HEAD + _header_fields(fast.IcmpHeader, list(_icmp_case_converters.items()))
                      + _ICMP_TAIL, _NAMESPACE, base=_IcmpKeys, optional=frozenset(_icmp_case_converters))
IcmpView.LAYER = ICMP


def _icmp_keys(case_fields):
    return tuple(key for key, _, _ in _ICMP_HEAD) + tuple(case_fields) + tuple(key for key, _, _ in _ICMP_TAIL)


_ICMP_KEYS = {key: _icmp_keys(names) for key, names in _ICMP_CASE_FIELDS.items()}
_ICMP_KEYSETS = {key: frozenset(keys) for key, keys in _ICMP_KEYS.items()}
_ICMP_DEFAULT_KEYS = _icmp_keys(_ICMP_DEFAULT_FIELDS)
_ICMP_DEFAULT_KEYSET = frozenset(_ICMP_DEFAULT_KEYS)

EthernetView.LAYER = Ethernet
for _view in (EthernetView, Ipv4View, TcpView, UdpView, ArpView, IcmpView):
    _view.CRAFTED = _crafted_class(_view)
_CRAFTED_ETHERNET, _CRAFTED_IPV4 = EthernetView.CRAFTED, Ipv4View.CRAFTED

# --- decoding --------------------------------------------------------------------------------------

_decode_ethernet = fast.decode_ethernet
_decode_ipv4 = fast.decode_ipv4
_decode_tcp = fast.decode_tcp
_decode_udp = fast.decode_udp
_decode_icmp = fast.decode_icmp
_IPV4, _ARP, _MF = fast.ETHERTYPE_IPV4, fast.ETHERTYPE_ARP, fast.IP_MF
_TCP, _UDP, _ICMP = fast.IP_PROTOCOL_TCP, fast.IP_PROTOCOL_UDP, fast.IP_PROTOCOL_ICMP
# the registry's tables (mutated in place by register_*): a built-in number decodes here only while
# the built-in layer is registered under it, as frame_codec._ours checks
_ETHERTYPE_ENTRIES = ETHERTYPES.entries
_PROTOCOL_ENTRIES = IP_PROTOCOLS.entries


def _frame_state(data: bytes, crafted: bool) -> list:
    """The Ethernet layer's state (every layer decoded); ``NotOurs`` when a registered schema must
    decode it, ``FormatError`` when it is malformed. The layer above IPv4 (``transport``: view class,
    record, extra) stays None for a payload kept as bytes (a fragment, an unregistered protocol)."""
    link = _decode_ethernet(data)
    ethertype = link.ethertype
    entry = _ETHERTYPE_ENTRIES.get(ethertype)
    if entry is None:
        return [link, data, None, None, crafted, None]
    if entry.schema is ARP and ethertype == _ARP:
        packet = fast.decode_arp(data, link.payload_offset)
        if packet.hlen != 6 or packet.plen != 4:
            raise NotOurs("arp addresses")
        return [link, data, None, (ArpView, packet, None), crafted, None]
    if entry.schema is not IPv4 or ethertype != _IPV4:
        raise NotOurs(ethertype)
    packet = _decode_ipv4(data, link.payload_offset)
    protocol = packet.protocol
    entry = _PROTOCOL_ENTRIES.get(protocol)
    if entry is None or packet.fragment_offset or packet.flags & _MF:
        transport = None
    else:
        schema, end = entry.schema, packet.payload_end
        # TCP, UDP without the addresses: no checksum summed here, the view verifies it when read (_verified)
        if schema is TCP and protocol == _TCP:
            transport = TcpView, _decode_tcp(data, packet.payload_offset, end), [end, packet.src, packet.dst]
        elif schema is UDP and protocol == _UDP:
            transport = UdpView, _decode_udp(data, packet.payload_offset, end), [end, packet.src, packet.dst]
        elif schema is ICMP and protocol == _ICMP:
            transport = IcmpView, _decode_icmp(data, packet.payload_offset, end), end
        else:
            raise NotOurs(protocol)  # a registered protocol (or a built-in number re-registered)
    if not crafted:
        return [link, data, None, (Ipv4View, packet, transport), False, None]
    # dissecting: every layer's Crafted made here at once (it is read layer by layer) over its state
    above = None
    if transport is not None:
        cls, record, extra = transport
        above = _new_object(cls.CRAFTED)
        _set_crafted_state(above, [record, data, None, extra, True, None])
    ipv4 = _new_object(_CRAFTED_IPV4)
    _set_crafted_state(ipv4, [packet, data, None, transport, True, above])
    return [link, data, None, (Ipv4View, packet, transport), True, ipv4]


def parse_frame(data: bytes, crafted: bool = False) -> LayerView:
    """The Ethernet view ``Frame.parse(data)`` gives (``Crafted`` payloads when ``crafted``);
    ``NotOurs`` when a registered schema must decode it, ``FormatError`` when it is malformed."""
    view = _new_view(EthernetView)
    _set_state(view, _frame_state(data, crafted))
    return view


def dissect_frame(data: bytes) -> Crafted:
    """``dissect(data)``: the ``Crafted`` Ethernet layer over the state ``_frame_state`` decodes, the
    IPv4 and transport layers made there at once rather than on first touch (``_child``): a dissected
    frame is read layer by layer, and making them in one place costs less."""
    frame = _new_object(_CRAFTED_ETHERNET)
    _set_crafted_state(frame, _frame_state(data, True))
    return frame


__all__ = ["ArpView", "EthernetView", "IcmpView", "Ipv4View", "TcpView", "UdpView", "DissectedLayer", "dissect_frame", "parse_frame"]
