r"""The new-physics signal of Belle II's full likelihood in generated-q^2 bins, and Belle II's SM
template (the mu = 1 normalisation of the published model).

------------
The 100 generated-q^2 bins are [j, j+1) * 22.885/100 GeV^2 (the maps' extra "sentinel" column
[-1, 0), events without a valid generated q^2, belongs to the SM template only). With
BR_tmpl(j) the SM template's branching ratio in bin j (Belle II's null spectrum, eq. 16 of
arXiv:2207.13371 with the HPQCD f+ of arXiv:2207.12468, the constants of the upstream
``utils.NullPrediction``; it integrates to :data:`BR_TEMPLATE` = 4.966e-6, the mu = 1
normalisation of the published model), the efficiency per unit BR is e_ij = n_ij / BR_tmpl(j) and
a new-physics spectrum with BR_NP(j) in bin j adds

    N_i^NP = sum_j e_ij BR_NP(j)                        (:meth:`Belle2Full.expected_signal`)

signal events to reconstructed bin i. This is the redist reweighting of arXiv:2507.12393 with
alternative = SM template + new physics. It enters pyhf as a per-bin ``shapefactor`` on the
signal samples, fixed to r_i = mu_SM + N_i^NP / s_i (s_i the published signal nominal), with the
published ``mu`` fixed to 1; all published modifiers of the signal (form-factor, efficiency,
statistical) act on the new physics as on the SM, as in redist. ``mu_SM`` = 1 keeps the SM
nu nubar contribution exactly as published (template shape, BR = 4.966e-6); mu_SM = BR_SM /
:data:`BR_TEMPLATE` rescales it to another SM prediction (e.g. hpjax's 4.29e-6 -> 0.864).

Generated-q^2 bins of the new physics (:func:`new_physics_spectrum`):

* ``smoothing = 0``: hard bins, BR_NP(j) = the integral of dBR/dq^2 over bin j (each bin
  integrated with the Breit-Wigner quadrature restricted to it). Exact, but for a narrow h_D the
  result jumps when m_hD^2 crosses a bin edge (zero gradient in m_hD inside a bin).
* ``smoothing = k >= 1`` (default 2): soft bins, BR_NP(j) = int dBR/dq^2 B_k((q^2 - c_j)/dq) dq^2
  with B_k the cardinal B-spline of degree k centred on the bin centre c_j (B_1 = linear
  interpolation between bin centres, B_2 C^1, B_3 C^2). The windows are non-negative and sum to
  one at every q^2 (window weight beyond the first or last bin is folded into it), so the total
  BR is conserved exactly; a narrow h_D (a delta at m_hD^2) is spread over k+1 neighbouring
  bins and its yield is smooth in m_hD; a broad or off-shell h_D is its three-body spectrum
  integrated over soft bins. Degree 2 moves a delta by at most 1/8 of its weight per neighbour
  (0.23 GeV^2 bins): far below the efficiency variation that matters, and it damps the MC
  fluctuations of sparsely filled high-q^2 columns.

The spectrum is hpjax's unified three-body rate (``hpjax.decays``)

    dGamma/dq^2 = Gamma_2(q^2) sqrt(q^2) Gamma_inv(sqrt q^2) / pi |P_hD - P_h|^2,

integrated with ``hpjax.numerics.quadrature.bw_quadrature`` over [(2 m_dark)^2, (m_B+ - m_K+)^2]; the soft
bins of all spectra sum to ``predict(...)["BR(B+->K+inv)"]``. With ``prescription="paper"``
a two-body h_D (below the endpoint) is a delta of weight BR(B+ -> K+ h_D) BR(h_D -> inv).

>>> import numpy as np
>>> from hpjax.likelihood.belle2.spectrum import BR_TEMPLATE, soft_bin_weights
>>> round(BR_TEMPLATE * 1e6, 3)
4.966
>>> w = soft_bin_weights(np.array([0.05, 4.41, 22.88]), degree=2)
>>> np.allclose(w.sum(-1), 1.0), w.shape
(True, (3, 100))
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np

from ...decays import branching_ratio, gamma_two_body, three_body_integrand
from ...inputs import Inputs
from ...models import dark_mass, gamma_hD_invisible, gamma_hD_total
from ...numerics.quadrature import DEFAULT_ORDER, bw_quadrature, endpoint_map

__all__ = [
    "new_physics_spectrum",
    "new_physics_nodes",
    "resonance_spectrum",
    "resonance_nodes",
    "soft_bin_weights",
    "template_dbr_dq2",
    "template_bin_br",
    "constants",
    "read_data",
    "check_smoothing",
    "BR_TEMPLATE",
    "Q2_MAX",
    "N_GEN_BINS",
    "Q2_EDGES",
    "SIGNAL_CHANNELS",
    "CHANNEL_NAMES",
]

_DATA = ("belle2_knunu",)


def read_data(name: str) -> str:
    """Text of ``hpjax/data/belle2_knunu/<name>``."""
    return resources.files("hpjax.data").joinpath(*_DATA, name).read_text()


@functools.cache
def constants() -> dict:
    """The numbers of ``hpjax/data/belle2_knunu/template.toml`` (binning, SM template, published
    fit, reinterpretations), each with its citation there."""
    doc = tomllib.loads(read_data("template.toml"))
    for sec, keys in {"binning": ("q2_max", "n_bins"), "template": ("G_F", "fplus_a"), "published": ("mu",)}.items():
        for k in keys:
            if k not in doc.get(sec, {}):
                raise ValueError(f"hpjax/data/belle2_knunu/template.toml: key '{sec}.{k}' is missing")
    return doc


_C = constants()
#: upper end of the generated-q^2 binning, (m_B - m_K)^2 with isospin-averaged masses [GeV^2]
Q2_MAX = float(_C["binning"]["q2_max"])
N_GEN_BINS = int(_C["binning"]["n_bins"])
#: edges of the 100 generated-q^2 bins of the maps (the sentinel column [-1, 0) left out)
Q2_EDGES = np.linspace(0.0, Q2_MAX, N_GEN_BINS + 1)

#: short name -> (pyhf channel, signal sample, number-density file); rows of the signal vector
SIGNAL_CHANNELS = {
    "ita_sr": (
        "A__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomSR_Y4S",
        "signal",
        "number_density_ita_regA.csv",
    ),
    "ita_cr": (
        "B__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomCR_Y4S",
        "signal",
        "number_density_ita_regB.csv",
    ),
    "hta": ("sgn1_had", "sgn_1_had", "number_density_hta.csv"),
}
#: all five channels of the model by short name (the off-resonance ones have no signal)
CHANNEL_NAMES = {
    "ita_sr": SIGNAL_CHANNELS["ita_sr"][0],
    "ita_cr": SIGNAL_CHANNELS["ita_cr"][0],
    "ita_sr_offres": "C__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomSR_offres",
    "ita_cr_offres": "D__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomCR_offres",
    "hta": SIGNAL_CHANNELS["hta"][0],
}


# ---- Belle II's SM template spectrum (upstream scripts/utils.py, NullPrediction) --------------
def template_dbr_dq2(q2):
    """Belle II's SM template dBR/dq^2 [GeV^-2] of B+ -> K+ nu nubar (numpy): eq. 16 of
    arXiv:2207.13371 with the f+ z-expansion of arXiv:2207.12468, as in the upstream
    ``NullPrediction`` of arXiv:2507.12393. Integrates to :data:`BR_TEMPLATE` over [0, 22.885]."""
    q2 = np.asarray(q2, dtype=float)
    t = _C["template"]
    m_b, m_k, m_bs = t["m_B"], t["m_K"], t["m_Bs_star"]
    tau_b = t["tau_B_s"] / t["hbar_GeV_s"]  # GeV^-1
    norm = (
        t["G_F"] ** 2
        * t["alpha_em_inv"] ** -2
        * t["X_t"] ** 2
        / (32 * np.pi**5 * t["sin2_theta_W"] ** 2)
        * tau_b
        * t["Vtb_Vts"] ** 2
    )
    tp = (m_b + m_k) ** 2
    z = (np.sqrt(tp - q2) - np.sqrt(tp)) / (np.sqrt(tp - q2) + np.sqrt(tp))
    coeffs = t["fplus_a"]
    n = len(coeffs)
    fp = sum(a * (z**k - (k / n) * (-1) ** (k - n) * z**n) for k, a in enumerate(coeffs))
    fp = fp / (1.0 - q2 / m_bs**2) * t["fplus_log_factor"]
    lam = m_b**4 + m_k**4 + q2**2 - 2 * (m_b**2 * m_k**2 + m_k**2 * q2 + m_b**2 * q2)
    return norm * np.maximum(lam, 0.0) ** 1.5 / (2 * m_b) ** 3 * fp**2


def template_bin_br(edges=Q2_EDGES, n: int = 48) -> np.ndarray:
    """BR of the SM template in each bin of ``edges`` (Gauss-Legendre with the cosine endpoint
    map, exact to ~1e-12 also in the last bin where lambda^{3/2} vanishes)."""
    edges = np.asarray(edges, dtype=float)
    u, du = endpoint_map(n)
    lo, hi = edges[:-1, None], edges[1:, None]
    x = lo + (hi - lo) * u
    return np.sum(template_dbr_dq2(x) * du * (hi - lo), axis=1)


#: BR of the SM template over [0, 22.885]: the mu = 1 normalisation of the published model
BR_TEMPLATE = float(template_bin_br(np.array([0.0, Q2_MAX]))[0])


# ---- generated-q^2 bins -------------------------------------------------------------------
def _bspline(t, degree: int):
    """Centred cardinal B-spline of the given degree (support |t| < (degree+1)/2)."""
    a = jnp.abs(t)
    if degree == 0:
        return jnp.where((t >= -0.5) & (t < 0.5), 1.0, 0.0)
    if degree == 1:
        return jnp.maximum(1.0 - a, 0.0)
    if degree == 2:
        return jnp.where(a < 0.5, 0.75 - t * t, jnp.where(a < 1.5, 0.5 * (1.5 - a) ** 2, 0.0))
    if degree == 3:
        return jnp.where(a < 1.0, 2.0 / 3.0 - t * t + 0.5 * a**3, jnp.where(a < 2.0, (2.0 - a) ** 3 / 6.0, 0.0))
    raise ValueError(f"smoothing (B-spline degree) = {degree!r} must be 0, 1, 2 or 3")


def soft_bin_weights(q2, degree: int = 2, n_bins: int = N_GEN_BINS, q2_max: float = Q2_MAX):
    """Weights (..., n_bins) of the generated-q^2 bins for events at ``q2``: the centred
    B-spline windows of ``degree`` (0 = hard bins) on the uniform bins of [0, q2_max]. Weight of
    windows beyond the first or last bin is folded into it, so every row sums to one."""
    _bspline(0.0, degree)  # validates degree
    q2 = jnp.asarray(q2, dtype=jnp.float64)
    dq = q2_max / n_bins
    pad = degree // 2 + 1
    j = jnp.arange(-pad, n_bins + pad)
    t = q2[..., None] / dq - (j + 0.5)
    w = _bspline(t, degree)
    if degree == 0:  # q2 outside [0, q2_max) -> edge bins
        t0 = jnp.clip(q2 / dq, 0.0, n_bins - 0.5)
        w = _bspline(t0[..., None] - (j + 0.5), 0)
    core = w[..., pad : pad + n_bins]
    below = jnp.sum(w[..., :pad], axis=-1)
    above = jnp.sum(w[..., pad + n_bins :], axis=-1)
    return core.at[..., 0].add(below).at[..., -1].add(above)


# ---- the new-physics spectrum from hpjax physics --------------------------------------------
_CHANNEL = "B+->K+"


def _range_and_pole(model, inputs):
    m_hD = jnp.asarray(model.m_hD, dtype=jnp.float64)
    a = (2.0 * jnp.asarray(dark_mass(model), dtype=jnp.float64)) ** 2
    b = (inputs.m_Bp - inputs.m_Kp) ** 2
    return a, b, m_hD**2, m_hD * gamma_hD_total(model, inputs)


def new_physics_nodes(model, inputs: Inputs | None = None, n: int = DEFAULT_ORDER, prescription: str = "unified"):
    """q^2 nodes x_k [GeV^2] and weights w_k with sum_k w_k f(x_k) ~ int dBR/dq^2 f(q^2) dq^2 for
    BR(B+ -> K+ inv) of one model point (3n + 1 nodes; ``sum(w)`` is ``predict``'s BR).

    ``prescription="unified"``: hpjax's three-body rate for every m_hD (the extra node has weight
    0). ``"paper"``: below the endpoint a delta at m_hD^2 of weight BR(B+ -> K+ h_D) BR(h_D -> inv),
    above it the three-body rate."""
    if prescription not in ("unified", "paper"):
        raise ValueError(f"unknown prescription '{prescription}'; valid: ['unified', 'paper']")
    inputs = Inputs.default() if inputs is None else inputs
    a, b, M, G = _range_and_pole(model, inputs)
    ok = (b > a) & (G > 0)
    a_s, b_s, G_s = jnp.where(ok, a, 1.0), jnp.where(ok, b, 2.0), jnp.where(ok, G, 1.0)
    x, w = bw_quadrature(a_s, b_s, M, G_s, n)
    w3 = jnp.where(ok, w * three_body_integrand(_CHANNEL, model, inputs, x, G_s), 0.0)
    to_br = inputs.tau_Bp / inputs.hbar
    x = jnp.concatenate([jnp.reshape(M, (1,)), x])
    if prescription == "unified":
        return x, jnp.concatenate([jnp.zeros(1), w3]) * to_br
    below = jnp.sqrt(M) < inputs.m_Bp - inputs.m_Kp
    br2 = branching_ratio(_CHANNEL, gamma_two_body(_CHANNEL, model.m_hD, model.sin_theta, inputs), inputs)
    br_inv = gamma_hD_invisible(model) / gamma_hD_total(model, inputs)
    w = jnp.concatenate([jnp.reshape(jnp.where(below, br2 * br_inv, 0.0), (1,)), jnp.where(below, 0.0, w3) * to_br])
    return x, w


def _hard_bins(model, inputs, edges, n):
    a, b, M, G = _range_and_pole(model, inputs)
    lo = jnp.maximum(jnp.asarray(edges[:-1]), a)
    hi = jnp.minimum(jnp.asarray(edges[1:]), b)

    def one(lo, hi):
        ok = (hi > lo) & (G > 0)
        lo_s, hi_s, G_s = jnp.where(ok, lo, 1.0), jnp.where(ok, hi, 2.0), jnp.where(ok, G, 1.0)
        x, w = bw_quadrature(lo_s, hi_s, M, G_s, n)
        return jnp.where(ok, jnp.sum(w * three_body_integrand(_CHANNEL, model, inputs, x, G_s)), 0.0)

    return jax.vmap(one)(lo, hi) * inputs.tau_Bp / inputs.hbar


def new_physics_spectrum(
    model,
    inputs: Inputs | None = None,
    q2_edges=Q2_EDGES,
    *,
    smoothing: int = 0,
    n: int = DEFAULT_ORDER,
    prescription: str = "unified",
):
    """BR(B+ -> K+ inv) of one model point in each generated-q^2 bin of ``q2_edges``.

    ``smoothing=0``: hard bins, every bin integrated separately with the Breit-Wigner quadrature
    restricted to it (any edges). ``smoothing=k`` in 1..3: soft bins (B-spline windows of degree k,
    uniform ``q2_edges`` from 0 only), smooth in m_hD for a narrow h_D. Either way the bins sum to
    the BR of the range covered (spectrum beyond the last soft edge folds into the last bin).
    ``prescription="paper"`` puts a two-body h_D as a delta at m_hD^2 (hard bins: into its bin).
    A model with ``invisible_resonance()`` -> (m_X, width, br) (:class:`hpjax.invisible.InvisibleX`)
    gives :func:`resonance_spectrum`."""
    resonance = getattr(model, "invisible_resonance", None)
    if resonance is not None:  # a model-independent invisible X (hpjax.invisible.InvisibleX)
        m_X, width, br = resonance()
        return resonance_spectrum(m_X, width, br, q2_edges, smoothing=smoothing, n=n)
    inputs = Inputs.default() if inputs is None else inputs
    edges = np.asarray(q2_edges, dtype=float)
    if smoothing == 0 and prescription == "unified":
        return _hard_bins(model, inputs, edges, n)
    nb = len(edges) - 1
    if not (np.isclose(edges[0], 0.0) and np.allclose(np.diff(edges), edges[-1] / nb)):
        raise ValueError("soft bins (smoothing > 0) and the 'paper' prescription need uniform q2_edges from 0")
    x, w = new_physics_nodes(model, inputs, n, prescription)
    return w @ soft_bin_weights(x, smoothing, nb, float(edges[-1]))


def check_smoothing(degree) -> None:
    """ValueError unless ``degree`` is a valid smoothing (B-spline degree 0-3)."""
    _bspline(0.0, degree)


# ---- a model-independent invisible X (hpjax.invisible.InvisibleX) ---------------------------
def _log1p_sq(u):
    """ln(1 + u^2) without overflow at any |u|."""
    big = jnp.abs(u) > 1.0
    u_big, u_small = jnp.where(big, u, 2.0), jnp.where(big, 0.5, u)
    return jnp.where(big, 2.0 * jnp.log(jnp.abs(u_big)) + jnp.log1p(u_big**-2), jnp.log1p(u_small**2))


def resonance_nodes(m_X, width, q2_max: float = Q2_MAX, n_sub: int = 800):
    r"""q^2 nodes and probabilities (summing to one) of B+ -> K+ X for X of mass ``m_X`` and
    relative width ``width`` = Gamma_X / m_X: a delta at m_X^2 for width = 0, else the
    Breit-Wigner rho(q^2) = 1 / ((q^2 - m_X^2)^2 + m_X^4 width^2) normalised over [0, q2_max].

    The Breit-Wigner is cut into ``n_sub`` equal sub-bins; each node carries the exact probability
    of its sub-bin (the arctan CDF difference, as atan2 so that nothing cancels far from a narrow
    peak) and sits at the sub-bin's exact mean q^2 (the first moment, a logarithm). As width -> 0
    all probability collects at the mean q^2 = m_X^2: the delta, reached continuously and smoothly
    in m_X. Node 0 is the delta (probability 0 when width > 0). Finite values and gradients at
    width = 0 and m_X = 0 (double-where)."""
    m = jnp.asarray(m_X, dtype=jnp.float64)
    M = m * m
    G = M * jnp.asarray(width, dtype=jnp.float64)
    broad = G > 0
    M_s, G_s = jnp.where(broad, M, 1.0), jnp.where(broad, G, 1.0)
    e = jnp.linspace(0.0, q2_max, n_sub + 1)
    u = (e - M_s) / G_s
    ua, ub = u[:-1], u[1:]
    dphi = jnp.arctan2(ub - ua, 1.0 + ua * ub)  # atan(ub) - atan(ua) in (0, pi), no cancellation
    shift = 0.5 * G_s * (_log1p_sq(ub) - _log1p_sq(ua)) / jnp.where(dphi > 0, dphi, 1.0)
    mean = jnp.clip(M_s + shift, e[:-1], e[1:])
    p = dphi / jnp.sum(dphi)
    x = jnp.concatenate([jnp.reshape(M, (1,)), jnp.where(broad, mean, 0.5 * (e[:-1] + e[1:]))])
    return x, jnp.concatenate([jnp.where(broad, 0.0, 1.0)[None], jnp.where(broad, p, 0.0)])


def resonance_spectrum(m_X, width, br, q2_edges=Q2_EDGES, *, smoothing: int = 2, n_sub: int = 800):
    r"""BR(B+ -> K+ X) P_inv = ``br`` spread over the generated-q^2 bins of ``q2_edges``: X of
    mass ``m_X`` [GeV] and relative width ``width`` = Gamma_X / m_X (a delta at q^2 = m_X^2 for
    width = 0, else a Breit-Wigner in q^2, 1 / ((q^2 - m_X^2)^2 + m_X^2 Gamma_X^2), normalised
    to ``br`` over [0, q2_edges[-1]]: the bins sum to ``br``).

    ``smoothing = 0``: hard bins; the Breit-Wigner is integrated exactly over each bin by its
    CDF, atan((q^2 - m_X^2) / (m_X Gamma_X)) / pi, and a delta falls into its bin. ``smoothing =
    k`` in 1..3 (default 2, as :class:`~hpjax.likelihood.belle2.term.Belle2Full`): the nodes of
    :func:`resonance_nodes` (``n_sub`` sub-bins) through the B-spline windows of
    :func:`soft_bin_weights` (uniform ``q2_edges`` from 0): a narrow X is smooth in m_X and the
    spectrum reduces continuously to the soft delta of ``Belle2Full.two_body_yields`` as width -> 0.

    >>> import jax.numpy as jnp
    >>> b = resonance_spectrum(2.0, 0.1, 1e-5)
    >>> round(float(b.sum()) * 1e5, 12), int(jnp.argmax(b)) == int(4.0 / Q2_EDGES[1])
    (1.0, True)
    """
    check_smoothing(smoothing)
    edges = np.asarray(q2_edges, dtype=float)
    br = jnp.asarray(br, dtype=jnp.float64)
    if smoothing == 0:
        m = jnp.asarray(m_X, dtype=jnp.float64)
        M, G = m * m, m * m * jnp.asarray(width, dtype=jnp.float64)
        broad = G > 0
        G_s = jnp.where(broad, G, 1.0)
        u = (jnp.asarray(edges) - jnp.where(broad, M, 1.0)) / G_s
        dphi = jnp.arctan2(u[1:] - u[:-1], 1.0 + u[:-1] * u[1:])
        delta = soft_bin_weights(M, 0, len(edges) - 1, float(edges[-1]))
        return br * jnp.where(broad, dphi / jnp.sum(dphi), delta)
    nb = len(edges) - 1
    if not (np.isclose(edges[0], 0.0) and np.allclose(np.diff(edges), edges[-1] / nb)):
        raise ValueError("soft bins (smoothing > 0) need uniform q2_edges from 0")
    x, p = resonance_nodes(m_X, width, float(edges[-1]), n_sub)
    return br * (p @ soft_bin_weights(x, smoothing, nb, float(edges[-1])))
