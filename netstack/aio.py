"""``netstack.aio``: the public name of asyncio over netstack sockets, ``netstack.sockets.aio``.

The module replaces itself with the real one, so both names are one object.
"""

import sys

from netstack.sockets import aio as _aio

sys.modules[__name__] = _aio
