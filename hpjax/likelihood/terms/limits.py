"""Upper limits as likelihood terms: a single limit (kinds ``upper_limit`` and ``counts``) and a
mass(-lifetime) dependent table (kind ``mass_dependent_upper_limit``), each under the named
convention of :mod:`hpjax.likelihood.stats` (``half_normal``, ``step``, ``poisson``)."""

from __future__ import annotations

import copy
from statistics import NormalDist

import jax.numpy as jnp

from ..names import PRODUCTION
from ..stats import LimitTable, PoissonCounts, sigma_from_limit, step_logpdf
from .base import TermSetup, register

__all__ = ["UpperLimitTerm", "TableLimitTerm"]


def _no_poisson(m, what: str):
    return ValueError(
        f"{m.file}: convention 'poisson' needs published counts; {what}. "
        f"Valid conventions here: ['half_normal', 'step']"
    )


@register("upper_limit")
@register("counts")
class UpperLimitTerm:
    """An upper limit on one predicted observable: half-normal (sigma from the limit and its CL),
    hard step, or (``counts``) the Poisson counting likelihood calibrated to the limit."""

    COMBINE = "strongest"
    _center = 0.0  # half-normal: the rate the limit is centred on (0: as published; see asimov)

    def __init__(self, name: str, measurement, convention: str = "half_normal"):
        m = measurement
        self.name, self.measurement, self.convention = name, m, convention
        self.observables = (m.observable,)
        self.measurements = (m.name,)
        self.nuisances = ()
        if convention == "half_normal":
            self._sigma = sigma_from_limit(m.limit, m.cl)
        elif convention == "poisson":
            if m.kind != "counts":
                raise _no_poisson(m, f"this measurement has kind '{m.kind}'")
            b0 = m.counts_total - (m.counts_signal or 0.0)
            self._counts = PoissonCounts(m.counts_total, b0, m.background_std, limit=m.limit, cl=m.cl, name=m.file)

    @classmethod
    def from_measurement(cls, m, setup: TermSetup):
        return cls(setup.name, m, setup.convention)

    def logpdf(self, context, params, *, constraints=True):
        x = context.predictions[self.measurement.observable]
        if self.convention == "half_normal":
            return -0.5 * ((jnp.maximum(x, 0.0) - self._center) / self._sigma) ** 2
        if self.convention == "step":
            return step_logpdf(x, self.measurement.limit)
        return self._counts.logpdf(x)

    def asimov(self, context, params):
        """The limit on the Asimov data of the point x0: half-normal centred on x0 (a Gaussian of the
        same width), Poisson with the count whose likelihood peaks at x0
        (:meth:`~hpjax.likelihood.stats.PoissonCounts.asimov_count`); a hard step has no data
        (unchanged). At no new physics (x0 = 0) the half-normal term is the published one."""
        x0 = jnp.maximum(context.predictions[self.measurement.observable], 0.0)
        new = copy.copy(self)
        if self.convention == "half_normal":
            new._center = x0
        elif self.convention == "poisson":
            new._counts = copy.copy(self._counts)
            new._counts.n = self._counts.asimov_count(x0)
        return new


@register("mass_dependent_upper_limit")
class TableLimitTerm:
    """A limit table in the h_D mass (and lifetime): invisible decays are held against the
    stable-particle limit, visible h_D decays against the limit at the h_D lifetime (the
    escape probability is encoded in the table); ln L = -(z r)^2 / 2 with r = prediction / limit
    and z the CL quantile (half-normal), or a hard step at r = 1."""

    COMBINE = "strongest"
    _center = 0.0  # the ratio the half-normal is centred on (0: as published; see asimov)

    def __init__(self, name: str, measurement, convention: str = "half_normal"):
        m = measurement
        if convention == "poisson":
            raise _no_poisson(m, "a mass-dependent table has none")
        self.name, self.measurement, self.convention = name, m, convention
        self.table = LimitTable(m.masses, m.values, m.lifetimes, name=m.file)
        self.z = NormalDist().inv_cdf(0.5 * (1.0 + m.cl))
        self.inv_obs = m.observable
        self.prod_obs = PRODUCTION[m.observable]
        self.observables = tuple(sorted({self.inv_obs, self.prod_obs, "BR(hD->inv)", "tau(hD)"}))
        self.measurements = (m.name,)
        self.nuisances = ()

    @classmethod
    def from_measurement(cls, m, setup: TermSetup):
        return cls(setup.name, m, setup.convention)

    def ratio(self, context):
        """prediction / limit (invisible and visible parts added)."""
        preds, mass = context.predictions, context.model.m_hD
        r_inv = preds[self.inv_obs] / self.table.limit(mass)
        if self.measurement.lifetimes is None:
            return r_inv
        vis = preds[self.prod_obs] * (1.0 - preds["BR(hD->inv)"])
        return r_inv + vis / self.table.limit(mass, preds["tau(hD)"])

    def logpdf(self, context, params, *, constraints=True):
        r = self.ratio(context)
        if self.convention == "step":
            return jnp.where(r <= 1.0, 0.0, -jnp.inf)
        return -0.5 * (self.z * (r - self._center)) ** 2

    def asimov(self, context, params):
        """Centred on the point's ratio r0 (the published term at r0 = 0); a hard step unchanged."""
        new = copy.copy(self)
        if self.convention != "step":
            new._center = self.ratio(context)
        return new
