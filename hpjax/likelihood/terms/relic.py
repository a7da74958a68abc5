"""The relic abundance of chi as an opt-in likelihood term: Planck 2018 Omega_c h^2 =
0.120 +- 0.001 (arXiv:1807.06209; hpjax/data/cosmology/constants.toml) against the
``Omega_chi h^2`` of :func:`hpjax.predict` (the Boltzmann equation of :mod:`hpjax.cosmology`).

It is not in any default likelihood (a stiff ODE solve per point is some 100x the cost of the
rate terms); ask for it by instance::

    Likelihood(model, terms=["belle2", RelicTerm()])                 # chi is all the dark matter
    Likelihood(model, terms=["belle2", RelicTerm(mode="upper")])     # chi at most all of it

``mode="gaussian"``: ln L = -(Omega - 0.120)^2 / (2 0.001^2). ``mode="upper"``: flat below 0.120,
the same Gaussian fall-off above (chi may be a fraction of the dark matter).
``production="freeze_out"`` (default: predict's ``Omega_chi h^2``, chi in equilibrium at x = 1)
or ``"freeze_in"`` with ``T_RH`` [GeV] (chi empty at reheating; the term solves with its T_RH,
hpjax.cosmology.omega_h2_singlet). Registered for
the measurement kind ``relic_density`` (a record with ``value`` and ``error_up``/``error_down``
or ``error``, ``observable = "Omega_chi h^2"``) for a dataset that lists such a measurement.

>>> from hpjax.likelihood.terms import TERM_CLASSES
>>> TERM_CLASSES["relic_density"].__name__
'RelicTerm'
>>> RelicTerm().center, RelicTerm().sigma
(0.12, 0.001)
"""

from __future__ import annotations

import jax.numpy as jnp

from ..measurements.records import RECORDS, Gaussian
from .base import TermSetup, register

# a relic_density measurement file has a Gaussian's keys (value, error_up, error_down)
RECORDS.setdefault("relic_density", Gaussian)

__all__ = ["RelicTerm", "OBSERVABLE", "MODES", "PRODUCTIONS"]

OBSERVABLE = "Omega_chi h^2"
MODES = ("gaussian", "upper")
PRODUCTIONS = ("freeze_out", "freeze_in")


@register("relic_density")
class RelicTerm:
    """Omega_chi h^2 against Planck 2018 (Gaussian, or as an upper bound)."""

    COMBINE = "sum"

    def __init__(
        self,
        mode: str = "gaussian",
        *,
        production: str = "freeze_out",
        T_RH=None,
        name: str = "relic",
        center=None,
        sigma=None,
        measurement=None,
    ):
        if mode not in MODES:
            raise ValueError(f"RelicTerm: mode = {mode!r}; allowed: {list(MODES)}")
        if production not in PRODUCTIONS:
            raise ValueError(f"RelicTerm: production = {production!r}; allowed: {list(PRODUCTIONS)}")
        if T_RH is not None and not (float(T_RH) > 0):
            raise ValueError(f"RelicTerm: T_RH = {T_RH!r}; allowed: > 0 GeV")
        self.production, self.T_RH = production, T_RH
        from ...cosmology import constants  # the Planck value with its citation

        planck = constants()["omega_dm_h2"]
        self.name, self.mode = name, mode
        self.center = float(planck.value if center is None else center)
        self.sigma = float(planck.error if sigma is None else sigma)
        if not (self.sigma > 0):
            raise ValueError(f"RelicTerm: sigma = {self.sigma!r}; allowed: > 0")
        # freeze-out: predict's observable; freeze-in: the term solves with its T_RH (logpdf)
        self.observables = (OBSERVABLE,) if production == "freeze_out" else ()
        self.measurements = () if measurement is None else (measurement,)
        self.nuisances = ()
        self.source = planck.source if center is None else "user"

    @classmethod
    def from_measurement(cls, m, setup: TermSetup):
        err = getattr(m, "error_up", None) or getattr(m, "error", None)
        return cls(
            setup.options.get("relic_mode", "gaussian"), name=setup.name, center=m.value, sigma=err, measurement=m.name
        )

    def omega_h2(self, context):
        """Omega_chi h^2 at the context's point (freeze-out: from the predictions)."""
        if self.production == "freeze_out":
            return context.predictions[OBSERVABLE]
        return context.model.omega_h2(context.inputs, mode="freeze_in", T_RH=self.T_RH)

    def asimov(self, context, params):
        """Planck's value replaced by the point's Omega h^2 (width kept)."""
        import copy

        new = copy.copy(self)
        new.center = self.omega_h2(context)
        return new

    def logpdf(self, context, params, *, constraints=True):
        z = (self.omega_h2(context) - self.center) / self.sigma
        if self.mode == "upper":
            z = jnp.maximum(z, 0.0)
        return -0.5 * z**2
