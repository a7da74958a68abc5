"""CKM matrix and the loop-induced flavour-changing scalar couplings c_ij of eq. (12).

>>> from hpjax.inputs import Inputs
>>> from hpjax.couplings import c_bs, ckm
>>> inp = Inputs.default()
>>> V = ckm(inp)
>>> round(float(abs(V[2, 1])), 4)  # |V_ts|
0.0411
"""

import jax.numpy as jnp

__all__ = ["ckm", "c_bs", "c_sd", "light_quark_factor"]


def ckm(inputs):
    """3x3 complex CKM matrix from the Wolfenstein parameters (lambda, A, rhobar, etabar) with the
    exact PDG relations to the standard parametrisation (PDG CKM review, eqs. 12.4-12.5)."""
    lam, A, rb, eb = inputs.ckm_lambda, inputs.ckm_A, inputs.ckm_rhobar, inputs.ckm_etabar
    s12 = lam
    s23 = A * lam**2
    rho_eta = rb + 1j * eb
    s13e = (
        A
        * lam**3
        * rho_eta
        * jnp.sqrt(1.0 - A**2 * lam**4)
        / (jnp.sqrt(1.0 - lam**2) * (1.0 - A**2 * lam**4 * rho_eta))
    )  # s13 e^{i delta}
    s13 = jnp.abs(s13e)
    c12, c23, c13 = jnp.sqrt(1 - s12**2), jnp.sqrt(1 - s23**2), jnp.sqrt(1 - s13**2)
    e = s13e  # s13 e^{i delta}
    ec = jnp.conj(s13e)  # s13 e^{-i delta}
    return jnp.array(
        [
            [c12 * c13 + 0j, s12 * c13 + 0j, ec],
            [-s12 * c23 - c12 * s23 * e, c12 * c23 - s12 * s23 * e, s23 * c13 + 0j],
            [s12 * s23 - c12 * c23 * e, -c12 * s23 - s12 * c23 * e, c23 * c13 + 0j],
        ]
    )


def _c_ij(m_i, v_ti, v_tj, inputs):
    """Eq. (12): c_ij = 3 sqrt(2) G_F m_i m_t^2 V_ti V_tj^* / (16 pi^2 v)."""
    return (
        3.0 * jnp.sqrt(2.0) * inputs.G_F * m_i * inputs.m_t**2 * v_ti * jnp.conj(v_tj) / (16.0 * jnp.pi**2 * inputs.v)
    )


def c_bs(inputs):
    """Complex b -> s coupling (initial quark b: m_i = m_b, V_tb V_ts^*)."""
    V = ckm(inputs)
    return _c_ij(inputs.m_b, V[2, 2], V[2, 1], inputs)


def c_sd(inputs):
    """Complex s -> d coupling (initial quark s: m_i = m_s, V_ts V_td^*)."""
    V = ckm(inputs)
    return _c_ij(inputs.m_s, V[2, 1], V[2, 0], inputs)


def light_quark_factor(transition: str, vector: bool, inputs):
    """Rate factor of the light-quark term of the vertex (issue 15 option ``inputs.vertex_light_quark`` = x):
    eq. (12) keeps m_b P_R (m_s P_R); the full top-loop vertex is s(m_b P_R + m_s P_L)b. The scalar
    current (P -> P') picks (m_i + m_j)/2, the pseudoscalar one (P -> V) (m_i - m_j)/2, so relative to
    eq. (12) the rate scales by (1 + x m_j/m_i)^2 (B -> K, K -> pi) or (1 - x m_j/m_i)^2 (B -> K*), with
    (m_i, m_j) = (m_b, m_s) for ``transition`` "bs" and (m_s, m_d) for "sd" (hpjax.decays.channel_table)."""
    m_i, m_j = (inputs.m_b, inputs.m_s) if transition == "bs" else (inputs.m_s, inputs.m_d)
    sign = -1.0 if vector else 1.0
    return (1.0 + sign * inputs.vertex_light_quark * m_j / m_i) ** 2
