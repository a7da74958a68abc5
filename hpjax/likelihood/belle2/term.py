r"""The Belle II full likelihood for a new-physics q^2 spectrum: :class:`Belle2Full`.

The new physics (:mod:`~hpjax.likelihood.belle2.spectrum`) adds N_i^NP = sum_j e_ij BR_NP(j)
events to the 18 signal bins; it enters the statistical model as per-bin factors
r_i = mu_SM + N_i^NP / s_i on the published signal samples (s_i their nominals), the POI fixed
to 1. The statistical model is evaluated by the lean :class:`~.statmodel.HistFactory`
(``backend="lean"``, default; pure jax.numpy, analytic Jacobian) or by pyhf itself
(``backend="pyhf"``, :class:`~.pyhf_backend.PyhfStatModel`); both agree to ~1e-13.

Profiling: :meth:`Belle2Full.profile` maximises ln L over the 231 nuisances by damped,
bound-projected Gauss-Newton (Fisher scoring, :func:`hpjax.numerics.poisson_gauss_newton`) with
the curvature diag(1/sigma^2) + J^T diag(n/lambda^2) J solved through its structure (Woodbury: one
30 x 30 Cholesky), a fixed number of steps from the published SM-shaped best fit (shipped in
``published_fit.json``); 6 steps reach the 30-step optimum to < 1e-4 in ln L from no signal to
mu = 10 and for two-body signals (tests). :meth:`profiled_logpdf` returns the maximum with the
envelope-theorem gradient. Fits with free signal scales put them into the same Newton system
(Schur complement), e.g. :meth:`fit_signal_strength` (the published POI mu) and
:meth:`fit_two_body` (a narrow invisible X).

>>> import hpjax
>>> from hpjax.likelihood.belle2.term import Belle2Full
>>> b = Belle2Full()
>>> b.n_nuisances, b.n_main
(231, 30)
>>> round(b.reference_logpdf, 3)  # ln L of the published SM-shaped fit
11.667
"""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np

from ...inputs import Inputs
from ...numerics.gauss_newton import poisson_gauss_newton
from ...numerics.quadrature import DEFAULT_ORDER
from .pyhf_backend import PyhfStatModel, augmented_spec, spec_and_maps
from .spectrum import (
    N_GEN_BINS,
    Q2_EDGES,
    SIGNAL_CHANNELS,
    check_smoothing,
    constants,
    new_physics_spectrum,
    read_data,
    soft_bin_weights,
    template_bin_br,
)
from .statmodel import HistFactory

__all__ = ["Belle2Full", "BACKENDS", "FIT_FILE"]

BACKENDS = ("lean", "pyhf")
FIT_FILE = "published_fit.json"


@functools.cache
def _shipped() -> dict:
    return json.loads(read_data(FIT_FILE))


@functools.cache
def _stat_model(backend: str):
    if backend == "pyhf":
        return PyhfStatModel()
    names = _shipped()["nuisance_names"]
    par_order = list(dict.fromkeys(n.split("[")[0] for n in names))  # pyhf's order, as shipped
    hf = HistFactory(spec_and_maps()[0], par_order)
    if hf.nuisance_names != names:
        raise ValueError(f"hpjax/data/belle2_knunu/{FIT_FILE}: key 'nuisance_names' does not match the model")
    return hf


class Belle2Full:
    """The Belle II full likelihood for a new-physics q^2 spectrum (see the module docstring).

    Parameters
    ----------
    smoothing : B-spline degree of the generated-q^2 bins of the new physics (0 hard bins, 1-3
        soft bins; default 2)
    n : quadrature order of the spectrum (``hpjax.numerics.quadrature``)
    prescription : "unified" (default) or "paper"
    backend : "lean" (default) or "pyhf" (pyhf's JAX backend; ~100x slower profiles, 200x the memory)

    Vectors: ``br_bins`` (100,) BR of the new physics per generated-q^2 bin, ``nuisances`` (231,)
    in :attr:`nuisance_names` order, ``mu_sm`` the SM template's signal strength (1 = as
    published). All methods are pure JAX functions of these.
    """

    def __init__(
        self, smoothing: int = 2, n: int = DEFAULT_ORDER, prescription: str = "unified", backend: str = "lean"
    ):
        check_smoothing(smoothing)
        if prescription not in ("unified", "paper"):
            raise ValueError(f"unknown prescription '{prescription}'; valid: ['unified', 'paper']")
        if backend not in BACKENDS:
            raise ValueError(f"belle2_full backend {backend!r}; valid: {list(BACKENDS)}")
        self.smoothing, self.n, self.prescription, self.backend = smoothing, n, prescription, backend
        spec, maps = spec_and_maps()
        self.stat = _stat_model(backend)
        st = self.stat
        self.n_main = st.n_main
        self.observed = jnp.asarray(st.observed)
        self.nuisance_names = list(st.nuisance_names)
        self.n_nuisances = st.n_nuisances
        self.nuisance_sigma = np.asarray(st.sigma)
        self.nuisance_init = jnp.asarray(st.init, dtype=jnp.float64)
        self.nuisance_center = np.asarray(st.center, dtype=float)
        self.nuisance_bounds = tuple(jnp.asarray(b, dtype=jnp.float64) for b in st.bounds)
        self._curv = jnp.asarray(1.0 / self.nuisance_sigma**2)

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

    # ---- compatibility with the pyhf-based class --------------------------------------------
    @property
    def spec(self) -> dict:
        """The published spec with the signal shapefactors (what the pyhf backend builds)."""
        return augmented_spec(spec_and_maps()[0])

    @property
    def pyhf(self) -> PyhfStatModel:
        """pyhf's evaluation of the same model (built on first use, ~3 s)."""
        return _stat_model("pyhf")

    @property
    def data(self):
        """Main data followed by the auxiliary data (pyhf's ``Workspace.data`` layout)."""
        return jnp.concatenate([self.observed, jnp.asarray(self.nuisance_center)])

    # ---- signal -----------------------------------------------------------------------------
    def spectrum(self, model, inputs: Inputs | None = None):
        """BR of ``model`` per generated-q^2 bin with this likelihood's binning options."""
        return new_physics_spectrum(
            model, inputs, Q2_EDGES, smoothing=self.smoothing, n=self.n, prescription=self.prescription
        )

    def np_yields(self, br_bins):
        """New-physics events in the 18 signal bins (ITA SR 9, ITA CR 3, HTA 6): sum_j e_ij BR_NP(j)."""
        return self.efficiency @ br_bins

    def two_body_yields(self, m_X, br):
        """Yields of a narrow invisible X (delta at q^2 = m_X^2) with BR(B+ -> K+ X) = ``br``."""
        return br * self.efficiency @ soft_bin_weights(jnp.asarray(m_X) ** 2, self.smoothing)

    def expected_signal(self, br_bins, mu_sm=1.0, total: bool = False) -> dict:
        """Signal events per analysis bin at nominal nuisances, by channel (off-resonance zero):
        the new physics, or with ``total`` SM template x mu_sm + NP."""
        y = self.np_yields(br_bins)
        if total:
            y = y + mu_sm * self.sm_nominal
        return {
            "ita_sr": y[self.rows["ita_sr"]],
            "ita_cr": y[self.rows["ita_cr"]],
            "ita_sr_offres": jnp.zeros(9),
            "ita_cr_offres": jnp.zeros(3),
            "hta": y[self.rows["hta"]],
        }

    def signal_factors(self, np_yields, mu_sm=1.0):
        """Per-bin factors r_i = mu_sm + N_i^NP / s_i on the published signal samples."""
        return mu_sm + np_yields / self.sm_nominal

    # ---- likelihood -------------------------------------------------------------------------
    def logpdf_factors(self, factors, nuisances, constraints: bool = True, data=None):
        """ln L of the statistical model at signal ``factors`` (18,) and ``nuisances`` (231,);
        ``data`` = (main counts (30,), auxiliary data (231,)) in place of the observed ones (e.g.
        an Asimov data set, :meth:`asimov_data`; lean backend only)."""
        z = jnp.asarray(nuisances, dtype=jnp.float64)
        if data is None:
            return self.stat.logpdf(z, factors, constraints=constraints)
        self._check_data_backend()
        return self.stat.logpdf(z, factors, data=data[0], aux=data[1], constraints=constraints)

    def _check_data_backend(self):
        if self.backend != "lean":
            raise ValueError(f"belle2_full backend {self.backend!r}: other data sets (Asimov) need backend 'lean'")

    def asimov_data(self, factors, nuisances):
        """The Asimov data set at signal ``factors`` and ``nuisances``: (expected main counts,
        auxiliary data = the nuisances), pyhf's ``expected_data``."""
        z = jnp.asarray(nuisances, dtype=jnp.float64)
        return self.stat.expected(z, factors), z

    def expected_main(self, factors, nuisances):
        """Expected counts of the 30 main bins."""
        return self.stat.expected(jnp.asarray(nuisances, dtype=jnp.float64), factors)

    def logpdf_yields(self, np_yields, nuisances, mu_sm=1.0, constraints: bool = True, data=None):
        """ln L with ``np_yields`` new-physics events in the 18 signal bins."""
        return self.logpdf_factors(self.signal_factors(np_yields, mu_sm), nuisances, constraints, data)

    def logpdf(self, br_bins, nuisances, mu_sm=1.0, constraints: bool = True, data=None):
        """pyhf's ``Model.logpdf`` for the new-physics spectrum ``br_bins`` (100,) at ``nuisances``
        (231,); ``constraints=False`` leaves out the Gaussian constraint terms; ``data`` as in
        :meth:`logpdf_factors`."""
        return self.logpdf_yields(self.np_yields(br_bins), nuisances, mu_sm, constraints, data)

    def nuisance_prior(self):
        """(names, means, sigmas) of the independent Gaussian constraints of the nuisances."""
        return list(self.nuisance_names), np.asarray(self.nuisance_center), np.asarray(self.nuisance_sigma)

    # ---- profiling --------------------------------------------------------------------------
    def solve(self, z0, fact_of, steps: int, data=None):
        """Gauss-Newton on z = (nuisances, free...) for ``steps`` steps: ``fact_of(z)`` gives the
        18 signal factors; entries past the nuisances are free (no constraint), bounded below by
        0; ``data`` (main, aux) in place of the observed data. Returns (z, Newton decrement)."""
        z0 = jnp.asarray(z0, dtype=jnp.float64)
        nn, k = self.n_nuisances, z0.shape[0] - self.n_nuisances
        curv = jnp.concatenate([self._curv, jnp.zeros(k)])
        lo = jnp.concatenate([self.nuisance_bounds[0], jnp.zeros(k)])
        hi = jnp.concatenate([self.nuisance_bounds[1], jnp.full(k, jnp.inf)])
        n_obs, center = (self.observed, jnp.asarray(self.nuisance_center)) if data is None else data
        if data is not None:
            self._check_data_backend()

        def model(z):
            fac = fact_of(z)
            lam, jz, js = self.stat.expected_and_jacobian(z[:nn], fac)
            if k:
                dfac = jax.jacfwd(lambda p: fact_of(jnp.concatenate([z[:nn], p])))(z[nn:])  # (18, k)
                jz = jnp.concatenate([jz, js @ dfac], axis=1)
            g = jz.T @ (n_obs / lam - 1.0)
            g = g.at[:nn].add((center - z[:nn]) * self._curv)
            return lam, jz, g

        def logp(z):
            return self.logpdf_factors(fact_of(z), z[:nn], data=data)

        return poisson_gauss_newton(
            z0, model, logp, n_obs, curv, lo, hi, steps, n_tail=k, single_row=getattr(self.stat, "single_row", None)
        )

    def default_start(self):
        """Nuisances at the published SM-shaped best fit (mu free): the default warm start."""
        if self._start is None:
            self._start = np.asarray(self.shipped_fit()["nuisances"])  # numpy: safe to cache under a trace
        return self._start

    def shipped_fit(self) -> dict:
        """The published SM-shaped best fit as shipped in ``belle2_knunu/published_fit.json``
        (regenerate with ``python -m hpjax.likelihood.belle2.regenerate``)."""
        doc = _shipped()
        if doc.get("nuisance_names") != self.nuisance_names:
            raise ValueError(
                f"hpjax/data/belle2_knunu/{FIT_FILE}: key 'nuisance_names' does not match the "
                f"model's parameters; regenerate with python -m hpjax.likelihood.belle2.regenerate"
            )
        return {**doc, "nuisances": np.asarray(doc["nuisances"], dtype=float)}

    @property
    def reference_logpdf(self) -> float:
        """ln L of the published SM-shaped best fit: the zero of hpjax's chi2 convention for the
        ``belle2_full`` term (term = ln L - this)."""
        return float(self.shipped_fit()["logpdf"])

    def profile(self, np_yields, mu_sm=1.0, init=None, steps: int = 6, data=None):
        """Maximise over the nuisances at fixed signal: (max ln L, nuisances, Newton decrement
        g.H^-1.g of the last step). Pure, vmappable. ``init``: warm start (default the published
        fit); ``data`` (main, aux) in place of the observed data."""
        z0 = self.default_start() if init is None else jnp.asarray(init, dtype=jnp.float64)
        y = jax.lax.stop_gradient(jnp.asarray(np_yields, dtype=jnp.float64))
        m = jax.lax.stop_gradient(jnp.asarray(mu_sm, dtype=jnp.float64))
        z, dec = self.solve(z0, lambda z: self.signal_factors(y, m), steps, data)
        return self.logpdf_yields(np_yields, z, mu_sm, data=data), z, dec

    def profiled_logpdf(self, br_bins, mu_sm=1.0, init=None, steps: int = 6, data=None):
        """ln L maximised over the 231 nuisances for the spectrum ``br_bins`` (see :meth:`profile`);
        the gradient w.r.t. ``br_bins`` and ``mu_sm`` is the envelope-theorem one."""
        return self.profile(self.np_yields(br_bins), mu_sm, init, steps, data)[0]

    def fit_two_body(self, m_X, mu_sm=1.0, br0: float = 1e-5, init=None, steps: int = 12):
        """A narrow invisible X at q^2 = m_X^2: BR(B+ -> K+ X) >= 0 and all nuisances fitted at fixed
        ``m_X`` (SM signal at ``mu_sm``). Vmappable over ``m_X``; (max ln L, best BR, decrement)."""
        z0 = jnp.asarray(self.default_start() if init is None else init, dtype=jnp.float64)
        shape = jax.lax.stop_gradient(self.two_body_yields(m_X, 1.0))
        scale = 1e-5  # BR unit of the fitted parameter (keeps the Newton system well scaled)
        m = jnp.asarray(mu_sm, dtype=jnp.float64)
        z0 = jnp.concatenate([z0, jnp.atleast_1d(jnp.asarray(br0 / scale, dtype=jnp.float64))])
        fact_of = lambda z: self.signal_factors(z[-1] * scale * shape, m)  # noqa: E731
        z, dec = self.solve(z0, fact_of, steps)
        return self.logpdf_factors(fact_of(z), z[: self.n_nuisances]), z[-1] * scale, dec

    def fit_signal_strength(
        self, np_yields, mu_sm=1.0, scale0=1.0, init=None, steps: int = 12, errors: bool = True
    ) -> dict:
        """Fit a free scale c >= 0 of ``np_yields`` with all nuisances (signal mu_sm s + c N^NP).
        With ``np_yields = sm_nominal``, ``mu_sm = 0``, c is the published POI mu. Returns
        {"scale", "error" (exact Hessian), "logpdf", "nuisances", "decrement"}."""
        z0 = self.nuisance_init if init is None else jnp.asarray(init, dtype=jnp.float64)
        z0 = jnp.concatenate([z0, jnp.atleast_1d(jnp.asarray(scale0, dtype=jnp.float64))])
        y = jnp.asarray(np_yields, dtype=jnp.float64)
        fact_of = lambda z: self.signal_factors(z[-1] * y, mu_sm)  # noqa: E731
        z, dec = jax.jit(lambda z0: self.solve(z0, fact_of, steps))(z0)
        logp = lambda z: self.logpdf_factors(fact_of(z), z[: self.n_nuisances])  # noqa: E731
        out = {"scale": z[-1], "logpdf": logp(z), "nuisances": z[: self.n_nuisances], "decrement": dec}
        if errors:
            H = jax.jit(jax.hessian(logp))(z)
            out["error"] = jnp.sqrt(-jnp.linalg.inv(H)[-1, -1])
        return out

    def published_fit(self, steps: int = 20) -> dict:
        """Refit the published SM-shaped model (POI mu free, all nuisances): {"mu", "mu_error",
        "logpdf", "nuisances", "decrement"}."""
        fit = self.fit_signal_strength(
            self.sm_nominal, mu_sm=0.0, scale0=float(constants()["published"]["mu"]), steps=steps
        )
        return {
            "mu": float(fit["scale"]),
            "mu_error": float(fit["error"]),
            "logpdf": float(fit["logpdf"]),
            "nuisances": np.asarray(fit["nuisances"]),
            "decrement": float(fit["decrement"]),
        }
