r"""Belle II B+ -> K+ nu nubar: the published full likelihood with a q^2-shaped new-physics signal.

Belle II measured B+ -> K+ nu nubar in bins of reconstructed q^2 (and BDT output) with
efficiencies tuned to the SM three-body spectrum (arXiv:2311.14647). Its statistical model is a
pyhf HistFactory JSON (ITA signal region 9 bins, ITA control region 3, two off-resonance channels
9 + 3 without signal, HTA 6 bins; 232 parameters, POI ``mu``), and arXiv:2507.12393 published the
joint number densities n_ij (reconstructed bin i x generated-q^2 bin j) of the SM signal that map a
true-q^2 spectrum onto the analysis bins. Both are packaged in ``hpjax/data/belle2_knunu`` (see
the README there for provenance).

Signal model
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

integrated with ``hpjax.quadrature.bw_quadrature`` over [(2 m_dark)^2, (m_B+ - m_K+)^2]; the soft
bins of all spectra sum to ``predict(...)["BR(B+->K+inv)"]``. With ``prescription="paper"``
a two-body h_D (below the endpoint) is a delta of weight BR(B+ -> K+ h_D) BR(h_D -> inv).

Nuisance parameters and profiling
---------------------------------
:meth:`Belle2Full.logpdf` is pyhf's own ``Model.logpdf`` (JAX backend, float64: Poisson main
terms with log-factorials plus the Gaussian constraint terms) of the 231 nuisance parameters
(51 normsys/histosys thetas, 180 staterror gammas). :meth:`Belle2Full.profile` maximises it over
the nuisances by damped Gauss-Newton (Fisher scoring): at each step the Jacobian J of the 30
expected main-bin counts (30 reverse-mode passes, ~3 ms) gives the curvature
C + J^T diag(n / lambda^2) J (C the exact, constant curvature of the Gaussian constraints),
the Newton step is solved densely, and the best of the step lengths 1, 1/2, 1/4, 1/8, 0 is taken
(monotone; NaN-safe). A variable on its bound with the gradient pointing outwards is held there
(projected Newton). A fixed number of steps (``lax.scan``), so it jits and vmaps. From the
default start (the nuisances of the published SM-shaped best fit, shipped in
``published_fit.json``) 6 steps reach the 30-step optimum to < 1e-4 in ln L for hypotheses from
no signal to mu = 10 and for two-body signals (tests; the error shrinks ~7x per step).
:meth:`profiled_logpdf` returns the maximum with the
envelope-theorem gradient (d/d signal of ln L at fixed optimal nuisances, which is the exact
gradient of the profile at convergence) instead of differentiating through the iterations.

pyhf's backend is global state; every pyhf call here runs inside :func:`jax_backend`, which
switches to ``pyhf.set_backend("jax", precision="64b")`` only when needed and restores the
previous backend afterwards. Jit the functions (the switch happens at trace time only).

>>> import numpy as np
>>> from hpjax.likelihood.belle2_full import BR_TEMPLATE, soft_bin_weights
>>> round(BR_TEMPLATE * 1e6, 3)
4.966
>>> w = soft_bin_weights(np.array([0.05, 4.41, 22.88]), degree=2)
>>> np.allclose(w.sum(-1), 1.0), w.shape
(True, (3, 100))
"""

from __future__ import annotations

import contextlib
import functools
import json
import tomllib
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np

from ..decays import branching_ratio, gamma_two_body, three_body_integrand
from ..inputs import Inputs
from ..models import dark_mass, gamma_hD_invisible, gamma_hD_total
from ..quadrature import DEFAULT_ORDER, bw_quadrature, gauss_legendre

__all__ = [
    "Belle2Full",
    "new_physics_spectrum",
    "new_physics_nodes",
    "soft_bin_weights",
    "template_dbr_dq2",
    "template_bin_br",
    "jax_backend",
    "BR_TEMPLATE",
    "Q2_MAX",
    "N_GEN_BINS",
    "Q2_EDGES",
    "SIGNAL_CHANNELS",
    "CHANNEL_NAMES",
]

_DATA = ("belle2_knunu",)


def _read(name: str) -> str:
    return resources.files("hpjax.data").joinpath(*_DATA, name).read_text()


@functools.lru_cache(maxsize=None)
def constants() -> dict:
    """The numbers of ``hpjax/data/belle2_knunu/template.toml`` (binning, SM template, published
    fit, reinterpretations), each with its citation there."""
    doc = tomllib.loads(_read("template.toml"))
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
    "ita_sr": ("A__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomSR_Y4S", "signal",
               "number_density_ita_regA.csv"),
    "ita_cr": ("B__Bsig_H_reconstructed_q2_vs_BDT2_Bplus2Kplus_v42_signal_inefficiency_zoomCR_Y4S", "signal",
               "number_density_ita_regB.csv"),
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
_SF_PREFIX = "hpjax_np_"
_FIT_FILE = "published_fit.json"


# ---- Belle II's SM template spectrum (upstream scripts/utils.py, NullPrediction) --------------
def template_dbr_dq2(q2):
    """Belle II's SM template dBR/dq^2 [GeV^-2] of B+ -> K+ nu nubar (numpy): eq. 16 of
    arXiv:2207.13371 with the f+ z-expansion of arXiv:2207.12468, as in the upstream
    ``NullPrediction`` of arXiv:2507.12393. Integrates to :data:`BR_TEMPLATE` over [0, 22.885]."""
    q2 = np.asarray(q2, dtype=float)
    t = _C["template"]
    m_b, m_k, m_bs = t["m_B"], t["m_K"], t["m_Bs_star"]
    tau_b = t["tau_B_s"] / t["hbar_GeV_s"]  # GeV^-1
    norm = t["G_F"]**2 * t["alpha_em_inv"]**-2 * t["X_t"]**2 / (32 * np.pi**5 * t["sin2_theta_W"]**2) * tau_b \
        * t["Vtb_Vts"]**2
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
    t, w = gauss_legendre(n)
    u = 0.5 * (1.0 - np.cos(np.pi * t))
    du = w * 0.5 * np.pi * np.sin(np.pi * t)
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
    core = w[..., pad:pad + n_bins]
    below = jnp.sum(w[..., :pad], axis=-1)
    above = jnp.sum(w[..., pad + n_bins:], axis=-1)
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
    w = jnp.concatenate([jnp.reshape(jnp.where(below, br2 * br_inv, 0.0), (1,)),
                         jnp.where(below, 0.0, w3) * to_br])
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


def new_physics_spectrum(model, inputs: Inputs | None = None, q2_edges=Q2_EDGES, *, smoothing: int = 0,
                         n: int = DEFAULT_ORDER, prescription: str = "unified"):
    """BR(B+ -> K+ inv) of one model point in each generated-q^2 bin of ``q2_edges``.

    ``smoothing=0``: hard bins, every bin integrated separately with the Breit-Wigner quadrature
    restricted to it (any edges). ``smoothing=k`` in 1..3: soft bins (B-spline windows of degree k,
    uniform ``q2_edges`` from 0 only), smooth in m_hD for a narrow h_D. Either way the bins sum to
    the BR of the range covered (spectrum beyond the last soft edge folds into the last bin).
    ``prescription="paper"`` puts a two-body h_D as a delta at m_hD^2 (hard bins: into its bin)."""
    inputs = Inputs.default() if inputs is None else inputs
    edges = np.asarray(q2_edges, dtype=float)
    if smoothing == 0 and prescription == "unified":
        return _hard_bins(model, inputs, edges, n)
    nb = len(edges) - 1
    if not (np.isclose(edges[0], 0.0) and np.allclose(np.diff(edges), edges[-1] / nb)):
        raise ValueError("soft bins (smoothing > 0) and the 'paper' prescription need uniform q2_edges from 0")
    x, w = new_physics_nodes(model, inputs, n, prescription)
    return w @ soft_bin_weights(x, smoothing, nb, float(edges[-1]))


# ---- pyhf -----------------------------------------------------------------------------------
@contextlib.contextmanager
def jax_backend():
    """Run pyhf on its JAX backend in float64; restore the previous backend afterwards."""
    import pyhf

    prev = pyhf.get_backend()
    switch = prev[0].name != "jax" or prev[0].precision != "64b"
    if switch:
        pyhf.set_backend("jax", precision="64b")
    try:
        yield pyhf
    finally:
        if switch:
            pyhf.set_backend(*prev)


@functools.lru_cache(maxsize=None)
def _spec_and_maps():
    spec = json.loads(_read("combined_likelihood.json"))
    maps = {k: np.loadtxt(_read(f).splitlines(), delimiter=",") for k, (_, _, f) in SIGNAL_CHANNELS.items()}
    return spec, maps


@functools.lru_cache(maxsize=None)
def _pyhf_model():
    """(augmented spec, pyhf Model, data) built once per process (~3 s): the model holds no
    parameter values, so every :class:`Belle2Full` can share it."""
    spec = augmented_spec(_spec_and_maps()[0])
    with jax_backend() as pyhf:
        ws = pyhf.Workspace(spec)
        model = ws.model()
        data = np.asarray(ws.data(model), dtype=float)
    return spec, model, data


def augmented_spec(spec: dict) -> dict:
    """The published spec with one ``shapefactor`` per signal channel (``hpjax_np_<channel>``)
    on its signal sample: the per-bin factor that carries SM + new physics."""
    spec = json.loads(json.dumps(spec))
    for key, (chan, sample, _) in SIGNAL_CHANNELS.items():
        ch = next(c for c in spec["channels"] if c["name"] == chan)
        smp = next(s for s in ch["samples"] if s["name"] == sample)
        smp["modifiers"].append({"name": _SF_PREFIX + key, "type": "shapefactor", "data": None})
    return spec


class Belle2Full:
    """The Belle II full likelihood for a new-physics q^2 spectrum (constructed once: loads the
    packaged JSON and maps and builds the pyhf model, ~3 s).

    Parameters
    ----------
    smoothing : B-spline degree of the generated-q^2 bins of the new physics (0 hard bins, 1-3
        soft bins; default 2, see the module doc)
    n : quadrature order of the spectrum (``hpjax.quadrature``)
    prescription : "unified" (default) or "paper"

    Vectors: ``br_bins`` (100,) BR of the new physics per generated-q^2 bin (the signal shape
    parameters), ``nuisances`` (231,) in :attr:`nuisance_names` order, ``mu_sm`` the SM
    template's signal strength (1 = as published). All methods are pure JAX functions of these.
    """

    def __init__(self, smoothing: int = 2, n: int = DEFAULT_ORDER, prescription: str = "unified"):
        _bspline(0.0, smoothing)
        if prescription not in ("unified", "paper"):
            raise ValueError(f"unknown prescription '{prescription}'; valid: ['unified', 'paper']")
        self.smoothing, self.n, self.prescription = smoothing, n, prescription
        spec, maps = _spec_and_maps()
        self.spec, self.pyhf_model, data = _pyhf_model()
        cfg = self.pyhf_model.config
        self.data = jnp.asarray(data)
        self.n_main = cfg.nmaindata
        self.observed = jnp.asarray(data[: self.n_main])

        # parameter bookkeeping: full pyhf vector = take(concat([nuisances, [mu], factors]), gather)
        names, idx_nuis, idx_sf, sigma, init, lo, hi = [], [], {}, [], [], [], []
        suggested_init, bounds = cfg.suggested_init(), cfg.suggested_bounds()
        for par in cfg.par_order:
            sl = cfg.par_slice(par)
            ps = cfg.param_set(par)
            k = list(range(sl.start, sl.stop))
            if par == "mu":
                self._mu_index = k[0]
            elif par.startswith(_SF_PREFIX):
                idx_sf[par[len(_SF_PREFIX):]] = k
            else:
                if ps.pdf_type != "normal":
                    raise ValueError(f"unexpected constraint '{ps.pdf_type}' of {par}")
                sig = np.broadcast_to(np.asarray(getattr(ps, "sigmas", [1.0] * len(k)), dtype=float), (len(k),))
                names += [par] if len(k) == 1 else [f"{par}[{i}]" for i in range(len(k))]
                idx_nuis += k
                sigma += list(sig)
                init += [suggested_init[i] for i in k]
                lo += [bounds[i][0] for i in k]
                hi += [bounds[i][1] for i in k]
        self.nuisance_names = names
        self.n_nuisances = len(names)
        self.nuisance_sigma = np.asarray(sigma)
        self.nuisance_init = jnp.asarray(init, dtype=jnp.float64)
        self.nuisance_bounds = (jnp.asarray(lo, dtype=jnp.float64), jnp.asarray(hi, dtype=jnp.float64))
        self.nuisance_center = np.asarray(init, dtype=float)  # auxdata: 0 (theta), 1 (gamma)
        self._curv = jnp.asarray(1.0 / self.nuisance_sigma**2)
        order = idx_nuis + [self._mu_index] + sum((idx_sf[k] for k in SIGNAL_CHANNELS), [])
        if sorted(order) != list(range(cfg.npars)):
            raise RuntimeError("belle2_full: pyhf parameter bookkeeping failed")
        self._gather = jnp.asarray(np.argsort(order))

        # signal nominals and efficiency maps (rows: ita_sr 9, ita_cr 3, hta 6)
        nominal, eff, self.rows = [], [], {}
        br_tmpl = template_bin_br(Q2_EDGES)
        self.template_bins = br_tmpl
        start = 0
        for key, (chan, sample, _) in SIGNAL_CHANNELS.items():
            ch = next(c for c in spec["channels"] if c["name"] == chan)
            smp = next(s for s in ch["samples"] if s["name"] == sample)
            nominal += smp["data"]
            m = maps[key]
            if m.shape != (len(smp["data"]), N_GEN_BINS + 1):
                raise ValueError(f"number density of {key}: shape {m.shape}")
            eff.append(m[:, 1:] / br_tmpl)
            self.rows[key] = slice(start, start + m.shape[0])
            start += m.shape[0]
        self.sm_nominal = jnp.asarray(nominal, dtype=jnp.float64)
        self.efficiency = jnp.asarray(np.vstack(eff))  # events per unit BR, (18, 100)
        self.maps = maps
        self._start = None

    # ---- signal -----------------------------------------------------------------------------
    def spectrum(self, model, inputs: Inputs | None = None):
        """BR of ``model`` per generated-q^2 bin with this likelihood's binning options."""
        return new_physics_spectrum(model, inputs, Q2_EDGES, smoothing=self.smoothing, n=self.n,
                                    prescription=self.prescription)

    def np_yields(self, br_bins):
        """New-physics signal events in the 18 signal bins (ITA SR 9, ITA CR 3, HTA 6) at nominal
        nuisances: sum_j e_ij BR_NP(j)."""
        return self.efficiency @ br_bins

    def two_body_yields(self, m_X, br):
        """Yields of a narrow invisible X (delta at q^2 = m_X^2) with BR(B+ -> K+ X) = ``br``."""
        return br * self.efficiency @ soft_bin_weights(jnp.asarray(m_X) ** 2, self.smoothing)

    def expected_signal(self, br_bins, mu_sm=1.0, total: bool = False) -> dict:
        """Signal events per analysis bin at nominal nuisances, by channel (:data:`CHANNEL_NAMES`,
        off-resonance channels zero): the new physics, or with ``total`` SM template x mu_sm + NP."""
        y = self.np_yields(br_bins)
        if total:
            y = y + mu_sm * self.sm_nominal
        return {"ita_sr": y[self.rows["ita_sr"]], "ita_cr": y[self.rows["ita_cr"]], "ita_sr_offres": jnp.zeros(9),
                "ita_cr_offres": jnp.zeros(3), "hta": y[self.rows["hta"]]}

    def signal_factors(self, np_yields, mu_sm=1.0):
        """Per-bin factors r_i = mu_sm + N_i^NP / s_i on the published signal samples."""
        return mu_sm + np_yields / self.sm_nominal

    # ---- likelihood -------------------------------------------------------------------------
    def pars(self, nuisances, factors):
        """Full pyhf parameter vector (``mu`` = 1, shapefactors = ``factors``)."""
        v = jnp.concatenate([jnp.asarray(nuisances, dtype=jnp.float64), jnp.ones(1),
                             jnp.asarray(factors, dtype=jnp.float64)])
        return jnp.take(v, self._gather)

    def _logpdf_factors(self, factors, nuisances, constraints=True):
        with jax_backend():
            p = self.pars(nuisances, factors)
            if constraints:
                return self.pyhf_model.logpdf(p, self.data)[0]
            return jnp.reshape(self.pyhf_model.main_model.logpdf(self.observed, p), ())

    def _expected_main(self, factors, nuisances):
        with jax_backend():
            return self.pyhf_model.expected_actualdata(self.pars(nuisances, factors))

    def logpdf_yields(self, np_yields, nuisances, mu_sm=1.0, constraints: bool = True):
        """pyhf log-likelihood with ``np_yields`` new-physics events in the 18 signal bins."""
        return self._logpdf_factors(self.signal_factors(np_yields, mu_sm), nuisances, constraints)

    def logpdf(self, br_bins, nuisances, mu_sm=1.0, constraints: bool = True):
        """pyhf's ``Model.logpdf`` (JAX backend) for the new-physics spectrum ``br_bins`` (100,)
        at ``nuisances`` (231,); ``constraints=False`` leaves out the Gaussian constraint terms
        (Poisson main terms only, for posteriors that put them in as priors)."""
        return self.logpdf_yields(self.np_yields(br_bins), nuisances, mu_sm, constraints)

    def nuisance_prior(self):
        """(names, means, sigmas) of the independent Gaussian constraints of the nuisances."""
        return list(self.nuisance_names), np.asarray(self.nuisance_center), np.asarray(self.nuisance_sigma)

    # ---- profiling --------------------------------------------------------------------------
    def _gauss_newton(self, z0, fact_of, steps):
        """Damped Gauss-Newton on z = (nuisances, extra...) for fixed ``steps``; extra entries are
        unconstrained (zero constraint curvature). Returns z and the Newton decrement."""
        nz = z0.shape[0]
        nn = self.n_nuisances
        curv = jnp.concatenate([self._curv, jnp.zeros(nz - nn)])
        lo = jnp.concatenate([self.nuisance_bounds[0], jnp.full(nz - nn, 0.0)])
        hi = jnp.concatenate([self.nuisance_bounds[1], jnp.full(nz - nn, jnp.inf)])
        n_obs = self.observed

        def lam(z):
            return self._expected_main(fact_of(z), z[:nn])

        def logp(z):
            v = self._logpdf_factors(fact_of(z), z[:nn])
            return jnp.where(jnp.isnan(v), -jnp.inf, v)

        ts = jnp.asarray([1.0, 0.5, 0.25, 0.125, 0.0])

        def step(carry, _):
            z, _ = carry
            lz, vjp = jax.vjp(lam, z)
            J = jax.vmap(vjp)(jnp.eye(lz.shape[0]))[0]  # (n_main, nz)
            g = jax.grad(logp)(z)
            w = n_obs / lz**2
            M = jnp.diag(curv) + J.T @ (w[:, None] * J)
            M = M + 1e-10 * jnp.diag(jnp.diag(M))
            # projected Newton: a variable on its bound with the gradient pushing outwards is held
            # there (its row and column replaced by the identity), so the others still converge
            held = ((z <= lo) & (g < 0)) | ((z >= hi) & (g > 0))
            free = ~held
            M = jnp.where(free[:, None] & free[None, :], M, jnp.diag(jnp.where(held, 1.0, jnp.diag(M))))
            g = jnp.where(held, 0.0, g)
            dz = jnp.linalg.solve(M, g)
            cand = jnp.clip(z[None, :] + ts[:, None] * dz[None, :], lo, hi)
            vals = jax.vmap(logp)(cand)
            z_new = cand[jnp.argmax(vals)]
            return (z_new, g @ dz), None

        (z, dec), _ = jax.lax.scan(step, (z0, jnp.asarray(jnp.inf)), None, length=steps)
        return z, dec

    def published_fit(self, steps: int = 20) -> dict:
        """Refit the published SM-shaped model (POI mu free, all nuisances): {"mu", "mu_error",
        "logpdf", "nuisances", "decrement"}. ~30 s (compilation); the result is shipped as
        ``belle2_knunu/published_fit.json`` (:func:`write_published_fit`)."""
        fit = self.fit_signal_strength(self.sm_nominal, mu_sm=0.0, scale0=float(_C["published"]["mu"]), steps=steps)
        return {"mu": float(fit["scale"]), "mu_error": float(fit["error"]), "logpdf": float(fit["logpdf"]),
                "nuisances": np.asarray(fit["nuisances"]), "decrement": float(fit["decrement"])}

    def shipped_fit(self) -> dict:
        """The published SM-shaped best fit as shipped in ``belle2_knunu/published_fit.json``
        (checked against :meth:`published_fit` by the tests)."""
        doc = json.loads(_read(_FIT_FILE))
        if doc.get("nuisance_names") != self.nuisance_names:
            raise ValueError(f"hpjax/data/belle2_knunu/{_FIT_FILE}: key 'nuisance_names' does not match the "
                             f"pyhf model's parameters; regenerate with write_published_fit()")
        return {**doc, "nuisances": np.asarray(doc["nuisances"], dtype=float)}

    def default_start(self):
        """Nuisances at the published SM-shaped best fit (mu free): the default warm start."""
        if self._start is None:
            self._start = np.asarray(self.shipped_fit()["nuisances"])  # numpy: safe to cache under a trace
        return self._start

    @property
    def reference_logpdf(self) -> float:
        """ln L of the published SM-shaped best fit: the zero of hpjax's chi2 convention for the
        ``belle2_full`` term (term = ln L - this)."""
        return float(self.shipped_fit()["logpdf"])

    def profile(self, np_yields, mu_sm=1.0, init=None, steps: int = 6):
        """Maximise over the nuisances at fixed signal: returns (max ln L, nuisances, Newton
        decrement g.H^-1.g of the last step (~2x the remaining gain in ln L)). Pure, vmappable.
        ``init``: warm start (default :meth:`default_start`)."""
        z0 = self.default_start() if init is None else jnp.asarray(init, dtype=jnp.float64)
        y = jax.lax.stop_gradient(jnp.asarray(np_yields, dtype=jnp.float64))
        m = jax.lax.stop_gradient(jnp.asarray(mu_sm, dtype=jnp.float64))
        z, dec = self._gauss_newton(z0, lambda z: self.signal_factors(y, m), steps)
        return self.logpdf_yields(np_yields, z, mu_sm), z, dec

    def profiled_logpdf(self, br_bins, mu_sm=1.0, init=None, steps: int = 6):
        """ln L maximised over the 231 nuisances for the spectrum ``br_bins`` (see :meth:`profile`);
        the gradient w.r.t. ``br_bins`` and ``mu_sm`` is the envelope-theorem one."""
        return self.profile(self.np_yields(br_bins), mu_sm, init, steps)[0]

    def fit_two_body(self, m_X, mu_sm=1.0, br0: float = 1e-5, init=None, steps: int = 12):
        """A narrow invisible X at q^2 = m_X^2: BR(B+ -> K+ X) (non-negative) and all nuisances
        fitted at fixed ``m_X``, the SM signal at ``mu_sm``. Pure and vmappable over ``m_X``; returns
        (max ln L, best BR, Newton decrement)."""
        z0 = jnp.asarray(self.default_start() if init is None else init, dtype=jnp.float64)
        shape = jax.lax.stop_gradient(self.two_body_yields(m_X, 1.0))
        scale = 1e-5  # BR unit of the fitted parameter (keeps the Newton system well scaled)
        m = jnp.asarray(mu_sm, dtype=jnp.float64)
        z0 = jnp.concatenate([z0, jnp.atleast_1d(jnp.asarray(br0 / scale, dtype=jnp.float64))])
        fact_of = lambda z: self.signal_factors(z[-1] * scale * shape, m)  # noqa: E731
        z, dec = self._gauss_newton(z0, fact_of, steps)
        return self._logpdf_factors(fact_of(z), z[: self.n_nuisances]), z[-1] * scale, dec

    def fit_signal_strength(self, np_yields, mu_sm=1.0, scale0=1.0, init=None, steps: int = 12,
                            errors: bool = True) -> dict:
        """Fit a free, non-negative scale c of ``np_yields`` with all nuisances: expected signal
        mu_sm s + c N^NP. With ``np_yields = sm_nominal`` and ``mu_sm = 0``, c is the published
        POI mu. Returns {"scale", "error" (exact Hessian), "logpdf", "nuisances", "decrement"}."""
        z0 = self.nuisance_init if init is None else jnp.asarray(init, dtype=jnp.float64)
        z0 = jnp.concatenate([z0, jnp.atleast_1d(jnp.asarray(scale0, dtype=jnp.float64))])
        y = jnp.asarray(np_yields, dtype=jnp.float64)
        fact_of = lambda z: self.signal_factors(z[-1] * y, mu_sm)  # noqa: E731
        z, dec = jax.jit(lambda z0: self._gauss_newton(z0, fact_of, steps))(z0)
        logp = lambda z: self._logpdf_factors(fact_of(z), z[: self.n_nuisances])  # noqa: E731
        out = {"scale": z[-1], "logpdf": logp(z), "nuisances": z[: self.n_nuisances], "decrement": dec}
        if errors:
            H = jax.jit(jax.hessian(logp))(z)
            out["error"] = jnp.sqrt(-jnp.linalg.inv(H)[-1, -1])
        return out


def write_published_fit(path=None) -> dict:
    """Refit the published model and write ``published_fit.json`` (default: into the package data)."""
    import pathlib

    b = Belle2Full()
    fit = b.published_fit()
    doc = {"comment": "Published SM-shaped best fit of combined_likelihood.json (mu free, all 231 nuisances), by "
                      "hpjax.likelihood.belle2_full.Belle2Full.published_fit (damped Gauss-Newton, pyhf JAX backend, "
                      "float64). Derived data: the warm start and the chi2 zero of the belle2_full term.",
           "mu": fit["mu"], "mu_error": fit["mu_error"], "logpdf": fit["logpdf"], "decrement": fit["decrement"],
           "nuisance_names": b.nuisance_names, "nuisances": [float(x) for x in fit["nuisances"]]}
    path = pathlib.Path(path) if path else pathlib.Path(__file__).parent.parent / "data" / _DATA[0] / _FIT_FILE
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return doc


if __name__ == "__main__":  # python -m hpjax.likelihood.belle2_full: regenerate published_fit.json
    jax.config.update("jax_enable_x64", True)
    d = write_published_fit()
    print(f"mu = {d['mu']:.4f} +- {d['mu_error']:.4f}, ln L = {d['logpdf']:.6f}")
