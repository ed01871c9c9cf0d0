"""netstack: a declarative user-space TCP/IP stack.

Layers (see docs/architecture.md):

- ``netstack.formats``  construct schemas for every header, and the codec generated from them
- ``netstack.machines`` transitions declarations for every protocol state machine, and their tables
- ``netstack.engine``   the sans-I/O engine: frames and the time in, frames and the next deadline out
- ``netstack.sockets``  BSD-like sockets over the engine (real ``fileno()``), and asyncio on them
- ``netstack.drivers``  a Linux TAP device in real time, a simulated network, network namespaces
- ``netstack.apps``     echo/discard/chargen/HTTP services and the HTTP client
- ``netstack.strategies``  hypothesis strategies drawn from the declarations
- ``netstack.presentation``  field tables, decoded text, diagrams, generated docs, the tour
- ``netstack.commands`` / ``netstack.cli``  the ``netstack`` command

``netstack.sim``, ``netstack.aio`` and ``netstack.link`` are the public names of ``netstack.drivers.sim``,
``netstack.sockets.aio`` and ``netstack.drivers.link`` (send, sniff, sr1 on a real interface);
``netstack.enable_trace(stream, format="text"|"json")`` prints the trace of every stack of the process
(``netstack.presentation.trace_view``).

The engine names are imported lazily so that ``import netstack.formats`` stays cheap for people who
only craft and decode packets.
"""

from netstack.errors import FormatError, NetstackError, TransitionError

__version__ = "0.1.0"

_LAZY = {
    "Stack": ("netstack.engine.stack", "Stack"),
    "StackConfig": ("netstack.engine.config", "StackConfig"),
    "run_tap": ("netstack.drivers.tap", "run_tap"),
    "sim": ("netstack.drivers.sim", None),
    "link": ("netstack.drivers.link", None),
    "enable_trace": ("netstack.presentation.trace_view", "enable_trace"),
    "disable_trace": ("netstack.presentation.trace_view", "disable_trace"),
}


def __getattr__(name):
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'netstack' has no attribute {name!r}") from None
    import importlib

    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


__all__ = ["FormatError", "NetstackError", "TransitionError", "__version__", *_LAZY]
