"""Telling an expression's temporary from an object someone holds, by its reference count.

``Ether() / IP() / TCP() / payload`` keeps scapy's semantics: ``a / b`` leaves ``a`` and ``b`` as they
were, so the stack is copied. But inside one expression the intermediate stacks are temporaries no
name, list or other layer refers to: copying them only to drop the original is wasted work (it was
half of crafting a SYN). ``Crafted.__truediv__`` therefore extends an operand in place when nothing
but the expression holds it, which is the reference count CPython keeps: numpy elides temporaries of
``a + b + c`` the same way.

The counts depend on the interpreter (how many references the evaluation stack, the frame and the
call to ``sys.getrefcount`` add), so they are measured here, at import, on probes whose code has the
same shape as the code that relies on them, then checked on a private and on a shared stack; when
anything disagrees (another interpreter, a debugger holding frames), the limits are set so that every
operand counts as shared and ``/`` copies, as it always did.
"""

from __future__ import annotations

import sys

_refcount = getattr(sys, "getrefcount", None)
#: ``sys.getrefcount``; where the interpreter has none (PyPy), a count no limit admits
reference_count = _refcount or (lambda obj: sys.maxsize)


def operand_counts(left, right):
    """The reference counts of a binary operator's operands, taken the way ``Crafted.__truediv__``
    takes them (its first statement has this shape)."""
    return _refcount(left), _refcount(right)


class _Probe:
    __slots__ = ("fields",)
    __truediv__ = operand_counts


def _probe(fields=None) -> _Probe:
    probe = _Probe()
    probe.fields = fields
    return probe


def _one_owner_count() -> int:
    """The count of an object one container holds while one local variable names it (the shape of
    ``payload = fields.get("payload")`` and ``fields = layer.fields`` in ``private_innermost``)."""
    owner = {"payload": _Probe()}
    payload = owner.get("payload")
    return _refcount(payload)


def private_innermost(layer, layer_class, limit: int):
    """The innermost layer of the stack from ``layer`` (``layer_class`` objects, each payload in its
    ``fields`` dict) when no layer below the first nor any layer's dict is held from outside the
    stack (so it may be extended in place); None when one is, or a layer is not a plain one."""
    while True:
        fields = layer.fields
        if fields.__class__ is not dict or _refcount(fields) > limit:
            return None
        payload = fields.get("payload")
        if payload.__class__ is not layer_class:
            return layer
        if _refcount(payload) > limit:
            return None
        layer = payload


def _calibrate():
    """(left limit, right limit, one-owner limit): the counts an operand of ``/`` and a layer or dict
    inside a private stack have; (-1, -1, -1) (nothing is ever a temporary) when the checks fail."""
    never = (-1, -1, -1)
    if _refcount is None:
        return never
    left, right = _probe() / _probe()
    named_left, named_right = _probe(), _probe()
    held_left, held_right = named_left / named_right
    inner = _one_owner_count()
    if not (held_left > left and held_right > right):
        return never
    # a private stack of two: found; the same stack with its inner layer or a dict held elsewhere: not
    top = _probe({"payload": _probe({})})
    if private_innermost(top, _Probe, inner) is not top.fields["payload"]:
        return never
    held_layer = top.fields["payload"]
    held_dict = top.fields
    if private_innermost(top, _Probe, inner) is not None:
        return never
    del held_layer
    if private_innermost(top, _Probe, inner) is not None:
        return never
    del held_dict
    if private_innermost(top, _Probe, inner) is None:
        return never
    return left, right, inner


#: the greatest counts a temporary left operand, right operand, and a layer or dict of a private stack have
TEMPORARY_LEFT, TEMPORARY_RIGHT, PRIVATE = _calibrate()

__all__ = ["PRIVATE", "TEMPORARY_LEFT", "TEMPORARY_RIGHT", "operand_counts", "private_innermost", "reference_count"]
