"""``LayerView``: a decoded layer's ``Container`` that converts its fields from the generated record on use.

``Frame.parse`` decodes every layer with the generated codec (``fast``) at once, so a malformed frame
raises its ``FormatError`` at once; what it defers is turning the raw record (ints, address bytes) into
the container's values (enum names, flag ``Container``s, address text, the option list). A view is
that container, filled lazily:

* reading a field (``view.ttl``, ``view["ttl"]``, ``view.get("ttl")``) converts that field only
  (``"ttl" in view`` and ``len(view)`` convert nothing); a field whose value is mutable (a flag
  ``Container``, the option list, the next layer) is converted once and kept, so editing it in place
  sticks;
* writing a field keeps the new value beside the record;
* anything that needs the whole mapping (iteration, ``keys``/``items``/``values``, ``==``,
  ``repr``/``str``, ``dict(view)``, ``pop``, ``del``, writing a key the layer does not have) first
  *materialises* the view: every field is converted (edits and kept values win) and stored in the
  dict in the declaration's order; from then on it is a plain ``Container``.

So a view behaves exactly like the eager container it stands for (``tests/formats/test_layer_view.py``
checks equality, key order, edits, copies, pickling and repr against it); ``copy.copy``, ``pickle``
and ``Container.copy`` give plain ``Container``s.

A dissected layer (``frame_views.DissectedLayer``) shares its view's state list and reads it with the
same generated expressions, making the view only when its ``fields`` are asked for; materialising
(or clearing) a view marks the shared state ``MATERIALISED``, and the layer reads the dict from then on.

A view class is generated (``view_class``) from a list of ``(key, expression, mutable)``: the
expression reads the state list ``s`` = [record, data, kept values, layer-specific extra, crafted,
the next layer once made]; each key becomes a property compiled from that expression, as ``fast``
compiles its codecs.
"""

from __future__ import annotations

from construct import Container

#: in a state's "kept" slot: the view became a plain dict (a dissected layer reads it there)
MATERIALISED = type("Materialised", (), {"__slots__": (), "__repr__": lambda self: "MATERIALISED"})()

_dict_getitem = dict.__getitem__
_dict_setitem = dict.__setitem__
_dict_len = dict.__len__


def _materialised_attribute(view, key):
    try:
        return _dict_getitem(view, key)
    except KeyError:
        raise AttributeError(key) from None


class LayerView(Container):
    """Base of the generated layer views; see the module docstring."""

    # the second slot shadows Container's: its recursion lock tests ``name in self.__slots__``
    __slots__ = ("_state", "__recursion_lock__")

    #: key -> function(view) converting that field (generated); the keys in declaration order and as a
    #: set (a subclass whose keys depend on the record makes these two properties)
    _GETTERS: dict = {}
    _KEYS: tuple = ()
    _KEYSET: frozenset = frozenset()

    def _materialise(self) -> None:
        state = self._state
        if state is None:
            return
        getters = self._GETTERS
        items = [(key, getters[key](self)) for key in self._KEYS]
        _set_state(self, None)
        state[2] = MATERIALISED  # a dissected layer sharing the state reads the dict from now on
        for key, value in items:
            _dict_setitem(self, key, value)

    # --- reads that need one key ---------------------------------------------------------------------

    def __getitem__(self, key):
        state = self._state
        if state is None:
            return _dict_getitem(self, key)
        if key.__class__ is not str or key not in self._KEYSET:
            raise KeyError(key)
        return self._GETTERS[key](self)

    def get(self, key, default=None):
        state = self._state
        if state is None:
            return dict.get(self, key, default)
        if key.__class__ is not str or key not in self._KEYSET:
            return default
        return self._GETTERS[key](self)

    def __contains__(self, key):
        state = self._state
        if state is None:
            return dict.__contains__(self, key)
        return key.__class__ is str and key in self._KEYSET

    def __len__(self):
        state = self._state
        return _dict_len(self) if state is None else len(self._KEYSET)

    # --- writes ----------------------------------------------------------------------------------------

    def __setitem__(self, key, value):
        state = self._state
        if state is not None:
            if key.__class__ is str and key in self._KEYSET:
                kept = state[2]
                if kept is None:
                    kept = state[2] = {}
                kept[key] = value
                return
            self._materialise()
        _dict_setitem(self, key, value)

    # --- everything else materialises, then is the dict's (or Container's) own: see _materialising ---------

    def clear(self):
        state = self._state
        if state is not None:
            state[2] = MATERIALISED
        _set_state(self, None)
        dict.clear(self)

    def update(self, *args, **kwargs):
        self._materialise()
        for other in args:
            Container.update(self, other)
        Container.update(self, kwargs)

    __update__ = update

    __hash__ = None

    def __reduce__(self):
        """Copies and pickles are plain ``Container``s with the same items."""
        return Container, (), None, None, iter(list(self.items()))

    def __reduce_ex__(self, protocol):
        return self.__reduce__()

    def __copy__(self):
        return Container(self.items())

    copy = __copy__


def _materialising(method):
    """``method`` (the dict's or Container's own) run after materialising the view: for what needs
    the whole mapping."""

    def whole(self, *args):
        self._materialise()
        return method(self, *args)

    whole.__name__ = method.__name__
    whole.__doc__ = method.__doc__
    return whole


for _name in ("__iter__", "__reversed__", "keys", "values", "items", "__delitem__", "pop", "popitem", "setdefault",
              "__or__", "__ror__", "__ior__", "__sizeof__"):
    setattr(LayerView, _name, _materialising(getattr(dict, _name)))
for _name in ("__eq__", "__repr__", "__str__"):
    setattr(LayerView, _name, _materialising(getattr(Container, _name)))

_set_state = LayerView._state.__set__

_GETTER_SOURCE = '''
def {function}(self):
    v = {view}
    s = v._state
    if s is None:
        return _materialised_attribute(v, {key!r})
    kept = s[2]
    if kept is not None and {key!r} in kept:
        return kept[{key!r}]
{presence}{body}
'''
#: the same getter on a dissected layer (``frame_views``), which holds the state itself (``_s``) and
#: makes its view only when ``fields`` is asked for; once that view materialised, the dict answers
_STATE_GETTER_SOURCE = '''
def {function}(self):
    s = self._s
    kept = s[2]
    if kept is not None:
        if kept is MATERIALISED:
            return _materialised_attribute(self.fields, {key!r})
        if {key!r} in kept:
            return kept[{key!r}]
{body}
'''
_IMMUTABLE = "    return {expression}\n"
_MUTABLE = """    value = {expression}
    if kept is None:
        kept = s[2] = {{}}
    kept[{key!r}] = value
    return value
"""
_OPTIONAL = "    if {key!r} not in v._KEYSET:\n        raise AttributeError({key!r})\n"


def view_class(name: str, fields, namespace: dict, base=LayerView, optional=frozenset()):
    """A ``LayerView`` subclass with one generated getter (and property) per field.

    ``fields``: ``(key, expression, mutable)`` in declaration order; ``expression`` reads ``s`` (the
    state list) and the names in ``namespace``; ``mutable`` values are converted once and kept.
    ``optional``: keys a record may lack (``_KEYSET`` says which it has). The class's
    ``FIELD_GETTERS`` are the same getters reading the view from ``self.fields`` (a ``Crafted``
    layer's properties over its view); ``STATE_GETTERS`` (none when ``optional``) read the state a
    dissected layer holds itself (``_s``), and the view's dict once it materialised (``MATERIALISED``
    in the state's kept slot)."""
    source = []
    for index, (key, expression, mutable) in enumerate(fields):
        body = (_MUTABLE if mutable else _IMMUTABLE).format(expression=expression, key=key)
        presence = _OPTIONAL.format(key=key) if key in optional else ""
        for function, view in ((f"get_{index}", "self"), (f"get_{index}_of_fields", "self.fields")):
            source.append(_GETTER_SOURCE.format(function=function, view=view, key=key, presence=presence, body=body))
        if not optional:
            source.append(_STATE_GETTER_SOURCE.format(function=f"get_{index}_of_state", key=key, body=body))
    scope = dict(namespace, _materialised_attribute=_materialised_attribute, MATERIALISED=MATERIALISED)
    exec(compile("".join(source), f"<netstack.formats.layer_view: {name}>", "exec"), scope)
    getters = {key: scope[f"get_{index}"] for index, (key, _, _) in enumerate(fields)}
    attributes = {"__slots__": (), "_GETTERS": getters,
                  "FIELD_GETTERS": {key: scope[f"get_{index}_of_fields"] for index, (key, _, _) in enumerate(fields)},
                  "STATE_GETTERS": {} if optional else {key: scope[f"get_{index}_of_state"]
                                                        for index, (key, _, _) in enumerate(fields)},
                  "__doc__": f"{name}: a decoded layer converted field by field (see netstack.formats.layer_view)."}
    for key, getter in getters.items():
        if not hasattr(Container, key) and not key.startswith("_"):  # e.g. a field named "values" stays key-only
            attributes[key] = property(getter, None, None, f"the {key!r} field, converted on first read")
    if base is LayerView:
        attributes.update(_KEYS=tuple(getters), _KEYSET=frozenset(getters))
    view = type(name, (base,), attributes)
    view.source = "".join(source)
    return view


__all__ = ["MATERIALISED", "LayerView", "view_class"]
