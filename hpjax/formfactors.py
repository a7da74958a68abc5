"""Hadronic form factors: BSZ z-expansion for B -> K and B -> K* (eqs. A6-A7) and K -> pi.

>>> from hpjax.inputs import Inputs
>>> from hpjax.formfactors import f0_BK, A0_BKstar
>>> inp = Inputs.default()
>>> round(float(f0_BK(0.0, inp)), 3), round(float(A0_BKstar(0.0, inp)), 3)
(0.332, 0.342)
"""

import jax.numpy as jnp

from .kinematics import sqrt_pos

__all__ = ["z_bsz", "z_bsz_parts", "bsz", "f0_BK", "A0_BKstar", "f0_Kpi"]


def z_bsz_parts(t, m_parent, m_daughter):
    """(sqrt(t+ - t), sqrt(t+ - t0)): z(t) = (a - b)/(a + b), for callers that divide once anyway."""
    tp = (m_parent + m_daughter) ** 2
    tm = (m_parent - m_daughter) ** 2
    t0 = tp * (1.0 - jnp.sqrt(1.0 - tm / tp))
    return sqrt_pos(tp - t), jnp.sqrt(tp - t0)


def z_bsz(t, m_parent, m_daughter):
    """Conformal variable z(t) of eq. (A7), t0 = t+ (1 - sqrt(1 - t-/t+)), t± = (m_B ± m_M)^2."""
    a, b = z_bsz_parts(t, m_parent, m_daughter)
    return (a - b) / (a + b)


def bsz(q2, m_R, coeffs, m_parent, m_daughter):
    """BSZ form factor, eq. (A6): F = 1/(1 - q2/m_R^2) * sum_k a_k [z(q2) - z(0)]^k."""
    dz = z_bsz(q2, m_parent, m_daughter) - z_bsz(0.0, m_parent, m_daughter)
    series = coeffs[0] + dz * (coeffs[1] + dz * coeffs[2])
    return series / (1.0 - q2 / m_R**2)


def f0_BK(q2, inputs):
    """Scalar B+ -> K+ form factor f0^{BK}(q2) (Table II coefficients by default)."""
    i = inputs
    return bsz(q2, i.BK_f0_mR, (i.BK_f0_a0, i.BK_f0_a1, i.BK_f0_a2), i.m_Bp, i.m_Kp)


def A0_BKstar(q2, inputs):
    """B0 -> K*0 form factor A0(q2) (Table II coefficients by default)."""
    i = inputs
    return bsz(q2, i.BKstar_A0_mR, (i.BKstar_A0_a0, i.BKstar_A0_a1, i.BKstar_A0_a2), i.m_B0, i.m_Kstar0)


def f0_Kpi(q2, inputs):
    """Scalar K -> pi form factor f0(q2) = f0(0) (1 + lambda0 q2/m_pi+^2); the paper sets 1."""
    return inputs.Kpi_f0_0 * (1.0 + inputs.Kpi_f0_lambda0 * q2 / inputs.m_pip**2)
