"""A measured SM + new-physics rate as a constraint on the off-shell (three-body) new-physics rate
(kind ``offshell_gaussian``): NA62's BR(K+ -> pi+ nu nubar) (2016-22 data, arXiv:2412.12015) for
m_hD above m_K - m_pi, where h_D cannot be produced on shell and the two-body K+ -> pi+ X tables
(term ``na62``) do not apply.

With x the new-physics rate that NA62 would count,

    x = BR(K+ -> pi+ + inv; q^2 in the signal regions) / f_SM,

f_SM the fraction of the SM spectrum (dGamma/dq^2 ~ lambda^{3/2} f+(q^2)^2, f+ = 1 + lambda'_+
q^2/m_pi^2) in those regions (a flat acceptance inside them), and the SM prediction s0 +- ds
subtracted (its error added in quadrature to the measurement's),

    ln L = g(s0 + x) - g(s0),   g(y) = -(y - value)^2 / (2 sigma^2),  sigma = sigma_up (+) ds above, sigma_down (+) ds below,

0 at no new physics (the data's offset from the SM is a constant dropped here) and 0 below the
endpoint. Without ``q2_windows`` the whole predicted rate counts (x = the observable).
"""

from __future__ import annotations

import copy
import math

import jax.numpy as jnp
import numpy as np

from ...decays import CHANNELS, branching_ratio, three_body_integrand
from ...models import dark_mass
from ..measurements import load_measurement
from ..stats import asymmetric_gaussian_logpdf
from .base import TermSetup, register

__all__ = ["OffshellTerm", "sm_window_fraction"]

#: Gauss-Legendre nodes per q^2 window (the integrand is smooth there: the h_D pole lies above the endpoint)
_NODES = 24
#: dataset entry of the SM prediction each measured observable includes
SM_ENTRY = {"BR(K+->pi+nunu)": "sm_kpinunu"}


def sm_window_fraction(m_parent, m_daughter, windows, slope) -> float:
    """Fraction of the SM P -> P' nu nubar spectrum, lambda^{3/2} (1 + slope q^2/m_daughter^2)^2,
    inside the q^2 ``windows`` [GeV^2] (numpy, trapezoidal on a fine grid)."""
    b = (m_parent - m_daughter) ** 2
    q2 = np.linspace(0.0, b, 200001)
    lam = np.clip((m_parent**2 + m_daughter**2 - q2) ** 2 - 4 * m_parent**2 * m_daughter**2, 0.0, None)
    w = lam**1.5 * (1.0 + slope * q2 / m_daughter**2) ** 2
    inside = np.zeros_like(q2, dtype=bool)
    for lo, hi in windows:
        inside |= (q2 >= lo) & (q2 <= hi)
    return float(np.trapezoid(w * inside, q2) / np.trapezoid(w, q2))


@register("offshell_gaussian")
class OffshellTerm:
    """The measured rate minus the SM as a constraint on the off-shell new-physics rate (module doc)."""

    COMBINE = "sum"
    _center = None  # the Asimov data's rate in place of the measured one (see asimov)

    def __init__(self, name: str, measurement, sm, inputs, kl_convention: str = "re"):
        m = measurement
        self.name, self.measurement, self.sm = name, m, sm
        self.channel = m.predicted[len("BR(") : -len("inv)")]
        ch = CHANNELS[self.channel]
        self.kl_convention = kl_convention
        self.observables = (m.predicted, "Gamma(hD)")
        self.measurements = (m.name, sm.name)
        self.nuisances = ()
        self.sigma_up = math.hypot(m.error_up, sm.error_up)
        self.sigma_down = math.hypot(m.error_down, sm.error_down)
        self.windows = m.q2_windows
        if self.windows is not None:
            self.f_sm = sm_window_fraction(
                float(inputs[ch.parent]), float(inputs[ch.daughter]), self.windows, m.sm_form_factor_slope
            )
            x, w = np.polynomial.legendre.leggauss(_NODES)
            self._gl = (jnp.asarray(x), jnp.asarray(w))

    @classmethod
    def from_measurement(cls, m, setup: TermSetup):
        entry = SM_ENTRY[m.observable]
        if entry not in setup.dataset:
            raise ValueError(f"term '{setup.name}': the dataset has no entry '{entry}' (the SM prediction to subtract)")
        sm = load_measurement(setup.dataset[entry][0])
        return cls(setup.name, m, sm, setup.inputs, setup.physics.get("kl_convention", "re"))

    def _above(self, context):
        ch = CHANNELS[self.channel]
        return context.model.m_hD > context.inputs[ch.parent] - context.inputs[ch.daughter]

    def new_physics_rate(self, context):
        """x: the new-physics rate NA62 would count (0 below the endpoint)."""
        above = self._above(context)
        if self.windows is None:
            return jnp.where(above, context.predictions[self.measurement.predicted], 0.0)
        model, inputs = context.model, context.inputs
        m = jnp.asarray(model.m_hD, dtype=jnp.float64)
        M = jnp.where(above, m**2, 10.0)  # the h_D pole, far outside the windows when off
        G = jnp.where(above, m * context.predictions["Gamma(hD)"], 1.0)
        a = (2.0 * jnp.asarray(dark_mass(model), dtype=jnp.float64)) ** 2
        nodes, weights = self._gl
        total = 0.0
        for lo, hi in self.windows:
            lo_ = jnp.clip(a, lo, hi)  # the invisible pair's threshold
            half = 0.5 * (hi - lo_)
            x = lo_ + half * (nodes + 1.0)
            f = three_body_integrand(self.channel, model, inputs, x, G, self.kl_convention) / ((x - M) ** 2 + G**2)
            total = total + half * jnp.sum(weights * f)
        br = branching_ratio(self.channel, total, inputs) / self.f_sm
        return jnp.where(above, br, 0.0)

    def logpdf_at(self, x):
        """ln L of a new-physics rate x (0 at x = 0)."""
        m, s0 = self.measurement, self.sm.value
        center = m.value if self._center is None else self._center
        g = lambda y: asymmetric_gaussian_logpdf(y, center, self.sigma_up, self.sigma_down)  # noqa: E731
        return g(s0 + x) - g(s0)

    def logpdf(self, context, params, *, constraints=True):
        return self.logpdf_at(self.new_physics_rate(context))

    def asimov(self, context, params):
        """The measured rate replaced by SM + the point's new-physics rate (errors kept)."""
        new = copy.copy(self)
        new._center = self.sm.value + self.new_physics_rate(context)
        return new
