"""A best fit versus the mass of an invisible particle as a likelihood term (kind
``mass_dependent_gaussian``): BaBar's B+ -> K+ X reinterpretation (Altmannshofer et al.,
arXiv:2311.14629, as ALPaca ships it).

At the h_D mass m the table gives a central value c(m) and an interval [lo(m), hi(m)], each
linearly interpolated in m (ALPaca's interp1d); with k = ``interval_sigma`` the term is the
asymmetric Gaussian

    ln L = -(x - c)^2 / (2 s^2),   s = (hi - c)/k for x > c,  (c - lo)/k below,

of the predicted rate x = BR(P -> P' + inv) + BR(P -> P' h_D) (1 - BR(h_D -> inv)) P_esc: the
invisible decays plus the visible decays outside the detector, P_esc = exp(-L / (beta gamma c tau))
with L = ``escape_length`` and beta gamma of h_D from its momentum in the parent's frame, with the
parent's energy boost (angle-averaged lab energy gamma_P E*). Outside the table's mass range the
term is 0 (no constraint), as ALPaca returns no value there.
"""

from __future__ import annotations

import copy

import jax.numpy as jnp
import numpy as np

from ...decays import CHANNELS
from ...kinematics import sqrt_pos
from ...numerics.tables import Grid
from ..names import PRODUCTION
from .base import TermSetup, register

__all__ = ["MassGaussianTerm", "escape_probability"]


def escape_probability(m, gamma_total, m_parent, m_daughter, parent_beta_gamma, length, hbar_c):
    """P(h_D of mass m and width gamma_total [GeV] flies further than ``length`` [m]) in
    P -> P' h_D, with the parent moving at ``parent_beta_gamma``; 1 for a stable h_D."""
    e_star = (m_parent**2 + m**2 - m_daughter**2) / (2.0 * m_parent)
    gamma_p = jnp.sqrt(1.0 + parent_beta_gamma**2)
    e_lab = gamma_p * e_star
    p_lab = sqrt_pos(e_lab**2 - m**2)
    p_safe = jnp.where(p_lab > 0, p_lab, 1.0)
    # decay length beta gamma c tau = (p / m) hbar c / Gamma
    x = length * gamma_total * m / (p_safe * hbar_c)
    return jnp.where(p_lab > 0, jnp.exp(-x), 0.0)


@register("mass_dependent_gaussian")
class MassGaussianTerm:
    """Asymmetric Gaussian in the rate at the h_D mass (see the module docstring)."""

    COMBINE = "sum"

    def __init__(self, name: str, measurement):
        m = measurement
        self.name, self.measurement = name, m
        self.inv_obs = m.observable
        self.prod_obs = PRODUCTION[m.observable]
        self.channel = CHANNELS[m.observable[len("BR(") : -len("inv)")]]
        self.observables = tuple(sorted({self.inv_obs, self.prod_obs, "BR(hD->inv)", "Gamma(hD)"}))
        self.measurements = (m.name,)
        self.nuisances = ()
        self._m = jnp.asarray(m.masses)
        self._grid = Grid(np.asarray(m.masses, dtype=float))  # O(1) lookup (hpjax.numerics.tables)
        self._c = jnp.asarray(m.central)
        self._up = jnp.asarray((m.upper - m.central) / m.interval_sigma)
        self._down = jnp.asarray((m.central - m.lower) / m.interval_sigma)

    @classmethod
    def from_measurement(cls, m, setup: TermSetup):
        return cls(setup.name, m)

    def table(self, mass):
        """(central, sigma_up, sigma_down) at ``mass``, linearly interpolated."""
        mass = jnp.clip(mass, self._m[0], self._m[-1])
        return tuple(self._grid.interp(mass, v) for v in (self._c, self._up, self._down))

    def prediction(self, context):
        """The rate compared with the table: invisible decays plus visible decays that escape."""
        preds, inp, mass = context.predictions, context.inputs, context.model.m_hD
        p_esc = escape_probability(
            mass,
            preds["Gamma(hD)"],
            inp[self.channel.parent],
            inp[self.channel.daughter],
            self.measurement.parent_beta_gamma,
            self.measurement.escape_length,
            inp.hbar_c,
        )
        return preds[self.inv_obs] + preds[self.prod_obs] * (1.0 - preds["BR(hD->inv)"]) * p_esc

    def logpdf_at(self, x, mass):
        """ln L of a rate ``x`` at h_D mass ``mass`` (0 outside the table's masses)."""
        c, s_up, s_down = self.table(mass)
        above = x > c
        s = jnp.where(above, s_up, s_down)
        ok = s > 0  # s_down = 0 where the interval starts at the central value (then x >= c)
        z = jnp.where(ok, (x - c) / jnp.where(ok, s, 1.0), 0.0)
        inside = (mass >= self._m[0]) & (mass <= self._m[-1])
        return jnp.where(inside, -0.5 * z**2, 0.0)

    def logpdf(self, context, params, *, constraints=True):
        return self.logpdf_at(self.prediction(context), context.model.m_hD)

    def asimov(self, context, params):
        """The table's central values replaced by the point's rate x0 at every mass (widths kept)."""
        new = copy.copy(self)
        new._c = jnp.full_like(self._c, self.prediction(context))
        return new
