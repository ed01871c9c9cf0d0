"""netstack: a declarative user-space TCP/IP stack.

Layers (see docs/architecture.md):

- ``netstack.formats``  construct schemas for every header, and the codec generated from them
- ``netstack.machines`` transitions declarations for every protocol state machine, and their tables
- ``netstack.stack``    the sans-I/O engine: frames and the time in, frames and the next deadline out
- ``netstack.tap`` / ``netstack.sim``  drivers: a Linux TAP device in real time, a simulated network
- ``netstack.cli``      the ``netstack`` command

The engine names are imported lazily so that ``import netstack.formats`` stays cheap for people who
only craft and decode packets.
"""

from netstack.errors import FormatError, NetstackError, TransitionError

__version__ = "0.1.0"

_LAZY = {
    "Stack": ("netstack.stack", "Stack"),
    "StackConfig": ("netstack.config", "StackConfig"),
    "run_tap": ("netstack.tap", "run_tap"),
    "sim": ("netstack.sim", None),
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
