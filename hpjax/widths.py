"""Decay widths of the dark Higgs h_D and of the 125 GeV Higgs h (GeV).

Dark sector (both models), for a scalar of mass ``m`` with the h_D couplings:
  * eq. (18)  Gamma(h_D -> chi chibar) = y_D^2 cos^2(theta) m beta^3 / (8 pi)
  * eq. (46)  Gamma(h_D -> A_D A_D) = cos^2(theta) (m^4 - 4 m^2 m_A^2 + 12 m_A^4)/(32 pi m v_D^2) beta
    (the printed eq. 46 has -12 m_A^4 and no cos^2 theta; see docs/paper-errata.md)
SM final states through the mixing (sin theta times a SM-Higgs-like scalar of mass m):
  * leptons: sin^2(theta) m_l^2 m beta^3 / (8 pi v^2) for l = e, mu, tau
  * hadrons: sin^2(theta) Gamma_had(m; theta = 1). Treatment: the FORESEE dark-Higgs tabulation
    (arXiv:2105.07077, inputs of arXiv:1710.09387 and 1811.12522) of the total width at unit
    mixing minus its leptonic part. Below 2 GeV this is the dispersive pi pi / K K width
    (Winkler, arXiv:1809.01876, shipped for cross-checks) plus multi-meson modes; above, the
    perturbative spectator model. Linear interpolation in m, zero below the first table mass.
    Option (issue 15, ``Inputs.hD_hadrons_model``): the model of Boiarska et al. (arXiv:1904.10447; Winkler's
    pi pi, K K + a multi-meson term below 2 GeV, perturbative g g, s s, c c above), 1.1-2.4x FORESEE's
    hadronic width between 1.1 and 3.7 GeV, or a geometric interpolation (a nuisance, 0 +- 1).
Higgs (eqs. 19, 47, 48): h -> chi chibar, h -> A_D A_D, h -> h_D h_D and BR(h -> inv), eq. (20).

>>> from hpjax.inputs import Inputs
>>> from hpjax.widths import gamma_S_to_chichi
>>> g = gamma_S_to_chichi(1.0, 1.0, 0.0, 1.0)
>>> round(float(g * 8 * 3.141592653589793), 12)
1.0
"""

from __future__ import annotations

import functools
from importlib import resources

import jax.numpy as jnp
import numpy as np

from .kinematics import beta_threshold, pow_pos, safe_ratio, sqrt_pos
from .numerics.tables import Grid

__all__ = [
    "gamma_S_to_chichi",
    "gamma_S_to_ADAD",
    "mass_gamma_S_to_chichi",
    "mass_gamma_S_to_ADAD",
    "gamma_S_to_leptons",
    "gamma_S_to_muons",
    "gamma_S_to_hadrons",
    "gamma_h_to_chichi",
    "gamma_h_to_ADAD",
    "gamma_h_to_hDhD",
    "br_h_invisible",
    "hadronic_width_table",
    "boiarska_width_table",
]


def gamma_S_to_chichi(m, y_D, m_chi, cos_theta):
    """Eq. (18): width of a scalar of mass m to a Dirac pair chi chibar with Yukawa y_D cos(theta)."""
    return y_D**2 * cos_theta**2 * m * pow_pos(beta_threshold(m**2, m_chi), 1.5) / (8.0 * jnp.pi)


def gamma_S_to_ADAD(m, v_D, m_AD, cos_theta):
    """Eq. (46), corrected: width of a scalar of mass m to two dark photons of the U(1)_D."""
    pos = m > 2.0 * m_AD  # open channel only
    # m > 1e-30 GeV: the printed form (m^4 - 4 m^2 m_A^2 + 12 m_A^4) / m; below, the same in powers of
    # r = m_A / m, m^3 (1 - 4 r^2 + 12 r^4), so that neither m^4 nor the cotangents of a tiny width
    # (1/Gamma in a branching ratio) leave the float64 range (double-where between the two)
    big = m > 1e-30
    m_b = jnp.where(pos & big, m, 1.0)
    x = m_AD**2
    poly = m_b**4 - 4.0 * m_b**2 * x + 12.0 * x**2
    w_big = poly * sqrt_pos(beta_threshold(m_b**2, m_AD)) / m_b
    m_t = jnp.where(pos & ~big, m, 1.0)
    r2 = (m_AD / m_t) ** 2
    w_tiny = m_t**3 * (1.0 - 4.0 * r2 + 12.0 * r2**2) * sqrt_pos(1.0 - 4.0 * r2)
    width = cos_theta**2 * jnp.where(big, w_big, w_tiny) / (32.0 * jnp.pi * v_D**2)
    return jnp.where(pos, width, 0.0)


def mass_gamma_S_to_chichi(q2, y_D, m_chi, cos_theta):
    """q Gamma(q -> chi chibar) at q = sqrt(q2) (eq. 18 times the mass), without the square root of
    q2: the form the off-shell q^2 integrands need, q^2 y^2 beta^3 / (8 pi)."""
    return y_D**2 * cos_theta**2 * q2 * pow_pos(beta_threshold(q2, m_chi), 1.5) / (8.0 * jnp.pi)


def mass_gamma_S_to_chichi_parts(q2, y_D, m_chi, cos_theta):
    """(P, beta^2) with q Gamma(q -> chi chibar) = P sqrt(beta^2) (beta^2 in [0, 1], 0 below
    threshold): the form whose square root the three-body integrand merges with its own
    (hpjax.decays); P = q^2 y^2 beta^2 / (8 pi)."""
    b2 = beta_threshold(q2, m_chi)
    return y_D**2 * cos_theta**2 * q2 * b2 / (8.0 * jnp.pi), b2


def mass_gamma_S_to_ADAD_parts(q2, v_D, m_AD, cos_theta):
    """(P, beta^2) with q Gamma(q -> A_D A_D) = P sqrt(beta^2) (see mass_gamma_S_to_chichi_parts)."""
    x = m_AD**2
    poly = q2 * q2 - 4.0 * q2 * x + 12.0 * x * x
    return cos_theta**2 * poly / (32.0 * jnp.pi * v_D**2), beta_threshold(q2, m_AD)


def mass_gamma_S_to_ADAD(q2, v_D, m_AD, cos_theta):
    """q Gamma(q -> A_D A_D) at q = sqrt(q2) (corrected eq. 46 times the mass), without the square
    root of q2: (q^4 - 4 q^2 m_A^2 + 12 m_A^4) beta / (32 pi v_D^2); 0 below threshold."""
    x = m_AD**2
    poly = q2 * q2 - 4.0 * q2 * x + 12.0 * x * x
    return jnp.where(
        q2 > 4.0 * x, cos_theta**2 * poly * sqrt_pos(beta_threshold(q2, m_AD)) / (32.0 * jnp.pi * v_D**2), 0.0
    )


def _gamma_S_to_ll(m, sin_theta, m_l, inputs):
    return sin_theta**2 * m_l**2 * m * pow_pos(beta_threshold(m**2, m_l), 1.5) / (8.0 * jnp.pi * inputs.v**2)


def gamma_S_to_muons(m, sin_theta, inputs):
    """Gamma(h_D -> mu+ mu-) = sin^2(theta) m_mu^2 m beta^3 / (8 pi v^2)."""
    return _gamma_S_to_ll(m, sin_theta, inputs.m_mu, inputs)


def gamma_S_to_leptons(m, sin_theta, inputs):
    """Sum of Gamma(h_D -> l+ l-) over l = e, mu, tau."""
    return sum(_gamma_S_to_ll(m, sin_theta, ml, inputs) for ml in (inputs.m_e, inputs.m_mu, inputs.m_tau))


def _load_table(*parts, sort: bool = False):
    text = resources.files("hpjax.data").joinpath(*parts).read_text()
    arr = np.loadtxt(text.splitlines(), comments="#")
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.all(np.isfinite(arr)):
        raise ValueError(f"hpjax/data/{'/'.join(parts)}: expected two finite columns (mass, value)")
    if sort:  # as the upstream interp1d(assume_sorted=False) does
        arr = arr[np.argsort(arr[:, 0], kind="stable")]
    if not np.all(np.diff(arr[:, 0]) > 0):
        raise ValueError(f"hpjax/data/{'/'.join(parts)}: mass column must increase strictly")
    return arr


@functools.cache
def hadronic_width_table() -> tuple[np.ndarray, np.ndarray]:
    """(masses [GeV], c*tau_had [m]) at unit mixing: FORESEE c*tau divided by the hadronic
    fraction 1 - BR(ee) - BR(mumu) - BR(tautau); inf where the hadronic fraction vanishes."""
    # two rows near 0.28 GeV are out of order in the digitised upstream file; FORESEE's
    # interp1d sorts them, and so do we
    ct = _load_table("darkscalar", "foresee_darkhiggs_ctau_theta1.txt", sort=True)
    m = ct[:, 0]
    br_l = sum(
        np.interp(m, t[:, 0], t[:, 1])
        for t in (_load_table("darkscalar", "foresee_br", f) for f in ("e_e.txt", "mu_mu.txt", "tau_tau.txt"))
    )
    frac = np.clip(1.0 - br_l, 0.0, 1.0)
    frac[frac < 1e-6] = 0.0  # table round-off below the two-pion threshold
    return m, frac / ct[:, 1]  # (1/m): Gamma_had(theta=1) = hbar_c * this


@functools.cache
def boiarska_width_table() -> tuple[np.ndarray, np.ndarray]:
    """(masses [GeV], Gamma_had [GeV]) at unit mixing in the model of Boiarska et al. (arXiv:1904.10447),
    generated by benchmarks/boiarska_width.py (0.28-5.3 GeV)."""
    text = resources.files("hpjax.data").joinpath("darkscalar", "boiarska2019_hadronic_width_theta1.csv").read_text()
    rows = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")][1:]  # after the column line
    arr = np.loadtxt(rows, delimiter=",")
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.all(np.isfinite(arr)) or not np.all(np.diff(arr[:, 0]) > 0):
        raise ValueError(
            "hpjax/data/darkscalar/boiarska2019_hadronic_width_theta1.csv: expected increasing masses, finite widths"
        )
    return arr[:, 0], arr[:, 1]


@functools.cache
def _hadronic_grids():
    """The two hadronic-width tables as (Grid, values): an O(1) lookup instead of a binary search."""
    return tuple((Grid(m), v) for m, v in (hadronic_width_table(), boiarska_width_table()))


def gamma_S_to_hadrons(m, sin_theta, inputs):
    """Hadronic width sin^2(theta) Gamma_had(m; theta=1): the FORESEE tabulation (``inputs.hD_hadrons_model``
    w = 0, the default), the Boiarska et al. model (w = 1) or the geometric interpolation
    Gamma_F (Gamma_B / Gamma_F)^w (linear, clipped at 0, where one of the two vanishes; FORESEE
    outside the Boiarska table, above 5.3 GeV). See the module doc."""
    (grid_f, inv_ctau), (grid_b, gb) = _hadronic_grids()
    g_f = inputs.hbar_c * grid_f.interp(m, inv_ctau, left=0.0)
    g_b = grid_b.interp(m, gb, left=0.0, right=jnp.nan)
    g_b = jnp.where(jnp.isnan(g_b), g_f, g_b)
    w = inputs.hD_hadrons_model
    both = (g_f > 0) & (g_b > 0)
    log_ratio = jnp.log(jnp.where(both, g_b, 1.0) / jnp.where(both, g_f, 1.0))
    mixed = jnp.where(both, g_f * jnp.exp(w * log_ratio), jnp.maximum((1.0 - w) * g_f + w * g_b, 0.0))
    return sin_theta**2 * mixed


# ---- the 125 GeV Higgs ----------------------------------------------------------------------


def gamma_h_to_chichi(y_D, m_chi, sin_theta, inputs):
    """Eq. (19): Gamma(h -> chi chibar) = y_D^2 sin^2(theta) m_h beta^3 / (8 pi)."""
    return gamma_S_to_chichi(inputs.m_h, y_D, m_chi, sin_theta)


def gamma_h_to_ADAD(v_D, m_AD, sin_theta, inputs):
    """Eq. (47), corrected sign: sin^2(theta) (m_h^4 - 4 m_h^2 m_A^2 + 12 m_A^4)/(32 pi m_h v_D^2) beta."""
    return gamma_S_to_ADAD(inputs.m_h, v_D, m_AD, sin_theta)


def gamma_h_to_hDhD(m_hD, v_D, sin_theta, inputs):
    """Eq. (48), corrected: sin^2(theta) (m_h^2 + 2 m_hD^2)^2 / (32 pi m_h v_D^2) sqrt(1 - 4 m_hD^2/m_h^2).

    The h h_D h_D coupling at first order in theta is -sin(theta)(m_h^2 + 2 m_hD^2)/(2 v_D); the
    printed 1/(64 pi) is a factor 2 too small (Goldstone equivalence: Gamma(h -> h_D h_D) must
    equal Gamma(h -> A_D A_D) for m_hD, m_AD -> 0)."""
    mh = inputs.m_h
    return (
        sin_theta**2
        * (mh**2 + 2.0 * m_hD**2) ** 2
        * sqrt_pos(beta_threshold(mh**2, m_hD))
        / (32.0 * jnp.pi * mh * v_D**2)
    )


def br_h_invisible(gamma_inv, sin_theta, inputs):
    """Eq. (20): BR(h -> inv) = Gamma_inv / (cos^2(theta) Gamma_h + Gamma_inv).

    Gamma_h is the SM width; the mixing scales every SM coupling of h by cos(theta), a
    refinement of the printed eq. (20) that matters only at the 10^-4 level for sin(theta) < 0.01."""
    return safe_ratio(
        gamma_inv, (1.0 - sin_theta**2) * inputs.Gamma_h + gamma_inv
    )  # 0 for |sin(theta)| = 1, no h -> inv
