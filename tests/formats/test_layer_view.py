"""``Frame.parse`` and ``dissect`` return lazy views (netstack/formats/layer_view.py, frame_views.py):
they must behave exactly as the eager containers of the declarative path (``Ethernet.parse``), whatever
is touched first: equality, key order, edits then build, copies, pickling, repr, missing keys."""

import copy
import pickle

from construct import Container
from hypothesis import given, strategies as st

from netstack.formats import Ethernet, Frame
from netstack.formats.craft import ICMP, IP, TCP, UDP, Ether, dissect
from netstack.formats.crafted import wrap
from netstack.formats.layer_view import LayerView
from netstack.strategies import frame_bytes

SYN = bytes(Ether(dst="02:00:5e:00:53:01", src="02:00:5e:00:53:02") / IP(src="192.0.2.2", dst="192.0.2.1", flags="df")
            / TCP(src_port=40000, dst_port=80, seq=1000, flags="S",
                  options=[("mss", 1460), ("nop", None), ("wscale", 7), ("sack_permitted", None), ("timestamps", (1, 0))])
            / b"hello")
PING = bytes(Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / ICMP(type="echo_request", identifier=7, sequence=1) / b"abc")
DATAGRAM = bytes(Ether() / IP(src="192.0.2.2", dst="192.0.2.1") / UDP(src_port=5, dst_port=53) / b"q")


def _layers(container):
    while isinstance(container, dict):
        yield container
        container = container.get("payload")


def test_parse_returns_views_and_reads_a_field_without_materialising():
    view = Frame.parse(SYN)
    assert isinstance(view, LayerView) and isinstance(view, Container)
    segment = view.payload.payload
    assert (segment.dst_port, segment["seq"], segment.get("window"), view.payload.src) == (80, 1000, 65535, "192.0.2.2")
    assert "urgent_pointer" in segment and "bogus" not in segment and segment.get("bogus", 3) == 3
    assert len(segment) == len(Ethernet.parse(SYN).payload.payload)
    assert segment._state is not None  # still lazy: nothing above needed the whole mapping


def test_views_materialise_into_the_declarative_container():
    for data in (SYN, PING, DATAGRAM):
        view, eager = Frame.parse(data), Ethernet.parse(data)
        assert view == eager and eager == view
        for lazy, reference in zip(_layers(view), _layers(eager)):
            assert list(lazy) == list(reference)  # key order, hidden keys included
            assert dict(lazy).keys() == dict(reference).keys()
            assert lazy.get("_derived") == reference.get("_derived")
        assert repr(view) == repr(eager) and str(view) == str(eager)


@given(frame_bytes(), st.randoms(use_true_random=False))
def test_any_first_touch_gives_the_same_container(data, random):
    """Read some fields (in any order) before materialising: the result is still the declarative one."""
    view, eager = Frame.parse(data), Ethernet.parse(data)
    for lazy, reference in zip(_layers(view), _layers(eager)):
        for key in random.sample(sorted(reference), k=random.randint(0, len(reference))):
            assert lazy[key] == reference[key]
    assert view == eager
    assert [list(layer) for layer in _layers(view)] == [list(layer) for layer in _layers(eager)]


def test_edits_before_materialising_are_built_like_edits_of_the_eager_container():
    view, eager = Frame.parse(SYN), Ethernet.parse(SYN)
    for frame in (view, eager):
        frame.payload.ttl = 1
        frame.payload.payload["window"] = 512
        frame.payload.payload.flags.ack = True  # a kept flag Container, edited in place
        frame.payload.payload.options[0].value = 1400
    assert view.payload.payload.flags.ack is True and view.payload.payload.window == 512
    assert Frame.build(view) == Ethernet.build(eager) == Frame.build(eager)
    assert view == eager and list(view.payload) == list(eager.payload)
    assert Frame.parse(Frame.build(view)).payload.ttl == 1


def test_unmodified_views_rebuild_the_same_bytes():
    for data in (SYN, PING, DATAGRAM):
        assert Frame.build(Frame.parse(data)) == data


def test_deleting_and_adding_keys_behave_as_on_a_container():
    view, eager = Frame.parse(SYN).payload, Ethernet.parse(SYN).payload
    for container in (view, eager):
        del container.ttl
        container["extra"] = 1
    assert list(view) == list(eager)
    assert "ttl" not in view and view.get("ttl") is None and view.extra == 1
    for missing in (lambda: view.ttl, lambda: view["ttl"], lambda: Frame.parse(SYN).bogus):
        try:
            missing()
        except (AttributeError, KeyError):
            pass
        else:
            raise AssertionError("a missing key must raise as a Container does")
    assert view.pop("extra") == 1 and view == eager.__class__({k: v for k, v in eager.items() if k != "extra"})


def test_copies_and_pickles_are_plain_equal_containers():
    view = Frame.parse(SYN)
    view.payload.payload.flags  # one mutable value made, the rest still lazy
    for copied in (copy.copy(view), copy.deepcopy(view), pickle.loads(pickle.dumps(view)), view.copy()):
        assert copied == Ethernet.parse(SYN)
        assert type(copied) is Container
    deep = copy.deepcopy(Frame.parse(SYN))
    deep.payload.ttl = 9
    assert Frame.parse(SYN).payload.ttl == 64


def test_icmp_views_have_the_fields_of_their_type():
    message = Frame.parse(PING).payload.payload
    assert message.identifier == 7 and "next_hop_mtu" not in message
    try:
        message.next_hop_mtu
    except AttributeError:
        pass
    else:
        raise AssertionError("an echo request has no next_hop_mtu")
    assert list(message) == list(Ethernet.parse(PING).payload.payload)


def test_dissect_reads_and_edits_like_the_eager_crafted_layers():
    lazy, eager = dissect(SYN), wrap(Ethernet, Ethernet.parse(SYN))
    assert lazy[IP].ttl == 64 and lazy.payload.payload.dst_port == 80 and lazy[TCP].flags.syn
    assert repr(lazy) == repr(eager) and lazy == eager
    assert bytes(lazy) == SYN
    for frame in (lazy, eager):
        frame[TCP].window = 512
        frame[IP].ttl = 1
    assert bytes(lazy) == bytes(eager) == Ethernet.build(eager.container())
    copied = lazy.copy()
    copied[IP].ttl = 2
    assert lazy[IP].ttl == 1 and bytes(copied) != bytes(lazy)
    assert UDP not in lazy and TCP in lazy


def test_a_dissected_layer_whose_payload_is_deleted_ends_the_stack():
    frame = dissect(SYN)
    del frame[IP].fields["payload"]
    assert TCP not in frame and frame.stack_name() == "Ethernet/IPv4"
    try:
        frame[TCP]
    except KeyError as error:
        assert str(error) == "no TCP layer in Ethernet/IPv4"
    else:
        raise AssertionError("the TCP layer was deleted")
