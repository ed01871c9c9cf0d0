"""``netstack.link``: the public name of live frame I/O on an interface, ``netstack.drivers.link``.

The module replaces itself with the driver, as ``netstack.sim`` does, so both names are one object.
"""

import sys

from netstack.drivers import link as _link

sys.modules[__name__] = _link
