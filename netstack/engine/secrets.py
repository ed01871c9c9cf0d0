"""Every secret and every random choice of one stack, from one master secret.

Keyed hashes stop off-path attackers from predicting what a stack chooses: ISNs (RFC 6528), ephemeral
ports (RFC 6056 §3.3.4), timestamp offsets (RFC 7323 §7.1), SYN cookies (RFC 4987 §3.6) and Fast Open
cookies (RFC 7413 §4.1.2). Each purpose gets its own key derived from the master secret, so one
leaked key says nothing of the others.

The master secret is 32 random bytes, unless ``StackConfig.seed`` is set: then it is derived from the
seed and every choice is reproducible. The simulator sets a seed per host from the network's seed, so
the same seed gives the same bytes on the wire through every API.
"""

from __future__ import annotations

import hashlib
import os
import random


class StackSecrets:
    """``key(purpose)``: a secret per purpose; ``random(purpose)``: a seeded ``random.Random`` per purpose."""

    __slots__ = ("_master", "seeded")

    def __init__(self, seed: int | None = None):
        self.seeded = seed is not None
        if seed is None:
            self._master = os.urandom(32)
        else:
            self._master = hashlib.blake2b(b"netstack seed %d" % seed, digest_size=32).digest()

    def key(self, purpose: str, size: int = 16) -> bytes:
        """A ``size``-byte key for ``purpose`` (1..64 bytes), stable for the life of the stack."""
        return hashlib.blake2b(purpose.encode(), key=self._master, digest_size=size).digest()

    def random(self, purpose: str) -> random.Random:
        """A generator for non-secret random choices (jitter, retry spread) of ``purpose``."""
        return random.Random(self.key(purpose, 8))
