r"""Belle II's published model as a likelihood: the SM-shaped signal with its POI mu free.

:func:`published_likelihood` returns a :class:`PublishedLikelihood` with

* ``fit()`` -> {"mu", "mu_error", "logpdf", "twice_nll", "nuisances", "decrement"}: the global best
  fit (mu >= 0 and all 231 nuisances in one Gauss-Newton system; mu = 4.60 +- 1.33,
  -2 ln L = -23.334, as pyhf + minuit find on this JSON);
* ``profile_logl(mu)`` -> ln L maximised over the nuisances at fixed mu (jit/vmap-able over
  ``mu``; the envelope-theorem gradient in mu); ``profile(mu)`` also returns the nuisances and the
  Newton decrement (convergence: decrement < 1e-8 from the packaged start for 0 <= mu <= 15);
* ``logpdf(mu, nuisances)``: the full ln L (pyhf's ``Model.logpdf``).

The expected signal is mu s_i (s_i the published signal nominals, SM template, BR = 4.966e-6 at
mu = 1). Test statistics follow from these directly, e.g. q0 = 2 (fit()["logpdf"] -
profile_logl(0)) when the best mu is >= 0.

>>> from hpjax.likelihood.belle2.published import published_likelihood
>>> lik = published_likelihood()
>>> f = lik.fit()
>>> round(f["mu"], 2), round(f["mu_error"], 2), round(f["twice_nll"], 3)
(4.6, 1.33, -23.334)
>>> q0 = 2 * (f["logpdf"] - float(lik.profile_logl(0.0)))
>>> round(q0, 1)  # Belle II: 3.5 sigma
12.0
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .term import Belle2Full

__all__ = ["published_likelihood", "PublishedLikelihood"]


class PublishedLikelihood:
    """The published SM-shaped model (see the module docstring). ``backend``: "lean" or "pyhf"."""

    poi = "mu"

    def __init__(self, backend: str = "lean", steps: int = 12):
        self.model = Belle2Full(backend=backend)
        self.steps = steps
        self._fit = None

    def _factors(self, mu):
        return jnp.asarray(mu, dtype=jnp.float64) * jnp.ones(self.model.sm_nominal.shape[0])

    def logpdf(self, mu, nuisances):
        """ln L at signal strength ``mu`` and the 231 ``nuisances``."""
        return self.model.logpdf_factors(self._factors(mu), nuisances)

    def profile(self, mu, init=None, steps: int | None = None):
        """(ln L maximised over the nuisances at fixed ``mu``, nuisances, Newton decrement)."""
        b = self.model
        z0 = b.default_start() if init is None else jnp.asarray(init, dtype=jnp.float64)
        fac = jax.lax.stop_gradient(self._factors(mu))
        z, dec = b.solve(z0, lambda z: fac, self.steps if steps is None else steps)
        return self.logpdf(mu, z), z, dec

    def profile_logl(self, mu, init=None, steps: int | None = None):
        """ln L maximised over the nuisances at fixed ``mu`` (jit/vmap-able)."""
        return self.profile(mu, init, steps)[0]

    def fit(self) -> dict:
        """Global best fit (cached): mu, its Hessian error, ln L, -2 ln L, nuisances, decrement."""
        if self._fit is None:
            f = self.model.published_fit()
            self._fit = {**f, "twice_nll": -2.0 * f["logpdf"], "nuisances": np.asarray(f["nuisances"])}
        return dict(self._fit)


def published_likelihood(backend: str = "lean", steps: int = 12) -> PublishedLikelihood:
    """Belle II's published SM-shaped model with its POI mu free (:class:`PublishedLikelihood`)."""
    return PublishedLikelihood(backend, steps)
