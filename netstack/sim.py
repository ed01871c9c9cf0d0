"""``netstack.sim``: the public name of the simulated-network driver, ``netstack.drivers.sim``.

The module replaces itself with the driver, so ``import netstack.sim`` and ``netstack.drivers.sim``
are one object (a monkeypatch or an isinstance check on either sees the other).
"""

import sys

from netstack.drivers import sim as _sim

sys.modules[__name__] = _sim
