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

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from .couplings import c_bs, c_sd
from .formfactors import z_bsz, z_bsz_parts
from .kinematics import kallen, safe_ratio, sqrt_pos
from .models import dark_mass, gamma_hD_invisible, gamma_hD_total
from .numerics.quadrature import DEFAULT_ORDER, bw_segment, bw_segment_active
from .numerics.skip import skip_inactive

__all__ = [
    "CHANNELS",
    "PRESCRIPTIONS",
    "KL_CONVENTIONS",
    "ChannelNames",
    "Channel",
    "check_options",
    "hadronic_factor",
    "coupling_squared",
    "gamma_two_body",
    "gamma_three_body",
    "gamma_three_body_many",
    "three_body_integrand",
    "gamma_invisible_many",
    "channel_table",
    "gamma_invisible",
    "branching_ratio",
    "endpoint",
]

PRESCRIPTIONS = ("unified", "paper")
#: where m_hD Gamma_hD < _G_MIN_REL (m_P - m_P')^2 (a pole too narrow for float64: the rule's
#: fourth powers of the width would underflow) the three-body rate is its narrow-width limit
#: Gamma_2(m_hD^2) BR(h_D -> inv), without the off-shell tails (lifetimes > 1e100 s or m_hD < 1e-60 GeV)
_G_MIN_REL = 1e-140
KL_CONVENTIONS = ("re", "abs", "im")


@dataclass(frozen=True)
class ChannelNames:
    """The input names of a meson decay channel (also the B -> K l+ l- channels of hpjax.bkll)."""

    name: str
    parent: str  # input name of the parent mass
    daughter: str  # input name of the daughter mass
    lifetime: str  # input name of the parent lifetime


@dataclass(frozen=True)
class Channel(ChannelNames):
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


def check_options(prescription: str, kl_convention: str) -> None:
    """One line naming a prescription or K_L convention that is not one of the valid ones."""
    if prescription not in PRESCRIPTIONS:
        raise ValueError(f"unknown prescription '{prescription}'; valid: {list(PRESCRIPTIONS)}")
    if kl_convention not in KL_CONVENTIONS:
        raise ValueError(f"unknown kl_convention '{kl_convention}'; valid: {list(KL_CONVENTIONS)}")


def endpoint(channel: str, inputs):
    """Kinematic endpoint m_P - m_P' [GeV]."""
    ch = _channel(channel)
    return inputs[ch.parent] - inputs[ch.daughter]


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


def channel_table(channels, inputs, kl_convention: str = "re") -> dict:
    """Per-channel constants as arrays of shape (C,), so that every channel runs through one
    vectorised code path (one copy of the q^2 integral in the compiled program, whatever the
    number of channels). The form factor of every channel is written as
    F(q^2) = (c0 + c1 dz + c2 dz^2) / (1 - q^2/m_R^2) * (1 + s q^2): BSZ (eq. A6) with s = 0 for
    B -> K, K*; f0^{K pi}(0) (1 + lambda0 q^2/m_pi^2) with c1 = c2 = 1/m_R^2 = 0 for K -> pi."""
    i = inputs
    cs = [_channel(c) for c in channels]
    cbs2 = jnp.abs(c_bs(i)) ** 2
    c = c_sd(i)
    csd2 = jnp.abs(c) ** 2
    ckl2 = {"re": jnp.real(c) ** 2, "abs": csd2, "im": jnp.imag(c) ** 2}[kl_convention]
    rows = []
    for ch in cs:
        mP, mD = i[ch.parent], i[ch.daughter]
        x = i.vertex_light_quark  # issue 15 option: light-quark term of the vertex (couplings.light_quark_factor)
        if ch.vector:
            ff = (i.BKstar_A0_a0, i.BKstar_A0_a1, i.BKstar_A0_a2, 1.0 / i.BKstar_A0_mR**2, 0.0)
            pref = (1.0 - x * i.m_s / i.m_b) ** 2 / (i.m_b + i.m_s) ** 2
        elif ch.transition == "bs":
            ff = (i.BK_f0_a0, i.BK_f0_a1, i.BK_f0_a2, 1.0 / i.BK_f0_mR**2, 0.0)
            pref = (1.0 + x * i.m_s / i.m_b) ** 2 * ((mP**2 - mD**2) / (i.m_b - i.m_s)) ** 2
        else:
            ff = (i.Kpi_f0_0, 0.0, 0.0, 0.0, i.Kpi_f0_lambda0 / i.m_pip**2)
            pref = (1.0 + x * i.m_d / i.m_s) ** 2 * ((mP**2 - mD**2) / (i.m_s - i.m_d)) ** 2
        coup = cbs2 if ch.transition == "bs" else (ckl2 if ch.name == "KL->pi0" else csd2)
        zB = z_bsz_parts(0.0, mP, mD)[1]  # sqrt(t+ - t0) of the BSZ z, a constant of the channel
        rows.append((mP, mD, i[ch.lifetime], coup, pref, float(ch.vector)) + ff + (z_bsz(0.0, mP, mD), zB))
    keys = ("mP", "mD", "tau", "coup2", "pref", "vector", "c0", "c1", "c2", "inv_mR2", "slope", "z0", "zB")
    return {k: jnp.stack([jnp.asarray(r[j], dtype=jnp.float64) for r in rows]) for j, k in enumerate(keys)}


def _rows(v, idx):
    """v[idx] for static channel indices ``idx``: a slice where they are contiguous (the usual
    channel order), which XLA fuses into its consumers, else a gather (a kernel of its own on
    XLA:CPU, one per table column: with nuisances floating, the table is not a constant)."""
    lo = idx[0]
    return v[lo : lo + len(idx)] if list(idx) == list(range(lo, lo + len(idx))) else v[jnp.asarray(idx)]


def _row(tab, c):
    return {k: v[c] for k, v in tab.items()}


def _is_bsz(channel: str) -> bool:
    """Whether the channel's form factor is a BSZ z-expansion (b -> s) rather than K -> pi's linear one."""
    return _channel(channel).transition == "bs"


def _hadronic_from_row(row, q2):
    mP, mD = row["mP"], row["mD"]
    tm = (mP - mD) ** 2
    dz = z_bsz(q2, mP, mD) - z_bsz(0.0, mP, mD)  # the BSZ z-expansion of hpjax.formfactors
    ff = (row["c0"] + dz * (row["c1"] + dz * row["c2"])) / (1.0 - q2 * row["inv_mR2"]) * (1.0 + row["slope"] * q2)
    # lambda > 0 also above (m_P + m_P')^2: keep only the physical region q2 < (m_P - m_P')^2
    lam = jnp.where(q2 < tm, kallen(mP**2, mD**2, q2), 0.0)
    return row["pref"] * ff**2 * sqrt_pos(lam) * jnp.where(row["vector"] > 0, lam, 1.0)


def _gamma2_from_row(row, sin_theta, q2):
    return row["coup2"] * sin_theta**2 * _hadronic_from_row(row, q2) / (64.0 * jnp.pi * row["mP"] ** 3)


def hadronic_factor(channel: str, q2, inputs):
    """H(q^2): squared hadronic matrix element of the scalar current times the phase-space
    power of lambda (see module doc); zero outside the physical region."""
    return _hadronic_from_row(_row(channel_table([channel], inputs), 0), q2)


def gamma_two_body(channel: str, m_hD, sin_theta, inputs, kl_convention: str = "re", *, q2=None):
    """Two-body width Gamma(P -> P' h_D) [GeV], eqs. (13)-(15); zero above the endpoint.
    ``q2`` replaces m_hD^2 (used for the off-shell three-body integrand)."""
    q2 = m_hD**2 if q2 is None else q2
    return _gamma2_from_row(_row(channel_table([channel], inputs, kl_convention), 0), sin_theta, q2)


def _batched(fn, model, *extra):
    """Apply fn(model_point, *extra_point) over a batch of model points (vmap)."""
    shape = jnp.broadcast_shapes(*(jnp.shape(jnp.asarray(p)) for p in model.params().values()))
    if shape == ():
        return fn(model, *extra)
    flat = lambda v: jnp.broadcast_to(jnp.asarray(v, dtype=jnp.float64), shape).ravel()  # noqa: E731
    fm = type(model).tree_unflatten(None, [flat(p) for p in model.params().values()])
    out = jax.vmap(fn)(fm, *[flat(e) for e in extra])
    return jnp.moveaxis(out, 0, -1).reshape(out.shape[1:] + shape)


def _bw_integrand(row, mod, mh2, M, G, x, bsz=None):
    """dGamma/dq^2 ((x - M)^2 + G^2) at q^2 = x: the smooth part of the three-body integrand, which
    the Breit-Wigner quadrature weights by 1 / ((x - M)^2 + G^2) (M = m_hD^2, G = m_hD Gamma_hD)."""
    # |P_hD - P_h|^2 * ((x-M)^2 + G^2) = ((m_h^2 - M)^2 + G^2) / (m_h^2 - x)^2
    if bsz is None:  # the general form, any row
        rho = mod.mass_gamma_invisible(x)  # sqrt(q^2) Gamma_inv(sqrt(q^2)) without a square root
        g2 = _gamma2_from_row(row, mod.sin_theta, x)
        return g2 * rho / jnp.pi * ((mh2 - M) ** 2 + G**2) / (mh2 - x) ** 2
    # the same with one division and one square root (two with the BSZ z) a node (the integrand of
    # gamma_three_body_many; the pair's beta^2 has its own division): the form factor's
    # z = (A - B)/(A + B), A = sqrt(t+ - x), B = sqrt(t+ - t0), the pole 1/(1 - x/m_R^2) and the
    # Higgs propagator share one denominator; sqrt(lambda) and the sqrt(beta^2) of
    # q Gamma_inv = P sqrt(beta^2) one square root (both radicands O(1): a q^2-scaled radicand
    # puts 1/q^2 into the reverse pass, which overflows at tiny masses); per-channel factors once
    mP, mD = row["mP"], row["mD"]
    lam = jnp.where(x < (mP - mD) ** 2, kallen(mP**2, mD**2, x), 0.0)
    P, B2 = mod.mass_gamma_invisible_parts(x)
    if bsz:
        A, B = sqrt_pos((mP + mD) ** 2 - x), row["zB"]  # formfactors.z_bsz_parts; B from the table
        Q = A + B
        dzQ = (A - B) - row["z0"] * Q  # (z(x) - z(0)) (A + B)
        num = row["c0"] * Q * Q + dzQ * (row["c1"] * Q + row["c2"] * dzQ)
        den = Q * Q * (1.0 - x * row["inv_mR2"]) * (mh2 - x)
    else:
        num = row["c0"] * (1.0 + row["slope"] * x)
        den = mh2 - x
    const = row["coup2"] * mod.sin_theta**2 * row["pref"] * ((mh2 - M) ** 2 + G**2) / (64.0 * jnp.pi**2 * mP**3)
    return const * (num * num) * sqrt_pos(lam * B2) * jnp.where(row["vector"] > 0, lam, 1.0) * P / (den * den)


def _pow2_near_sqrt(v):
    """(s, 1/s) with s = 2^k, k = floor(e/2) for v in [2^e, 2^(e+1)) (v > 0 and normal): within a
    factor 2 of sqrt(v), and a rescaling by s is exact in floating point (bit arithmetic only)."""
    bits = jax.lax.bitcast_convert_type(jnp.asarray(v, jnp.float64), jnp.int64)
    k = (((bits >> 52) & 2047) - 1023) >> 1  # arithmetic shift: floor(e / 2)
    as_float = lambda e: jax.lax.bitcast_convert_type((e + 1023) << 52, jnp.float64)  # noqa: E731
    return as_float(k), as_float(-k)


def _segment_integral(i, bsz, n, row, mod, mh2, a, b, M, G, sc, inv):
    """sum_k w_k dGamma/dq^2(x_k) over segment ``i`` of the rule (in units of ``sc``, a power of
    two, ``inv`` = 1/sc; see gamma_three_body_many): the integral over one segment, times sc."""
    # multiplications by powers of two: exact, and fused into the nodes' kernel (a division by sc
    # was a kernel of its own on XLA:CPU, four a segment)
    y, w = bw_segment(i, a * inv, b * inv, M * inv, G * inv, n)
    return jnp.sum(w * _bw_integrand(row, mod, mh2, M, G, jnp.clip(sc * y, a, b), bsz))


@functools.cache
def _segment_function(i: int, bsz: bool, n: int):
    """One function object per (segment, form-factor kind, order), the same on every call, so that
    JAX's tracing caches see one function."""
    return functools.partial(_segment_integral, i, bsz, n)


def three_body_integrand(channel: str, model, inputs, x, G, kl_convention: str = "re"):
    """dGamma/dq^2 (P -> P' + invisible) [GeV^-1] at q^2 = ``x`` times ((x - m_hD^2)^2 + G^2), with
    ``G`` = m_hD Gamma_hD: what :func:`hpjax.numerics.quadrature.bw_quadrature` weights sum to the
    three-body width (one model point; other q^2 binnings, e.g. Belle II's, use it directly)."""
    row = _row(channel_table([channel], inputs, kl_convention), 0)
    M = jnp.asarray(model.m_hD, dtype=jnp.float64) ** 2
    return _bw_integrand(row, model, inputs.m_h**2, M, G, x)


def gamma_three_body_many(channels, model, inputs, kl_convention: str = "re", n: int = DEFAULT_ORDER):
    """Three-body widths of several channels at once: array (C, *batch)."""
    return _gamma_three_body_many(tuple(channels), model, inputs, kl_convention, int(n))


# one compiled program per (channels, options, model structure and shapes): an eager call compiles
# once instead of dispatching the q^2 integrals' operations one by one (and a lax.cond of each
# skipped segment on its own); inside a caller's jit the trace is reused from JAX's cache
@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _gamma_three_body_many(channels, model, inputs, kl_convention, n):
    tab = channel_table(channels, inputs, kl_convention)
    mh2 = inputs.m_h**2

    def point(mod):
        m_hD = jnp.asarray(mod.m_hD, dtype=jnp.float64)
        a = (2.0 * jnp.asarray(dark_mass(mod), dtype=jnp.float64)) ** 2
        M = m_hD**2
        gtot = gamma_hD_total(mod, inputs)
        G = m_hD * gtot
        br_inv = safe_ratio(gamma_hD_invisible(mod), gtot)

        def per_channel(row, bsz):
            b = (row["mP"] - row["mD"]) ** 2
            # G below _G_MIN_REL b is a stable h_D at float64 resolution (its square would underflow)
            ok = (b > a) & (G > _G_MIN_REL * b)
            # below it, with the pole inside (a, b): the narrow-width limit Gamma_2(m_hD^2) BR(h_D -> inv)
            narrow = (b > a) & ~ok & (M > a) & (M < b)
            # masked (closed) channels integrate a regular dummy range away from q^2 = 0
            a_s, b_s, G_s = jnp.where(ok, a, 1.0), jnp.where(ok, b, 2.0), jnp.where(ok, G, 1.0)
            M_s = jnp.where(ok, M, 1.5)

            # the rule in units of s ~ sqrt(G b) (q^2 = s y), a power of two (an exact rescaling):
            # it keeps every square of the rule ((y - M/s)^2 + (G/s)^2, from (G/b) to (b/G))
            # representable for a pole width down to _G_MIN_REL b (tiny m_hD or couplings);
            # s = 1 unless needed
            tiny = G_s <= 1e-60 * b_s
            s2, inv2 = _pow2_near_sqrt(G_s * b_s)
            sc, inv = jnp.where(tiny, s2, 1.0), jnp.where(tiny, inv2, 1.0)
            active = bw_segment_active(a_s * inv, b_s * inv, M_s * inv, G_s * inv)
            # segment by segment (no concatenation of the nodes: see bw_segments); a segment that
            # is empty for every point of a vmapped block is not evaluated (hpjax.numerics.skip)
            args = (row, mod, mh2, a_s, b_s, M_s, G_s, sc, inv)
            total = sum(skip_inactive(_segment_function(i, bsz, n), ok & active[i], *args) for i in range(3)) * inv
            nwa = _gamma2_from_row(row, mod.sin_theta, M) * br_inv
            return jnp.where(ok, total, jnp.where(narrow, nwa, 0.0))

        # one vectorised q^2 integral per form-factor kind (BSZ b -> s rows, linear K -> pi rows):
        # two copies of the rule in the program at most, and no z-expansion at the K -> pi nodes
        parts = {}
        for kind in (True, False):
            idx = [c for c, ch in enumerate(channels) if _is_bsz(ch) == kind]
            if idx:
                sub = {k: _rows(v, idx) for k, v in tab.items()}
                for c, val in zip(idx, jax.vmap(lambda r: per_channel(r, kind))(sub)):
                    parts[c] = val
        return jnp.stack([parts[c] for c in range(len(channels))])

    return _batched(point, model)


def gamma_three_body(channel: str, model, inputs, kl_convention: str = "re", n: int = DEFAULT_ORDER):
    """Gamma(P -> P' + invisible pair) [GeV] through off-shell h_D and h, integrated over
    q^2 in [(2 m_dark)^2, (m_P - m_P')^2] with the Breit-Wigner and endpoint maps."""
    return gamma_three_body_many([channel], model, inputs, kl_convention, n)[0]


def gamma_invisible_many(
    channels, model, inputs, prescription: str = "unified", kl_convention: str = "re", n: int = DEFAULT_ORDER
):
    """Gamma(P -> P' + invisible) [GeV] of several channels: array (C, *batch)."""
    check_options(prescription, kl_convention)
    return _gamma_invisible_many(tuple(channels), model, inputs, prescription, kl_convention, int(n))


@functools.partial(jax.jit, static_argnums=(0, 3, 4, 5))
def _gamma_invisible_many(channels, model, inputs, prescription, kl_convention, n):
    three = _gamma_three_body_many(channels, model, inputs, kl_convention, n)
    if prescription == "unified":
        return three
    tab = channel_table(channels, inputs, kl_convention)
    m = jnp.asarray(model.m_hD)
    end = (tab["mP"] - tab["mD"]).reshape((-1,) + (1,) * m.ndim)
    two = jnp.stack([_gamma2_from_row(_row(tab, c), model.sin_theta, m**2) for c in range(len(channels))])
    br_inv = safe_ratio(gamma_hD_invisible(model), gamma_hD_total(model, inputs))  # 0 for a stable h_D
    return jnp.where(m < end, two * br_inv, three)


def gamma_invisible(
    channel: str, model, inputs, prescription: str = "unified", kl_convention: str = "re", n: int = DEFAULT_ORDER
):
    """Gamma(P -> P' + invisible) [GeV] under the chosen prescription."""
    return gamma_invisible_many([channel], model, inputs, prescription, kl_convention, n)[0]


def branching_ratio(channel: str, gamma, inputs):
    """BR = Gamma tau_P / hbar."""
    ch = _channel(channel)
    return gamma * inputs[ch.lifetime] / inputs.hbar
