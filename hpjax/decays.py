"""Meson decays to a lighter meson plus invisible dark-sector states.

Channels (parent -> daughter, flavour transition, lifetime):
  "B+->K+"  (b -> s, f0^{BK}),  "B0->K*0" (b -> s, A0^{BK*}),
  "K+->pi+" (s -> d, f0^{K pi}), "KL->pi0" (s -> d, f0^{K pi}).

Two-body rates, eqs. (13)-(15):  Gamma_2(m^2) = |C|^2 sin^2(theta) H(m^2) / (64 pi m_P^3), with the
hadronic factor H = ((m_P^2 - m_P'^2)/(m_i - m_j))^2 f0^2 lambda^{1/2} for P -> P' and
H = A0^2 lambda^{3/2} / (m_b + m_s)^2 for B -> K*.

Three-body rates, eqs. (16), (17), (44), (45) (corrected, see docs/paper-errata.md), in the
factorised form that makes the narrow-width limit manifest:

    dGamma/dq^2 = Gamma_2(q^2) * sqrt(q^2) Gamma_inv(sqrt(q^2)) / pi * |P_hD(q^2) - P_h(q^2)|^2,

P_hD = 1/(q^2 - m_hD^2 + i m_hD Gamma_hD), P_h = 1/(q^2 - m_h^2), Gamma_inv(mu) the invisible width
of a scalar of mass mu with the h_D couplings. As Gamma_hD -> 0 with the pole inside the range
this tends to Gamma_2(m_hD^2) * BR(h_D -> inv).

K_L -> pi0: the scalar h_D is CP-even, so K_L -> pi0 h_D is CP-conserving and proceeds through
Re(c_sd) (``kl_convention="re"``, default); ``"abs"`` uses |c_sd|^2 as for K+ (the paper's
"Eq. (15) with K in {K+, K0}"), ``"im"`` the CP-violating part.

Prescriptions: ``"unified"`` (default) integrates the full Breit-Wigner for every mass;
``"paper"`` uses Gamma_2 * BR(h_D -> inv) below the kinematic endpoint and the three-body
integral above it, as the paper does.

>>> import hpjax
>>> from hpjax.decays import gamma_two_body
>>> inp = hpjax.Inputs.default()
>>> g = gamma_two_body("B+->K+", 1.0, 6e-3, inp)
>>> 1e-19 < float(g) < 1e-16
True
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from .couplings import c_bs, c_sd
from .formfactors import A0_BKstar, f0_BK, f0_Kpi
from .kinematics import kallen, pow_pos, sqrt_pos
from .models import dark_mass, gamma_hD_invisible, gamma_hD_total
from .quadrature import DEFAULT_ORDER, bw_quadrature

__all__ = [
    "CHANNELS",
    "PRESCRIPTIONS",
    "KL_CONVENTIONS",
    "Channel",
    "hadronic_factor",
    "coupling_squared",
    "gamma_two_body",
    "gamma_three_body",
    "gamma_invisible",
    "branching_ratio",
    "endpoint",
]

PRESCRIPTIONS = ("unified", "paper")
KL_CONVENTIONS = ("re", "abs", "im")


@dataclass(frozen=True)
class Channel:
    name: str
    parent: str  # input name of the parent mass
    daughter: str  # input name of the daughter mass
    lifetime: str  # input name of the parent lifetime
    vector: bool  # P -> V (A0) instead of P -> P' (f0)
    transition: str  # "bs" or "sd"


CHANNELS = {
    "B+->K+": Channel("B+->K+", "m_Bp", "m_Kp", "tau_Bp", False, "bs"),
    "B0->K*0": Channel("B0->K*0", "m_B0", "m_Kstar0", "tau_B0", True, "bs"),
    "K+->pi+": Channel("K+->pi+", "m_Kp", "m_pip", "tau_Kp", False, "sd"),
    "KL->pi0": Channel("KL->pi0", "m_K0", "m_pi0", "tau_KL", False, "sd"),
}


def _channel(name: str) -> Channel:
    try:
        return CHANNELS[name]
    except KeyError:
        raise ValueError(f"unknown channel '{name}'; valid channels: {list(CHANNELS)}") from None


def _check(prescription: str, kl_convention: str) -> None:
    if prescription not in PRESCRIPTIONS:
        raise ValueError(f"unknown prescription '{prescription}'; valid: {list(PRESCRIPTIONS)}")
    if kl_convention not in KL_CONVENTIONS:
        raise ValueError(f"unknown kl_convention '{kl_convention}'; valid: {list(KL_CONVENTIONS)}")


def endpoint(channel: str, inputs):
    """Kinematic endpoint m_P - m_P' [GeV]."""
    ch = _channel(channel)
    return inputs[ch.parent] - inputs[ch.daughter]


def hadronic_factor(channel: str, q2, inputs):
    """H(q^2): squared hadronic matrix element of the scalar current times the phase-space
    power of lambda (see module doc); zero outside the physical region."""
    ch = _channel(channel)
    mP, mD = inputs[ch.parent], inputs[ch.daughter]
    # lambda > 0 also above (m_P + m_P')^2: keep only the physical region q2 < (m_P - m_P')^2
    lam = jnp.where(q2 < (mP - mD) ** 2, kallen(mP**2, mD**2, q2), 0.0)
    if ch.vector:
        return A0_BKstar(q2, inputs) ** 2 * pow_pos(lam, 1.5) / (inputs.m_b + inputs.m_s) ** 2
    if ch.transition == "bs":
        ff, mq = f0_BK(q2, inputs), inputs.m_b - inputs.m_s
    else:
        ff, mq = f0_Kpi(q2, inputs), inputs.m_s - inputs.m_d
    return ((mP**2 - mD**2) / mq) ** 2 * ff**2 * sqrt_pos(lam)


def coupling_squared(channel: str, inputs, kl_convention: str = "re"):
    """|c_bs|^2, |c_sd|^2, or for K_L the (Re, abs, Im) part of c_sd squared."""
    ch = _channel(channel)
    if ch.transition == "bs":
        return jnp.abs(c_bs(inputs)) ** 2
    c = c_sd(inputs)
    if ch.name != "KL->pi0" or kl_convention == "abs":
        return jnp.abs(c) ** 2
    if kl_convention == "re":
        return jnp.real(c) ** 2
    if kl_convention == "im":
        return jnp.imag(c) ** 2
    raise ValueError(f"unknown kl_convention '{kl_convention}'; valid: {list(KL_CONVENTIONS)}")


def gamma_two_body(channel: str, m_hD, sin_theta, inputs, kl_convention: str = "re", *, q2=None):
    """Two-body width Gamma(P -> P' h_D) [GeV], eqs. (13)-(15); zero above the endpoint.
    ``q2`` replaces m_hD^2 (used for the off-shell three-body integrand)."""
    ch = _channel(channel)
    q2 = m_hD**2 if q2 is None else q2
    mP = inputs[ch.parent]
    return coupling_squared(channel, inputs, kl_convention) * sin_theta**2 * hadronic_factor(channel, q2, inputs) / (
        64.0 * jnp.pi * mP**3
    )


def gamma_three_body(channel: str, model, inputs, kl_convention: str = "re", n: int = DEFAULT_ORDER):
    """Gamma(P -> P' + invisible pair) [GeV] through off-shell h_D and h, integrated over
    q^2 in [(2 m_dark)^2, (m_P - m_P')^2] with the Breit-Wigner and endpoint maps."""
    ch = _channel(channel)
    mP, mD = inputs[ch.parent], inputs[ch.daughter]
    m_hD = jnp.asarray(model.m_hD, dtype=jnp.float64)
    a = (2.0 * jnp.asarray(dark_mass(model), dtype=jnp.float64)) ** 2
    b = (mP - mD) ** 2
    M = m_hD**2
    G = m_hD * gamma_hD_total(model, inputs)
    ok = (b > a) & (G > 0)
    a_s = jnp.where(ok, a, 0.0)
    b_s = jnp.where(ok, b, 1.0)
    G_s = jnp.where(ok, G, 1.0)

    def one(a_, b_, M_, G_, model_):
        x, w = bw_quadrature(a_, b_, M_, G_, n)
        mu = sqrt_pos(x)  # x can round to the threshold 0 when m_dark = 0
        g2 = gamma_two_body(channel, None, model_.sin_theta, inputs, kl_convention, q2=x)
        rho = mu * gamma_hD_invisible(model_, mu) / jnp.pi
        mh2 = inputs.m_h**2
        # |P_hD - P_h|^2 * ((x-M)^2 + G^2) = ((m_h^2 - M)^2 + G^2) / (m_h^2 - x)^2
        r = ((mh2 - M_) ** 2 + G_**2) / (mh2 - x) ** 2
        return jnp.sum(w * g2 * rho * r)

    # broadcast over batched model parameters
    shape = jnp.broadcast_shapes(*(jnp.shape(jnp.asarray(p)) for p in model.params().values()))
    if shape == ():
        val = one(a_s, b_s, M, G_s, model)
    else:
        import jax

        flat = lambda v: jnp.broadcast_to(jnp.asarray(v, dtype=jnp.float64), shape).ravel()
        leaves = [flat(p) for p in model.params().values()]
        fm = type(model).tree_unflatten(None, leaves)
        val = jax.vmap(lambda a_, b_, M_, G_, m_: one(a_, b_, M_, G_, m_))(
            flat(a_s), flat(b_s), flat(M), flat(G_s), fm
        ).reshape(shape)
    return jnp.where(ok, val, 0.0)


def gamma_invisible(channel: str, model, inputs, prescription: str = "unified", kl_convention: str = "re",
                    n: int = DEFAULT_ORDER):
    """Gamma(P -> P' + invisible) [GeV] under the chosen prescription."""
    _check(prescription, kl_convention)
    three = gamma_three_body(channel, model, inputs, kl_convention, n)
    if prescription == "unified":
        return three
    below = model.m_hD < endpoint(channel, inputs)
    two = gamma_two_body(channel, model.m_hD, model.sin_theta, inputs, kl_convention)
    br_inv = gamma_hD_invisible(model) / gamma_hD_total(model, inputs)
    return jnp.where(below, two * br_inv, three)


def branching_ratio(channel: str, gamma, inputs):
    """BR = Gamma tau_P / hbar."""
    ch = _channel(channel)
    return gamma * inputs[ch.lifetime] / inputs.hbar
