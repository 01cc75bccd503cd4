"""Fast scalar draws backed by vectorised numpy blocks, so per-event code avoids numpy overhead.

Every stream is a ``numpy.random.Generator(PCG64(...))``; blocks of 64k uniforms and normals are
drawn at once and handed out one by one. Consumption order is deterministic, so output is
byte-identical for the same arguments.
"""

from __future__ import annotations

import math

import numpy as np

_BLOCK = 65536


def stream(seed: int, key: int) -> np.random.Generator:
    """An independent PCG64 generator for one purpose (``key``) of one simulation seed."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))


class Draw:
    """Buffered uniform/normal draws with cheap helpers for ids, ports and heavy-tailed sizes."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self._u: list[float] = []
        self._ui = 0
        self._n: list[float] = []
        self._ni = 0

    def u(self) -> float:
        """A uniform float in [0, 1)."""
        i = self._ui
        if i >= len(self._u):
            self._u = self.rng.random(_BLOCK).tolist()
            i = 0
        self._ui = i + 1
        return self._u[i]

    def n(self) -> float:
        """A standard normal float."""
        i = self._ni
        if i >= len(self._n):
            self._n = self.rng.standard_normal(_BLOCK).tolist()
            i = 0
        self._ni = i + 1
        return self._n[i]

    def i(self, k: int) -> int:
        """A uniform integer in [0, k)."""
        return int(self.u() * k)

    def pick(self, seq: list[int]) -> int:
        """A uniform element of a non-empty list."""
        return seq[int(self.u() * len(seq))]

    def poisson(self, lam: float) -> int:
        """A Poisson count (one numpy call; used per site-hour, not per event)."""
        return int(self.rng.poisson(lam)) if lam > 0 else 0

    def port(self) -> int:
        """An ephemeral source port."""
        return 49152 + int(self.u() * 16383)

    def logon_id(self) -> str:
        """A Windows logon id in hex."""
        return "0x%x" % (0x100000 + int(self.u() * 0x3FFFFFF))

    def guid(self) -> str:
        """A random GUID in braces."""
        h = "".join(f"{int(self.u() * 2**52):013x}" for _ in range(3))
        return f"{{{h[:8]}-{h[8:12]}-4{h[12:15]}-a{h[15:18]}-{h[18:30]}}}"

    def lognormal(self, mu: float, sigma: float) -> float:
        """exp(N(mu, sigma))."""
        return math.exp(mu + sigma * self.n())

    def pareto(self, xm: float, alpha: float) -> float:
        """A Pareto draw with scale ``xm`` and shape ``alpha``."""
        return float(xm * (1.0 - self.u()) ** (-1.0 / alpha))
