"""Dark abelian Higgs model: the map to Lagrangian parameters (eqs. 33, 34, 38) and the
stability of the scalar potential (eqs. 35, 36, B8).

Two maps from physical parameters (m_h, m_hD, sin_theta, m_AD; v, v_D) to (lambda_H, lambda_S,
lambda_SH, g_D):
  * ``exact=False`` (the paper): sin(theta) = lambda_SH v v_D / m_h^2, m_h^2 = 2 lambda_H v^2,
    m_hD^2 = 2 lambda_S v_D^2 (eqs. 33-34). Stability 4 lambda_H lambda_S > lambda_SH^2 becomes
    m_hD > m_h |sin(theta)| (eq. 36).
  * ``exact=True``: diagonalise the mass matrix exactly, M^2 = R diag(m_h^2, m_hD^2) R^T, so
    2 lambda_H v^2 = m_h^2 c^2 + m_hD^2 s^2, 2 lambda_S v_D^2 = m_h^2 s^2 + m_hD^2 c^2 and
    lambda_SH v v_D = s c (m_hD^2 - m_h^2). Then 4 lambda_H lambda_S - lambda_SH^2 =
    m_h^2 m_hD^2 / (v^2 v_D^2) > 0 identically: the paper's stability line (36) is an artefact
    of the approximations (34), not a physical bound (see docs/paper-errata.md).

>>> import hpjax
>>> from hpjax.abelian import stability_margin, min_stable_m_hD
>>> m = hpjax.DarkAbelianHiggs(m_hD=0.5, sin_theta=6e-3, v_D=50.0, m_AD=0.1)
>>> bool(stability_margin(m) < 0), bool(stability_margin(m, exact=True) > 0)
(True, True)
>>> round(float(min_stable_m_hD(6e-3)), 3)
0.75
"""

import jax.numpy as jnp

from .inputs import Inputs

__all__ = ["lagrangian_parameters", "stability_margin", "is_stable", "min_stable_m_hD"]


def lagrangian_parameters(model, inputs: Inputs | None = None, exact: bool = False) -> dict:
    """lambda_H, lambda_S, lambda_SH, g_D, mu_H^2, mu_S^2 of the potential (B1) for ``model``."""
    inputs = Inputs.default() if inputs is None else inputs
    v, vD, mh, mhD = inputs.v, model.v_D, inputs.m_h, model.m_hD
    s = model.sin_theta
    c = jnp.sqrt(1.0 - s**2)
    if exact:
        lam_H = (mh**2 * c**2 + mhD**2 * s**2) / (2.0 * v**2)
        lam_S = (mh**2 * s**2 + mhD**2 * c**2) / (2.0 * vD**2)
        lam_SH = s * c * (mhD**2 - mh**2) / (v * vD)  # rotation (8)-(9): M^2_HS = s c (m_hD^2 - m_h^2)
    else:
        lam_H = mh**2 / (2.0 * v**2)
        lam_S = mhD**2 / (2.0 * vD**2)
        lam_SH = s * mh**2 / (v * vD)
    # minimisation conditions (B2)-(B3)
    mu_H2 = lam_H * v**2 + 0.5 * lam_SH * vD**2
    mu_S2 = lam_S * vD**2 + 0.5 * lam_SH * v**2
    return {
        "lambda_H": lam_H,
        "lambda_S": lam_S,
        "lambda_SH": lam_SH,
        "g_D": model.m_AD / vD,
        "mu_H2": mu_H2,
        "mu_S2": mu_S2,
    }


def stability_margin(model, inputs: Inputs | None = None, exact: bool = False):
    """(4 lambda_H lambda_S - lambda_SH^2) / (4 lambda_H lambda_S): positive where (35) holds."""
    p = lagrangian_parameters(model, inputs, exact)
    four = 4.0 * p["lambda_H"] * p["lambda_S"]
    return (four - p["lambda_SH"] ** 2) / four


def is_stable(model, inputs: Inputs | None = None, exact: bool = False):
    """Eq. (35): 4 lambda_H lambda_S > lambda_SH^2 and lambda_H, lambda_S > 0."""
    p = lagrangian_parameters(model, inputs, exact)
    return (stability_margin(model, inputs, exact) > 0) & (p["lambda_H"] > 0) & (p["lambda_S"] > 0)


def min_stable_m_hD(sin_theta, inputs: Inputs | None = None):
    """Eq. (36): the smallest stable m_hD under the paper's map, m_h |sin(theta)|."""
    inputs = Inputs.default() if inputs is None else inputs
    return inputs.m_h * jnp.abs(sin_theta)
