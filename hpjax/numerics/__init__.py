"""Generic numerical building blocks shared by the physics, likelihood and inference modules:
quadrature rules (:mod:`.quadrature`: Gauss-Legendre, the cosine endpoint map, the Breit-Wigner
q^2 rule, a vectorised tan), O(1) lookup in constant tables (:mod:`.tables`), the structured Gauss-Newton solver (:mod:`.gauss_newton`), and the
one sentinel for an infinite chi^2 that optimisers see."""

import jax.numpy as jnp

from .gauss_newton import poisson_gauss_newton, structured_solve

__all__ = ["poisson_gauss_newton", "structured_solve", "CHI2_CAP", "capped_chi2"]

#: what an optimiser sees instead of chi^2 = +inf (outside the physical domain): large, finite,
#: so that line searches back off instead of propagating inf - inf = NaN
CHI2_CAP = 1e30


def capped_chi2(c):
    """chi^2 with +inf (and NaN) replaced by :data:`CHI2_CAP`."""
    return jnp.where(jnp.isfinite(c), c, CHI2_CAP)
